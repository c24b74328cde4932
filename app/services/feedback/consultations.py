"""Consultations (咨询) and complaints (投诉).

A signed-in applicant asks about a matter from its service guide: a **general** question goes to the
service hall (group ``window``) of this installation's region, a **specific** one to the liaison of
the matter's handling division (group ``<dept>_liaison``), whose members get an SMS. The answer is
due in CONSULTATION_DAYS working days; the handler may extend once with a reason; an answer after the
deadline records its overdue working days. The asker rates the answer (satisfied / unsatisfied) and
may follow up (追问: a new question linked to the first, routed the same way).

A complaint (optionally about one of the complainant's cases) takes the same path to the service
hall of the case's region; inspectors (电子监察) may answer complaints too. Due in COMPLAINT_DAYS.

Functions that change something commit, or change nothing and raise ValidationError / NotFound /
NotAuthorized / Conflict."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...domain.workdays import CalendarMissing
from ...extensions import db
from ...models import Case, Matter, Notification, User
from ...models.feedback import Question
from ..clocks.calendar import current_calendar
from ..clocks.deadlines import calendar_refusal
from ..common.clock import clock_now, today_beijing
from ..common.db_support import insert_once, lock_one
from ..identity.actors import Actor
from ..messaging.notify import TEMPLATES, notify_applicant, notify_staff
from .evaluations import (
    base_department,
    history,
    matter_department,
    overdue_days,
    raise_if,
    record,
    text_field,
    working_days_later,
)

KINDS = {"consultation": "咨询", "complaint": "投诉"}
CATEGORIES = {"general": "一般咨询（政务服务大厅）", "specific": "业务咨询（业务处室联络员）"}
RATINGS = {"satisfied": "满意", "unsatisfied": "不满意"}
STATUS = {"open": "待答复", "answered": "已答复"}
MAX_EXTENSION_DAYS = 10


def _require_applicant(actor: Actor) -> None:
    if actor is None or not actor.is_applicant:
        raise NotAuthorized("请以申请人身份登录后提问 (applicants only)")


def _fields(subject, body) -> tuple[str, str]:
    errors: dict = {}
    subject = text_field(subject, "subject", errors, max_len=200)
    body = text_field(body, "body", errors, max_len=4000)
    raise_if(errors, "内容不完整，未提交 (incomplete, nothing saved)")
    return subject, body


def _outbox(key: str, channel: str, recipient: str, template: str, case_id, values: dict) -> None:
    insert_once(Notification, "key", key=key[:160], channel=channel, recipient=recipient[:64], template=template,
                case_id=case_id, text=TEMPLATES[template].format(case_no="", **values), payload=values,
                created_at=clock_now(), status="pending", attempts=0)


def _sms_to_group(q: Question) -> None:
    """An SMS to every active member of the routed group in its region who has a phone."""
    staff = db.session.execute(select(User.username, User.phone, User.groups).where(
        User.kind == "staff", User.active.is_(True), User.region_code == q.region_code,
        User.phone.isnot(None))).all()
    for username, phone, groups in staff:
        if q.route_group in (groups or ()) and phone:
            _outbox(f"question:{q.id}:sms:{username}", "sms", phone, "question_new", q.case_id, _values(q))


def _values(q: Question) -> dict:
    return {"kind": KINDS[q.kind], "subject": q.subject[:40], "due": q.due_date.isoformat() if q.due_date else "—"}


def _create(actor: Actor, *, kind: str, category: str, subject: str, body: str, route_group: str,
            region_code: str, process_id: str | None = None, case_id: int | None = None,
            parent_id: int | None = None) -> Question:
    days = current_app.config["CONSULTATION_DAYS" if kind == "consultation" else "COMPLAINT_DAYS"]
    try:
        q = Question(kind=kind, category=category, process_id=process_id, case_id=case_id, parent_id=parent_id,
                     asker_id=actor.id, subject=subject, body=body, route_group=route_group,
                     region_code=region_code, status="open", due_date=working_days_later(days), extended_days=0,
                     overdue_days=0, created_at=clock_now())
        db.session.add(q)
        db.session.flush()
        record("question", q.id, actor, "ask" if parent_id is None else "follow_up", note=subject, new="open")
        case = db.session.get(Case, case_id) if case_id else None
        notify_staff(case, [f"g:{route_group}"], "question_new", f"question:{q.id}:new", **_values(q))
        if route_group.endswith("_liaison"):
            _sms_to_group(q)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return q


def ask(actor: Actor, process_id: str, *, category: str, subject: str, body: str) -> Question:
    """A consultation about a matter. ``category`` general → service hall; specific → the liaison
    of the matter's handling division (SMS). Raises NotFound (unknown matter), ValidationError."""
    _require_applicant(actor)
    matter = db.session.get(Matter, process_id) if isinstance(process_id, str) else None
    if matter is None or not matter.active or matter.latest_version is None:
        raise NotFound("事项不存在")
    errors: dict = {}
    if category not in CATEGORIES:
        errors["category"] = ["请选择咨询类型 (general or specific)"]
    subject = text_field(subject, "subject", errors, max_len=200)
    body = text_field(body, "body", errors, max_len=4000)
    raise_if(errors, "内容不完整，未提交 (incomplete, nothing saved)")
    region = current_app.config["REGION_CODE"]
    group = "window"
    if category == "specific":
        dept = matter_department(matter.latest_version)
        group = f"{dept}_liaison" if dept else "window"
    return _create(actor, kind="consultation", category=category, subject=subject, body=body,
                   route_group=group, region_code=region, process_id=process_id)


def complain(actor: Actor, *, subject: str, body: str, case_id: int | None = None) -> Question:
    """A complaint, optionally about one of the complainant's own cases (NotFound otherwise), to the
    service hall of the case's region (else this installation's)."""
    _require_applicant(actor)
    case = None
    if case_id is not None:
        case = db.session.get(Case, case_id)
        if case is None or case.applicant_id != actor.id:
            raise NotFound("办件不存在")
    subject, body = _fields(subject, body)
    region = case.region_code if case else current_app.config["REGION_CODE"]
    return _create(actor, kind="complaint", category="complaint", subject=subject, body=body,
                   route_group="window", region_code=region, process_id=case.process_id if case else None,
                   case_id=case.id if case else None)


def follow_up(actor: Actor, question_id: int, body: str) -> Question:
    """追问: a new question linked to an answered one of the asker's, routed the same way."""
    parent = db.session.get(Question, question_id)
    if parent is None or not actor.is_applicant or parent.asker_id != actor.id:
        raise NotFound("问题不存在")
    if parent.status != "answered":
        raise Conflict("答复后才能追问 (not answered yet)")
    _, body = _fields(f"追问：{parent.subject}"[:200], body)
    return _create(actor, kind=parent.kind, category=parent.category, subject=f"追问：{parent.subject}"[:200],
                   body=body, route_group=parent.route_group, region_code=parent.region_code,
                   process_id=parent.process_id, case_id=parent.case_id, parent_id=parent.id)


# ---------------------------------------------------------------- staff side

def may_handle(actor: Actor, q: Question) -> bool:
    if actor.is_admin:
        return True
    if not actor.is_staff or actor.region_code != q.region_code:
        return False
    if q.kind == "complaint" and actor.is_inspector:
        return True
    return q.route_group in actor.groups


def can_read(actor: Actor, q: Question) -> bool:
    if actor.is_applicant:
        return q.asker_id == actor.id
    return actor.is_inspector or may_handle(actor, q)


def get_question(actor: Actor, question_id: int) -> Question:
    q = db.session.get(Question, question_id)
    if q is None or (actor.is_applicant and q.asker_id != actor.id):
        raise NotFound("问题不存在")
    if not can_read(actor, q):
        raise NotAuthorized("无权查看 (not routed to you)")
    return q


def list_for_staff(actor: Actor, *, kind: str = "consultation", status: str | None = None,
                   page: int = 1, per_page: int = 20):
    """Questions routed to the actor's groups in their region (inspectors: all; for complaints the
    region's), open ones first by deadline. Returns (rows, total)."""
    if not actor.is_staff and not actor.is_admin:
        raise NotAuthorized("仅限工作人员 (staff only)")
    q = select(Question).where(Question.kind == (kind if kind in KINDS else "consultation"))
    if not (actor.is_admin or actor.is_inspector):
        q = q.where(Question.region_code == actor.region_code, Question.route_group.in_(sorted(actor.groups)))
    if status in STATUS:
        q = q.where(Question.status == status)
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.session.execute(q.order_by(Question.status.desc(), Question.due_date, Question.id)
                              .limit(per_page).offset((page - 1) * per_page)).scalars()
    return list(rows), total


def list_mine(actor: Actor) -> list[Question]:
    _require_applicant(actor)
    return list(db.session.execute(select(Question).where(Question.asker_id == actor.id)
                                   .order_by(Question.id.desc()).limit(200)).scalars())


def _locked(actor: Actor, question_id: int) -> Question:
    q = lock_one(Question, Question.id == question_id)
    if q is None or (actor.is_applicant and q.asker_id != actor.id):
        raise NotFound("问题不存在")
    return q


def answer(actor: Actor, question_id: int, text: str) -> Question:
    """The answer of a member of the routed group (or an administrator); records overdue days."""
    try:
        q = _locked(actor, question_id)
        if not may_handle(actor, q):
            raise NotAuthorized("无权答复 (not routed to you)")
        if q.status != "open":
            raise Conflict("该问题已答复 (already answered)")
        errors: dict = {}
        text = text_field(text, "answer", errors, max_len=4000)
        raise_if(errors)
        q.answer, q.answered_by, q.answered_at, q.status = text, actor.username, clock_now(), "answered"
        q.overdue_days = overdue_days(q.due_date, today_beijing())
        record("question", q.id, actor, "answer", note=text, old="open", new="answered")
        asker = db.session.get(User, q.asker_id)
        _notify_asker(q, asker)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return q


def _notify_asker(q: Question, asker: User | None) -> None:
    case = db.session.get(Case, q.case_id) if q.case_id else None
    values = _values(q)
    if case is not None:
        notify_applicant(case, "question_answered", f"question:{q.id}:answered", **values)
    elif asker is not None:
        _outbox(f"question:{q.id}:answered:internal", "internal", asker.username, "question_answered", None, values)
        if asker.phone:
            _outbox(f"question:{q.id}:answered:sms", "sms", asker.phone, "question_answered", None, values)


def extend(actor: Actor, question_id: int, days, reason: str) -> Question:
    """延期答复: once, 1–MAX_EXTENSION_DAYS working days from the current deadline, with a reason."""
    try:
        q = _locked(actor, question_id)
        if not may_handle(actor, q):
            raise NotAuthorized("无权延期 (not routed to you)")
        if q.status != "open":
            raise Conflict("已答复的问题不能延期 (already answered)")
        if q.extended_days:
            raise Conflict("每个问题只能延期一次 (already extended)")
        errors: dict = {}
        try:
            n = int(days)
            if not 1 <= n <= MAX_EXTENSION_DAYS:
                raise ValueError
        except (TypeError, ValueError):
            errors["days"] = [f"1–{MAX_EXTENSION_DAYS} 个工作日 (1 to {MAX_EXTENSION_DAYS} working days)"]
            n = 0
        reason = text_field(reason, "reason", errors, max_len=1000)
        raise_if(errors)
        old_due = q.due_date
        # not working_days_later: an extension into a year without calendar data must not erase the deadline
        q.due_date = current_calendar().add_working_days(q.due_date or today_beijing(), n)
        q.extended_days, q.extension_reason = n, reason
        record("question", q.id, actor, "extend", note=f"延期{n}个工作日（{old_due} → {q.due_date}）：{reason}",
               old="open", new="open")
        db.session.commit()
    except CalendarMissing as exc:
        db.session.rollback()
        raise calendar_refusal(exc, q.case_id) from None
    except BaseException:
        db.session.rollback()
        raise
    return q


def rate(actor: Actor, question_id: int, rating: str) -> Question:
    """The asker rates an answer once: satisfied / unsatisfied."""
    try:
        q = _locked(actor, question_id)
        if not actor.is_applicant or q.asker_id != actor.id:
            raise NotFound("问题不存在")
        if q.status != "answered":
            raise Conflict("答复后才能评价 (not answered yet)")
        if q.rating:
            raise Conflict("已评价 (already rated)")
        if rating not in RATINGS:
            raise ValidationError("请选择满意或不满意", details={"rating": ["satisfied or unsatisfied"]})
        q.rating, q.rated_at = rating, clock_now()
        record("question", q.id, actor, "rate", note=RATINGS[rating])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return q


def question_view(q: Question) -> dict:
    open_ = q.status == "open"
    late = overdue_days(q.due_date) if open_ else q.overdue_days
    return {"q": q, "kind_label": KINDS[q.kind], "category_label": CATEGORIES.get(q.category, "投诉"),
            "status_label": STATUS[q.status], "overdue": late > 0, "overdue_days": late,
            "rating_label": RATINGS.get(q.rating or ""), "route_label": base_department(q.route_group),
            "history": history("question", q.id)}
