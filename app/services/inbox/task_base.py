"""What every task operation shares: one transaction per operation, the instance lock taken with the
task, the refusals (closed, suspended, not the actor's, waiting for signers), the opinion text, the
trail row and 我经手的, and running a step (also when the last countersign of a step comes in)."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...engine.runtime import TaskNotReady
from ...extensions import db
from ...models import Case, CaseParticipant, HumanTask, ProcessInstance, User
from ..cases.steps import apply_step, engine, load_workflow, now, record_event
from ..cases.task_index import index_task
from ..common.db_support import is_sqlite, rolled_back
from ..common.one_write import run_later, step_writes, write_as_one
from ..identity.actors import Actor
from ..identity.permissions import may_act

OPINION_MAX = 2000


@contextmanager
def _tx(then=None, out: dict | None = None):
    """One operation's transaction. ``then``: a read after the operation's writes, before the commit,
    its result put in ``out["then"]`` (the API's answer: read in the same transaction, it costs no
    second transaction and no second round trip to begin and end it)."""
    try:
        with step_writes():
            yield
            write_as_one(db.session)
        if then is not None:
            out["then"] = then()
        db.session.commit()
    except BaseException as exc:
        rolled_back(exc)
        raise


# built once: a statement object keeps its cache key, so each step skips building and keying them
_LOCK = select(ProcessInstance.id, ProcessInstance.revision).where(
    ProcessInstance.id == select(HumanTask.instance_id).where(HumanTask.id == bindparam("task_id")).scalar_subquery()
).with_for_update()
_READ = (select(ProcessInstance, HumanTask, Case)
         .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
         .outerjoin(Case, Case.id == HumanTask.case_id)
         .where(HumanTask.id == bindparam("task_id"))
         .execution_options(populate_existing=True))
#: the read when the engine keeps the workflow of the locked revision: without the stored state (tens of
#: KiB for a long case, its transfer and decoding a tenth of a step); read on access should it be needed
_READ_KEPT = _READ.options(defer(ProcessInstance.state))


def _lock(task_id: str) -> tuple[ProcessInstance, HumanTask, Case | None]:
    """The task with its case, after locking its instance.

    PostgreSQL: the lock is one statement and the read another. A single ``SELECT … JOIN … FOR UPDATE
    OF process_instances`` that waited for the lock re-reads only the instance row once it is free: the
    task and case rows would be those of its snapshot, taken before the transaction it waited for
    committed (two clerks claiming one task at the same instant both succeeded). Read after the lock,
    in READ COMMITTED, the next statement sees what that transaction wrote; ``populate_existing``
    refreshes objects the session already holds. The lock returns the instance's revision: when the
    engine keeps the workflow of that revision, the read leaves the stored state out. SQLite: BEGIN
    IMMEDIATE already holds the database's write lock when the transaction starts (and the read takes
    the state: there is no statement before it to tell)."""
    if not isinstance(task_id, str) or len(task_id) > 36:
        raise NotFound("任务不存在")
    read = _READ
    if not is_sqlite():
        # Core on the session's connection: the ORM's execution adds a fifth to a statement that loads no object
        locked = db.session.connection().execute(_LOCK, {"task_id": task_id}).first()
        if locked is not None and engine().holds(locked[0], locked[1]):
            read = _READ_KEPT
    row = db.session.execute(read, {"task_id": task_id}).first()
    if row is None:
        raise NotFound("任务不存在")
    return row[0], row[1], row[2]


def _not_suspended(inst: ProcessInstance) -> None:
    if inst.status == "suspended":
        raise Conflict("办件已挂起，恢复后才能办理")


def _staff_only(actor: Actor) -> None:
    """Operations of the inbox that only staff have (an applicant answers their 补正, nothing more)."""
    if not actor.is_staff:
        raise NotAuthorized("只有工作人员可以进行该操作")


def _open_for(actor: Actor, inst: ProcessInstance, task: HumanTask, *, holder: bool = True) -> None:
    """Refuse unless the task is open and the actor may act on it (and, with ``holder``, is not
    merely its delegate)."""
    if task.state != "ready":
        raise Conflict("任务已被办理或已撤销 (task is no longer open)", details={"state": task.state})
    if not may_act(actor, task) and not (task.blocked and task.assignee == actor.username):
        raise NotAuthorized("无权办理该任务")
    _not_suspended(inst)
    if (task.blocked or 0) > 0:
        raise Conflict("正在等待申请人补正" if task.sign_mode == "补正" else "正在等待加签人签署意见")
    if holder and task.delegation == "pending":
        raise Conflict("任务已委派，请由被委派人办理完毕后交回，或先收回委派")


def _opinion(text, *, required: bool, what: str = "办理意见") -> str | None:
    text = (text or "").strip() if isinstance(text, str) else ""
    if not text:
        if required:
            raise ValidationError(f"请填写{what}", details={"opinion": ["必填 (required)"]})
        return None
    if len(text) > OPINION_MAX:
        raise ValidationError(f"{what}过长（最多 {OPINION_MAX} 字）", details={"opinion": ["too long"]})
    return text


def _staff(username, region: str | None = None, *, what: str = "办理人") -> User:
    if not isinstance(username, str) or not username.strip():
        raise ValidationError(f"请选择{what}", details={"user": ["必填 (required)"]})
    user = db.session.execute(select(User).where(User.username == username.strip())).scalar_one_or_none()
    if user is None or user.kind != "staff" or not user.active:
        raise ValidationError(f"{what}「{username}」不存在或已停用", details={"user": ["unknown user"]})
    if region is not None and (user.region_code or "320000") != region:
        raise ValidationError(f"{what}「{username}」不属于本地区", details={"user": ["other region"]})
    return user


def colleagues(actor: Actor, region_code: str, limit: int = 500) -> list[tuple[str, str]]:
    """(username, display name) of the active staff of a region: whom a task can be handed to."""
    if not actor.is_staff:
        return []
    return [tuple(r) for r in db.session.execute(
        select(User.username, User.display_name).where(User.kind == "staff", User.active.is_(True),
                                                       User.region_code == region_code,
                                                       User.username != actor.username)
        .order_by(User.username).limit(limit)).all()]


def _upsert(insert):
    ins = insert(CaseParticipant).values(case_id=bindparam("case_id"), username=bindparam("username"),
                                         last_action=bindparam("last_action"), last_at=bindparam("last_at"))
    return ins.on_conflict_do_update(index_elements=["case_id", "username"],
                                     set_={"last_action": ins.excluded.last_action, "last_at": ins.excluded.last_at})


_TOUCH = {True: _upsert(sqlite_insert), False: _upsert(pg_insert)}    # built once: is_sqlite() -> statement


def touch(case: Case | None, username: str, action: str) -> None:
    """我经手的: remember that a staff user acted on the case (upsert)."""
    if case is None:
        return
    run_later(_TOUCH[is_sqlite()], (CaseParticipant,), key=("touch", case.id, username),
              params={"case_id": case.id, "username": username, "last_action": action, "last_at": now()})


def _event(case, actor: Actor, action: str, task: HumanTask | None, opinion=None, **extra) -> None:
    record_event(case, actor.username, action, task_id=task.id if task else None,
                 element_id=task.element_id if task else None, step_name=task.name if task else None,
                 opinion=opinion, data_change=extra or {})
    if actor.is_staff:
        touch(case, actor.username, action)


def _run(actor: Actor, inst, task, case, clean: dict, text: str | None, outcome: str, *, as_user: str | None = None):
    """Complete the task's BPMN step and write the outcome (inside the caller's transaction)."""
    wf = load_workflow(inst, case)
    wf.refresh_timers()
    try:
        result = engine().complete(wf, task.id, clean)
    except TaskNotReady:
        raise Conflict("任务已不可办理 (task is not ready in the process)") from None
    who = as_user or actor.username
    task.opinion, task.outcome = text, outcome
    record_event(case, who, "reject" if outcome == "reject" else "complete", task_id=task.id,
                 element_id=task.element_id, step_name=task.name, opinion=text, data_change=clean)
    touch(case, who, outcome)
    apply_step(inst, case, result, who, completed_task=task)
    task.completed_by = who


def _finish_sign(actor: Actor, inst, sign: HumanTask, case, text: str) -> None:
    sign.state, sign.completed_at, sign.completed_by = "completed", now(), actor.username
    sign.opinion, sign.outcome = text, "sign"
    index_task(sign)
    parent = db.session.get(HumanTask, sign.parent_id)
    record_event(case, actor.username, "sign", task_id=sign.id, element_id=sign.element_id, step_name=sign.name,
                 opinion=text)
    touch(case, actor.username, "sign")
    _release(actor, inst, parent, case)


def _release(actor: Actor, inst, parent: HumanTask | None, case) -> None:
    """One signer fewer to wait for; with none left, the task returns to its holder (前加签) or its
    held completion goes through (后加签)."""
    if parent is None or parent.state != "ready":
        return
    parent.blocked = max(0, (parent.blocked or 0) - 1)
    if parent.blocked:
        return
    if parent.sign_mode == "after" and parent.pending_data is not None:
        data, who = parent.pending_data, parent.pending_by
        parent.pending_data = None
        _run(actor, inst, parent, case, data, parent.opinion, parent.outcome or "approve", as_user=who)
    else:
        index_task(parent)
