"""The outbox channels of the outside systems, registered when the app starts (app/__init__.py):
``ywtb`` (the 一张网: 办件 stages, ratings) and ``tzxm`` (the investment project platform: results).
A system whose URL is not configured gets no channel and no messages are written for it."""
from __future__ import annotations

from . import projects, ywtb_push


def register(app) -> None:
    ywtb_push.register_channel(app)
    projects.register_channel(app)
