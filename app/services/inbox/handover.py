"""Passing work between people (DOMAIN.md §8): transfer (转办), delegate and get back (委派 / 收回),
resolve a delegation (交回), copy to others (抄送) and urge the holder (催办). Each checks the actor on
the server, commits once and writes the trail."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ...domain.errors import Conflict, NotAuthorized, ValidationError
from ...engine.forms import validate_submission
from ...extensions import db
from ...models import Case, CaseEvent, CaseParticipant, HumanTask, TaskCc
from ..cases.steps import now, version_forms
from ..cases.task_index import index_task
from ..identity.actors import Actor
from ..identity.permissions import may_act
from ..messaging.notify import notify_staff
from .task_base import _event, _lock, _not_suspended, _open_for, _opinion, _staff, _staff_only, _tx

URGE_INTERVAL = timedelta(hours=1)


def _hand_over(actor: Actor, task_id: str, to_user: str, note, *, action: str, what: str) -> HumanTask:
    text = _opinion(note, required=False)
    with _tx():
        inst, task, case = _lock(task_id)
        _open_for(actor, inst, task)
        _staff_only(actor)
        if task.kind != "user":
            raise Conflict("加签任务不能转办或委派")
        target = _staff(to_user, task.region_code, what=what)
        if target.username == actor.username:
            raise ValidationError(f"不能{what[:2]}给自己", details={"user": ["self"]})
        if action == "delegate":
            task.owner, task.delegation = actor.username, "pending"
        else:  # a transfer is for good: no owner to come back to
            task.owner, task.delegation = None, None
        task.assignee, task.claimed_at = target.username, task.claimed_at or now()
        index_task(task)
        _event(case, actor, action, task, text, to=target.username)
        notify_staff(case, [target.username], "assigned", f"{action}:{task.id}:{target.username}:{now().isoformat()}",
                     step=task.name)
    return task


def transfer(actor: Actor, task_id: str, to_user: str, reason: str | None = None) -> HumanTask:
    """转办: hand the task over for good to a colleague of the same region."""
    return _hand_over(actor, task_id, to_user, reason, action="transfer", what="转办对象")


def delegate(actor: Actor, task_id: str, to_user: str, note: str | None = None) -> HumanTask:
    """委派: ask a colleague to work the task; it comes back to the actor, who completes it."""
    return _hand_over(actor, task_id, to_user, note, action="delegate", what="委派对象")


def resolve(actor: Actor, task_id: str, opinion: str, data: dict | None = None) -> HumanTask:
    """委派办理完毕: the delegate gives the task back to its owner with an opinion (and a draft)."""
    text = _opinion(opinion, required=True)
    with _tx():
        inst, task, case = _lock(task_id)
        if task.delegation != "pending" or task.assignee != actor.username:
            raise NotAuthorized("只有被委派人可以交回委派任务")
        _open_for(actor, inst, task, holder=False)
        if data is not None:
            if not isinstance(data, dict):
                raise ValidationError("data 必须是 JSON 对象", details={"data": ["must be an object"]})
            form = version_forms(inst.version_id).get(task.form_key) if task.form_key else None
            task.draft = validate_submission(form, data, partial=True) if form else {}
            task.draft_by, task.draft_at = actor.username, now()
        task.assignee, task.delegation = task.owner, "resolved"
        index_task(task)
        _event(case, actor, "resolve", task, text, to=task.owner)
    return task


def reclaim(actor: Actor, task_id: str) -> HumanTask:
    """收回委派: the owner takes a delegated task back before the delegate has finished."""
    with _tx():
        inst, task, case = _lock(task_id)
        if task.owner != actor.username or task.delegation != "pending":
            raise NotAuthorized("只有委派人可以收回委派中的任务")
        if task.state != "ready":
            raise Conflict("任务已被办理或已撤销 (task is no longer open)")
        _not_suspended(inst)
        was = task.assignee
        task.assignee, task.delegation, task.owner = actor.username, None, None
        index_task(task)
        _event(case, actor, "reclaim", task, None, **{"from": was})
    return task


def cc(actor: Actor, task_id: str, users: list[str], note: str | None = None) -> list[TaskCc]:
    """抄送: give colleagues a read-only view of the case."""
    if not isinstance(users, list) or not users or len(users) > 50 or not all(isinstance(u, str) for u in users):
        raise ValidationError("请选择 1 至 50 名抄送对象", details={"users": ["1..50 user names"]})
    text = _opinion(note, required=False)
    with _tx():
        inst, task, case = _lock(task_id)
        if case is None:
            raise Conflict("该任务没有办件")
        _staff_only(actor)
        if not (may_act(actor, task) or task.completed_by == actor.username or task.owner == actor.username):
            raise NotAuthorized("只有办理人可以抄送")
        rows = []
        for name in dict.fromkeys(users):
            user = _staff(name, task.region_code, what="抄送对象")
            rows.append(TaskCc(case_id=case.id, task_id=task.id, from_user=actor.username, to_user=user.username,
                               note=text, created_at=now()))
        db.session.add_all(rows)
        _event(case, actor, "cc", task, text, to=[r.to_user for r in rows])
    return rows


def may_urge(actor: Actor, case: Case) -> bool:
    """Inspectors and administrators; leaders of the case's region; staff who acted on the case."""
    if actor.is_admin or actor.is_inspector:
        return True
    if not actor.is_staff:
        return False
    if "leader" in actor.groups and case.region_code == actor.region_code:
        return True
    return db.session.execute(select(CaseParticipant.case_id).where(
        CaseParticipant.case_id == case.id, CaseParticipant.username == actor.username)).first() is not None


def urge(actor: Actor, task_id: str, note: str | None = None) -> HumanTask:
    """催办: remind whoever holds an open task (leaders, inspectors, earlier handlers); once an hour."""
    text = _opinion(note, required=False) or "请尽快办理"
    with _tx():
        inst, task, case = _lock(task_id)
        if task.state != "ready":
            raise Conflict("任务已被办理或已撤销 (task is no longer open)")
        if case is None or not may_urge(actor, case):
            raise NotAuthorized("无权催办该任务")
        _not_suspended(inst)
        since = now() - URGE_INTERVAL
        if db.session.execute(select(CaseEvent.id).where(
                CaseEvent.case_id == case.id, CaseEvent.task_id == task.id, CaseEvent.task_ref.is_(None),
                CaseEvent.action == "urge",
                CaseEvent.actor == actor.username, CaseEvent.at > since).limit(1)).first():
            raise Conflict("一小时内已催办过该任务")
        holders = [task.assignee] if task.assignee else \
            [f"g:{g}" for g in task.candidate_groups or ()] + list(task.candidate_users or ())
        notify_staff(case, holders, "urge", f"urge:{task.id}:{actor.username}:{now().isoformat()}", step=task.name)
        task.urge_count = (task.urge_count or 0) + 1
        _event(case, actor, "urge", task, text)
    return task
