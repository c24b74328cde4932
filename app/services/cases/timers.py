"""Firing due timers: each exactly once, even with several scheduler processes, and a timer whose
firing fails never holds up the others.

Lock order is the same as a task completion's (instance, then its rows): a scheduler takes the
instance of the earliest due timer with ``FOR UPDATE SKIP LOCKED`` (another scheduler, or a user
working the case, holds it: skip it for now), then re-reads that instance's due timers under the
lock (at most ``TIMERS_PER_STEP``, earliest first) and fires them in one engine step. A timer whose
task finished meanwhile is no longer ``waiting`` and is not fired.

A firing that raises — a state this release cannot load (written by a newer one during an upgrade),
a failing status hook, a database error while saving — is rolled back to a savepoint; under the same
lock the instance's due timers get a backoff (``attempts`` + 1, ``next_attempt_at`` = now +
base x 2^(attempts-1), capped) and the instance one open incident (``incidents.record_timer_failure``),
and the drain goes on with the next instance. An administrator's retry of that incident clears the
backoff; the next successful firing resolves it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select

from ...extensions import db
from ...models import Case, ProcessInstance, SpecialProcedure, Timer
from ...observability import logs, metrics
from ..common.clock import clock_now
from ..common.db_support import is_sqlite
from .incidents import record_timer_failure, resolve_timer_incidents
from .steps import PERSON_HOLDS, apply_step, engine, load_workflow, remember_written

log = logging.getLogger(__name__)

TIMERS_PER_STEP = 100        # due timers of one instance fired in one step (the rest in the next)
RETRY_BASE_SECONDS = 10      # first wait after a failed firing (app config TIMER_RETRY_BASE_SECONDS)
RETRY_CAP_SECONDS = 3600     # longest wait between two attempts (app config TIMER_RETRY_CAP_SECONDS)


@dataclass
class Firing:
    """What one claim did: the instance taken (None: nothing this process could take), the timers
    that fired, and whether the instance must be left alone for the rest of this drain."""
    instance_id: int | None
    fired: int = 0
    failed: bool = False


def _held():
    """The timer's case is in a special procedure a person started: its timers wait for the end."""
    return exists().where(Case.instance_id == Timer.instance_id, SpecialProcedure.case_id == Case.id, *PERSON_HOLDS)


def _due(now: datetime):
    """A waiting timer that is due, not backing off after a failed firing and not held by a special procedure."""
    return and_(Timer.status == "waiting", Timer.due_at <= now,
                or_(Timer.next_attempt_at.is_(None), Timer.next_attempt_at <= now), ~_held())


def _claim_instance(now: datetime, skip: set[int] | frozenset = frozenset()) -> ProcessInstance | None:
    """The instance of the earliest due timer, locked, that no other transaction holds and that did
    not fail in this drain. Ordered by due time, so the oldest work goes first and one instance
    cannot be taken again and again ahead of the others."""
    stmt = select(ProcessInstance).join(Timer, Timer.instance_id == ProcessInstance.id).where(_due(now))
    if skip:
        stmt = stmt.where(Timer.instance_id.not_in(sorted(skip)))
    stmt = stmt.order_by(Timer.due_at, Timer.id).limit(1)
    if not is_sqlite():
        stmt = stmt.with_for_update(of=ProcessInstance, skip_locked=True)
    return db.session.execute(stmt).scalars().first()


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed firings: exponential, capped."""
    base = float(current_app.config.get("TIMER_RETRY_BASE_SECONDS", RETRY_BASE_SECONDS))
    cap = float(current_app.config.get("TIMER_RETRY_CAP_SECONDS", RETRY_CAP_SECONDS))
    return timedelta(seconds=min(cap, base * 2 ** max(0, min(attempts - 1, 30))))


def _fire(inst: ProcessInstance, case: Case | None, timers: list[Timer]):
    """One engine step firing ``timers``, saved with ``apply_step`` (which records every firing)."""
    wf = load_workflow(inst)
    result = engine().fire_due_timers(wf, [t.id for t in timers])
    apply_step(inst, case, result, "system", scheduled={t.id for t in timers})
    return result


def _back_off(timers: list[Timer], now: datetime) -> datetime:
    """Give ``timers`` their next attempt time; returns the earliest."""
    for t in timers:
        t.attempts = (t.attempts or 0) + 1
        t.next_attempt_at = now + backoff(t.attempts)
    return min(t.next_attempt_at for t in timers)


def _fire_one(now: datetime | None, skip: set[int] | frozenset = frozenset()) -> Firing:
    """Claim one instance and fire its due timers, in one transaction (committed). The log lines of the
    firing carry its case number, and the next firing's do not."""
    with logs.scope(case_no=None):
        return _fire_claimed(now, skip)


def _lags(timers: list[Timer], before: dict) -> list[float]:
    """Timer lag (fire time − due time, seconds) of the timers this firing fired: those now ``fired``
    and the cycles given their next due time. Read before the commit (no reload after it)."""
    lags = []
    for t in timers:
        due = before[t.id][0]
        if t.status == "fired" or (t.status == "waiting" and t.due_at != due):
            fired_at = t.fired_at if t.status == "fired" and t.fired_at else clock_now()
            lags.append((fired_at - due).total_seconds())
    return lags


def _fire_claimed(now: datetime | None, skip: set[int] | frozenset) -> Firing:
    now = now or clock_now()
    try:
        inst = _claim_instance(now, skip)
        if inst is None:
            db.session.rollback()
            return Firing(None)
        timers = list(db.session.execute(select(Timer).where(Timer.instance_id == inst.id, _due(now))
                                         .order_by(Timer.due_at, Timer.id).limit(TIMERS_PER_STEP)).scalars())
        if not timers:  # another scheduler fired them between our two reads
            db.session.rollback()
            return Firing(inst.id)
        case = db.session.execute(select(Case).where(Case.instance_id == inst.id)).scalar_one_or_none()
        before = {t.id: (t.due_at, t.attempts or 0) for t in timers}
        try:
            with db.session.begin_nested():
                result = _fire(inst, case, timers)
        except Exception as exc:  # whatever it is, this instance must not block the others
            next_at = _back_off(timers, now)
            record_timer_failure(inst, case, timers, exc, next_at)
            db.session.commit()
            log.warning("timers of instance %s failed (attempt %d, next at %s): %s: %s", inst.id,
                        max(t.attempts for t in timers), next_at.isoformat(), type(exc).__name__, exc,
                        exc_info=max(t.attempts for t in timers) == 1)
            return Firing(inst.id, failed=True)
        fired = sum(1 for t in timers if t.status == "fired")
        # a timer the step left due as it was (the engine did not fire it) would be taken at once again
        stuck = [t for t in timers if t.status == "waiting" and t.due_at == before[t.id][0]]
        for t in timers:
            if t not in stuck:
                t.next_attempt_at = None
        if stuck:
            _back_off(stuck, now)
        elif any(attempts for _, attempts in before.values()):
            resolve_timer_incidents(inst.id)
        lags = _lags(timers, before)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    for lag in lags:
        metrics.timer_fired(lag)
    remember_written(inst)
    return Firing(inst.id, fired, failed=bool(stuck))


def fire_next(now: datetime | None = None) -> int:
    """Fire the due timers of one instance, in one transaction. Returns how many fired (0: none due
    that this process could take, or their firing failed and backs off)."""
    return _fire_one(now).fired


def drain(now: datetime | None = None, max_instances: int | None = None) -> int:
    """Fire everything due now (timers missed while no scheduler ran included). Returns the count.
    An instance whose firing failed is left alone for the rest of this drain (and backs off)."""
    total = handled = 0
    failed: set[int] = set()
    while max_instances is None or handled < max_instances:
        firing = _fire_one(now, failed)
        if firing.failed:
            failed.add(firing.instance_id)
        elif not firing.fired and not _any_due_unlocked(now, failed):
            break
        total += firing.fired
        handled += 1
    return total


def _any_due_unlocked(now: datetime | None, skip: set[int] | frozenset = frozenset()) -> bool:
    """After a 0, is there still due work this process could take (e.g. it lost a race for one
    instance)? Instances another scheduler holds are skipped, not waited for."""
    takeable = _claim_instance(now or clock_now(), skip) is not None
    db.session.rollback()
    return takeable


def next_due() -> datetime | None:
    """When the scheduler next has something to do (None: no timer waits): the earliest waiting timer
    that is not backing off, or the earliest next attempt of one that is."""
    waiting = db.session.execute(select(Timer.due_at).where(
        Timer.status == "waiting", Timer.next_attempt_at.is_(None), ~_held()).order_by(Timer.due_at).limit(1)).scalar()
    retry = db.session.execute(select(func.min(Timer.next_attempt_at)).where(
        Timer.status == "waiting", Timer.next_attempt_at.is_not(None), ~_held())).scalar()
    db.session.rollback()
    return min((v for v in (waiting, retry) if v is not None), default=None)
