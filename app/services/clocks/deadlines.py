"""Deadlines (期限): the statutory and promised deadlines of a case from its acceptance, the last day of
a step limit, and the loud failure when the calendar lacks a year. Used while a step is saved."""
from __future__ import annotations

import calendar as _months
from datetime import date, datetime, timedelta

from sqlalchemy import select

from ...domain.errors import Conflict
from ...domain.workdays import CalendarMissing, WorkCalendar
from ...extensions import db
from ...models import Case, HumanTask, ProcessInstance, ProcessVersion, SupervisionEvent
from ..common.clock import BEIJING, clock_now
from ..common.db_support import insert_once, is_sqlite
from .calendar import current_calendar


def due_date(cal: WorkCalendar, start: date, limit: dict | None) -> date | None:
    """The last day of a limit ``{"value": n, "unit": working_day|natural_day|month}`` from ``start``."""
    if not limit:
        return None
    value, unit = int(limit["value"]), limit.get("unit", "working_day")
    if unit == "working_day":
        return cal.add_working_days(start, value)
    if unit == "natural_day":
        return cal.next_working_day(start + timedelta(days=value))
    month = start.month - 1 + value
    year, month = start.year + month // 12, month % 12 + 1
    day = min(start.day, _months.monthrange(year, month)[1])
    return cal.next_working_day(date(year, month, day))


def system_alert(key: str, content: str, *, case: Case | None = None, rule: str = "CALENDAR-MISSING") -> None:
    """A red supervision event about the system itself (recorded once per key)."""
    insert_once(SupervisionEvent, "dedup_key", dedup_key=f"system:{key}",
                case_id=case.id if case else None, case_no=case.case_no if case else None,
                process_id=case.process_id if case else None, scope="system", limit_kind="calendar", colour="red",
                rule_id=rule, content=content, department="admin", responsible_department="admin", at=clock_now())


def calendar_alert_text(year: int) -> str:
    return f"{year} 年工作日历缺失：期限无法计算，请导入国务院办公厅当年放假安排"


def calendar_missing(case: Case, exc: CalendarMissing) -> None:
    """A deadline that could not be computed while the step goes on (acceptance, a step limit): the case
    records why it is empty and supervision shows the red system alert."""
    case.clock_error = str(exc)[:300]
    system_alert(f"calendar-{exc.year}", calendar_alert_text(exc.year), case=case)


def calendar_refusal(exc: CalendarMissing, case_id: int | None = None) -> Conflict:
    """The refusal of an operation whose new deadline reaches a year without calendar data (延长审批,
    the resume after a special procedure …). Call it after rolling the operation back: nothing of it
    is kept, since a deadline is never guessed and a half-moved clock is worse than none, but the red
    system alert is recorded (once per year) and committed on its own, so that supervision tells the
    administrators what to import. Returns the 409 to raise; its message names the year and who must act."""
    case = db.session.get(Case, case_id) if case_id is not None else None
    try:
        system_alert(f"calendar-{exc.year}", calendar_alert_text(exc.year), case=case)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return Conflict(
        f"{exc.year} 年工作日历缺失，新的期限无法计算，本次操作未执行。请系统管理员导入国务院办公厅公布的 {exc.year} 年"
        f"放假安排（管理后台「工作日历」或 flask calendar import {exc.year} 文件）后重试 (the {exc.year} working-day "
        f"calendar is missing: nothing was changed; an administrator must import it first)",
        details={"calendar_year": [str(exc.year)]})


def _case_deadlines(case: Case) -> tuple[date | None, date | None]:
    """The statutory and promised deadlines from the acceptance day, moved by the working days the
    clock was suspended (both) and extended (the statutory one). Raises CalendarMissing."""
    version = db.session.get(ProcessVersion, case.version_id)
    accepted = (case.accepted_at or clock_now()).astimezone(BEIJING).date()
    cal = current_calendar()
    statutory = due_date(cal, accepted, version.matter.get("statutory_limit"))
    promised = due_date(cal, accepted, version.matter.get("promised_limit"))
    suspended, extended = case.suspended_days or 0, case.extended_days or 0
    if statutory is not None and suspended + extended:
        statutory = cal.add_working_days(statutory, suspended + extended)
    if promised is not None and suspended:
        promised = cal.add_working_days(promised, suspended)
    return statutory, promised


def start_case_clock(case: Case) -> None:
    """On acceptance: compute the statutory and promised deadlines. Does not commit."""
    case.clock_state = "running"
    try:
        case.statutory_due, case.promised_due = _case_deadlines(case)
        case.clock_error = None
    except CalendarMissing as exc:
        calendar_missing(case, exc)


def recompute_case_clock(case: Case) -> None:
    """A case whose deadlines could not be computed (``clock_error``, e.g. accepted in late December
    before next year's calendar was imported) gets them now, counting what was suspended and
    extended since. Raises CalendarMissing while the year is still missing. Does not commit."""
    case.statutory_due, case.promised_due = _case_deadlines(case)
    case.clock_error = None


def heal_missing_clocks() -> int:
    """Deadlines that could not be computed for a missing year (``clock_error``: a case accepted in
    late December before next year's calendar was imported) are computed as soon as the year is
    there. Supervision calls this on every pass, so importing the year is all an administrator does.
    The case's deadlines come from its acceptance day, moved by the working days suspended and
    extended since; an open step without a due date gets its limit counted from the day it opened.
    A case whose year is still missing is left as it is. Returns how many were healed. Does not commit
    (supervision does, at the end of its pass)."""
    healed = 0
    for case in _missing_clocks():
        steps = db.session.execute(select(HumanTask).where(
            HumanTask.case_id == case.id, HumanTask.state == "ready", HumanTask.due_date.is_(None),
            HumanTask.limit_days.is_not(None))).scalars().all()
        try:
            cal = current_calendar()
            dues = (case.statutory_due, case.promised_due) if case.statutory_due and case.promised_due \
                else _case_deadlines(case)
            step_dues = [cal.add_working_days(t.created_at.astimezone(BEIJING).date(), t.limit_days) for t in steps]
        except CalendarMissing:
            continue
        case.statutory_due, case.promised_due = dues
        for task, due in zip(steps, step_dues):
            task.due_date = due
        case.clock_error = None
        healed += 1
    return healed


def _missing_clocks():
    """The cases whose deadlines wait for a calendar year, each locked in the order of a step (its
    process instance, then the case: cases/locks.py). One that a step or an operation holds right now
    is skipped (``SKIP LOCKED``) and waits for the next pass. SQLite: the transaction holds everything."""
    missing = (Case.clock_error.is_not(None), Case.clock_state.in_(("running", "suspended")))
    if is_sqlite():
        yield from db.session.execute(select(Case).where(*missing)).scalars().all()
        return
    for case_id, instance_id in db.session.execute(select(Case.id, Case.instance_id).where(*missing)).all():
        if instance_id is not None and db.session.execute(
                select(ProcessInstance.id).where(ProcessInstance.id == instance_id)
                .with_for_update(skip_locked=True)).scalar() is None:
            continue
        case = db.session.execute(select(Case).where(Case.id == case_id, *missing)
                                  .with_for_update(skip_locked=True)).scalar()
        if case is not None:
            yield case


def step_due(case: Case | None, created: datetime, limit_days: int | None) -> date | None:
    """The last day of a step limit (环节时限) for a task created at ``created``."""
    if not limit_days:
        return None
    try:
        return current_calendar().add_working_days(created.astimezone(BEIJING).date(), limit_days)
    except CalendarMissing as exc:
        if case is not None:
            calendar_missing(case, exc)
        return None
