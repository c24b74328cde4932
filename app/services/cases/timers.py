"""Firing due timers: each exactly once, even with several scheduler processes.

Lock order is the same as a task completion's (instance, then its rows): a scheduler picks an
instance that has due timers with ``FOR UPDATE SKIP LOCKED`` (another scheduler, or a user working
the case, holds it: skip it for now), then re-reads that instance's due timers under the lock and
fires them in one engine step. A timer whose task finished meanwhile is no longer ``waiting`` and
is not fired.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ...extensions import db
from ...models import Case, ProcessInstance, Timer
from ..common.clock import clock_now
from ..common.db_support import is_sqlite
from .steps import apply_step, engine, load_workflow, record_event

CANDIDATES = 50


def _claim_instance(now: datetime) -> ProcessInstance | None:
    due = select(Timer.instance_id).where(Timer.status == "waiting", Timer.due_at <= now) \
        .order_by(Timer.due_at).limit(CANDIDATES)
    stmt = select(ProcessInstance).where(ProcessInstance.id.in_(due.scalar_subquery())).limit(1)
    if not is_sqlite():
        stmt = stmt.with_for_update(skip_locked=True)
    return db.session.execute(stmt).scalars().first()


def fire_next(now: datetime | None = None) -> int:
    """Fire the due timers of one instance, in one transaction. Returns how many fired (0: none due
    that this process could take)."""
    now = now or clock_now()
    try:
        inst = _claim_instance(now)
        if inst is None:
            db.session.rollback()
            return 0
        timers = list(db.session.execute(select(Timer).where(
            Timer.instance_id == inst.id, Timer.status == "waiting", Timer.due_at <= now)).scalars())
        if not timers:  # another scheduler fired them between our two reads
            db.session.rollback()
            return 0
        case = db.session.execute(select(Case).where(Case.instance_id == inst.id)).scalar_one_or_none()
        wf = load_workflow(inst)
        result = engine().fire_due_timers(wf, [t.id for t in timers])
        for t in timers:
            record_event(case, "system", "timer", element_id=t.element_id,
                         data_change={"due_at": t.due_at.isoformat(), "fired_at": now.isoformat()})
        apply_step(inst, case, result, "system")
        fired = sum(1 for t in timers if t.status == "fired")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    engine().remember(inst.id, inst.revision, result.workflow)
    return fired


def drain(now: datetime | None = None, max_instances: int | None = None) -> int:
    """Fire everything due now (timers missed while no scheduler ran included). Returns the count."""
    total = handled = 0
    while max_instances is None or handled < max_instances:
        fired = fire_next(now)
        if not fired and not _any_due_unlocked(now):
            break
        total += fired
        handled += 1
    return total


def _any_due_unlocked(now: datetime | None) -> bool:
    """After a 0, is there still due work this process could take (e.g. it lost a race for one
    instance)? Instances another scheduler holds are skipped, not waited for."""
    now = now or clock_now()
    stmt = select(ProcessInstance.id).where(ProcessInstance.id.in_(
        select(Timer.instance_id).where(Timer.status == "waiting", Timer.due_at <= now).scalar_subquery())).limit(1)
    if not is_sqlite():
        stmt = stmt.with_for_update(skip_locked=True)
    takeable = db.session.execute(stmt).first() is not None
    db.session.rollback()
    return takeable


def next_due() -> datetime | None:
    """When the earliest waiting timer is due (None: no timer waits)."""
    value = db.session.execute(select(Timer.due_at).where(Timer.status == "waiting")
                               .order_by(Timer.due_at).limit(1)).scalar()
    db.session.rollback()
    return value
