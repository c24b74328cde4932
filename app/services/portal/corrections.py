"""One-time notices (一次性告知 / 补正, 行政许可法 art. 32): staff list every missing or defective
material at once; the applicant answers item by item (a file, a remark or both) and resubmits.

Two ways, one ``CorrectionRequest``:

- **window** (before acceptance): the window step decides ``correction`` and the process hands the
  applicant its own ``correction`` user task, which loops back to the window. The request is made
  from the structured editor on the task page (:func:`request_correction`, which completes the window
  task through ``operations.complete``), or — when a clerk completes the form directly — from the
  form's ``missing_items`` text by the status listener below. The answer completes the applicant's
  task (:func:`answer_correction`).
- **handling** (after acceptance, any staff step, no BPMN path): the request starts a special
  procedure of kind ``correction`` (the case clock is suspended, ``clocks.start_special_procedure``),
  blocks the staff task until the answer (it cannot be completed meanwhile) and sets the case status
  to 补正中. The answer (or the staff member's withdrawal) ends the procedure: the clock resumes and
  every deadline moves by the working days it lasted.

At most one open request per case (a partial unique index backs the check). Every change is in the
case trail; the applicant is told by SMS (notification outbox, same transaction)."""
from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import select

from ...domain.case_status import FINAL, CaseStatus
from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...domain.workdays import CalendarMissing
from ...extensions import db
from ...models import Case, CaseEvent, CaseFile, HumanTask, ProcessInstance, SpecialProcedure, User
from ...models.correction import CorrectionRequest
from ..cases.hooks import on_status
from ..cases.locks import lock_case
from ..cases.special_procedures import end_special_procedure, start_special_procedure
from ..cases.steps import now, record_event, set_case_status
from ..cases.task_index import index_task
from ..clocks.calendar import current_calendar
from ..clocks.deadlines import calendar_refusal
from ..common.blobs import keep_blob, safe_filename, sniff
from ..common.clock import BEIJING
from ..common.db_support import lock_one
from ..identity.actors import Actor
from ..identity.permissions import may_act
from ..inbox.form_fields import decision_field
from ..inbox.operations import complete
from ..inbox.task_base import touch
from ..messaging.notify import TEMPLATES, notify_applicant, notify_staff
from .correction_views import (
    NOTE_MAX,
    REMARK_MAX,
    REPLY_MAX,
    _clean_text,
    _days,
    _form_keys,
    _form_of,
    _may_withdraw,
    _own_case,
    _status_allows,
    clean_items,
    items_from_text,
    mode_for,
    notice_text,
    open_correction,
)

TEMPLATES.update({
    "correction_answered": "【补正】办件{case_no}的申请人已提交补正（{count}项），请继续办理「{step}」。",
    "correction_withdrawn": "【阳光发改】您的办件{case_no}的补正要求已撤回，无需再补正，办理时限恢复计算。",
})

EXPRESS_RE = re.compile(r"^[A-Za-z0-9\-]{4,40}$")
#: marks a task blocked by a 补正 request (``HumanTask.sign_mode``; 加签 uses before / after)
BLOCK_MARK = "补正"
BASIS = "《中华人民共和国行政许可法》第三十二条（一次性告知）、第四十五条"
#: the actor that resumes the clock when the applicant answers (the applicant is not staff)
_CLOCK_ACTOR = Actor(id=None, username="system", kind="staff", groups=frozenset({"admin"}), display_name="系统")


# -- staff: request --------------------------------------------------------------------------------
def _locked_task(task_id) -> tuple[HumanTask, Case, ProcessInstance]:
    task = db.session.get(HumanTask, task_id) if isinstance(task_id, str) and len(task_id) <= 36 else None
    if task is None or task.case_id is None:
        raise NotFound("任务不存在")
    inst = lock_one(ProcessInstance, ProcessInstance.id == task.instance_id)
    db.session.refresh(task)
    case = db.session.get(Case, task.case_id)
    return task, case, inst


def request_correction(actor: Actor, task_id: str, items, *, note: str | None = None, days=None) -> CorrectionRequest:
    """一次性告知: ask the applicant for every missing or defective item at once, from a staff task
    the actor may act on. At the window this completes the window step with the decision
    ``correction`` (and the notice as ``missing_items``); later it suspends the case clock and blocks
    the task until the applicant answers. Raises NotFound / NotAuthorized / Conflict /
    ValidationError (nothing changed then). Commits."""
    clean = clean_items(items)
    errors: dict = {}
    note = _clean_text(note, limit=NOTE_MAX, field="note", errors=errors, what="说明") or None
    if errors:
        raise ValidationError("说明过长或格式不正确", details=errors)
    try:
        if not actor.is_staff:
            raise NotAuthorized("只有工作人员可以发出补正告知")
        task, case, inst = _locked_task(task_id)
        if task.state != "ready":
            raise Conflict("任务已被办理或已撤销 (task is no longer open)")
        if open_correction(case.id) is not None:
            raise Conflict("该办件已有未完成的补正告知，请等待申请人补正或先撤回")
        if not may_act(actor, task):
            raise NotAuthorized("只有该环节的办理人可以要求补正")
        if task.kind != "user":
            raise Conflict("加签任务不能要求补正")
        if inst.status == "suspended":
            raise Conflict("办件已挂起，恢复后才能办理")
        if task.delegation == "pending":
            raise Conflict("任务已委派，请由被委派人办理完毕后交回，或先收回委派")
        form = _form_of(task)
        if mode_for(task, form) == "window":
            return _request_at_window(actor, task, case, form, clean, note, _days(days, required=False))
        return _request_while_handling(actor, task, case, clean, note, _days(days, required=True))
    except CalendarMissing as exc:  # the answer deadline falls in a year without calendar data
        db.session.rollback()
        raise calendar_refusal(exc) from None
    except BaseException:
        db.session.rollback()
        raise


def _due(days: int | None):
    if not days:
        return None
    return current_calendar().add_working_days(now().astimezone(BEIJING).date(), days)


def _request_at_window(actor, task, case, form, items, note, days) -> CorrectionRequest:
    dec_key = decision_field(form)[0]
    keys = _form_keys(form)
    text = notice_text(items)
    data = {dec_key: "correction"}
    opinion = f"申请材料不齐全或不符合法定形式，已一次性告知需补正的全部内容（共 {len(items)} 项）。"
    if "missing_items" in keys:
        data["missing_items"] = text[:5000]
    else:
        opinion = f"{opinion}\n{text}"
    if note:
        opinion = f"{opinion}\n{note}"
    req = CorrectionRequest(case_id=case.id, mode="window", task_id=task.id, requested_by=actor.username,
                            requested_at=now(), items=items, note=note, due_date=_due(days), status="open")
    db.session.add(req)
    db.session.flush()
    complete(actor, task.id, data, opinion=opinion[:2000])  # commits; the listener links the applicant's task
    return req


def _request_while_handling(actor, task, case, items, note, days) -> CorrectionRequest:
    if case.clock_state != "running":
        raise Conflict("办件未受理、已办结或已在特别程序中，不能要求补正")
    if (task.blocked or 0) > 0:
        raise Conflict("正在等待加签人签署意见，不能要求补正")
    req = CorrectionRequest(case_id=case.id, mode="handling", task_id=task.id, requested_by=actor.username,
                            requested_at=now(), items=items, note=note, due_date=_due(days), status="open")
    db.session.add(req)
    task.assignee = task.assignee or actor.username  # whoever asked holds the task meanwhile
    task.claimed_at = task.claimed_at or now()
    task.blocked, task.sign_mode = 1, BLOCK_MARK
    index_task(task)
    if _status_allows(case):
        set_case_status(case, CaseStatus.CORRECTION.value, actor.username, element_id=task.element_id,
                        reason=f"一次性告知补正 {len(items)} 项")
    db.session.flush()
    record_event(case, actor.username, "correction", task_id=task.id, element_id=task.element_id,
                 step_name=task.name, opinion=note,
                 data_change={"request": req.id, "items": items, "days": days,
                              "due": req.due_date.isoformat() if req.due_date else None})
    touch(case, actor.username, "correction")
    _notify_requested(case, req)
    reason = f"一次性告知补正 {len(items)} 项：" + "；".join(i["material"] for i in items)
    # commits everything above with the procedure (or rolls it all back)
    # the correction_requested SMS above tells the applicant (items, clock suspended): no second SMS
    proc = start_special_procedure(actor, case.id, kind="correction", reason=reason[:2000], basis=BASIS,
                                   planned_duration=days, notify=False)
    req = db.session.get(CorrectionRequest, req.id)
    req.procedure_id = proc.id
    db.session.commit()
    return req


def _notify_requested(case: Case, req: CorrectionRequest) -> None:
    notify_applicant(case, "correction_requested", f"correction:{req.id}", count=len(req.items or ()))


# -- applicant: answer -----------------------------------------------------------------------------
def answer_correction(actor: Actor, case_id: int, answers: list[dict], *, reply: str | None = None,
                      express_no: str | None = None, request_id: int | None = None) -> CorrectionRequest:
    """提交补正: the applicant answers every item of the open notice with a file (PDF, JPG, PNG, OFD by
    content), a remark or both (``answers[i] = {"upload": FileStorage | None, "remark": str}``).
    At the window this completes the applicant's correction task (back to the window); after
    acceptance it ends the special procedure (the clock resumes, deadlines move) and gives the
    staff task back. ``request_id`` (the notice the page showed) guards against answering a notice
    that has changed meanwhile. Raises NotFound (not the actor's case), Conflict (nothing open),
    ValidationError (details per item ``items.<n>``; nothing stored). Commits."""
    case = _own_case(actor, case_id)
    try:
        # instance, case, then the request: the order of every step (whose status hooks write the request)
        case, _inst = lock_case(Case.id == case.id)
        req = lock_one(CorrectionRequest, CorrectionRequest.case_id == case.id, CorrectionRequest.status == "open")
        if req is None:
            raise Conflict("该办件没有待补正的告知")
        if request_id is not None and request_id != req.id:
            raise Conflict("补正告知已更新，请刷新页面后重新填写")
        checked = _check_answers(req, answers, reply, express_no)
        reply_text = (reply or "").strip() or f"已按一次性告知书逐项补正（共 {len(req.items)} 项）。"
        express = (express_no or "").strip() or None
        stored = []
        for n, (item, (blob, remark)) in enumerate(zip(req.items, checked), 1):
            files = [_store(actor, case, req, n, item, *blob)] if blob is not None else []
            stored.append((files, remark))
        db.session.flush()
        req.answers = [{"files": [{"id": f.id, "filename": f.filename, "size": f.size} for f in files],
                        "remark": remark} for files, remark in stored]
        req.reply, req.express_no = reply_text, express
        req.status, req.answered_at, req.answered_by = "answered", now(), actor.username
        record_event(case, actor.username, "correction_answer", task_id=req.applicant_task_id or req.task_id,
                     opinion=reply_text,
                     data_change={"request": req.id, "express_no": express,
                                  "sha256": [f.sha256 for files, _r in stored for f in files],
                                  "answers": [{"material": i["material"], "files": [f["filename"] for f in a["files"]],
                                               "remark": a["remark"]} for i, a in zip(req.items, req.answers)]})
        if req.mode == "window":
            _answer_at_window(actor, case, req, reply_text, express)
        else:
            _answer_while_handling(actor, case, req)
    except BaseException:
        db.session.rollback()
        raise
    return req


def _check_answers(req: CorrectionRequest, answers, reply, express_no) -> list:
    """Read and check every answer before anything is stored. Returns per item ``(upload, remark)``,
    the upload as ``(bytes, type, name)`` or None."""
    items = req.items or []
    if not isinstance(answers, list) or len(answers) != len(items):
        raise ValidationError("补正内容与告知事项不对应，请刷新页面后重试", details={"items": ["count mismatch"]})
    errors: dict = {}
    limit = current_app.config["FILE_MAX_BYTES"]
    blobs = []
    for n, (item, answer) in enumerate(zip(items, answers), 1):
        field = f"items.{n}"
        label = f"第 {n} 项「{item['material']}」"
        answer = answer if isinstance(answer, dict) else {}
        remark = _clean_text(answer.get("remark"), limit=REMARK_MAX, field=field, errors=errors, what=f"{label}的说明")
        upload = answer.get("upload")
        blob = None
        if upload is not None and getattr(upload, "filename", None):
            data = upload.stream.read(limit + 1)
            if len(data) > limit:
                errors.setdefault(field, []).append(f"{label}：文件超过 {limit // (1024 * 1024)} MB")
            elif not data:
                errors.setdefault(field, []).append(f"{label}：文件为空")
            else:
                ctype = sniff(data[:16], data)
                if ctype is None:
                    errors.setdefault(field, []).append(f"{label}：只接受 PDF、JPG、PNG、OFD 文件（按内容识别，不看扩展名）")
                else:
                    blob = (data, ctype, upload.filename)
        if blob is None and not remark and field not in errors:
            errors.setdefault(field, []).append(f"{label}：请上传补正材料或填写说明")
        blobs.append((blob, remark))
    _clean_text(reply, limit=REPLY_MAX, field="reply", errors=errors, what="补正情况说明")
    if express_no not in (None, "") and (not isinstance(express_no, str) or not EXPRESS_RE.match(express_no.strip())):
        errors["express_no"] = ["快递单号应为 4 至 40 位字母、数字或连字符"]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationError(f"补正未提交：{first}" if len(errors) == 1 else
                              f"补正未提交：有 {len(errors)} 处需要修改", details=errors)
    return blobs


def _store(actor: Actor, case: Case, req: CorrectionRequest, n: int, item: dict, blob: bytes, ctype: str,
           filename: str) -> CaseFile:
    """The bytes once per SHA-256 under FILES_DIR (outside the web root), as app.services.common.blobs does."""
    digest, key = keep_blob(blob)
    f = CaseFile(case_id=case.id, task_id=req.applicant_task_id or req.task_id, uploaded_by=actor.username,
                 kind="correction", filename=safe_filename(filename, ctype), content_type=ctype, size=len(blob), sha256=digest,
                 storage_key=key, note=f"补正第 {n} 项：{item['material']}"[:500], created_at=now())
    db.session.add(f)
    return f


def _applicant_task(case: Case, req: CorrectionRequest, username: str) -> HumanTask | None:
    if req.applicant_task_id:
        task = db.session.get(HumanTask, req.applicant_task_id)
        if task is not None and task.state == "ready":
            return task
    return db.session.execute(select(HumanTask).where(
        HumanTask.case_id == case.id, HumanTask.state == "ready", HumanTask.assignee == username)
        .order_by(HumanTask.created_at.desc())).scalars().first()


def _answer_at_window(actor, case, req, reply_text, express) -> None:
    task = _applicant_task(case, req, actor.username)
    if task is None:
        raise Conflict("补正环节已不在办理中，请刷新页面")
    req.applicant_task_id = task.id
    keys = _form_keys(_form_of(task))
    data = {k: v for k, v in {"correction_reply": reply_text[:5000], "correction_confirmed": True,
                              "express_no": express}.items() if k in keys and v is not None}
    notify_staff(case, [req.requested_by], "correction_answered", f"correction-answer:{req.id}",
                 count=len(req.items), step="窗口收件审查")
    complete(actor, task.id, data)  # commits (or rolls everything back)


def _answer_while_handling(actor, case, req) -> None:
    task = _release(case, req, actor.username, "申请人已补正")
    holder = (task.assignee if task is not None else None) or req.requested_by
    notify_staff(case, [holder], "correction_answered", f"correction-answer:{req.id}",
                 count=len(req.items), step=task.name if task is not None else "")
    _end_procedure(req, _CLOCK_ACTOR, f"申请人已补正（{len(req.items)} 项）")


def _release(case: Case, req: CorrectionRequest, who: str, reason: str) -> HumanTask | None:
    """Give the staff task back and the case its 已受理 status (inside the transaction)."""
    task = db.session.get(HumanTask, req.task_id) if req.task_id else None
    if task is not None and task.state == "ready" and task.sign_mode == BLOCK_MARK:
        task.blocked, task.sign_mode = 0, None
        index_task(task)
    if case.status == CaseStatus.CORRECTION.value:
        set_case_status(case, CaseStatus.ACCEPTED.value, who, reason=reason)
    return task


def _procedure(req: CorrectionRequest) -> SpecialProcedure | None:
    if req.procedure_id:
        return db.session.get(SpecialProcedure, req.procedure_id)
    return db.session.execute(select(SpecialProcedure).where(
        SpecialProcedure.case_id == req.case_id, SpecialProcedure.kind == "correction",
        SpecialProcedure.status == "running")).scalars().first()


def _end_procedure(req: CorrectionRequest, actor: Actor, result: str) -> None:
    proc = _procedure(req)
    if proc is not None and proc.status == "running":
        end_special_procedure(actor, proc.id, result)  # commits with the rest
    else:
        db.session.commit()


# -- staff: withdraw -------------------------------------------------------------------------------


def withdraw_correction(actor: Actor, request_id: int, reason: str | None = None) -> CorrectionRequest:
    """撤回补正要求: the staff member takes back an unanswered request made after acceptance; the
    special procedure ends (the clock resumes) and the task can be worked again. Commits."""
    errors: dict = {}
    reason = _clean_text(reason, limit=NOTE_MAX, field="reason", errors=errors, what="撤回理由") or None
    if errors:
        raise ValidationError("撤回理由过长或格式不正确", details=errors)
    if not isinstance(request_id, int) or not 0 < request_id < 2 ** 31:
        raise NotFound("补正告知不存在")
    try:
        if not actor.is_staff:
            raise NotAuthorized("只有工作人员可以撤回补正要求")
        found = db.session.get(CorrectionRequest, request_id)
        if found is None:
            raise NotFound("补正告知不存在")
        # instance, case, then the request: the order of every step (whose status hooks write the request)
        case, _inst = lock_case(Case.id == found.case_id)
        req = lock_one(CorrectionRequest, CorrectionRequest.id == request_id)
        task = db.session.get(HumanTask, req.task_id) if req.task_id else None
        if not _may_withdraw(actor, req, task):
            raise NotAuthorized("只有提出补正要求的办理人可以撤回")
        if req.status != "open":
            raise Conflict("该补正告知已补正或已撤回")
        if req.mode != "handling":
            raise Conflict("窗口补正已交申请人办理，不能撤回；请在申请人补正后重新审查")
        req.status, req.closed_by, req.close_reason = "withdrawn", actor.username, reason
        _release(case, req, actor.username, "撤回补正要求")
        record_event(case, actor.username, "correction_withdraw", task_id=req.task_id,
                     element_id=task.element_id if task else None, step_name=task.name if task else None,
                     opinion=reason, data_change={"request": req.id})
        touch(case, actor.username, "correction_withdraw")
        notify_applicant(case, "correction_withdrawn", f"correction-withdrawn:{req.id}")
        _end_procedure(req, actor, "撤回补正要求" + (f"：{reason}" if reason else ""))
    except BaseException:
        db.session.rollback()
        raise
    return req


# -- the process's own correction step (status listener) -------------------------------------------
def _last_window_submission(case: Case) -> CaseEvent | None:
    return db.session.execute(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.action == "complete").order_by(CaseEvent.id.desc()).limit(1)
    ).scalars().first()


@on_status
def _status_changed(case: Case, old: str, new: str, actor: str) -> None:
    """The window decided 补正 through the form (not the editor): make the request from the form's
    ``missing_items`` and tell the applicant; link the applicant's task. A case leaving 补正 without
    an answer through this module closes its request so that the next notice can be made."""
    if new == CaseStatus.CORRECTION.value:
        req = open_correction(case.id)
        if req is None:
            ev = _last_window_submission(case)
            data = (ev.data_change if ev is not None else None) or {}
            items = items_from_text(data.get("missing_items")) or \
                items_from_text(ev.opinion if ev is not None else None) or \
                [{"material": "申请材料", "problem": "请按窗口审查意见补正"}]
            req = CorrectionRequest(case_id=case.id, mode="window", task_id=ev.task_row_id if ev is not None else None,
                                    requested_by=actor, requested_at=now(), items=items, status="open")
            db.session.add(req)
            db.session.flush()
        if req.mode == "window":
            applicant = db.session.get(User, case.applicant_id)
            task = _applicant_task(case, req, applicant.username) if applicant is not None else None
            req.applicant_task_id = task.id if task is not None else None
            _notify_requested(case, req)
        return
    if old == CaseStatus.CORRECTION.value:
        req = open_correction(case.id)
        if req is None:
            return
        task = db.session.get(HumanTask, req.applicant_task_id) if req.applicant_task_id else None
        if req.mode == "window" and task is not None and task.state == "completed":
            # the applicant's task was completed without this page (API): take its reply as the answer
            ev = _last_window_submission(case)
            req.status, req.answered_at, req.answered_by = "answered", now(), actor
            req.reply = ((ev.data_change or {}).get("correction_reply") if ev is not None else None) or None
        else:
            req.status, req.closed_by = "withdrawn", actor
            req.close_reason = f"办件{CaseStatus(new).label}" if new in {s.value for s in FINAL} else "补正环节已撤回"
            proc = _procedure(req)
            if proc is not None and proc.status == "running":
                proc.status, proc.ended_at, proc.result = "ended", now(), req.close_reason


__all__ = ["request_correction", "answer_correction", "withdraw_correction"]
