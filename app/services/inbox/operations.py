"""What staff do to a task (DOMAIN.md §8), each in one transaction, each in the case trail with
actor, time and opinion: claim / unclaim, approve, reject, return to an earlier step, transfer,
delegate and get back, add or remove signers (加签 / 减签), cc, withdraw, urge, draft, and for
administrators suspend / resume / terminate.

Every function takes the acting ``Actor`` and checks on the server that it may act; on any refusal
it raises a DomainError and nothing is changed (the transaction is rolled back)."""
from __future__ import annotations

from uuid import uuid4

from sqlalchemy import or_, select, update

from ...domain.case_status import FINAL, CaseStatus
from ...domain.errors import Conflict, NotAuthorized, ValidationError
from ...engine.forms import validate_submission
from ...engine.runtime import TaskNotReady
from ...extensions import db
from ...models import CaseEvent, HumanTask, ProcessInstance, Timer, User
from ..cases.hooks import before_complete
from ..cases.lifecycle import case_state
from ..cases.steps import apply_step, engine, load_workflow, now, remember_written, version_forms
from ..cases.task_index import index_task
from ..identity.actors import Actor
from ..identity.assurance import require
from ..identity.cert_policy import decision_assurance_required
from ..identity.permissions import is_candidate
from ..messaging.notify import notify_staff
from .form_fields import _prepare
from .task_base import _event, _finish_sign, _lock, _open_for, _opinion, _run, _tx

# -- plumbing --------------------------------------------------------------------------------------


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


def complete(actor: Actor, task_id: str, data: dict, *, revision: int | None = None, opinion: str | None = None,
             outcome: str | None = None, require_opinion: bool = False, with_state: bool = False):
    """办理: approve (or decide as the form says) with an opinion; ``outcome='reject'`` is 不予受理 /
    不予许可 and needs a reason. ``revision`` guards against a stale form. For a 加签 task, signs.
    Returns (task, case, instance), and with ``with_state`` where the case stands now as a fourth
    (``case_state``, read in the step's transaction; None without a case)."""
    if not isinstance(data, dict):
        raise ValidationError("data 必须是 JSON 对象", details={"data": ["must be an object"]})
    if outcome not in (None, "approve", "reject"):
        raise ValidationError("未知的办理结果", details={"outcome": ["approve | reject"]})
    out: dict = {}
    task = case = inst = None

    def state():
        return case_state(case, inst) if case is not None else None
    with _tx(state if with_state else None, out):
        inst, task, case = _lock(task_id)
        _open_for(actor, inst, task)
        # a role's policy may ask that its holders decide only when signed in with a certificate
        require(actor, decision_assurance_required(actor), "办理并作出决定")
        if revision is not None and revision != inst.revision:
            raise Conflict("办件已有新进展，请刷新后再办理 (stale revision)", details={"revision": inst.revision})
        if task.kind == "sign":
            # signed: the answer (``then``) is read when the transaction's writes are done, as for a step
            if outcome == "reject":
                raise Conflict("加签任务只能签署意见，不能作出不予决定")
            text = _opinion(opinion or _opinion_of(data), required=True, what="加签意见")
            _finish_sign(actor, inst, task, case, text)   # the last signer of a 后加签 releases its step
        else:
            form = version_forms(inst.version_id).get(task.form_key) if task.form_key else None
            clean, result_outcome = _prepare(form, data, opinion, outcome)
            clean = before_complete(case, task, form, clean)  # e.g. the paper check before 受理 (portal.intake)
            text = _opinion(opinion or _opinion_of(clean), required=require_opinion or result_outcome == "reject",
                            what="不予受理/不予许可的理由" if result_outcome == "reject" else "办理意见")
            _run(actor, inst, task, case, clean, text, result_outcome)
    remember_written(inst)
    return (task, case, inst, out.get("then")) if with_state else (task, case, inst)


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
    wf = load_workflow(inst, case)
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
    # the finished round's events concern the history row from now on; their task_id is in the trail's
    # hash chain and stays as recorded (task_ref is outside it). Events already given to an earlier
    # round's history row keep theirs.
    if case is not None:
        db.session.execute(update(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.task_id == target_id,
                                                   CaseEvent.task_ref.is_(None))
                           .values(task_ref=hist).execution_options(synchronize_session=False))
        for ev in db.session.new:   # this operation's own event about that round (撤回), if not yet written
            if isinstance(ev, CaseEvent) and ev.task_id == target_id and ev.task_ref is None:
                ev.task_ref = hist
    db.session.execute(update(HumanTask).where(HumanTask.parent_id == target_id).values(parent_id=hist)
                       .execution_options(synchronize_session=False))
    if old is not None:
        db.session.expunge(old)
    _timers_as_history(inst, result)
    apply_step(inst, case, result, actor.username)
    db.session.flush()
    reopened = db.session.get(HumanTask, target_id)
    if reopened is not None and assignee:
        reopened.assignee, reopened.claimed_at = assignee, now()
        index_task(reopened)
    return reopened


def _timers_as_history(inst, result) -> None:
    """A step entered again keeps its boundary timers' engine ids (a 退回 / 撤回 to 处室审查 re-arms its
    催办 under the id it had): the row that timer left behind (cancelled when the step was completed,
    or fired) becomes history under a new id, so the timer waits again as a row of its own, due from
    now, and the trail of the first one is kept."""
    ids = [t.id for t in result.timers]
    if not ids:
        return
    for row in list(db.session.execute(select(Timer).where(
            Timer.instance_id == inst.id, Timer.id.in_(ids), Timer.status != "waiting")).scalars()):
        db.session.execute(update(Timer).where(Timer.id == row.id).values(id=str(uuid4()))
                           .execution_options(synchronize_session=False))
        db.session.expunge(row)


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
    remember_written(inst)
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
    remember_written(inst)
    return db.session.get(HumanTask, task_id)


# -- transfer / delegate ---------------------------------------------------------------------------


# -- 加签 / 减签 ----------------------------------------------------------------------------------


# -- cc / urge / draft -----------------------------------------------------------------------------


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


