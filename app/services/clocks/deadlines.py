"""Deadlines (期限): the statutory and promised deadlines of a case from its acceptance, the last day of
a step limit, and the loud failure when the calendar lacks a year. Used while a step is saved."""
from __future__ import annotations

import calendar as _months
from datetime import date, datetime, timedelta

from ...domain.workdays import CalendarMissing, WorkCalendar
from ...extensions import db
from ...models import Case, ProcessVersion, SupervisionEvent
from ..common.clock import BEIJING, clock_now
from ..common.db_support import insert_once
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


def calendar_missing(case: Case, exc: CalendarMissing) -> None:
    case.clock_error = str(exc)[:300]
    system_alert(f"calendar-{exc.year}", f"{exc.year} 年工作日历缺失：期限无法计算，请导入国务院办公厅当年放假安排",
                 case=case)


def start_case_clock(case: Case) -> None:
    """On acceptance: compute the statutory and promised deadlines. Does not commit."""
    version = db.session.get(ProcessVersion, case.version_id)
    accepted = (case.accepted_at or clock_now()).astimezone(BEIJING).date()
    case.clock_state = "running"
    try:
        cal = current_calendar()
        case.statutory_due = due_date(cal, accepted, version.matter.get("statutory_limit"))
        case.promised_due = due_date(cal, accepted, version.matter.get("promised_limit"))
        case.clock_error = None
    except CalendarMissing as exc:
        calendar_missing(case, exc)


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
