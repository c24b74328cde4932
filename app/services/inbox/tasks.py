"""User tasks: list the actor's, read one, complete one (办理)."""
from __future__ import annotations

from sqlalchemy import exists, select

from ...domain.errors import NotAuthorized, NotFound
from ...domain.org import inbox_keys
from ...extensions import db
from ...models import Case, HumanTask, ProcessInstance, TaskCandidate
from ..cases.steps import version_forms
from ..identity.actors import Actor
from ..identity.permissions import can_read_case, is_candidate, may_act
from .operations import complete


def may_view(actor: Actor, task: HumanTask, case: Case | None) -> bool:
    """Who may open a task page: whoever may act, held or did it, the task's candidates, anyone who
    may read its case (participants, cc, supervisors)."""
    if actor.is_applicant:  # an applicant sees the steps that are theirs (补正), not staff work
        return actor.username in (task.assignee, task.completed_by)
    if may_act(actor, task) or actor.username in (task.completed_by, task.assignee, task.owner, task.pending_by):
        return True
    if task.state == "ready" and is_candidate(actor, task):
        return True
    if case is not None:
        return can_read_case(actor, case)
    return actor.is_admin or actor.is_inspector


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
    task = db.session.get(HumanTask, task_id) if isinstance(task_id, str) and len(task_id) <= 36 else None
    if task is None:
        raise NotFound("任务不存在")
    case = db.session.get(Case, task.case_id) if task.case_id else None
    if not may_view(actor, task, case):
        raise NotAuthorized("无权查看该任务")
    inst = db.session.get(ProcessInstance, task.instance_id)
    form = version_forms(inst.version_id).get(task.form_key) if task.form_key else None
    return task, case, form, inst.revision


def complete_task(actor: Actor, task_id: str, data: dict, *, revision: int | None = None,
                  opinion: str | None = None, with_state: bool = False) -> tuple:
    """Complete a ready user task with form data, in one transaction (see operations.complete):
    (task, case, instance), and with ``with_state`` where the case stands now (``case_state``, read in
    the same transaction) as a fourth.

    Raises NotFound (unknown task), NotAuthorized (not the actor's), Conflict (already completed, or
    ``revision`` is stale), ValidationError (data does not fit the form). Nothing changes then."""
    return complete(actor, task_id, data, revision=revision, opinion=opinion, with_state=with_state)
