"""Countersign (会签) inside one step: add signers (加签), who each sign an opinion on a task of their
own while the step waits, and remove a signer who has not signed (减签); the step goes on when the
last one signs (task_base._finish_sign)."""
from __future__ import annotations

from uuid import uuid4

from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...extensions import db
from ...models import HumanTask
from ..cases.steps import now, remember_written, version_forms
from ..cases.task_index import index_task
from ..identity.actors import Actor
from ..messaging.notify import notify_staff
from .form_fields import _prepare
from .task_base import _event, _lock, _not_suspended, _open_for, _opinion, _release, _staff, _staff_only, _tx


def add_signers(actor: Actor, task_id: str, users: list[str], mode: str, opinion: str | None = None,
                data: dict | None = None) -> list[HumanTask]:
    """加签. ``before``: the signers give their opinions first, then the task comes back to the actor.
    ``after``: the actor completes now (``data``) and the process moves on once the signers signed."""
    if mode not in ("before", "after"):
        raise ValidationError("加签方式应为 before（前加签）或 after（后加签）", details={"mode": ["before | after"]})
    if not isinstance(users, list) or not users or len(users) > 20 or not all(isinstance(u, str) for u in users):
        raise ValidationError("请选择 1 至 20 名加签人", details={"users": ["1..20 user names"]})
    text = _opinion(opinion, required=mode == "after")
    with _tx():
        inst, task, case = _lock(task_id)
        _open_for(actor, inst, task)
        _staff_only(actor)
        if task.kind != "user":
            raise Conflict("加签任务不能再加签")
        people = []
        for name in dict.fromkeys(users):
            user = _staff(name, task.region_code, what="加签人")
            if user.username == actor.username:
                raise ValidationError("不能给自己加签", details={"users": ["self"]})
            people.append(user)
        if mode == "after":
            form = version_forms(inst.version_id).get(task.form_key) if task.form_key else None
            clean, outcome = _prepare(form, data if isinstance(data, dict) else {}, text, None)
            task.pending_data, task.pending_by, task.opinion, task.outcome = clean, actor.username, text, outcome
        task.assignee = task.assignee or actor.username
        task.claimed_at = task.claimed_at or now()
        task.blocked, task.sign_mode = len(people), mode
        index_task(task)
        ts = now()
        signs = []
        for user in people:
            sign = HumanTask(id=str(uuid4()), instance_id=inst.id, case_id=task.case_id, element_id=task.element_id,
                             name=f"{task.name}（加签）", kind="sign", parent_id=task.id, sign_mode=mode,
                             assignee=user.username, candidate_groups=[], candidate_users=[], state="ready",
                             due_date=task.due_date, created_at=ts, process_id=task.process_id,
                             region_code=task.region_code, blocked=0, urge_count=0, limit_days=task.limit_days)
            db.session.add(sign)
            index_task(sign, fresh=True)
            signs.append(sign)
            notify_staff(case, [user.username], "assigned", f"sign:{sign.id}", step=sign.name)
        _event(case, actor, f"add_sign_{mode}", task, text, signers=[u.username for u in people])
    return signs


def remove_signer(actor: Actor, sign_task_id: str, reason: str | None = None) -> HumanTask:
    """减签: the one who added a signer takes them off while they have not signed."""
    with _tx():
        inst, sign, case = _lock(sign_task_id)
        if sign.kind != "sign":
            raise NotFound("加签任务不存在")
        parent = db.session.get(HumanTask, sign.parent_id)
        adder = parent.pending_by or parent.assignee if parent is not None else None
        if adder != actor.username:
            raise NotAuthorized("只有加签人可以减签")
        if sign.state != "ready":
            raise Conflict("该加签人已签署意见，不能减签")
        _not_suspended(inst)
        sign.state, sign.completed_at, sign.outcome = "cancelled", now(), "removed"
        index_task(sign)
        _event(case, actor, "remove_sign", parent, _opinion(reason, required=False), signer=sign.assignee)
        _release(actor, inst, parent, case)
    remember_written(inst)
    return sign
