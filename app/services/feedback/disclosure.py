"""Public disclosure (双公示) of decisions (listener of app.services.cases.hooks).

When a case becomes approved or rejected after acceptance (a 不予受理 at the window is not
published: it decides nothing on the merits and has no 决定书), a record is written in the same
transaction: 决定书文号 (the decision form's ``document_no`` / ``filing_no``), 项目名称, 审批类别 (matter name and type),
content (the decision), the applicant — name and 统一社会信用代码 both from the verified account that
applied, never the form's name with the account's code (enterprises only: an individual's ID number
is never copied, and an individual's name is masked), the deciding agency (the matter's
implementing body), the decision date and the due date DISCLOSURE_DAYS working days later.
A record with a document number is published at once; one without waits in the staff list until
staff complete and publish it. A published record is corrected by a recorded retraction (reason,
date, who; still shown publicly as 已撤销) and a corrected record that ``replaces`` it.

Staff functions check the actor (administrators; the service hall or the deciding department of
the record's region), commit, or change nothing and raise."""
from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import func, select

from ...domain.codes import is_credit_code
from ...domain.decisions import decision_name
from ...domain.errors import Conflict, NotAuthorized, NotFound
from ...extensions import db
from ...models import Case, CaseEvent, ProcessVersion, User
from ...models.accounts import ApplicantProfile
from ...models.feedback import Disclosure
from ...models.seals import Licence
from ..cases.hooks import on_status
from ..common.clock import BEIJING, clock_now, today_beijing
from ..common.db_support import lock_one
from ..identity.actors import SYSTEM, Actor
from .evaluations import (
    base_department,
    handling_department,
    history,
    in_department,
    is_hall,
    raise_if,
    record,
    text_field,
    working_days_later,
)

MATTER_TYPES = {"01": "行政许可", "07": "行政确认", "10": "其他行政权力", "20": "公共服务"}
STATUS = {"pending": "待公示", "published": "已公示", "retracted": "已撤销"}
#: the statuses that are decisions on the merits (each named by the matter's kind: app/domain/decisions.py)
RESULTS = ("approved", "rejected")
DOC_KEYS = ("document_no", "filing_no")


def decision_data(case: Case) -> dict:
    """The latest decision fields the case's steps recorded (document number, opinion)."""
    found: dict = {}
    events = db.session.execute(select(CaseEvent.data_change, CaseEvent.opinion, CaseEvent.action).where(
        CaseEvent.case_id == case.id, CaseEvent.action.in_(("complete", "reject")))
        .order_by(CaseEvent.id.desc())).all()
    for data, opinion, action in events:
        data = data if isinstance(data, dict) else {}
        for key in DOC_KEYS:
            value = data.get(key)
            if "document_no" not in found and isinstance(value, str) and value.strip():
                found["document_no"] = value.strip()[:100]
        if "opinion" not in found:
            text = data.get("decision_opinion") or (opinion if action == "reject" else None)
            if isinstance(text, str) and text.strip():
                found["opinion"] = text.strip()
    return found


def mask_name(name: str) -> str:
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else "*"


def _applicant(case: Case) -> tuple[str, str | None]:
    """(name, credit code) to publish, both taken from one source: the account that applied.

    A 双公示 record names one party, so its name and its 统一社会信用代码 must belong together. The
    start form's ``applicant_name`` is typed by the applicant and checked against nothing, while the
    account's credit code was checked (and made unique) at registration: pairing the two published
    one company's name with another company's code whenever they differed. The account is the
    party that applied and is answerable for the case, so an enterprise account gives both its
    verified name and code (``applicant_profiles``; for an account without a profile row, the
    ``users`` row that mirrors them). An individual's name, from the account too, is masked and no
    ID number is ever published; a case whose account is gone keeps its own name, masked, and no code."""
    user = db.session.get(User, case.applicant_id) if case.applicant_id else None
    if user is None:
        return mask_name(case.applicant_name), None
    profile = db.session.get(ApplicantProfile, user.id)
    if profile is not None:
        if profile.kind == "enterprise" and profile.credit_code and is_credit_code(profile.credit_code):
            return profile.name, profile.credit_code
        return mask_name(profile.name), None
    if user.org_code and is_credit_code(user.org_code):
        return user.display_name, user.org_code
    return mask_name(user.display_name or case.applicant_name), None


@on_status
def on_decision(case: Case, old: str, new: str, actor: str) -> None:
    """A decision (approved / rejected) writes its disclosure record, once per case. A refusal before
    acceptance (不予受理) is not a licensing decision: no 决定书, nothing decided on the merits, so it
    is not published (双公示 covers 准予 / 不予许可 decisions; the applicant is told by the notice)."""
    if new not in RESULTS:
        return
    if new == "rejected" and case.accepted_at is None:
        return
    if db.session.execute(select(Disclosure.id).where(Disclosure.case_id == case.id)).first():
        return
    version = db.session.get(ProcessVersion, case.version_id)
    matter = (version.matter if version else None) or {}
    found = decision_data(case)
    decided = (case.decided_at or clock_now()).astimezone(BEIJING).date()
    result_name = (matter.get("result") or {}).get("name") or ""
    content = decision_name(case.process_id, matter, new) + (f"（{result_name}）" if new == "approved" and result_name else "")
    if found.get("opinion") and new == "rejected":
        content += f"。理由：{found['opinion'][:1000]}"
    name, code = _applicant(case)
    category = matter.get("name") or case.process_id
    if MATTER_TYPES.get(str(matter.get("matter_type"))):
        category += f"（{MATTER_TYPES[str(matter.get('matter_type'))]}）"
    item = Disclosure(
        case_id=case.id, document_no=found.get("document_no"),
        project_name=(case.project_name or (case.data or {}).get("project_name") or matter.get("name") or "")[:200],
        category=category[:200], content=content, result=new, applicant_name=name[:200], applicant_code=code,
        agency=((matter.get("implementing_body") or {}).get("name") or current_app.config["AGENCY_NAME"])[:200],
        department=handling_department(case), region_code=case.region_code, decision_date=decided,
        due_date=working_days_later(current_app.config["DISCLOSURE_DAYS"], decided, case=case),
        status="pending", created_at=clock_now())
    db.session.add(item)
    db.session.flush()
    record("disclosure", item.id, SYSTEM, "create", new="pending",
           note=None if item.document_no else "缺少决定书文号，待工作人员补全后公示")
    if item.document_no:
        _publish(item, SYSTEM)


def _publish(item: Disclosure, actor: Actor) -> None:
    item.status, item.published_at, item.published_by = "published", clock_now(), actor.username
    record("disclosure", item.id, actor, "publish", old="pending", new="published")


# ---------------------------------------------------------------- staff

def may_manage(actor: Actor, item: Disclosure) -> bool:
    return actor.is_admin or is_hall(actor, item.region_code) or in_department(actor, item.department,
                                                                               item.region_code)


def get_for_staff(actor: Actor, item_id: int) -> Disclosure:
    item = db.session.get(Disclosure, item_id)
    if item is None:
        raise NotFound("公示记录不存在")
    if not (may_manage(actor, item) or actor.is_inspector):
        raise NotAuthorized("无权管理该公示记录")
    return item


def list_for_staff(actor: Actor, *, status: str | None = "pending", page: int = 1, per_page: int = 20):
    """Records the actor manages (pending first by due date). Returns (rows, total)."""
    if not actor.is_staff and not actor.is_admin:
        raise NotAuthorized("仅限工作人员 (staff only)")
    q = select(Disclosure)
    if not (actor.is_admin or actor.is_inspector):
        q = q.where(Disclosure.region_code == actor.region_code)
        if "window" not in actor.groups:
            q = q.where(Disclosure.department.in_(sorted({base_department(g) for g in actor.groups})))
    if status in STATUS:
        q = q.where(Disclosure.status == status)
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.session.execute(q.order_by(Disclosure.due_date, Disclosure.id).limit(per_page)
                              .offset((page - 1) * per_page)).scalars()
    return list(rows), total


def _locked(actor: Actor, item_id: int) -> Disclosure:
    item = lock_one(Disclosure, Disclosure.id == item_id)
    if item is None:
        raise NotFound("公示记录不存在")
    if not may_manage(actor, item):
        raise NotAuthorized("无权管理该公示记录")
    return item


def publish(actor: Actor, item_id: int, *, document_no: str, project_name: str | None = None,
            content: str | None = None) -> Disclosure:
    """Complete a pending record (document number mandatory; project name and content editable) and
    publish it."""
    try:
        item = _locked(actor, item_id)
        if item.status != "pending":
            raise Conflict("只有待公示的记录可以发布 (not pending)")
        errors: dict = {}
        document_no = text_field(document_no, "document_no", errors, max_len=100)
        if project_name is not None:
            project_name = text_field(project_name, "project_name", errors, max_len=200)
        if content is not None:
            content = text_field(content, "content", errors, max_len=4000)
        raise_if(errors)
        item.document_no = document_no
        if project_name:
            item.project_name = project_name
        if content:
            item.content = content
        _publish(item, actor)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return item


def retract(actor: Actor, item_id: int, reason: str, *, correct: bool = True) -> Disclosure | None:
    """Withdraw a published record with a reason (kept and shown as 已撤销). With ``correct`` a
    pending copy that replaces it is created for staff to fix and publish; returns that copy."""
    try:
        item = _locked(actor, item_id)
        if item.status != "published":
            raise Conflict("只有已公示的记录可以撤销 (not published)")
        errors: dict = {}
        reason = text_field(reason, "reason", errors, max_len=1000)
        raise_if(errors)
        item.status, item.retracted_at, item.retracted_by, item.retract_reason = \
            "retracted", clock_now(), actor.username, reason
        record("disclosure", item.id, actor, "retract", note=reason, old="published", new="retracted")
        copy = None
        if correct:
            copy = Disclosure(
                case_id=item.case_id, replaces_id=item.id, document_no=item.document_no,
                project_name=item.project_name, category=item.category, content=item.content, result=item.result,
                applicant_name=item.applicant_name, applicant_code=item.applicant_code, agency=item.agency,
                department=item.department, region_code=item.region_code, decision_date=item.decision_date,
                due_date=item.due_date, status="pending", created_at=clock_now())
            db.session.add(copy)
            db.session.flush()
            record("disclosure", copy.id, actor, "correct", new="pending", note=f"更正第 {item.id} 号公示：{reason}")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return copy


def is_late(item: Disclosure) -> bool:
    return item.status == "pending" and item.due_date is not None and item.due_date < today_beijing()


# ---------------------------------------------------------------- public

def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_public(*, q: str = "", code: str = "", document_no: str = "", date_from: str = "", date_to: str = "",
                  page: int = 1, per_page: int = 20):
    """Published and retracted records (never pending ones), newest decision first. ``q`` searches the
    project name, ``code`` the applicant's credit code (exact), ``document_no`` contains; dates are
    ``YYYY-MM-DD`` (decision date, inclusive). Returns (rows, total). Raises ValidationError."""
    errors: dict = {}
    stmt = select(Disclosure).where(Disclosure.status.in_(("published", "retracted")))
    for value, field, max_len in ((q, "q", 100), (code, "code", 18), (document_no, "document_no", 100)):
        if len(value or "") > max_len:
            errors[field] = [f"最多 {max_len} 字"]
    days = {}
    for value, field in ((date_from, "from"), (date_to, "to")):
        if value:
            try:
                days[field] = date.fromisoformat(value)
            except ValueError:
                errors[field] = ["日期格式应为 YYYY-MM-DD (date expected)"]
    if not 1 <= page <= 10_000:
        errors["page"] = ["页码不正确"]
    raise_if(errors, "查询条件有误 (invalid search)")
    if q.strip():
        stmt = stmt.where(Disclosure.project_name.like(_like(q.strip()), escape="\\"))
    if code.strip():
        stmt = stmt.where(Disclosure.applicant_code == code.strip().upper())
    if document_no.strip():
        stmt = stmt.where(Disclosure.document_no.like(_like(document_no.strip()), escape="\\"))
    if "from" in days:
        stmt = stmt.where(Disclosure.decision_date >= days["from"])
    if "to" in days:
        stmt = stmt.where(Disclosure.decision_date <= days["to"])
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = db.session.execute(stmt.order_by(Disclosure.decision_date.desc(), Disclosure.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).scalars()
    return list(rows), total


def get_public(item_id: int) -> Disclosure:
    item = db.session.get(Disclosure, item_id)
    if item is None or item.status == "pending":
        raise NotFound("公示记录不存在")
    return item


def related(item: Disclosure) -> dict:
    """The record it replaces, the published/pending records replacing it, and the electronic licence
    (电子证照, issued when the approval's decision is sealed: its number is part of 行政许可 publicity)."""
    replaced = db.session.get(Disclosure, item.replaces_id) if item.replaces_id else None
    by = db.session.execute(select(Disclosure).where(Disclosure.replaces_id == item.id,
                                                     Disclosure.status != "pending")).scalars().first()
    licence = db.session.execute(select(Licence).where(Licence.case_id == item.case_id)).scalar_one_or_none()
    return {"replaces": replaced, "replaced_by": by, "history": history("disclosure", item.id), "licence": licence}

