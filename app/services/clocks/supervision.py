"""电子监察: yellow and red warnings on every step limit and on every case's promised and statutory
limits, recorded once each, notified to the handlers and the division chief, listed for inspectors.

Yellow: at most ``WARNING_DAYS`` working days remain (default 1); red: the limit's last day has
passed. A case whose clock is suspended (特别程序) gets no warnings meanwhile. When the step is
done or the case decided, its open warnings are closed with the outcome.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select

from ...domain.errors import NotAuthorized, ValidationError
from ...domain.groups import GROUPS
from ...domain.workdays import CalendarMissing
from ...extensions import db
from ...models import Case, HumanTask, SupervisionEvent
from ..common.clock import BEIJING, clock_now, today_beijing
from ..common.db_support import insert_once
from ..identity.actors import Actor
from ..messaging.notify import notify_staff
from .calendar import current_calendar
from .deadlines import heal_missing_clocks, system_alert


def chief_of(groups: list[str]) -> str | None:
    for g in groups or ():
        if f"{g}_chief" in GROUPS:
            return f"{g}_chief"
    return None


def _record(key: str, **fields) -> bool:
    """Insert the event unless one with this key exists (also when another scheduler inserts it at
    the same moment: ON CONFLICT DO NOTHING). True when this call recorded it."""
    return insert_once(SupervisionEvent, "dedup_key", dedup_key=key, at=clock_now(), **fields)


def _colour(cal, today: date, due: date, warn_days: int) -> str | None:
    if today > due:
        return "red"
    if cal.working_days_between(today, due) <= warn_days:
        return "yellow"
    return None


def run_supervision() -> dict:
    """One supervision pass. Commits. Returns counts of new yellow and red events."""
    counts = {"yellow": 0, "red": 0}
    heal_missing_clocks()  # a year imported since: the deadlines that were missing are computed now
    db.session.commit()  # and the cases it locked are free again before the long part of the pass
    today = today_beijing()
    warn_days = int(current_app.config["WARNING_DAYS"])
    cal = current_calendar()
    try:
        horizon = cal.add_working_days(today, warn_days)
    except CalendarMissing as exc:
        system_alert(f"calendar-{exc.year}", f"{exc.year} 年工作日历缺失：期限无法计算，请导入国务院办公厅当年放假安排")
        horizon = today + timedelta(days=warn_days + 14)
    _calendar_ahead(today)

    steps = db.session.execute(
        select(HumanTask, Case).join(Case, Case.id == HumanTask.case_id).where(
            HumanTask.state == "ready", HumanTask.due_date.is_not(None), HumanTask.due_date <= horizon,
            Case.clock_state != "suspended")).all()
    for task, case in steps:
        try:
            colour = _colour(cal, today, task.due_date, warn_days)
        except CalendarMissing:
            continue
        if colour is None:
            continue
        dept = (task.candidate_groups or [None])[0]
        chief = chief_of(task.candidate_groups)
        if _record(f"step:{task.id}:{colour}", case_id=case.id, case_no=case.case_no, process_id=case.process_id,
                   task_id=task.id, scope="step", limit_kind="step", colour=colour,
                   rule_id=f"{colour.upper()}-STEP", department=dept, responsible_department=chief or dept,
                   due_date=task.due_date,
                   content=f"「{task.name}」环节时限 {task.due_date.isoformat()}"
                           f"{'已超期' if colour == 'red' else '即将到期'}"):
            counts[colour] += 1
            handlers = [task.assignee] if task.assignee else \
                [f"g:{g}" for g in task.candidate_groups or ()] + list(task.candidate_users or ())
            notify_staff(case, handlers + ([f"g:{chief}"] if chief else []), f"warning_{colour}",
                         f"warn:step:{task.id}:{colour}", step=task.name, due=task.due_date.isoformat())

    for limit in ("promised", "statutory"):
        column = Case.promised_due if limit == "promised" else Case.statutory_due
        rows = db.session.execute(select(Case).where(Case.clock_state == "running", column.is_not(None),
                                                     column <= horizon)).scalars()
        for case in rows:
            due = getattr(case, f"{limit}_due")
            try:
                colour = _colour(cal, today, due, warn_days)
            except CalendarMissing:
                continue
            if colour is None:
                continue
            current = db.session.execute(select(HumanTask).where(HumanTask.case_id == case.id,
                                                                 HumanTask.state == "ready")).scalars().all()
            groups = sorted({g for t in current for g in (t.candidate_groups or ())})
            chief = chief_of(groups)
            label = "承诺" if limit == "promised" else "法定"
            if _record(f"case:{case.id}:{limit}:{colour}", case_id=case.id, case_no=case.case_no,
                       process_id=case.process_id, scope="case", limit_kind=limit, colour=colour,
                       rule_id=f"{colour.upper()}-CASE-{limit.upper()}", department=groups[0] if groups else None,
                       responsible_department=chief or (groups[0] if groups else None), due_date=due,
                       content=f"办件{label}办结期限 {due.isoformat()}{'已超期' if colour == 'red' else '即将到期'}"):
                counts[colour] += 1
                notify_staff(case, [f"g:{g}" for g in groups] + ([f"g:{chief}"] if chief else []),
                             f"warning_{colour}", f"warn:case:{case.id}:{limit}:{colour}",
                             step=f"{label}办结期限", due=due.isoformat())
    _close_finished()
    db.session.commit()
    return counts


def _calendar_ahead(today: date) -> None:
    """From November on, warn that next year's calendar is missing before any deadline needs it."""
    cal = current_calendar()
    if today.month >= 11 and today.year + 1 not in cal.years:
        year = today.year + 1
        _record(f"system:calendar-ahead-{year}", scope="system", limit_kind="calendar", colour="yellow",
                rule_id="CALENDAR-AHEAD", department="admin", responsible_department="admin",
                content=f"{year} 年工作日历尚未导入：跨年期限将无法计算，请导入国务院办公厅 {year} 年放假安排")


def _close_finished() -> None:
    now = clock_now()
    open_steps = db.session.execute(select(SupervisionEvent, HumanTask).join(
        HumanTask, HumanTask.id == SupervisionEvent.task_id).where(
        SupervisionEvent.status == "open", HumanTask.state != "ready")).all()
    for event, task in open_steps:
        late = task.completed_at and event.due_date and task.completed_at.astimezone(BEIJING).date() > event.due_date
        event.status, event.resolved_at = "resolved", now
        event.result = f"{'超期' if late else '按期'}办结于 {task.completed_at.isoformat() if task.completed_at else now.isoformat()}"
    open_cases = db.session.execute(select(SupervisionEvent, Case).join(Case, Case.id == SupervisionEvent.case_id).where(
        SupervisionEvent.status == "open", SupervisionEvent.scope == "case",
        Case.clock_state.in_(["stopped", "not_started"]))).all()
    for event, case in open_cases:
        event.status, event.resolved_at = "resolved", now
        event.result = f"办件已{case.status}"


# -- reading (inspector) -------------------------------------------------------------------------

def _require_inspector(actor: Actor) -> None:
    if not (actor.is_inspector or actor.is_admin):
        raise NotAuthorized("只有电子监察人员可以查看")


def _filters(stmt, department=None, process_id=None, colour=None, since=None, until=None):
    if department:
        stmt = stmt.where(or_(SupervisionEvent.department == department,
                              SupervisionEvent.responsible_department == department))
    if process_id:
        stmt = stmt.where(SupervisionEvent.process_id == process_id)
    if colour:
        if colour not in {"yellow", "red"}:
            raise ValidationError("颜色只能是 yellow 或 red", details={"colour": ["yellow or red"]})
        stmt = stmt.where(SupervisionEvent.colour == colour)
    if since:
        stmt = stmt.where(SupervisionEvent.at >= since)
    if until:
        stmt = stmt.where(SupervisionEvent.at < until)
    return stmt


def list_events(actor: Actor, *, limit: int = 100, offset: int = 0, **filters) -> list[SupervisionEvent]:
    _require_inspector(actor)
    stmt = _filters(select(SupervisionEvent), **filters).order_by(SupervisionEvent.at.desc(), SupervisionEvent.id.desc())
    return list(db.session.execute(stmt.limit(limit).offset(offset)).scalars())


def overdue_cases(actor: Actor) -> list[Case]:
    """Cases whose statutory or promised limit has passed while their clock still runs."""
    _require_inspector(actor)
    today = today_beijing()
    return list(db.session.execute(select(Case).where(Case.clock_state == "running", or_(
        Case.statutory_due < today, Case.promised_due < today)).order_by(Case.statutory_due)).scalars())


def on_time_rates(actor: Actor, *, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Finished steps with a limit, per department (first candidate group) and per matter: how many
    were done by their last day."""
    _require_inspector(actor)
    late = and_(HumanTask.completed_at.is_not(None), HumanTask.due_date.is_not(None))
    stmt = select(HumanTask, Case.process_id).join(Case, Case.id == HumanTask.case_id).where(
        HumanTask.state == "completed", late)
    if since:
        stmt = stmt.where(HumanTask.completed_at >= since)
    if until:
        stmt = stmt.where(HumanTask.completed_at < until)
    per_dept: dict[str, list[int]] = {}
    per_matter: dict[str, list[int]] = {}
    for task, process_id in db.session.execute(stmt):
        on_time = task.completed_at.astimezone(BEIJING).date() <= task.due_date
        dept = (task.candidate_groups or ["(assignee)"])[0] if not task.assignee else "applicant"
        for bucket, key in ((per_dept, dept), (per_matter, process_id)):
            counts = bucket.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += int(on_time)

    def rows(bucket):
        return [{"key": k, "total": t, "on_time": o, "rate": round(o / t, 4) if t else None}
                for k, (t, o) in sorted(bucket.items())]
    return {"departments": rows(per_dept), "matters": rows(per_matter)}


def export_csv(actor: Actor, **filters) -> str:
    events = list_events(actor, limit=100_000, **filters)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["办件编号", "事项", "监察内容", "部门", "规则", "预警类型", "预警时间", "期限", "状态", "处理结果",
                     "责任部门"])
    for e in events:
        writer.writerow([e.case_no or "", e.process_id or "", e.content, e.department or "", e.rule_id,
                         {"yellow": "黄牌", "red": "红牌"}[e.colour], e.at.strftime("%Y%m%dT%H%M%S"),
                         e.due_date.isoformat() if e.due_date else "", e.status, e.result or "",
                         e.responsible_department or ""])
    return "\ufeff" + out.getvalue()  # BOM: Excel opens UTF-8 CSV correctly
