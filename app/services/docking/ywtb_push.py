"""The 一张网's 办件 push: placeholder, being built."""
from __future__ import annotations


def register_channel(app) -> None:
    """Register the ``ywtb`` outbox channel when YWTB_BASE_URL is configured."""
