"""Paper-mail intake (快递申请, GB/T 39046 A.5 handling form "4"): where the matter's materials list has
``paper_required`` entries, the applicant mails the paper and uploads the evidence — the courier slip
scan (快递面单) with courier and tracking number, the content list (材料清单) and the signed commitment
letter (承诺书). The window clerk confirms it (the electronic receipt 回执单 is issued, the applicant
gets an SMS, and the window step's ``paper_received`` field is pre-set in its draft) or refuses it
with a reason (the applicant is told and uploads again).

The paper check: the window's 受理 (``window_decision`` = accept) of a matter that requires paper
is refused unless the intake is confirmed, or the clerk declares the paper received at the counter
(``paper_received`` ticked: 现场递交). ``check_paper`` is called by operations.complete.

Every step is in the case trail (case_events: mail_submit, mail_confirm, mail_refuse)."""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from ...domain.case_status import CaseStatus
from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...extensions import db
from ...models import Case, HumanTask, ProcessInstance, ProcessVersion
from ...models.intake import MailIntake
from ..cases.hooks import on_action
from ..cases.lifecycle import applicant_case
from ..cases.locks import lock_case
from ..cases.steps import now, record_event, restart_deemed, version_forms
from ..common.blobs import read_upload
from ..identity.actors import Actor
from ..identity.permissions import is_candidate
from ..inbox.case_files import store_file
from ..inbox.form_fields import _fields, _get_path, decision_field
from ..inbox.task_base import touch
from ..messaging.notify import TEMPLATES, notify_applicant, notify_staff
from .receipts import issue_receipt
from .sms_moments import chinese_date

TEMPLATES.update({
    "mail_submitted": "【快递收件】办件{case_no}的申请人已上传快递面单（{courier} {tracking_no}）、材料清单和承诺书，请核对后确认收件。",
    "mail_refused": "【阳光发改】您的办件{case_no}上传的快递收件材料未通过核对：{reason}。请登录后重新上传。",
})

#: the trail's reason when the mailed paper restarts the window's 视为受理 days
PAPER_IN = "纸质材料已确认收件，视为受理期限自收件之日起重新计算（行政许可法第三十二条）"

#: the three uploads of a mail intake: form field -> (file kind, label)
UPLOADS = {"slip": ("mail_slip", "快递面单"), "content_list": ("mail_list", "材料清单"),
           "commitment": ("commitment", "承诺书")}
KIND_LABELS = {"mail_slip": "快递面单", "mail_list": "材料清单", "commitment": "承诺书", "receipt": "电子回执",
               "result": "办理结果"}
#: open statuses in which the paper can still be mailed (before acceptance)
MAIL_STATUSES = {CaseStatus.SUBMITTED.value, CaseStatus.RECEIVED.value, CaseStatus.CORRECTION.value}
TRACKING = re.compile(r"^[A-Za-z0-9\-]{6,40}$")
RECEIVE_ACTION = "receive"


# -- reading -------------------------------------------------------------------------------------
def paper_materials(case: Case) -> list[dict]:
    """The materials of the case's matter version that must be delivered on paper."""
    version = db.session.get(ProcessVersion, case.version_id)
    return [m for m in (version.matter or {}).get("materials") or () if m.get("paper_required")]


def current_intake(case_id: int) -> MailIntake | None:
    return db.session.execute(select(MailIntake).where(MailIntake.case_id == case_id)
                              .order_by(MailIntake.id.desc()).limit(1)).scalar_one_or_none()


def confirmed_intake(case_id: int) -> MailIntake | None:
    return db.session.execute(select(MailIntake).where(MailIntake.case_id == case_id,
                                                       MailIntake.status == "confirmed")
                              .order_by(MailIntake.id.desc()).limit(1)).scalar_one_or_none()


def mail_needed(case: Case) -> bool:
    """Whether the applicant still has to mail paper and upload the evidence."""
    if case.status not in MAIL_STATUSES or not paper_materials(case):
        return False
    cur = current_intake(case.id)
    return cur is None or cur.status == "refused"


def _window_tasks(case_id: int, *, open_only: bool = True) -> list[HumanTask]:
    stmt = select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.action == RECEIVE_ACTION,
                                   HumanTask.kind == "user")
    if open_only:
        stmt = stmt.where(HumanTask.state == "ready")
    return list(db.session.execute(stmt).scalars())


def may_receive(actor: Actor, case: Case) -> bool:
    """Who confirms or refuses a mail intake: administrators, and window staff who may take the
    case's open window step (收件) or did one of its window steps."""
    if actor.is_admin:
        return True
    if not actor.is_staff:
        return False
    for task in _window_tasks(case.id, open_only=False):
        if actor.username in (task.completed_by, task.assignee):
            return True
        if task.state == "ready" and is_candidate(actor, task):
            return True
    return False


# -- uploads -------------------------------------------------------------------------------------


# -- the applicant -------------------------------------------------------------------------------
def submit_intake(actor: Actor, case_id: int, *, courier: str, tracking_no: str, slip, content_list,
                  commitment) -> MailIntake:
    """The applicant uploads the courier slip scan, the content list and the signed commitment
    letter, with the courier company and tracking number. All or nothing: any bad field stores no
    file and no row. Raises NotFound (not the actor's case), Conflict (no paper needed, not in a
    state for it, or already waiting / confirmed), ValidationError. Commits."""
    try:
        case = applicant_case(actor, case_id, lock=True)
        if not paper_materials(case):
            raise Conflict("该事项无需邮寄纸质材料")
        if case.status not in MAIL_STATUSES:
            raise Conflict("办件当前状态不能再提交快递收件材料")
        cur = current_intake(case.id)
        if cur is not None and cur.status == "submitted":
            raise Conflict("快递收件材料已提交，正在等待窗口核对")
        if cur is not None and cur.status == "confirmed":
            raise Conflict("纸质材料已确认收讫，无需再次提交")
        errors: dict = {}
        courier = courier.strip() if isinstance(courier, str) else ""
        tracking_no = re.sub(r"\s+", "", tracking_no) if isinstance(tracking_no, str) else ""
        if not 2 <= len(courier) <= 40:
            errors["courier"] = ["请填写快递公司（2–40 字）"]
        if not TRACKING.match(tracking_no):
            errors["tracking_no"] = ["快递单号应为 6–40 位字母、数字或连字符"]
        read = {field: read_upload(up, field, errors) for field, up in
                (("slip", slip), ("content_list", content_list), ("commitment", commitment))}
        if errors:
            raise ValidationError("快递收件材料未通过校验，未保存任何文件", details=errors)
        stored = {field: store_file(case, *read[field], kind=UPLOADS[field][0], uploaded_by=actor.username,
                                    note=UPLOADS[field][1]) for field in UPLOADS}
        intake = MailIntake(case_id=case.id, status="submitted", courier=courier, tracking_no=tracking_no,
                            slip_file_id=stored["slip"].id, list_file_id=stored["content_list"].id,
                            commitment_file_id=stored["commitment"].id,
                            materials=[m.get("name") for m in paper_materials(case)],
                            submitted_by=actor.username, submitted_at=now())
        db.session.add(intake)
        db.session.flush()
        record_event(case, actor.username, "mail_submit",
                     data_change={"courier": courier, "tracking_no": tracking_no,
                                  "files": [stored[f].filename for f in UPLOADS],
                                  "sha256": [stored[f].sha256 for f in UPLOADS]})
        notify_staff(case, ["g:window"], "mail_submitted", f"mail_submitted:{intake.id}", courier=courier,
                     tracking_no=tracking_no)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return intake


# -- the window ----------------------------------------------------------------------------------
def _pending(actor: Actor, case_id: int) -> tuple[Case, ProcessInstance | None, MailIntake]:
    if not isinstance(case_id, int) or not 0 < case_id < 2 ** 31:
        raise NotFound("办件不存在")
    case, inst = lock_case(Case.id == case_id)   # the instance first: confirming may step the process
    if case is None:
        raise NotFound("办件不存在")
    if not may_receive(actor, case):
        raise NotAuthorized("只有窗口收件人员可以核对快递收件材料")
    intake = current_intake(case.id)
    if intake is None or intake.status != "submitted":
        raise Conflict("没有待核对的快递收件材料")
    return case, inst, intake


def confirm_intake(actor: Actor, case_id: int) -> MailIntake:
    """确认收件: the window confirms the mailed paper. Issues the electronic receipt (a case file of
    kind ``receipt``), pre-sets ``paper_received`` in the open window step's draft, sends the SMS
    "received". The materials are in from now: the window step's 视为受理 days count from today
    (行政许可法 art. 32), also when they ran out while the paper was on its way (``restart_deemed``).
    Raises NotFound / NotAuthorized / Conflict. Commits."""
    try:
        case, inst, intake = _pending(actor, case_id)
        ts = now()
        intake.status, intake.decided_by, intake.decided_at = "confirmed", actor.username, ts
        receipt, promised = issue_receipt(case, intake, actor)
        intake.receipt_file_id = receipt.id
        for task in _window_tasks(case.id):
            form = version_forms(case.version_id).get(task.form_key) if task.form_key else None
            if form is not None and "paper_received" in _field_keys(form):
                draft = dict(task.draft or {})
                draft["paper_received"] = True
                task.draft, task.draft_by, task.draft_at = draft, actor.username, ts
            if inst is not None:
                restart_deemed(inst, case, task, actor.username, PAPER_IN)
        record_event(case, actor.username, "mail_confirm",
                     data_change={"intake": intake.id, "receipt": receipt.filename, "sha256": receipt.sha256,
                                  "promised_due": promised})
        touch(case, actor.username, "mail_confirm")
        notify_applicant(case, "received", f"received:{case.id}:{intake.id}",
                         promised_due=chinese_date(date.fromisoformat(promised)) if promised else "按承诺时限")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return intake


def refuse_intake(actor: Actor, case_id: int, reason: str) -> MailIntake:
    """退回快递收件材料: the window refuses the uploads with a reason the applicant is told; the
    applicant uploads again. Raises ValidationError (no reason) / NotFound / NotAuthorized /
    Conflict. Commits."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationError("请填写退回理由", details={"reason": ["必填 (required)"]})
    if len(text) > 500:
        raise ValidationError("退回理由最多 500 字", details={"reason": ["too long"]})
    try:
        case, _, intake = _pending(actor, case_id)
        intake.status, intake.decided_by, intake.decided_at = "refused", actor.username, now()
        intake.refuse_reason = text
        record_event(case, actor.username, "mail_refuse", opinion=text, data_change={"intake": intake.id})
        touch(case, actor.username, "mail_refuse")
        notify_applicant(case, "mail_refused", f"mail_refused:{intake.id}", reason=text)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return intake


def _field_keys(form: dict) -> set[str]:
    return {key for key, _ in _fields(form)}


# -- the paper check (an action hook: operations.complete runs it before completing a "receive" task)
@on_action(RECEIVE_ACTION)
def check_paper(case: Case | None, task: HumanTask, form: dict | None, clean: dict) -> dict:
    """Before the window's 受理: a matter whose materials need paper is accepted only when the mail
    intake is confirmed or the clerk ticked ``paper_received`` (paper handed in at the counter).
    With a confirmed intake ``paper_received`` is recorded as true. Raises Conflict otherwise."""
    if case is None or task.action != RECEIVE_ACTION or task.kind != "user":
        return clean
    dec = decision_field(form)
    if dec is None or _get_path(clean, dec[0]) != "accept" or not paper_materials(case):
        return clean
    if confirmed_intake(case.id) is not None:
        if form is not None and "paper_received" in _field_keys(form):
            clean = dict(clean, paper_received=True)
        return clean
    if clean.get("paper_received") is True:
        return clean
    names = "、".join(m.get("name", "") for m in paper_materials(case))
    raise Conflict(f"该事项需提交纸质材料（{names}）：请先确认申请人的快递收件材料，"
                   "或在窗口收到纸质材料后勾选“已收到纸质材料”，再受理",
                   details={"paper_received": ["纸质材料未收到"]})
