"""Permission predicates: who may see and do what, checked on the server by every wing — a task
offered to an actor (``is_candidate``), a task the actor may act on now (``may_act``), a case the
actor may read (``can_read_case``). Read-only questions over the models; nothing here writes."""
from __future__ import annotations

from sqlalchemy import select

from ...extensions import db
from ...models import Case, CaseParticipant, HumanTask, TaskCc
from .actors import Actor


def is_candidate(actor: Actor, task: HumanTask) -> bool:
    """Whether the task is offered to the actor: as a candidate user, or through a group in the
    task's region (whoever holds it now)."""
    if actor.username in (task.candidate_users or ()):
        return True
    return actor.is_staff and bool(set(task.candidate_groups or ()) & actor.groups) and \
        (task.region_code or "320000") == actor.region_code


def may_act(actor: Actor, task: HumanTask) -> bool:
    """Server-side rule: the assignee alone when there is one, else a candidate user, or a member of
    a candidate group in the task's region. Nobody acts on a closed task or one waiting for signers."""
    if task.state != "ready" or (task.blocked or 0) > 0:
        return False
    if task.assignee:
        return task.assignee == actor.username
    if actor.is_applicant:
        return False
    return is_candidate(actor, task)


def can_read_case(actor: Actor, case: Case) -> bool:
    """Applicants their own cases; supervisors and administrators every case; leaders every case of
    their region; staff the cases they acted on, were sent a copy of, or whose steps are or were
    offered to their groups in their region."""
    if actor.is_admin or actor.is_inspector:
        return True
    if actor.is_applicant:
        return case.applicant_id == actor.id
    if not actor.is_staff:
        return False
    if db.session.execute(select(CaseParticipant.case_id).where(
            CaseParticipant.case_id == case.id, CaseParticipant.username == actor.username)).first():
        return True
    if db.session.execute(select(TaskCc.id).where(TaskCc.case_id == case.id, TaskCc.to_user == actor.username)
                          .limit(1)).first():
        return True
    if "leader" in actor.groups and case.region_code == actor.region_code:
        return True  # commission leaders read every case of their region
    for row in db.session.execute(select(HumanTask).where(HumanTask.case_id == case.id)).scalars():
        # the holders, and the groups (in the region) that had or have a step of it
        if actor.username in (row.completed_by, row.assignee, row.owner) or is_candidate(actor, row):
            return True
    return False
