"""Results (办理结果): once a case is decided, staff of the case upload the scan of the decision document
(a case file of kind ``result``, which the applicant downloads) and record the courier and tracking
number of the mailed original (the applicant sees it and gets the SMS "result_sent")."""
from __future__ import annotations

import re

from sqlalchemy import select

from ...domain.case_status import CaseStatus
from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...extensions import db
from ...models import Case, CaseFile, CaseParticipant, HumanTask
from ...models.intake import CaseResult
from ..cases.steps import now, record_event
from ..common.blobs import read_upload
from ..common.db_support import row_by_id
from ..identity.actors import Actor
from ..identity.permissions import is_candidate
from ..inbox.case_files import store_file
from ..inbox.task_base import touch
from ..messaging.notify import notify_applicant
from .intake import TRACKING

DECIDED = {CaseStatus.APPROVED.value, CaseStatus.REJECTED.value, CaseStatus.CLOSED.value}


def may_record_result(actor: Actor, case: Case) -> bool:
    """Administrators; staff (not read-only inspectors) who acted on the case or hold, held or are
    offered one of its steps."""
    if actor.is_admin:
        return True
    if not actor.is_staff or not (actor.groups - {"inspector"}):
        return False
    if db.session.execute(select(CaseParticipant.case_id).where(
            CaseParticipant.case_id == case.id, CaseParticipant.username == actor.username)).first():
        return True
    for task in db.session.execute(select(HumanTask).where(HumanTask.case_id == case.id)).scalars():
        if actor.username in (task.completed_by, task.assignee, task.owner) or is_candidate(actor, task):
            return True
    return False


def _decided_case(actor: Actor, case_id: int) -> Case:
    case = row_by_id(Case, case_id, lock=True)
    if case is None:
        raise NotFound("办件不存在")
    if not may_record_result(actor, case):
        raise NotAuthorized("只有办理该办件的工作人员可以登记办理结果")
    if case.status not in DECIDED or case.decided_at is None:
        raise Conflict("办件尚未办结，不能登记办理结果")
    return case


def result_files(case_id: int) -> list[CaseFile]:
    return list(db.session.execute(select(CaseFile).where(CaseFile.case_id == case_id, CaseFile.kind == "result")
                                   .order_by(CaseFile.id)).scalars())


def mailing(case_id: int) -> CaseResult | None:
    return db.session.get(CaseResult, case_id)


def upload_result(actor: Actor, case_id: int, upload, note: str | None = None) -> CaseFile:
    """上传结果文书扫描件. Raises NotFound / NotAuthorized / Conflict (not decided) / ValidationError
    (bad file: nothing stored). Commits."""
    try:
        case = _decided_case(actor, case_id)
        errors: dict = {}
        if note is not None and (not isinstance(note, str) or len(note) > 500):
            errors["note"] = ["最多 500 字"]
        read = read_upload(upload, "file", errors)
        if errors:
            raise ValidationError("结果文书未通过校验，未保存", details=errors)
        f = store_file(case, *read, kind="result", uploaded_by=actor.username, note=(note or "").strip() or None)
        record_event(case, actor.username, "result_upload", data_change={"file": f.filename, "sha256": f.sha256})
        touch(case, actor.username, "result_upload")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return f


def record_mailing(actor: Actor, case_id: int, courier: str, tracking_no: str) -> CaseResult:
    """登记结果原件寄送: courier and tracking number (a correction overwrites them and tells the
    applicant again). Raises NotFound / NotAuthorized / Conflict / ValidationError. Commits."""
    errors = {}
    courier = courier.strip() if isinstance(courier, str) else ""
    tracking_no = re.sub(r"\s+", "", tracking_no) if isinstance(tracking_no, str) else ""
    if not 2 <= len(courier) <= 40:
        errors["courier"] = ["请填写快递公司（2–40 字）"]
    if not TRACKING.match(tracking_no):
        errors["tracking_no"] = ["快递单号应为 6–40 位字母、数字或连字符"]
    try:
        case = _decided_case(actor, case_id)
        if errors:
            raise ValidationError("寄送信息未通过校验", details=errors)
        row = db.session.get(CaseResult, case.id)
        if row is not None and (row.courier, row.tracking_no) == (courier, tracking_no):
            raise Conflict("该快递单号已登记")
        if row is None:
            row = CaseResult(case_id=case.id, courier=courier, tracking_no=tracking_no, recorded_by=actor.username,
                             recorded_at=now())
            db.session.add(row)
        else:
            row.courier, row.tracking_no, row.recorded_by, row.recorded_at = courier, tracking_no, actor.username, now()
        record_event(case, actor.username, "result_mail", data_change={"courier": courier, "tracking_no": tracking_no})
        touch(case, actor.username, "result_mail")
        notify_applicant(case, "result_sent", f"result_sent:{case.id}:{tracking_no}", tracking_no=tracking_no)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return row
