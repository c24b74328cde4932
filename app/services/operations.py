"""What staff do to a task (DOMAIN.md §8), each in one transaction, each in the case trail with
actor, time and opinion: claim / unclaim, approve, reject, return to an earlier step, transfer,
delegate and get back, add or remove signers (加签 / 减签), cc, withdraw, urge, draft, and for
administrators suspend / resume / terminate.

Every function takes the acting ``Actor`` and checks on the server that it may act; on any refusal
it raises a DomainError and nothing is changed (the transaction is rolled back)."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from uuid import uuid4

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..domain.case_status import FINAL, CaseStatus
from ..domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ..engine.forms import validate_submission
from ..engine.runtime import TaskNotReady
from ..extensions import db
from ..models import Case, CaseEvent, CaseParticipant, HumanTask, Incident, ProcessInstance, TaskCandidate, TaskCc, \
    Timer, User
from .actors import Actor
from .db_support import is_sqlite
from .inbox_index import index_task
from .notify import notify_staff
from .steps import apply_step, engine, load_workflow, now, record_event, set_case_status, version_forms

OPINION_MAX = 2000
APPROVE_VALUES = ("approve", "accept", "agree", "yes", "pass")
URGE_INTERVAL = timedelta(hours=1)


# -- plumbing --------------------------------------------------------------------------------------
@contextmanager
def _tx():
    db.session.info.pop("stepped", None)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.info.pop("stepped", None)
        db.session.rollback()
        raise


def _lock(task_id: str) -> tuple[ProcessInstance, HumanTask, Case | None]:
    """The task with its case, after locking its instance (one statement)."""
    if not isinstance(task_id, str) or len(task_id) > 36:
        raise NotFound("任务不存在")
    stmt = (select(ProcessInstance, HumanTask, Case)
            .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
            .outerjoin(Case, Case.id == HumanTask.case_id)
            .where(HumanTask.id == task_id))
    if not is_sqlite():
        stmt = stmt.with_for_update(of=ProcessInstance)
    row = db.session.execute(stmt).first()
    if row is None:
        raise NotFound("任务不存在")
    return row[0], row[1], row[2]


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


def touch(case: Case | None, username: str, action: str) -> None:
    """我经手的: remember that a staff user acted on the case (upsert)."""
    if case is None:
        return
    ins = (sqlite_insert if is_sqlite() else pg_insert)(CaseParticipant).values(
        case_id=case.id, username=username, last_action=action, last_at=now())
    db.session.execute(ins.on_conflict_do_update(index_elements=["case_id", "username"],
                                                 set_={"last_action": action, "last_at": now()}))


def _event(case, actor: Actor, action: str, task: HumanTask | None, opinion=None, **extra) -> None:
    record_event(case, actor.username, action, task_id=task.id if task else None,
                 element_id=task.element_id if task else None, step_name=task.name if task else None,
                 opinion=opinion, data_change=extra or {})
    if actor.is_staff:
        touch(case, actor.username, action)


# -- claim / unclaim -------------------------------------------------------------------------------
def claim(actor: Actor, task_id: str) -> HumanTask:
    """签收: take an offered task; it leaves the other candidates' lists."""
    with _tx():
        inst, task, case = _lock(task_id)
        if task.state == "ready" and task.assignee and task.assignee != actor.username \
                and is_candidate(actor, task):
            raise Conflict(f"任务已被 {task.assignee} 签收", details={"assignee": task.assignee})
        _open_for(actor, inst, task)
        if task.assignee == actor.username:
            return task
        task.assignee, task.claimed_at = actor.username, now()
        index_task(task)
        _event(case, actor, "claim", task)
    return task


def unclaim(actor: Actor, task_id: str) -> HumanTask:
    """取消签收: give a claimed task back to its candidates."""
    with _tx():
        inst, task, case = _lock(task_id)
        _open_for(actor, inst, task)
        if task.assignee != actor.username or not task.claimed_at or task.kind != "user" \
                or not (task.candidate_groups or task.candidate_users):
            raise Conflict("只有签收人可以取消签收，流程指定的办理人不能取消")
        task.assignee, task.claimed_at = None, None
        index_task(task)
        _event(case, actor, "unclaim", task)
    return task


# -- completion: approve / reject ------------------------------------------------------------------
def _fields(form: dict | None):
    """(key, component) of every input field of a form-js schema, nested keys dotted."""
    def walk(components, prefix=""):
        for comp in components or ():
            key = comp.get("key")
            path = f"{prefix}{key}" if key else None
            if comp.get("components"):
                yield from walk(comp["components"], prefix + (f"{comp['path']}." if comp.get("path") else ""))
            if path:
                yield path, comp
    return list(walk((form or {}).get("components")))


def decision_field(form: dict | None) -> tuple[str, list[str]] | None:
    """The form's decision field (a select/radio keyed ``*decision`` or ``*agree``) and its values."""
    for key, comp in _fields(form):
        leaf = key.rsplit(".", 1)[-1]
        if (leaf.endswith("decision") or leaf == "agree") and comp.get("values"):
            return key, [str(v.get("value")) for v in comp["values"]]
    return None


def _opinion_field(form: dict | None) -> str | None:
    for key, comp in _fields(form):
        if "opinion" in key.rsplit(".", 1)[-1] and comp.get("type") in ("textarea", "textfield"):
            return key
    return None


def _get_path(data: dict, key: str):
    cur = data
    for part in key.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set_path(data: dict, key: str, value) -> None:
    parts = key.split(".")
    cur = data
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value


def _prepare(form, data: dict, opinion: str | None, outcome: str | None) -> tuple[dict, str | None]:
    """Fill the decision and opinion fields from the operation, then validate. Returns (clean data,
    outcome)."""
    data = dict(data)
    dec = decision_field(form)
    if outcome == "reject":
        if dec is None or "reject" not in dec[1]:
            raise Conflict("该环节不能作出不予受理/不予许可决定")
        _set_path(data, dec[0], "reject")
    elif outcome == "approve" and dec is not None and _get_path(data, dec[0]) in (None, ""):
        for value in APPROVE_VALUES:
            if value in dec[1]:
                _set_path(data, dec[0], value)
                break
    op_field = _opinion_field(form)
    if opinion and op_field and not _get_path(data, op_field):
        _set_path(data, op_field, opinion)
    clean = validate_submission(form, data) if form else {}
    chosen = _get_path(clean, dec[0]) if dec else None
    if outcome == "approve" and chosen == "reject":
        outcome = "reject"  # the decision taken is what counts (and needs its reason)
    if outcome is None:
        outcome = "reject" if chosen == "reject" else "return" if chosen == "return" else \
            "approve" if chosen in APPROVE_VALUES or dec is None else str(chosen)[:16]
    return clean, outcome


def complete(actor: Actor, task_id: str, data: dict, *, revision: int | None = None, opinion: str | None = None,
             outcome: str | None = None, require_opinion: bool = False):
    """办理: approve (or decide as the form says) with an opinion; ``outcome='reject'`` is 不予受理 /
    不予许可 and needs a reason. ``revision`` guards against a stale form. For a 加签 task, signs."""
    if not isinstance(data, dict):
        raise ValidationError("data 必须是 JSON 对象", details={"data": ["must be an object"]})
    if outcome not in (None, "approve", "reject"):
        raise ValidationError("未知的办理结果", details={"outcome": ["approve | reject"]})
    with _tx():
        inst, task, case = _lock(task_id)
        _open_for(actor, inst, task)
        if revision is not None and revision != inst.revision:
            raise Conflict("办件已有新进展，请刷新后再办理 (stale revision)", details={"revision": inst.revision})
        if task.kind == "sign":
            if outcome == "reject":
                raise Conflict("加签任务只能签署意见，不能作出不予决定")
            text = _opinion(opinion or _opinion_of(data), required=True, what="加签意见")
            _finish_sign(actor, inst, task, case, text)
            return task, case, inst
        form = version_forms(inst.version_id).get(task.form_key) if task.form_key else None
        clean, result_outcome = _prepare(form, data, opinion, outcome)
        if task.action == "receive":  # paper-mail intake (issue 5): no 受理 before the paper is in
            from .intake import check_paper
            clean = check_paper(case, task, form, clean)
        text = _opinion(opinion or _opinion_of(clean), required=require_opinion or result_outcome == "reject",
                        what="不予受理/不予许可的理由" if result_outcome == "reject" else "办理意见")
        _run(actor, inst, task, case, clean, text, result_outcome)
    _remember(inst)
    return task, case, inst


def _keep(inst, wf) -> None:
    """Hand the stepped workflow to ``_remember`` (the session is per thread)."""
    db.session.info["stepped"] = (inst.id, wf)


def _remember(inst) -> None:
    """After the commit: keep the workflow in the engine cache under the new revision."""
    stepped = db.session.info.pop("stepped", None)
    if stepped is not None and stepped[0] == inst.id:
        engine().remember(inst.id, inst.revision, stepped[1])


def _run(actor: Actor, inst, task, case, clean: dict, text: str | None, outcome: str, *, as_user: str | None = None):
    """Complete the task's BPMN step and write the outcome (inside the caller's transaction)."""
    wf = load_workflow(inst)
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
    _keep(inst, result.workflow)


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
    return scan(data) if isinstance(data, dict) else None


# -- return / withdraw -----------------------------------------------------------------------------
def return_targets(task: HumanTask) -> list[dict]:
    """The earlier steps a task can be returned to: completed user tasks on its path."""
    inst = db.session.get(ProcessInstance, task.instance_id)
    if task.kind != "user" or inst is None:
        return []
    wf = load_workflow(inst)
    passed = engine().passed_user_tasks(wf, task.id)
    if not passed:
        return []
    rows = {t.id: t for t in db.session.execute(select(HumanTask).where(
        HumanTask.id.in_([tid for tid, _ in passed]))).scalars()}
    return [{"task_id": tid, "element_id": el, "name": rows[tid].name if tid in rows else el,
             "completed_by": rows[tid].completed_by if tid in rows else None} for tid, el in passed]


def _reset(actor: Actor, inst, case, target_id: str, assignee: str | None) -> HumanTask:
    """Take the process back to ``target_id`` (a completed user task) and give it to ``assignee``."""
    wf = load_workflow(inst)
    wf.refresh_timers()
    old = db.session.get(HumanTask, target_id)
    try:
        result = engine().reset_to(wf, target_id)
    except TaskNotReady:
        raise Conflict("该环节不能退回或撤回") from None
    result.status_changes = []  # going back does not move the case status
    # the engine reuses the task's id for the reopened step: the finished row becomes history
    hist = str(uuid4())
    db.session.execute(update(HumanTask).where(HumanTask.id == target_id).values(id=hist)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(CaseEvent).where(CaseEvent.task_id == target_id).values(task_id=hist)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(HumanTask).where(HumanTask.parent_id == target_id).values(parent_id=hist)
                       .execution_options(synchronize_session=False))
    if old is not None:
        db.session.expunge(old)
    apply_step(inst, case, result, actor.username)
    db.session.flush()
    reopened = db.session.get(HumanTask, target_id)
    if reopened is not None and assignee:
        reopened.assignee, reopened.claimed_at = assignee, now()
        index_task(reopened)
    _keep(inst, result.workflow)
    return reopened


def return_to(actor: Actor, task_id: str, target_task_id: str, reason: str):
    """退回: send the case back to an earlier step it passed, to the person who did it; the reason
    is mandatory."""
    text = _opinion(reason, required=True, what="退回理由")
    with _tx():
        inst, task, case = _lock(task_id)
        _open_for(actor, inst, task)
        if task.kind != "user":
            raise Conflict("加签任务不能退回")
        targets = {t["task_id"]: t for t in return_targets(task)}
        if target_task_id not in targets:
            raise ValidationError("只能退回到本办件已经过的环节", details={"target": ["not passed"]})
        target = targets[target_task_id]
        prev = db.session.get(HumanTask, target_task_id)
        back_to = prev.completed_by if prev is not None else None
        if back_to and db.session.execute(select(User.id).where(
                User.username == back_to, User.active.is_(True))).first() is None:
            back_to = None
        task.opinion, task.outcome = text, "return"
        _event(case, actor, "return", task, text, target=target["element_id"], target_name=target["name"])
        task.state, task.completed_by, task.completed_at = "completed", actor.username, now()
        _reset(actor, inst, case, target_task_id, back_to)
        if back_to:
            notify_staff(case, [back_to], "returned", f"return:{task.id}", step=target["name"], reason=text)
    _remember(inst)
    return db.session.get(HumanTask, target_task_id)


def withdraw(actor: Actor, task_id: str, reason: str | None = None):
    """撤回: take back a task the actor completed, while the next step has not acted on it."""
    text = _opinion(reason, required=False)
    with _tx():
        inst, task, case = _lock(task_id)
        if task.state != "completed" or task.completed_by != actor.username or task.kind != "user":
            raise Conflict("只能撤回本人办理完成的环节") if task.completed_by == actor.username else \
                NotAuthorized("只能撤回本人办理完成的环节")
        if inst.status not in ("running", "waiting") or (case is not None and CaseStatus(case.status) in FINAL):
            raise Conflict("办件已办结或已挂起，不能撤回")
        later = db.session.execute(select(HumanTask.id).where(
            HumanTask.instance_id == inst.id, HumanTask.id != task.id, HumanTask.state == "completed",
            HumanTask.completed_at >= task.completed_at,
            or_(HumanTask.parent_id.is_(None), HumanTask.parent_id != task.id)).limit(1)).first()
        touched = db.session.execute(select(HumanTask.id).where(
            HumanTask.instance_id == inst.id, HumanTask.state == "ready",
            (HumanTask.claimed_at.is_not(None)) | (HumanTask.draft.is_not(None)) | (HumanTask.kind == "sign")
        ).limit(1)).first()
        if later or touched or not engine().ready_after(load_workflow(inst), task.id):
            raise Conflict("下一环节已经办理或签收，不能撤回")
        _event(case, actor, "withdraw", task, text)
        _reset(actor, inst, case, task.id, actor.username)
    _remember(inst)
    return db.session.get(HumanTask, task_id)


# -- transfer / delegate ---------------------------------------------------------------------------
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


# -- 加签 / 减签 ----------------------------------------------------------------------------------
def add_signers(actor: Actor, task_id: str, users: list[str], mode: str, opinion: str | None = None,
                data: dict | None = None) -> list[HumanTask]:
    """加签. ``before``: the signers give their opinions first, then the task comes back to the actor.
    ``after``: the actor completes now (``data``) and the process moves on once the signers signed."""
    if mode not in ("before", "after"):
        raise ValidationError("加签方式应为 before（前加签）或 after（后加签）", details={"mode": ["before | after"]})
    if not isinstance(users, list) or not users or len(users) > 20:
        raise ValidationError("请选择 1 至 20 名加签人", details={"users": ["1..20 users"]})
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
    _remember(inst)
    return sign


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


# -- cc / urge / draft -----------------------------------------------------------------------------
def cc(actor: Actor, task_id: str, users: list[str], note: str | None = None) -> list[TaskCc]:
    """抄送: give colleagues a read-only view of the case."""
    if not isinstance(users, list) or not users or len(users) > 50:
        raise ValidationError("请选择 1 至 50 名抄送对象", details={"users": ["1..50 users"]})
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
                CaseEvent.case_id == case.id, CaseEvent.task_id == task.id, CaseEvent.action == "urge",
                CaseEvent.actor == actor.username, CaseEvent.at > since).limit(1)).first():
            raise Conflict("一小时内已催办过该任务")
        holders = [task.assignee] if task.assignee else \
            [f"g:{g}" for g in task.candidate_groups or ()] + list(task.candidate_users or ())
        notify_staff(case, holders, "urge", f"urge:{task.id}:{actor.username}:{now().isoformat()}", step=task.name)
        task.urge_count = (task.urge_count or 0) + 1
        _event(case, actor, "urge", task, text)
    return task


def save_draft(actor: Actor, task_id: str, data: dict) -> HumanTask:
    """暂存: keep what has been filled in without completing (fields checked, required ones not)."""
    if not isinstance(data, dict):
        raise ValidationError("data 必须是 JSON 对象", details={"data": ["must be an object"]})
    with _tx():
        inst, task, case = _lock(task_id)
        _open_for(actor, inst, task, holder=False)
        form = version_forms(inst.version_id).get(task.form_key) if task.form_key else None
        task.draft = validate_submission(form, data, partial=True) if form else {}
        task.draft_by, task.draft_at = actor.username, now()
        if not task.assignee:  # a draft is the start of work: the task is claimed
            task.assignee, task.claimed_at = actor.username, now()
            index_task(task)
        _event(case, actor, "draft", task)
    return task


# -- administrators: suspend / resume / terminate ---------------------------------------------------
def _admin_case(actor: Actor, case_id: int) -> tuple[Case, ProcessInstance]:
    if not actor.is_admin:
        raise NotAuthorized("只有管理员可以挂起、激活或终止办件")
    if not isinstance(case_id, int) or not 0 < case_id < 2 ** 31:
        raise NotFound("办件不存在")
    stmt = select(Case, ProcessInstance).join(ProcessInstance, ProcessInstance.id == Case.instance_id) \
        .where(Case.id == case_id)
    if not is_sqlite():
        stmt = stmt.with_for_update()
    row = db.session.execute(stmt).first()
    if row is None:
        raise NotFound("办件不存在")
    return row[0], row[1]


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
        stopped = db.session.execute(select(Incident.id).where(Incident.instance_id == inst.id,
                                                               Incident.status == "open").limit(1)).first()
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
        db.session.execute(update(Timer).where(Timer.instance_id == inst.id, Timer.status.in_(("waiting", "suspended")))
                           .values(status="cancelled"))
        set_case_status(case, CaseStatus.TERMINATED.value, actor.username, reason=text)
        record_event(case, actor.username, "terminate", opinion=text)
    return case
