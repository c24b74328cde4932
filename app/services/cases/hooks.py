"""Hooks: how the wings above the engine react to what happens to a case without the engine or the
inbox importing them. Two kinds, both run inside the step's transaction, so what they write commits
or rolls back with the change itself:

- **status hooks** (``@on_status``): a case's status changed — SMS at the moments of DOMAIN.md §5,
  public disclosure of decisions, the 补正 bookkeeping …;
- **throw hooks** (``@on_thrown``): a step threw messages (the step's ``StepResult``): the 转报 of
  ``action=forward`` (app/services/federation/forwarding.py) is one;
- **step hooks** (``@on_step``): any step of a case was saved — the excluded phases of the model
  (app/services/cases/phases.py: a marked step opens or closes a suspension of the clock) are one;
- **action hooks** (``@on_action(name)``): a user task whose ``action`` is ``name`` is about to be
  completed; the hook may refuse (raise a DomainError) or return the data to complete it with — the
  paper check before the window's 受理 (action ``receive``) is one;
- **submit hooks** (``@on_submit``): a case is about to be submitted (every path: portal, API, the
  一张网's intake, a forward from another level); the hook may refuse (raise a DomainError: the
  submission rolls back) or set fields of the case — the 项目代码 check against the investment project
  platform (app/services/docking/projects.py) is one.

A listener module registers with the decorators; the modules are listed here (by name, so the engine
wing imports nothing above it) so that every process (web, scheduler, CLI) has them loaded before
the first change."""
from __future__ import annotations

import importlib
from typing import Callable

LISTENER_MODULES = ("app.services.portal.sms_moments", "app.services.portal.corrections", "app.services.portal.intake",
                    "app.services.feedback.disclosure", "app.services.federation.forwarding",
                    "app.services.federation.reports", "app.services.federation.withdrawals",
                    "app.services.docking.projects", "app.services.docking.ywtb_push",
                    "app.services.cases.requirements", "app.services.portal.notices",
                    "app.services.cases.phases")
_listeners: list[Callable] = []
_throwers: list[Callable] = []
_steppers: list[Callable] = []
_actions: dict[str, list[Callable]] = {}
_submitters: list[Callable] = []
_preparers: list[Callable] = []
_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        for name in LISTENER_MODULES:
            importlib.import_module(name)
        _loaded = True


def on_status(fn: Callable) -> Callable:
    """``fn(case, old_status, new_status, actor_name)``"""
    if fn not in _listeners:
        _listeners.append(fn)
    return fn


def status_changed(case, old: str, new: str, actor: str) -> None:
    _load()
    for fn in list(_listeners):
        fn(case, old, new, actor)


def on_thrown(fn: Callable) -> Callable:
    """``fn(instance, case, result, actor_name)``: called after a step that threw messages."""
    if fn not in _throwers:
        _throwers.append(fn)
    return fn


def thrown(inst, case, result, actor: str) -> None:
    _load()
    for fn in list(_throwers):
        fn(inst, case, result, actor)


def on_step(fn: Callable) -> Callable:
    """``fn(instance, case, result, actor_name)``: called after every step of a case is projected."""
    if fn not in _steppers:
        _steppers.append(fn)
    return fn


def stepped(inst, case, result, actor: str) -> None:
    _load()
    for fn in list(_steppers):
        fn(inst, case, result, actor)


def on_action(action: str) -> Callable[[Callable], Callable]:
    """``@on_action("receive")`` registers ``fn(case, task, form, clean) -> clean``."""
    def register(fn: Callable) -> Callable:
        fns = _actions.setdefault(action, [])
        if fn not in fns:
            fns.append(fn)
        return fn
    return register


def before_complete(case, task, form: dict | None, clean: dict) -> dict:
    """Run the action hooks of ``task.action`` on the data a user task is about to be completed with;
    each may refuse (raise) or return the data to use."""
    if not task.action:
        return clean
    _load()
    for fn in list(_actions.get(task.action, ())):
        clean = fn(case, task, form, clean)
    return clean


def on_submit(fn: Callable) -> Callable:
    """``fn(case, data)``: called before a case is submitted (its number not yet given), inside the
    submission's transaction; it may raise a DomainError to refuse the submission."""
    if fn not in _submitters:
        _submitters.append(fn)
    return fn


def before_submit(case, data: dict) -> None:
    """Run the submit hooks on a case about to be submitted with ``data`` (its start form)."""
    _load()
    for fn in list(_submitters):
        fn(case, data)


def on_prepare_submit(fn: Callable) -> Callable:
    """``fn(data)``: called with a submission's start form before its transaction begins, with no
    change pending in the session, to ask an outside system what a submit hook will need — the
    investment project platform's project is one. A hook that calls out first ends the transaction
    the request began (``db.session.commit()``: on SQLite every transaction holds the write lock).
    It must not write nor raise."""
    if fn not in _preparers:
        _preparers.append(fn)
    return fn


def prepare_submit(data: dict) -> None:
    """Run the prepare hooks on the start form of a submission about to begin its transaction."""
    _load()
    for fn in list(_preparers):
        fn(dict(data or {}))
