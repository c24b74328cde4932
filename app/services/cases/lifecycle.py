"""Cases (办件): draft, submit (which starts the process), read, withdraw."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ...domain.case_status import FINAL, CaseStatus, check_transition
from ...domain.codes import format_case_no, is_credit_code, is_project_code
from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...domain.org import region_level
from ...engine.forms import validate_submission
from ...extensions import db
from ...models import (
    Case,
    CaseEvent,
    CaseSerial,
    HumanTask,
    Incident,
    ProcessInstance,
    ProcessVersion,
    Region,
    SpecialProcedure,
    Timer,
)
from ..common.db_support import is_sqlite, lock_one, row_by_id
from ..identity.actors import Actor
from ..identity.permissions import can_read_case
from .hooks import before_submit, prepare_submit
from .locks import lock_case
from .registry import get_matter
from .steps import (apply_step, engine, load_workflow, now, record_event, remember_written, set_case_status,
                    spec_pair)

BEIJING = ZoneInfo("Asia/Shanghai")


def _next_serial(insert):
    ins = insert(CaseSerial).values(region_code=bindparam("region"), day=bindparam("day"), last=1)
    return ins.on_conflict_do_update(index_elements=["region_code", "day"],
                                     set_={"last": CaseSerial.__table__.c.last + 1}).returning(CaseSerial.last)


#: built once (their cache keys kept): is_sqlite() -> the statement
_NEXT_SERIAL = {True: _next_serial(sqlite_insert), False: _next_serial(pg_insert)}


def next_case_no(region: str, when: datetime) -> str:
    """Allocate the next 办件编号 for ``region`` on the Beijing day of ``when``, in one statement: the
    day's row is created at 1 or raised by one and the number returned. The row stays locked to the
    end of the transaction (PostgreSQL: ``ON CONFLICT DO UPDATE`` waits for a concurrent submission's
    lock and raises the number it committed; SQLite: the transaction holds the write lock from its
    BEGIN IMMEDIATE), so two submissions never get one number. It does not flush what the session
    holds: nothing pending touches the serials, and the case's pending trail goes with the next flush."""
    day = when.astimezone(BEIJING).strftime("%Y%m%d")
    with db.session.no_autoflush:
        last = db.session.execute(_NEXT_SERIAL[is_sqlite()], {"region": region, "day": day}).scalar_one()
    return format_case_no(region, day, last)


def start_form_of(version: ProcessVersion) -> dict | None:
    key = (version.summary or {}).get("start_form")
    return version.forms.get(key) if key else None


def identity_fields(actor: Actor, data: dict) -> dict:
    errors = {}
    project_code = data.get("project_code") or None
    if project_code is not None and not is_project_code(project_code):
        errors["project_code"] = ["项目代码格式应为 YYMM-XXXXXX-XX-XX-XXXXXX (24 位)"]
    applicant_code = data.get("applicant_code") or None
    if applicant_code is not None and not is_credit_code(applicant_code):
        errors["applicant_code"] = ["统一社会信用代码校验位不正确"]
    if errors:
        raise ValidationError("提交的数据未通过校验", details=errors)
    return {"project_code": project_code, "applicant_code": applicant_code,
            "project_name": (data.get("project_name") or None),
            "applicant_name": data.get("applicant_name") or actor.display_name or actor.username}


def handling_region(data: dict) -> str:
    """The region whose staff handle the case: the start form's ``handling_region`` when it names
    a known region, else this deployment's region."""
    code = data.get("handling_region")
    if isinstance(code, str) and db.session.get(Region, code) is not None:
        return code
    return current_app.config["REGION_CODE"]


def create_case(actor: Actor, process_id: str, data: dict, *, submit: bool = True, with_details: bool = False):
    """Create a case of the matter's latest version; with ``submit`` also start its process.
    Raises NotAuthorized, NotFound, ValidationError. Commits. With ``with_details`` returns (case,
    ``case_details``), the details read in the case's own transaction before its commit: the API's
    answer costs no second transaction, and the instance, the case and the rows just written are
    read from the session, not again from the database."""
    if not actor.is_applicant:
        raise NotAuthorized("只有申请人可以提交申请")
    matter = get_matter(process_id)
    version = matter.latest_version
    form = start_form_of(version)
    clean = validate_submission(form, data, partial=not submit) if form else {}
    ident = identity_fields(actor, clean)
    if submit:
        _prepare_submit(clean)
    case = Case(process_id=process_id, version_id=version.id, applicant_id=actor.id, status="draft",
                data=clean, created_at=now(), updated_at=now(), region_code=handling_region(clean), **ident)
    try:
        db.session.add(case)
        db.session.flush()
        record_event(case, actor.username, "draft" if not submit else "create", data_change=clean)
        started = submit_in_transaction(case, version, actor) if submit else None
        details = case_details(case) if with_details else None
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if started:
        remember_written(started[0])
    return (case, details) if with_details else case


def submit_case(actor: Actor, case_id: int, data: dict | None = None) -> Case:
    """Submit a draft (optionally replacing its data). Commits."""
    draft = row_by_id(Case, case_id)
    if draft is not None and draft.applicant_id == actor.id and draft.status == CaseStatus.DRAFT:
        _prepare_submit({**(draft.data or {}), **(data or {})})
    try:
        case, _inst = lock_case(Case.id == case_id)
        if case is None or case.applicant_id != actor.id:
            raise NotFound("办件不存在")
        if case.status != CaseStatus.DRAFT:
            raise Conflict("该办件已提交")
        version = db.session.get(ProcessVersion, case.version_id)
        form = start_form_of(version)
        merged = dict(case.data or {})
        if data:
            merged.update(data)
        clean = validate_submission(form, merged) if form else {}
        for key, value in identity_fields(actor, clean).items():
            setattr(case, key, value)
        case.data = clean
        inst, wf = submit_in_transaction(case, version, actor)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    remember_written(inst)
    return case


def _prepare_submit(data: dict) -> None:
    """The prepare hooks (hooks.prepare_submit: e.g. the project platform asked for the 项目代码) with
    no change pending in the session, so that a hook may end the transaction the request began (its
    reads: authentication …) and hold no lock across an outside system's answer. With changes
    pending they are not run (the submit hooks then ask inside the transaction, as before)."""
    if db.session.new or db.session.dirty or db.session.deleted:
        return
    prepare_submit(data)


def offline_refusal(version: ProcessVersion, data: dict) -> ValidationError | None:
    """The refusal of a submission the matter does not take online (matter.json ``offline_rules``: a
    project involving state secrets …), with the guide's instruction, or None."""
    for rule in (version.matter or {}).get("offline_rules") or ():
        value = data.get(rule.get("field"))
        if value is not None and value == rule.get("equals", True) and type(value) is type(rule.get("equals", True)):
            return ValidationError(rule["instruction"], details={rule["field"]: [rule["instruction"]]})
    return None


def submit_in_transaction(case: Case, version: ProcessVersion, actor: Actor):
    """Submit a draft in the caller's transaction (does not commit): the matter's offline rules and the
    submission hooks may refuse; then the case number, the status and the started process. Returns
    (instance, workflow). The portal, the API, a forward from another level and the 一张网's intake
    all submit through it."""
    refusal = offline_refusal(version, case.data or {})
    if refusal is not None:
        raise refusal
    before_submit(case, dict(case.data or {}))  # may refuse (e.g. a 项目代码 the platform does not confirm)
    ts = now()
    case.case_no = next_case_no(current_app.config["REGION_CODE"], ts)
    case.submitted_at = ts
    set_case_status(case, CaseStatus.SUBMITTED.value, actor.username)
    data = dict(case.data)
    # platform_level: this platform's level in the 省市县 network (a process may route on it: a county's
    # or a city's 转报 goes up to the next platform, the province's to the national commission by hand)
    data.update({"applicant": actor.username, "case_no": case.case_no,
                 "platform_level": current_app.config.get("FEDERATION_LEVEL")
                 or region_level(current_app.config["REGION_CODE"])})
    result = engine().start(spec_pair(version), data)
    inst = ProcessInstance(version_id=version.id, process_id=version.process_id, status=result.status,
                           revision=0, state=result.state, serializer_version="", created_at=ts, updated_at=ts)
    db.session.add(inst)
    db.session.flush()
    case.instance_id = inst.id
    record_event(case, actor.username, "submit", data_change=case.data)
    apply_step(inst, case, result, actor.username)
    return inst, result.workflow


def applicant_case(actor: Actor, case_id, *, lock: bool = False) -> Case:
    """The applicant's own case (locked if asked). Anyone else's answers NotFound: to them it is not there."""
    case = row_by_id(Case, case_id, lock=lock)
    if case is None or not actor.is_applicant or case.applicant_id != actor.id:
        raise NotFound("办件不存在")
    return case


def get_case(actor: Actor, key: str | int) -> Case:
    """By id or case number. Raises NotFound (also when the actor may not see it)."""
    if isinstance(key, int) or (str(key).isascii() and str(key).isdigit()):  # "²".isdigit(), but no int
        case = row_by_id(Case, int(key))  # None beyond the id range (PostgreSQL would refuse the value)
    else:
        case = db.session.execute(select(Case).where(Case.case_no == str(key))).scalar_one_or_none()
    if case is None or not can_read_case(actor, case):
        raise NotFound("办件不存在")
    return case


#: the columns of a task in an API answer (``_task_out``), and all a completion's answer reads of its open tasks
TASK_FIELDS = ("id", "case_id", "element_id", "name", "lane", "form_key", "action", "candidate_groups",
               "candidate_users", "assignee", "mi_index", "state", "limit_days", "due_date", "created_at",
               "completed_at", "completed_by", "kind", "region_code", "owner", "delegation", "blocked", "urge_count",
               "outcome", "opinion")
# built once (its cache key kept): the answer of every task completion reads it. Rows of the answer's
# columns, not HumanTask objects: the answer only reads them, and building, keying and tracking ORM
# objects cost a third of the statement (0.23 against 0.15 ms CPU on PostgreSQL)
_OPEN_TASKS = select(*(HumanTask.__table__.c[name] for name in TASK_FIELDS)) \
    .where(HumanTask.case_id == bindparam("case_id"), HumanTask.state == "ready") \
    .order_by(HumanTask.created_at, HumanTask.id)


def case_state(case: Case, inst: ProcessInstance | None = None) -> dict:
    """Where a case stands: open tasks, the incidents its process is stopped on, instance (no history).
    (Every incident, open or resolved, is in ``case_details``.) The open tasks are rows with the columns
    of ``TASK_FIELDS``, read after what the session holds is written (as the ORM's autoflush would)."""
    db.session.flush()
    tasks = db.session.connection().execute(_OPEN_TASKS, {"case_id": case.id}).all()
    if inst is None and case.instance_id:
        inst = db.session.get(ProcessInstance, case.instance_id)
    incidents = []
    if inst is not None and inst.status == "error":
        incidents = list(db.session.execute(select(Incident).where(
            Incident.case_id == case.id, Incident.status == "open")).scalars())
    return {"case": case, "current_tasks": tasks, "incidents": incidents, "instance": inst}


def case_details(case: Case) -> dict:
    tasks = list(db.session.execute(select(HumanTask).where(HumanTask.case_id == case.id)
                                    .order_by(HumanTask.created_at, HumanTask.id)).scalars())
    events = list(db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                     .order_by(CaseEvent.id)).scalars())
    incidents = list(db.session.execute(select(Incident).where(Incident.case_id == case.id)
                                        .order_by(Incident.id)).scalars())
    inst = db.session.get(ProcessInstance, case.instance_id) if case.instance_id else None
    procedures = list(db.session.execute(select(SpecialProcedure).where(SpecialProcedure.case_id == case.id)
                                         .order_by(SpecialProcedure.id)).scalars())
    return {"case": case, "current_tasks": [t for t in tasks if t.state == "ready"],
            "tasks": tasks, "history": events, "special_procedures": procedures,
            "incidents": [i for i in incidents if i.status == "open"], "all_incidents": incidents, "instance": inst}


def list_cases(actor: Actor, *, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Case]:
    stmt = select(Case)
    if actor.is_applicant:
        stmt = stmt.where(Case.applicant_id == actor.id)
    elif not (actor.is_admin or actor.is_inspector):
        raise NotAuthorized("请在待办中查看办件")
    if status:
        stmt = stmt.where(Case.status == status)
    return list(db.session.execute(stmt.order_by(Case.id.desc()).limit(limit).offset(offset)).scalars())


def withdraw_case(actor: Actor, case_id: int, reason: str) -> Case:
    """撤回: the applicant withdraws before a decision; the process is cancelled. Commits."""
    if not reason or not reason.strip():
        raise ValidationError("请填写撤回理由", details={"reason": ["必填 (required)"]})
    try:
        case, _inst = lock_case(Case.id == case_id)
        if case is None or case.applicant_id != actor.id:
            raise NotFound("办件不存在")
        if CaseStatus(case.status) in FINAL:
            raise Conflict("办件已办结，不能撤回")
        end_case(case, CaseStatus.WITHDRAWN.value, actor.username, reason.strip(), action="withdraw")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return case


def close_ended_process(inst: ProcessInstance, actor: str) -> None:
    """What stays of a process cancelled for good (withdrawn, terminated, recalled): the timers an
    administrator's 挂起 held (``suspended`` rows: the cancelling step closes only the waiting ones) are
    cancelled, and its open incidents are over — nothing will retry them, and the operators' count of
    open incidents must not keep a case that ended. In the caller's transaction."""
    db.session.execute(update(Timer).where(Timer.instance_id == inst.id, Timer.status.in_(("waiting", "suspended")))
                       .values(status="cancelled", next_attempt_at=None))
    db.session.execute(update(Incident).where(Incident.instance_id == inst.id, Incident.status == "open")
                       .values(status="resolved", resolved_at=now(), resolved_by=actor))


def end_case(case: Case, status: str, actor: str, reason: str | None, *, action: str,
             opinion: str | None = None) -> None:
    """Cancel the (locked) case's process, if it has one, and give the case the final ``status``
    (withdrawn, terminated): ``reason`` on the status change, then a trail entry ``action`` with
    ``opinion`` (else the reason). In the caller's transaction. Raises Conflict when the status may
    not go there. Used by ``withdraw_case`` and by the federation's ``withdraw`` / ``recall``."""
    check_transition(CaseStatus(case.status), CaseStatus(status))
    if case.instance_id:
        inst = lock_one(ProcessInstance, ProcessInstance.id == case.instance_id)
        wf = load_workflow(inst)
        result = engine().cancel(wf)
        apply_step(inst, case, result, actor)
        close_ended_process(inst, actor)
        engine().forget(inst.id)
    set_case_status(case, status, actor, reason=reason)
    record_event(case, actor, action, opinion=opinion or reason)
