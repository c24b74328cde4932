"""Reactions to a case's status change that belong to other parts of the portal (SMS at the moments
of DOMAIN.md §5, public disclosure of decisions …). They run inside the step's transaction, so what
they write commits or rolls back with the change itself.

A listener module registers with ``@on_status``; the modules are listed here so that every process
(web, scheduler, CLI) has them loaded before the first change."""
from __future__ import annotations

import importlib
from typing import Callable

LISTENER_MODULES = ("app.services.sms_moments", "app.services.disclosure", "app.services.corrections")
_listeners: list[Callable] = []
_loaded = False


def on_status(fn: Callable) -> Callable:
    """``fn(case, old_status, new_status, actor_name)``"""
    if fn not in _listeners:
        _listeners.append(fn)
    return fn


def status_changed(case, old: str, new: str, actor: str) -> None:
    global _loaded
    if not _loaded:
        for name in LISTENER_MODULES:
            importlib.import_module(name)
        _loaded = True
    for fn in list(_listeners):
        fn(case, old, new, actor)
