"""What only administrators do to a whole case: suspend (挂起) and resume its process, and terminate
it (终止), each with a reason in the trail."""
from __future__ import annotations

from sqlalchemy import delete, select, update

from ...domain.case_status import FINAL, CaseStatus
from ...domain.errors import Conflict, NotAuthorized, NotFound
from ...extensions import db
from ...models import Case, HumanTask, Incident, ProcessInstance, TaskCandidate, Timer
from ..cases.incidents import is_timer_incident
from ..cases.lifecycle import close_ended_process
from ..cases.locks import lock_case
from ..cases.steps import apply_step, engine, load_workflow, record_event, set_case_status
from ..cases.task_index import index_task
from ..identity.actors import Actor
from .task_base import _opinion, _tx


def _admin_case(actor: Actor, case_id: int) -> tuple[Case, ProcessInstance]:
    if not actor.is_admin:
        raise NotAuthorized("只有管理员可以挂起、激活或终止办件")
    if not isinstance(case_id, int) or not 0 < case_id < 2 ** 31:
        raise NotFound("办件不存在")
    case, inst = lock_case(Case.id == case_id)   # the instance first: the lock order of every step
    if case is None or inst is None:
        raise NotFound("办件不存在")
    return case, inst


def suspend(actor: Actor, case_id: int, reason: str) -> Case:
    """挂起: nobody acts and no timer fires until resumed."""
    text = _opinion(reason, required=True, what="挂起理由")
    with _tx():
        case, inst = _admin_case(actor, case_id)
        if inst.status not in ("running", "waiting", "error"):
            raise Conflict("办件未在办理中，不能挂起", details={"status": inst.status})
        inst.status = "suspended"
        db.session.execute(update(Timer).where(Timer.instance_id == inst.id, Timer.status == "waiting")
                           .values(status="suspended"))
        db.session.execute(delete(TaskCandidate).where(TaskCandidate.task_id.in_(
            select(HumanTask.id).where(HumanTask.instance_id == inst.id, HumanTask.state == "ready"))))
        record_event(case, actor.username, "suspend", opinion=text)
    return case


def resume(actor: Actor, case_id: int, reason: str | None = None) -> Case:
    """激活: the case goes on where it stood."""
    text = _opinion(reason, required=False)
    with _tx():
        case, inst = _admin_case(actor, case_id)
        if inst.status != "suspended":
            raise Conflict("办件未挂起")
        ready = list(db.session.execute(select(HumanTask).where(HumanTask.instance_id == inst.id,
                                                                HumanTask.state == "ready")).scalars())
        # a timer incident (the scheduler could not fire) does not stop the process: only the others do
        stopped = any(not is_timer_incident(i) for i in db.session.execute(select(Incident).where(
            Incident.instance_id == inst.id, Incident.status == "open")).scalars())
        inst.status = "error" if stopped else "running" if any(t.kind == "user" for t in ready) else "waiting"
        db.session.execute(update(Timer).where(Timer.instance_id == inst.id, Timer.status == "suspended")
                           .values(status="waiting"))
        for task in ready:
            index_task(task)
        record_event(case, actor.username, "resume", opinion=text)
    return case


def terminate(actor: Actor, case_id: int, reason: str) -> Case:
    """终止: end the case's process for good (recorded with the reason)."""
    text = _opinion(reason, required=True, what="终止理由")
    with _tx():
        case, inst = _admin_case(actor, case_id)
        if inst.status in ("complete", "cancelled") or CaseStatus(case.status) in FINAL:
            raise Conflict("办件已办结，不能终止")
        wf = load_workflow(inst)
        result = engine().cancel(wf)
        apply_step(inst, case, result, actor.username)  # closes the open tasks and their 加签 tasks
        close_ended_process(inst, actor.username)   # the held timers, the open incidents
        set_case_status(case, CaseStatus.TERMINATED.value, actor.username, reason=text)
        record_event(case, actor.username, "terminate", opinion=text)
    return case
