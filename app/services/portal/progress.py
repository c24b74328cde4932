"""What an applicant sees of a case after submitting: my cases, the case page, and the progress query
(办件进度查询) — logged in, by case number + SMS verification code, or through the QR code on the
receipt.

Three views, from most to least:
- the owner (logged in): everything below plus the applicant-safe timeline, their own files, the
  receipt and result files, the result's tracking number;
- case number + SMS code (``verified_view``): the progress card plus the public timeline and the
  result's tracking number — no names, no project, no files;
- the QR link (``public_view``): only the progress card — matter, status, current step, deadlines,
  what the applicant must do — with no personal data at all: a receipt can be lost or photographed.

The applicant-safe timeline (``PUBLIC_ACTIONS``) shows what the applicant is told anyway: their own
actions, status changes, the reason of a refusal (行政许可法 art. 38 requires it), special procedures
with their reason (told in writing, art. 45) and the extension, the mail intake and the result
mailing. Staff opinions, internal steps (claim, transfer, countersign, 加签, urge, attachments …) and
staff names are never shown."""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from ...domain.case_status import FINAL, CaseStatus
from ...domain.errors import NotAuthorized, ValidationError
from ...domain.workdays import CalendarMissing
from ...extensions import db
from ...models import Case, CaseEvent, CaseFile, HumanTask, ProcessVersion, SpecialProcedure, User
from ...models.feedback import Evaluation
from ..cases.lifecycle import applicant_case
from ..cases.special_procedures import SUSPENDING_KINDS
from ..clocks.calendar import current_calendar
from ..common.clock import BEIJING, clock_now
from ..identity.actors import Actor
from ..identity.sms_codes import request_code, verify_code
from ..messaging.phones import normalize_phone
from . import intake, receipts, results
from .correction_views import open_correction
from .results import mailing

SUSPENDING_LABELS = dict(SUSPENDING_KINDS, extension="延长审批")
STATUS_HINTS = {
    "submitted": "申请已提交，等待窗口收件审查", "received": "窗口正在进行收件审查",
    "correction": "需要您补正材料（补正期间不计入审批时限）", "accepted": "已受理，正在审查",
    "special_procedure": "特别程序中（不计入审批时限）", "approved": "已办结：准予许可",
    "rejected": "已办结：不予受理/不予许可", "withdrawn": "您已撤回申请", "closed": "已归档",
    "terminated": "办件已终止", "draft": "尚未提交",
}
#: case_events actions an applicant may see, with the label shown
PUBLIC_ACTIONS = {
    "create": "提交申请", "submit": "提交申请", "status": "状态变更", "reject": "不予受理/不予许可",
    "suspend": "特别程序开始", "resume": "特别程序结束", "extend": "延长审批", "withdraw": "撤回申请",
    "mail_submit": "上传快递收件材料", "mail_confirm": "纸质材料已收讫，出具电子回执",
    "mail_refuse": "快递收件材料被退回", "result_upload": "办理结果文书已上传", "result_mail": "结果原件已寄出",
    "level_step": "转报与上级办理", "deemed_accept": "逾期未一次性告知补正，依法视为受理",
}
#: of those, the ones whose opinion (reason) the applicant is told
PUBLIC_OPINIONS = {"reject", "suspend", "resume", "extend", "withdraw", "mail_refuse", "deemed_accept"}
PROGRESS_PURPOSE = "progress"
SESSION_SECONDS = 1800  # how long a verified progress query stays open in the browser session


def status_label(status: str) -> str:
    try:
        return CaseStatus(status).label
    except ValueError:
        return status


def _today() -> date:
    return clock_now().astimezone(BEIJING).date()


def _deadline(due: date | None, clock_state: str) -> dict:
    """A deadline with the working days left (negative: overdue), or why there is no count."""
    out = {"due": due.isoformat() if due else None, "remaining": None, "state": clock_state}
    if clock_state == "not_started":
        out["note"] = "受理后开始计算"
    elif clock_state == "suspended":
        out["note"] = "已暂停"
    elif clock_state == "stopped":
        out["note"] = "已办结"
    elif due is not None:
        today = _today()
        try:
            cal = current_calendar()
            out["remaining"] = cal.working_days_between(today, due) if due >= today \
                else -cal.working_days_between(due, today)
        except CalendarMissing:
            out["note"] = "工作日历缺失，剩余天数暂无法计算"
            return out
        out["note"] = f"剩余 {out['remaining']} 个工作日" if out["remaining"] >= 0 \
            else f"已超期 {-out['remaining']} 个工作日"
    return out


def _limits(version: ProcessVersion) -> dict:
    m = version.matter or {}
    return {"statutory": m.get("statutory_limit"), "promised": m.get("promised_limit")}


def todo(case: Case) -> list[dict]:
    """"您需要做的": what the applicant has to do now, each with the page that does it."""
    items = []
    base = f"/portal/cases/{case.id}"
    if intake.mail_needed(case):
        cur = intake.current_intake(case.id)
        text = "请邮寄纸质材料（" + "、".join(m.get("name", "") for m in intake.paper_materials(case)) + \
               "），并上传快递面单、材料清单和签署的承诺书"
        if cur is not None and cur.status == "refused":
            text = f"快递收件材料被退回（{cur.refuse_reason}），请重新上传"
        items.append({"key": "mail", "text": text, "url": f"{base}/mail"})
    elif case.status in intake.MAIL_STATUSES and intake.paper_materials(case):
        cur = intake.current_intake(case.id)
        if cur is not None and cur.status == "submitted":
            items.append({"key": "mail_wait", "text": "快递收件材料已提交，等待窗口核对", "url": None})
    if _correction_open(case):
        items.append({"key": "correction", "text": "请按一次性告知书补正材料", "url": f"{base}/correction"})
    if receipts.latest_receipt(case.id) is not None:
        items.append({"key": "receipt", "text": "下载电子回执单", "url": f"{base}/receipt.pdf"})
    for f in results.result_files(case.id):
        items.append({"key": "result", "text": f"下载办理结果：{f.filename}", "url": f"{base}/files/{f.id}"})
    if case.status in (CaseStatus.APPROVED.value, CaseStatus.REJECTED.value) or \
            (case.status == CaseStatus.CLOSED.value and case.decided_at is not None):
        if not _evaluated(case):
            items.append({"key": "evaluate", "text": "请对本次服务进行评价（好差评）", "url": f"{base}/evaluate"})
    return items


def _correction_open(case: Case) -> bool:
    return case.status == CaseStatus.CORRECTION.value or open_correction(case.id) is not None


def _evaluated(case: Case) -> bool:
    """Whether the case has its 好差评 (read from the table: the feedback wing sits beside the portal,
    not below it)."""
    return db.session.execute(select(Evaluation.id).where(Evaluation.case_id == case.id)).first() is not None


def progress_card(case: Case) -> dict:
    """The part every view shows: no names, no project, no files."""
    version = db.session.get(ProcessVersion, case.version_id)
    steps = [t.name for t in db.session.execute(
        select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.state == "ready", HumanTask.kind == "user")
        .order_by(HumanTask.created_at, HumanTask.id)).scalars()]
    procs = list(db.session.execute(select(SpecialProcedure).where(SpecialProcedure.case_id == case.id)
                                    .order_by(SpecialProcedure.id)).scalars())
    return {
        "id": case.id, "case_no": case.case_no, "matter": (version.matter or {}).get("name") or case.process_id,
        "process_id": case.process_id, "status": case.status, "status_label": status_label(case.status),
        "hint": STATUS_HINTS.get(case.status, ""), "current_steps": sorted(dict.fromkeys(steps)),
        "finished": CaseStatus(case.status) in FINAL if case.status in CaseStatus._value2member_map_ else False,
        "submitted_at": _local(case.submitted_at), "accepted_at": _local(case.accepted_at),
        "decided_at": _local(case.decided_at), "clock_state": case.clock_state,
        "suspended": case.clock_state == "suspended", "limits": _limits(version),
        "statutory": _deadline(case.statutory_due, case.clock_state),
        "promised": _deadline(case.promised_due, case.clock_state),
        "suspended_days": case.suspended_days or 0, "extended_days": case.extended_days or 0,
        "special_procedures": [{"kind": SUSPENDING_LABELS.get(p.kind, p.kind), "reason": p.reason,
                                "started_at": _local(p.started_at), "ended_at": _local(p.ended_at),
                                "planned": f"{p.planned_duration}{'个工作日' if p.planned_unit == 'working_day' else '日'}",
                                "running": p.status == "running", "counted_days": p.counted_days}
                               for p in procs],
        "todo": todo(case),
    }


def _local(ts) -> str | None:
    return ts.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if ts else None


def timeline(case: Case) -> list[dict]:
    """The applicant-safe trail (see the module docstring)."""
    owner = db.session.get(User, case.applicant_id)
    rows = []
    for ev in db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                 .order_by(CaseEvent.id)).scalars():
        mine = owner is not None and ev.actor == owner.username
        if ev.action not in PUBLIC_ACTIONS and not (mine and ev.action == "complete"):
            continue
        if ev.action == "create" and any(r["action"] == "submit" for r in rows):
            continue
        label = PUBLIC_ACTIONS.get(ev.action, "提交补正材料" if ev.action == "complete" else ev.action)
        if ev.action == "status":
            label = f"办件状态：{status_label(ev.to_status or '')}"
        elif ev.action == "level_step" and ev.opinion:  # "已转报…", "省级已受理（…）", "省级已批复（…）"
            label = ev.opinion
        detail = ev.opinion if ev.action in PUBLIC_OPINIONS else None
        if ev.action in ("mail_submit", "result_mail") and ev.data_change:
            detail = f"{ev.data_change.get('courier', '')} {ev.data_change.get('tracking_no', '')}".strip()
        rows.append({"at": _local(ev.at), "action": ev.action, "label": label,
                     "step": ev.step_name if mine else None, "detail": detail,
                     "by": "" if ev.action == "status" else "申请人" if mine else
                     ("系统" if ev.actor == "system" else "办理机关")})
    # one submission shows once (create + submit + status submitted are the same moment)
    out, seen = [], set()
    for r in rows:
        key = (r["at"], "submit") if r["action"] in ("create", "submit") else None
        if key and key in seen:
            continue
        if key:
            seen.add(key)
        out.append(r)
    return out


def public_view(case: Case) -> dict:
    """The QR page: the progress card only."""
    return {"card": progress_card(case)}


def verified_view(case: Case) -> dict:
    """After case number + SMS code: the card, the public timeline, the result's tracking number."""
    m = mailing(case.id)
    return {"card": progress_card(case), "timeline": timeline(case),
            "mailing": {"courier": m.courier, "tracking_no": m.tracking_no, "at": _local(m.recorded_at)} if m else None}


APPLICANT_KINDS = {"receipt", "result"}  # files of others the applicant may download


def applicant_files(actor: Actor, case: Case) -> list[CaseFile]:
    """The applicant's own uploads, the receipt and the result scans (never internal papers)."""
    return [f for f in db.session.execute(select(CaseFile).where(CaseFile.case_id == case.id)
                                          .order_by(CaseFile.id)).scalars()
            if f.uploaded_by == actor.username or f.kind in APPLICANT_KINDS]


def owner_case(actor: Actor, case_id: int) -> Case:
    """The applicant's own case. Raises NotFound for any other (the case is not there at all)."""
    return applicant_case(actor, case_id)


def owner_view(actor: Actor, case_id: int) -> dict:
    """The case page of its applicant: the verified view plus their files and the mail intake."""
    case = owner_case(actor, case_id)
    view = verified_view(case)
    cur = intake.current_intake(case.id)
    view.update(case=case, project_name=case.project_name, project_code=case.project_code,
                applicant_name=case.applicant_name, files=applicant_files(actor, case),
                paper=intake.paper_materials(case), intake=cur)
    return view


def my_cases(actor: Actor, *, limit: int = 100) -> list[dict]:
    """我的办件: the actor's cases, newest first (applicants only)."""
    if not actor.is_applicant:
        raise NotAuthorized("工作人员请在工作台查看办件")
    rows = db.session.execute(select(Case, ProcessVersion.matter).join(ProcessVersion, ProcessVersion.id ==
                                                                      Case.version_id)
                              .where(Case.applicant_id == actor.id)
                              .order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)).all()
    return [{"id": c.id, "case_no": c.case_no, "matter": (m or {}).get("name") or c.process_id,
             "project_name": c.project_name, "status": c.status, "status_label": status_label(c.status),
             "current_step": c.current_step, "promised_due": c.promised_due.isoformat() if c.promised_due else None,
             "suspended": c.clock_state == "suspended", "submitted_at": _local(c.submitted_at)} for c, m in rows]


# -- progress query by case number + SMS code ----------------------------------------------------
CASE_NO = re.compile(r"^[0-9A-Za-z\-]{1,50}$")


def _phone_key(phone) -> str | None:
    return normalize_phone(phone) if isinstance(phone, str) else None


def applicant_phones(case: Case) -> set[str]:
    """The applicant's phones: the account's and the start form's contact phone (E.164)."""
    user = db.session.get(User, case.applicant_id)
    return {p for p in (_phone_key(user.phone if user else None), _phone_key((case.data or {}).get("contact_phone")))
            if p}


def _case_by_no(case_no: str) -> Case | None:
    return db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one_or_none()


def _clean_case_no(case_no) -> str:
    value = case_no.strip() if isinstance(case_no, str) else ""
    if not CASE_NO.match(value):
        raise ValidationError("请填写正确的办件编号", details={"case_no": ["办件编号格式不正确"]})
    return value


def request_progress_code(case_no, phone, ip: str) -> None:
    """Send a code for ``case_no`` to ``phone`` — only when the case exists and the phone is its
    applicant's; otherwise a code is made but not delivered. The caller answers the same either way
    (and the same rate limits count). Raises ValidationError (input shape) / RateLimited."""
    value = _clean_case_no(case_no)
    if not isinstance(phone, str):
        phone = ""
    case = _case_by_no(value)
    deliver = case is not None and case.status != CaseStatus.DRAFT.value and _phone_key(phone) in applicant_phones(case)
    request_code(phone, PROGRESS_PURPOSE, ip, subject=value, deliver=deliver)


def verify_progress_code(case_no, phone, code) -> Case:
    """The case a correct code opens. Raises ValidationError (wrong / expired code, or a case that
    does not match: the same message) / RateLimited (too many attempts)."""
    value = _clean_case_no(case_no)
    verify_code(phone if isinstance(phone, str) else "", PROGRESS_PURPOSE, code if isinstance(code, str) else "",
                subject=value)
    case = _case_by_no(value)
    if case is None or _phone_key(phone) not in applicant_phones(case):
        raise ValidationError("验证码错误或已失效", details={"code": ["验证码错误或已失效"]})
    return case
