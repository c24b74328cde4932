"""The statutory clock of a case (办理时限) and special procedures (特别程序).

- The clock starts on acceptance (受理): the statutory and promised deadlines are the N-th working
  day after the acceptance day (start day not counted, 民法典 art. 201).
- A special procedure (补正, 专家评审, 听证, 检测 …; 行政许可法 art. 45) suspends it: on resume the
  deadlines, the open steps' deadlines and the waiting timers move by the working days suspended.
- The extension (延长审批) adds working days once, with a reason the applicant is told: by the general
  rule (行政许可法 art. 42) at most 10, approved by a commission leader; a matter whose law says more
  declares it in its matter.json (``extension``: e.g. 企业投资项目核准, up to 40 working days approved by
  the head of the commission, 国务院令673 §10). The approver is the acting user, or a user named as
  ``approver`` who holds the required role.
- A deadline that reaches a year without calendar data is not guessed: the extension or the resume
  that needs it is refused (409 naming the year; nothing changes) and supervision raises a red
  system alert until an administrator imports the year (docs/clocks.md).
"""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select

from ...domain.case_status import CaseStatus
from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...domain.workdays import CalendarMissing
from ...engine.matter import GENERAL_EXTENSION
from ...extensions import db
from ...models import Case, HumanTask, ProcessInstance, ProcessVersion, SpecialProcedure, Timer, User
from ..clocks.calendar import current_calendar
from ..clocks.deadlines import calendar_refusal, recompute_case_clock
from ..common.clock import BEIJING, clock_now
from ..common.db_support import lock_one
from ..identity.actors import Actor
from ..identity.permissions import can_read_case
from ..messaging.notify import notify_applicant
from .locks import lock_case
from .steps import apply_step, engine, load_workflow, record_event, set_case_status

SUSPENDING_KINDS = {
    "correction": "补正", "expert_review": "专家评审", "assessment": "委托评估", "hearing": "听证",
    "testing": "检验检测", "inspection": "现场核查", "consultation": "征求有关部门书面意见",
    "other": "其他特别程序",
}
EXTENSION_DAYS = GENERAL_EXTENSION["max_days"]
#: who may approve an extension of each rule (a head may approve what a leader may)
APPROVER_GROUPS = {"leader": ("leader", "head"), "head": ("head",)}
APPROVER_TEXT = {"leader": "委领导", "head": "委主要负责人"}


def extension_rule(case: Case) -> dict:
    """The extension rule of the case's matter version (matter.json ``extension``), else the general one."""
    version = db.session.get(ProcessVersion, case.version_id)
    rule = (version.matter or {}).get("extension") if version is not None else None
    return rule if isinstance(rule, dict) and rule.get("max_days") else GENERAL_EXTENSION


def _may_approve(actor: Actor, approver: str | None, groups: tuple[str, ...]) -> bool:
    """The acting user holds one of ``groups``, or the named approver is an active staff user who does."""
    if set(actor.groups) & set(groups):
        return True
    if not approver:
        return False
    user = db.session.execute(select(User).where(User.username == approver)).scalar_one_or_none()
    return bool(user is not None and user.active and user.kind == "staff" and set(user.groups or ()) & set(groups))


def _staff_on_case(actor: Actor, case: Case) -> bool:
    """Staff who hold, may hold or did a step of the case (an inspector only reads)."""
    if actor.is_admin:
        return True
    return actor.is_staff and (actor.groups - {"inspector"} or not actor.groups) and can_read_case(actor, case)


def _get_case_locked(case_id: int) -> Case:
    case, _inst = lock_case(Case.id == case_id)
    if case is None:
        raise NotFound("办件不存在")
    return case


def start_special_procedure(actor: Actor, case_id: int, *, kind: str, reason: str, basis: str = "",
                            planned_duration: int, planned_unit: str = "working_day",
                            approver: str | None = None, notify: bool = True) -> SpecialProcedure:
    """挂起: start a special procedure on an accepted case. ``kind`` 'extension' is the 延长审批 (needs
    a leader as actor or approver; once per case); the others suspend the clock. The applicant is
    told in writing (notification outbox) unless ``notify`` is False (a caller that tells them in its
    own message, e.g. the one-time notice of a 补正). Raises NotAuthorized / Conflict / ValidationError.
    Commits."""
    errors = {}
    if kind != "extension" and kind not in SUSPENDING_KINDS:
        errors["kind"] = [f"must be extension or one of {sorted(SUSPENDING_KINDS)}"]
    if not (reason or "").strip():
        errors["reason"] = ["必填 (required)"]
    if not isinstance(planned_duration, int) or isinstance(planned_duration, bool) or not 1 <= planned_duration <= 365:
        errors["planned_duration"] = ["1 到 365 之间的整数"]
    if planned_unit not in {"working_day", "natural_day"}:
        errors["planned_unit"] = ["working_day or natural_day"]
    if errors:
        raise ValidationError("特别程序信息不完整", details=errors)
    try:
        case = _get_case_locked(case_id)
        if not actor.is_staff or not _staff_on_case(actor, case):
            raise NotAuthorized("无权对该办件启动特别程序")
        if case.clock_state not in {"running", "suspended"}:
            raise Conflict("办件未受理或已办结，不能启动特别程序")
        now = clock_now()
        if kind == "extension":
            rule = extension_rule(case)
            if not _may_approve(actor, approver, APPROVER_GROUPS[rule["approver"]]):
                raise NotAuthorized(f"延长审批须经{APPROVER_TEXT[rule['approver']]}批准（{rule['basis']}）")
            if db.session.execute(select(SpecialProcedure.id).where(
                    SpecialProcedure.case_id == case.id, SpecialProcedure.kind == "extension")).first():
                raise Conflict(f"延长审批只能一次（{rule['basis']}）")
            if planned_duration > rule["max_days"] or planned_unit != "working_day":
                raise ValidationError(f"延长期限最多 {rule['max_days']} 个工作日（{rule['basis']}）",
                                      details={"planned_duration": [f"≤ {rule['max_days']} working days"]})
            proc = SpecialProcedure(case_id=case.id, kind_code="1", kind=kind, reason=reason.strip(),
                                    basis=basis or rule["basis"],
                                    planned_duration=planned_duration, planned_unit=planned_unit, started_at=now,
                                    ended_at=now, handler=actor.username,
                                    approver=approver or actor.username, status="ended",
                                    counted_days=planned_duration, result="已延长")
            db.session.add(proc)
            shift_case(case, planned_duration, extension=True)
            record_event(case, actor.username, "extend", opinion=reason.strip(),
                         data_change={"days": planned_duration, "statutory_due": case.statutory_due.isoformat()
                                      if case.statutory_due else None})
            notify_applicant(case, "extension", f"extension:{case.id}",
                             days=planned_duration, reason=reason.strip(),
                             due=case.statutory_due.isoformat() if case.statutory_due else "")
        else:
            if case.clock_state == "suspended":
                raise Conflict("办件已处于特别程序中")
            proc = SpecialProcedure(case_id=case.id, kind_code="2", kind=kind, reason=reason.strip(), basis=basis,
                                    planned_duration=planned_duration, planned_unit=planned_unit, started_at=now,
                                    handler=actor.username, approver=approver, status="running")
            db.session.add(proc)
            db.session.flush()
            case.clock_state = "suspended"
            if case.status == CaseStatus.ACCEPTED.value:
                set_case_status(case, CaseStatus.SPECIAL_PROCEDURE.value, actor.username, reason=reason.strip())
            record_event(case, actor.username, "suspend", opinion=reason.strip(),
                         data_change={"kind": kind, "planned_duration": planned_duration, "unit": planned_unit})
            if notify:
                notify_applicant(case, "special_procedure", f"special:{proc.id}",
                                 kind=SUSPENDING_KINDS[kind], duration=planned_duration,
                                 unit="个工作日" if planned_unit == "working_day" else "日", reason=reason.strip())
        db.session.commit()
    except CalendarMissing as exc:  # the new deadline falls in a year without calendar data
        db.session.rollback()
        raise calendar_refusal(exc, case_id) from None
    except BaseException:
        db.session.rollback()
        raise
    return proc


def end_special_procedure(actor: Actor, procedure_id: int, result: str) -> SpecialProcedure:
    """激活: end a running special procedure; the clock resumes and every deadline and waiting timer
    of the case moves by the working days it lasted. Commits."""
    if not (result or "").strip():
        raise ValidationError("请填写特别程序结果", details={"result": ["必填 (required)"]})
    try:
        proc = db.session.get(SpecialProcedure, procedure_id)
        if proc is None:
            raise NotFound("特别程序不存在")
        case = _get_case_locked(proc.case_id)
        db.session.refresh(proc)
        if not actor.is_staff or not _staff_on_case(actor, case):
            raise NotAuthorized("无权结束该特别程序")
        if proc.status != "running":
            raise Conflict("该特别程序已结束")
        if proc.handler == "system":  # a model's excluded phase (app/services/cases/phases.py): it ends with its step
            raise Conflict(f"该特别程序随流程环节办结自动结束，不能手工结束（{proc.basis}）")
        now = clock_now()
        days = current_calendar().working_days_between(proc.started_at.astimezone(BEIJING).date(),
                                                       now.astimezone(BEIJING).date())
        proc.ended_at, proc.status, proc.result, proc.counted_days = now, "ended", result.strip(), days
        case.clock_state = "running"
        if case.status == CaseStatus.SPECIAL_PROCEDURE.value:
            set_case_status(case, CaseStatus.ACCEPTED.value, actor.username, reason=result.strip())
        shift_case(case, days)
        record_event(case, actor.username, "resume", opinion=result.strip(), data_change={"suspended_days": days})
        db.session.commit()
    except CalendarMissing as exc:  # the days suspended or the moved deadlines reach a year without data
        db.session.rollback()
        raise calendar_refusal(exc, proc.case_id if proc is not None else None) from None
    except BaseException:
        db.session.rollback()
        raise
    return proc


def shift_case(case: Case, days: int, *, extension: bool = False, keep: Collection[str] = ()) -> None:
    """Move the case's deadlines by ``days`` working days; for a suspension also the open steps'
    deadlines and the waiting timers of its process (in the workflow state too). ``keep``: ids of
    steps and timers left as they are — those that opened in the step that ended an excluded phase
    count from today, after the suspension."""
    if days <= 0:
        return
    cal = current_calendar()
    if extension and case.statutory_due is None and case.clock_error:
        recompute_case_clock(case)  # accepted before the year's calendar was in: now, or a refusal
    if case.statutory_due:
        case.statutory_due = cal.add_working_days(case.statutory_due, days)
    if extension:
        case.extended_days += days
        return
    if case.promised_due:
        case.promised_due = cal.add_working_days(case.promised_due, days)
    case.suspended_days += days
    for task in db.session.execute(select(HumanTask).where(HumanTask.case_id == case.id,
                                                           HumanTask.state == "ready")).scalars():
        if task.due_date and task.id not in keep:
            task.due_date = cal.add_working_days(task.due_date, days)
    if not case.instance_id:
        return
    # the timers of a case an administrator suspended (挂起) wait as 'suspended' rows: they move too
    timers = [timer for timer in db.session.execute(select(Timer).where(
        Timer.instance_id == case.instance_id, Timer.status.in_(("waiting", "suspended")))).scalars()
        if timer.id not in keep]
    if not timers:
        return
    inst = lock_one(ProcessInstance, ProcessInstance.id == case.instance_id)
    moved = {}
    for timer in timers:
        local = timer.due_at.astimezone(BEIJING)
        new_day = cal.add_working_days(local.date(), days)
        due = datetime.combine(new_day, local.timetz())
        moved[timer.id] = due.isoformat()
        if timer.status == "suspended":
            timer.due_at = due   # the step below moves the waiting rows' own
    status = inst.status
    wf = load_workflow(inst)
    result = engine().move_timers(wf, moved)
    apply_step(inst, case, result, "system")
    if status == "suspended":
        inst.status = status   # moving the timers does not resume what the administrator suspended
