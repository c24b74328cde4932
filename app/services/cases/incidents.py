"""Incidents: failures inside a process, listed and retried by administrators.

Most are recorded by ``steps.apply_step`` (a script, an expression, a status the model may not
reach). The scheduler records the other kind (``details.source == "timer"``): the firing of an
instance's due timers raised before the engine could run or while saving. Such an instance has one
open timer incident, whatever the number of attempts; its retry clears the timers' backoff so the
scheduler fires them at its next run, and the first firing that succeeds resolves it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...extensions import db
from ...models import Case, Incident, ProcessInstance, Timer
from ...observability import metrics
from ..common.db_support import lock_one
from ..identity.actors import Actor
from .steps import apply_step, engine, load_workflow, now, record_event

TIMER = "timer"  # details["source"] of an incident recorded by the scheduler


def list_incidents(actor: Actor, *, status: str | None = "open", limit: int = 100) -> list[Incident]:
    if not (actor.is_admin or actor.is_inspector):
        raise NotAuthorized("只有管理员和监察人员可以查看异常")
    stmt = select(Incident)
    if status:
        stmt = stmt.where(Incident.status == status)
    return list(db.session.execute(stmt.order_by(Incident.id.desc()).limit(limit)).scalars())


def retry_incident(actor: Actor, incident_id: int, data: dict | None = None) -> Incident:
    """Run the failed part again (optionally patching the failed task's data). When it fails again a
    new incident is recorded and this one stays open. A timer incident is retried by the scheduler
    (see ``_retry_timers``) and takes no data. Commits."""
    if not actor.is_admin:
        raise NotAuthorized("只有管理员可以重试异常")
    if data is not None and not isinstance(data, dict):
        raise ValidationError("data 必须是 JSON 对象", details={"data": ["must be an object"]})
    try:
        incident = db.session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("异常不存在")
        if is_timer_incident(incident) and data:
            raise ValidationError("定时器异常重试时不能修改数据 (a timer incident is retried without data)",
                                  details={"data": ["not accepted for a timer incident"]})
        inst = lock_one(ProcessInstance, ProcessInstance.id == incident.instance_id)
        db.session.refresh(incident)
        if incident.status != "open":
            raise Conflict("该异常已处理")
        # a suspended case waits for its resume (a retry would run it, the suspension's timers left behind);
        # a withdrawn or terminated one is over (a retry would run its cancelled process on)
        if inst.status == "suspended":
            raise Conflict("办件已挂起，激活后才能重试 (the case is suspended: resume it first)",
                           details={"status": inst.status})
        if inst.status in ("complete", "cancelled"):
            raise Conflict("办件流程已结束，不能重试 (the case's process has ended)", details={"status": inst.status})
        case = db.session.get(Case, incident.case_id) if incident.case_id else None
        if is_timer_incident(incident):
            _retry_timers(actor, inst, case, incident)
            db.session.commit()
            return incident
        wf = load_workflow(inst, case)
        result = engine().retry(wf, data)
        incident.retries += 1
        record_event(case, actor.username, "retry", element_id=incident.element_id,
                     data_change=data or {})
        failed_again = result.incident
        if failed_again is not None:  # keep one open incident, with the latest error
            incident.message, incident.details = failed_again.message, failed_again.details
            incident.element_id, incident.task_id = failed_again.element_id, failed_again.task_id
            result.incident = None
        apply_step(inst, case, result, actor.username)
        if failed_again is None:
            incident.status, incident.resolved_at, incident.resolved_by = "resolved", now(), actor.username
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return incident


def is_timer_incident(incident: Incident) -> bool:
    return (incident.details or {}).get("source") == TIMER


def _open_timer_incident(instance_id: int) -> Incident | None:
    rows = db.session.execute(select(Incident).where(Incident.instance_id == instance_id,
                                                     Incident.status == "open")).scalars()
    return next((i for i in rows if is_timer_incident(i)), None)


def record_timer_failure(inst: ProcessInstance, case: Case | None, timers: list[Timer], exc: Exception,
                         next_attempt_at: datetime) -> Incident:
    """The scheduler could not fire ``timers`` (they back off until ``next_attempt_at``): open the
    instance's timer incident, with a case event, or bring the open one up to date (no new row and
    no new event per attempt). In the caller's transaction."""
    message = f"定时器触发失败 (timer firing failed): {type(exc).__name__}: {exc}"[:4000]
    details = {"source": TIMER, "timers": [t.id for t in timers],
               "elements": sorted({t.element_id for t in timers}),
               "attempts": max(t.attempts or 0 for t in timers), "next_attempt_at": next_attempt_at.isoformat()}
    incident = _open_timer_incident(inst.id)
    if incident is not None:
        incident.error_type, incident.message, incident.details = type(exc).__name__[:64], message, details
        return incident
    incident = Incident(instance_id=inst.id, case_id=case.id if case else None, task_id=timers[0].id,
                        element_id=timers[0].element_id, error_type=type(exc).__name__[:64], message=message,
                        details=details, created_at=now())
    db.session.add(incident)
    metrics.incident_recorded("timer", incident.error_type)
    record_event(case, "system", "incident", element_id=timers[0].element_id, opinion=message[:2000])
    return incident


def resolve_timer_incidents(instance_id: int) -> None:
    """The instance's timers fired after failing before: its open timer incident is over."""
    incident = _open_timer_incident(instance_id)
    if incident is not None:
        incident.status, incident.resolved_at, incident.resolved_by = "resolved", now(), "system"


def _retry_timers(actor: Actor, inst: ProcessInstance, case: Case | None, incident: Incident) -> None:
    """An administrator's retry of a timer incident (the cause fixed): the backing-off timers are due
    again at once and the scheduler fires them at its next run, which resolves the incident — or, if
    they fail again, keeps it open with the new error. With no failed timer left waiting (the step
    moved on), the incident is resolved now. A retry while the timers wait for that run (an earlier retry
    made them due) is refused: the first one is still to be tried."""
    failed = db.session.execute(select(Timer.next_attempt_at).where(
        Timer.instance_id == inst.id, Timer.status == "waiting", Timer.attempts > 0)).scalars().all()
    if failed and all(at is None for at in failed):
        raise Conflict("该异常已重试，等待定时器再次触发 (already retried: the timers wait for the scheduler's next run)")
    incident.retries += 1
    record_event(case, actor.username, "retry", element_id=incident.element_id, data_change={})
    if failed:
        db.session.execute(update(Timer).where(
            Timer.instance_id == inst.id, Timer.status == "waiting", Timer.attempts > 0)
            .values(next_attempt_at=None).execution_options(synchronize_session=False))
    else:
        incident.status, incident.resolved_at, incident.resolved_by = "resolved", now(), actor.username
