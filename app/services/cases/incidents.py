"""Incidents: failures inside a process, listed and retried by administrators."""
from __future__ import annotations

from sqlalchemy import select

from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...extensions import db
from ...models import Case, Incident, ProcessInstance
from ..common.db_support import lock_one
from ..identity.actors import Actor
from .steps import apply_step, engine, load_workflow, now, record_event


def list_incidents(actor: Actor, *, status: str | None = "open", limit: int = 100) -> list[Incident]:
    if not (actor.is_admin or actor.is_inspector):
        raise NotAuthorized("只有管理员和监察人员可以查看异常")
    stmt = select(Incident)
    if status:
        stmt = stmt.where(Incident.status == status)
    return list(db.session.execute(stmt.order_by(Incident.id.desc()).limit(limit)).scalars())


def retry_incident(actor: Actor, incident_id: int, data: dict | None = None) -> Incident:
    """Run the failed part again (optionally patching the failed task's data). When it fails again a
    new incident is recorded and this one stays open. Commits."""
    if not actor.is_admin:
        raise NotAuthorized("只有管理员可以重试异常")
    if data is not None and not isinstance(data, dict):
        raise ValidationError("data 必须是 JSON 对象", details={"data": ["must be an object"]})
    try:
        incident = db.session.get(Incident, incident_id)
        if incident is None:
            raise NotFound("异常不存在")
        inst = lock_one(ProcessInstance, ProcessInstance.id == incident.instance_id)
        db.session.refresh(incident)
        if incident.status != "open":
            raise Conflict("该异常已处理")
        case = db.session.get(Case, incident.case_id) if incident.case_id else None
        wf = load_workflow(inst)
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
