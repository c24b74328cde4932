"""The written, dated notice of acceptance or of refusal to accept (行政许可法 art. 32: 受理或者不予受理
行政许可申请，应当出具加盖本行政机关专用印章和注明日期的书面凭证).

- **受理通知书** (kind ``accept``): when a case first reaches ``accepted`` (also a deemed acceptance).
- **不予受理决定书** (kind ``refuse``): when a case is ``rejected`` before it was ever accepted — the
  window's 不予受理 (the end event after ``window_decision == 'reject'``); a ``rejected`` reached after
  acceptance is 不予许可, whose decision document is the result (results.py), not this notice. It
  states the window's reason and the remedies (行政复议法 art. 20: 60 days; 行政诉讼法 art. 46: 6 months).

A status hook records the notice in the step's transaction (``case_notices``), so it exists exactly when
the decision does; its text is fixed then (organ, matter, applicant, the Beijing date of the decision).
The applicant reads and prints it from the case page; staff who may read the case may too."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select

from ...domain.case_status import CaseStatus
from ...domain.errors import NotFound
from ...extensions import db
from ...models import Case, CaseEvent, ProcessVersion
from ...models.notice import CaseNotice
from ..cases.hooks import on_status
from ..cases.lifecycle import applicant_case, get_case
from ..cases.steps import now
from ..common.clock import BEIJING
from ..identity.actors import Actor
from .sms_moments import chinese_date

ACCEPT, REFUSE = "accept", "refuse"
KINDS = {ACCEPT: "受理通知书", REFUSE: "不予受理决定书"}
#: the notice's number: a prefix per kind before the case number
NUMBER_PREFIX = {ACCEPT: "SL", REFUSE: "BSL"}
REMEDY = ("如不服本决定，可以自收到本决定书之日起六十日内依法申请行政复议，也可以自收到本决定书之日起"
          "六个月内依法向人民法院提起行政诉讼。")
#: the fields of a window's form that hold the reason of a 不予受理, most specific first
REASON_FIELDS = ("window_opinion", "reject_reason", "opinion")
NO_REASON = "（窗口未填写理由，请向办理机关咨询）"


def _beijing_day(ts: datetime | None):
    return (ts or now()).astimezone(BEIJING).date()


def _refusal_reason(case: Case) -> str:
    """The window's reason: the opinion of the latest step completed (or refused) on the case — the
    step whose decision ended the case (its trail entry is written before the status changes)."""
    rows = db.session.execute(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.action.in_(("reject", "complete")))
        .order_by(CaseEvent.id.desc()).limit(1)).scalars()
    for event in rows:
        data = event.data_change if isinstance(event.data_change, dict) else {}
        for key in REASON_FIELDS:
            if isinstance(data.get(key), str) and data[key].strip():
                return data[key].strip()
        if event.opinion and event.opinion.strip():
            return event.opinion.strip()
    return NO_REASON


def _issue(case: Case, kind: str, actor: str) -> CaseNotice | None:
    """Record the notice of ``kind`` for the case (in the caller's transaction), once per case."""
    if not case.case_no or db.session.execute(select(CaseNotice.id).where(
            CaseNotice.case_id == case.id, CaseNotice.kind == kind)).first() is not None:
        return None
    version = db.session.get(ProcessVersion, case.version_id)
    matter = (version.matter if version is not None else None) or {}
    when = case.accepted_at if kind == ACCEPT else case.decided_at
    details = {"submitted_on": _beijing_day(case.submitted_at).isoformat() if case.submitted_at else None,
               "project_name": case.project_name, "project_code": case.project_code}
    if kind == ACCEPT:
        details.update(statutory_due=case.statutory_due.isoformat() if case.statutory_due else None,
                       promised_due=case.promised_due.isoformat() if case.promised_due else None)
    else:
        details["remedy"] = REMEDY
    notice = CaseNotice(
        case_id=case.id, kind=kind, notice_no=f"{NUMBER_PREFIX[kind]}-{case.case_no}", case_no=case.case_no,
        matter_name=(matter.get("name") or case.process_id)[:200], applicant_name=case.applicant_name[:200],
        applicant_code=case.applicant_code,
        organ=((matter.get("implementing_body") or {}).get("name") or current_app.config["AGENCY_NAME"])[:200],
        issued_on=_beijing_day(when), issued_at=when or now(), issued_by=(actor or "system")[:64],
        reason=_refusal_reason(case) if kind == REFUSE else None, details=details)
    db.session.add(notice)
    return notice


@on_status
def notice_on_status(case: Case, old: str, new: str, actor: str) -> None:
    """受理 → 受理通知书; rejected before any acceptance (不予受理) → 不予受理决定书."""
    if new == CaseStatus.ACCEPTED.value:
        _issue(case, ACCEPT, actor)
    elif new == CaseStatus.REJECTED.value and case.accepted_at is None:
        _issue(case, REFUSE, actor)


def notices_of(case_id: int) -> list[CaseNotice]:
    """The notices issued for a case, in order of issue (for the case page's links)."""
    return list(db.session.execute(select(CaseNotice).where(CaseNotice.case_id == case_id)
                                   .order_by(CaseNotice.id)).scalars())


def readable_notice(actor: Actor, case_id: int, kind: str) -> tuple[Case, CaseNotice]:
    """The notice of ``kind`` for a case its reader may see: the case's applicant, or staff who may
    read the case. Anyone else — and an unknown kind or a notice not issued — gets NotFound."""
    if kind not in KINDS:
        raise NotFound("文书不存在")
    case = applicant_case(actor, case_id) if actor.is_applicant else get_case(actor, case_id)
    notice = db.session.execute(select(CaseNotice).where(
        CaseNotice.case_id == case.id, CaseNotice.kind == kind)).scalar_one_or_none()
    if notice is None:
        raise NotFound(f"尚未出具{KINDS[kind]}")
    return case, notice


def notice_view(notice: CaseNotice) -> dict:
    """What the printable page shows: title, number, addressee, body paragraphs, organ and date."""
    d = notice.details or {}
    submitted = chinese_date(datetime.fromisoformat(d["submitted_on"]).date()) if d.get("submitted_on") else ""
    applied = f"你（单位）于{submitted}提出的{notice.matter_name}申请（办件编号：{notice.case_no}"
    applied += f"；项目代码：{d['project_code']}）" if d.get("project_code") else "）"
    if notice.kind == ACCEPT:
        due = [f"法定办结期限：{chinese_date(datetime.fromisoformat(d[k]).date())}" if k == "statutory_due"
               else f"承诺办结期限：{chinese_date(datetime.fromisoformat(d[k]).date())}"
               for k in ("statutory_due", "promised_due") if d.get(k)]
        body = [applied + "，经审查，申请材料齐全、符合法定形式。根据《中华人民共和国行政许可法》第三十二条的规定，"
                "本机关决定予以受理。",
                "本机关将在法定期限内作出决定" + (f"（{'；'.join(due)}）" if due else "") +
                "。补正、专家评审、委托评估等依法不计入办理期限的时间除外。",
                "特此通知。"]
    else:
        body = [applied + "，经审查，根据《中华人民共和国行政许可法》第三十二条的规定，本机关决定不予受理。",
                f"理由：{notice.reason or NO_REASON}", d.get("remedy") or REMEDY]
    return {"title": KINDS[notice.kind], "kind": notice.kind, "notice_no": notice.notice_no,
            "addressee": notice.applicant_name, "applicant_code": notice.applicant_code, "body": body,
            "organ": notice.organ, "date": chinese_date(notice.issued_on), "issued_on": notice.issued_on.isoformat(),
            "case_no": notice.case_no, "matter": notice.matter_name}


__all__ = ["KINDS", "ACCEPT", "REFUSE", "REMEDY", "notice_on_status", "notices_of", "readable_notice",
           "notice_view", "chinese_date"]
