"""User tasks: list the actor's, read one, complete one (办理)."""
from __future__ import annotations

from sqlalchemy import and_, exists, or_, select

from ..domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ..engine.forms import validate_submission
from ..engine.runtime import TaskNotReady
from ..extensions import db
from ..models import Case, HumanTask, ProcessInstance, TaskCandidate
from .actors import Actor
from .db_support import is_sqlite
from ..domain.org import inbox_keys
from .steps import apply_step, engine, load_workflow, record_event, version_forms


def may_act(actor: Actor, task: HumanTask) -> bool:
    """Server-side rule: the assignee alone when there is one, else a candidate user or group."""
    if task.assignee:
        return task.assignee == actor.username
    if actor.is_applicant:
        return False
    return actor.username in (task.candidate_users or ()) or bool(set(task.candidate_groups or ()) & actor.groups)


def list_tasks(actor: Actor, *, limit: int = 50, offset: int = 0, process_id: str | None = None):
    """Open tasks the actor may act on (assigned to them, or unassigned in their groups)."""
    keys = inbox_keys(actor.username, actor.groups, actor.region_code)
    mine = exists().where(TaskCandidate.task_id == HumanTask.id, TaskCandidate.key.in_(keys))
    stmt = select(HumanTask, Case).join(Case, Case.id == HumanTask.case_id, isouter=True).where(
        HumanTask.state == "ready", mine)
    if process_id:
        stmt = stmt.where(Case.process_id == process_id)
    stmt = stmt.order_by(HumanTask.created_at, HumanTask.id).limit(limit).offset(offset)
    return list(db.session.execute(stmt).all())


def get_task(actor: Actor, task_id: str) -> tuple[HumanTask, Case | None, dict | None, int]:
    """A task with its case, form schema and the instance revision (to send back on completion).
    Raises NotFound / NotAuthorized."""
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound("任务不存在")
    if task.state == "ready" and not may_act(actor, task) and task.completed_by != actor.username:
        raise NotAuthorized("无权查看该任务")
    if task.state != "ready" and task.completed_by != actor.username and not may_act(actor, task):
        raise NotAuthorized("无权查看该任务")
    case = db.session.get(Case, task.case_id) if task.case_id else None
    inst = db.session.get(ProcessInstance, task.instance_id)
    form = version_forms(inst.version_id).get(task.form_key) if task.form_key else None
    return task, case, form, inst.revision


def complete_task(actor: Actor, task_id: str, data: dict, *, revision: int | None = None,
                  opinion: str | None = None) -> tuple[HumanTask, Case | None, ProcessInstance]:
    """Complete a ready user task with form data, in one transaction:
    lock instance → load → refresh timers → run task → engine steps → save state + projections + audit.

    Raises NotFound (unknown task), NotAuthorized (not the actor's), Conflict (already completed, or
    ``revision`` is stale), ValidationError (data does not fit the form). Nothing changes then."""
    if not isinstance(data, dict):
        raise ValidationError("data 必须是 JSON 对象", details={"data": ["must be an object"]})
    try:
        # one statement: lock the instance (then the task read is what the lock protects), with its
        # task and case
        stmt = (select(ProcessInstance, HumanTask, Case)
                .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
                .outerjoin(Case, Case.id == HumanTask.case_id)
                .where(HumanTask.id == task_id))
        if not is_sqlite():
            stmt = stmt.with_for_update(of=ProcessInstance)
        row = db.session.execute(stmt).first()
        if row is None:
            raise NotFound("任务不存在")
        inst, task, case = row
        if not may_act(actor, task):
            raise NotAuthorized("无权办理该任务")
        if task.state != "ready":
            raise Conflict("任务已被办理或已撤销 (task is no longer open)", details={"state": task.state})
        if revision is not None and revision != inst.revision:
            raise Conflict("办件已有新进展，请刷新后再办理 (stale revision)",
                           details={"revision": inst.revision})
        form = version_forms(inst.version_id).get(task.form_key) if task.form_key else None
        clean = validate_submission(form, data) if form else {}
        wf = load_workflow(inst)
        wf.refresh_timers()
        try:
            result = engine().complete(wf, task_id, clean)
        except TaskNotReady:
            raise Conflict("任务已不可办理 (task is not ready in the process)") from None
        record_event(case, actor.username, "complete", task_id=task.id, element_id=task.element_id,
                     step_name=task.name, opinion=opinion or _opinion_of(clean), data_change=clean)
        apply_step(inst, case, result, actor.username, completed_task=task)
        revision_after = inst.revision
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    engine().remember(inst.id, revision_after, result.workflow)
    return task, case, inst


def _opinion_of(data: dict) -> str | None:
    """The opinion text of a submission, for the trail: the first field named like an opinion."""
    def scan(d):
        for key, value in d.items():
            if isinstance(value, dict):
                found = scan(value)
                if found:
                    return found
            elif isinstance(value, str) and value and ("opinion" in key or key.endswith("_reply")):
                return value
        return None
    return scan(data)
