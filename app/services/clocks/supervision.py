"""电子监察: yellow and red warnings on every step limit and on every case's promised and statutory
limits, recorded once each, notified to the handlers and the division chief, listed for inspectors.

Yellow: at most ``WARNING_DAYS`` working days remain (default 1); red: the limit's last day has
passed. A case whose clock is suspended (特别程序) gets no warnings meanwhile. When the step is
done or the case decided, its open warnings are closed with the outcome.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select

from ...domain.case_status import LABELS, CaseStatus
from ...domain.errors import NotAuthorized, ValidationError
from ...domain.groups import GROUPS
from ...domain.workdays import CalendarMissing
from ...extensions import db
from ...models import Case, HumanTask, Matter, SupervisionEvent, User
from ..common.clock import BEIJING, clock_now, today_beijing
from ..common.db_support import insert_once
from ..identity.actors import Actor
from ..identity.org import department_names as org_department_names, role_for_group
from ..messaging.notify import notify_staff
from .calendar import current_calendar
from .deadlines import heal_missing_clocks, system_alert


#: the name of each warning rule (rule_id), as inspectors read it
RULE_NAMES = {
    "YELLOW-STEP": "环节时限即将到期（黄牌）", "RED-STEP": "环节超期（红牌）",
    "YELLOW-CASE-PROMISED": "承诺办结期限即将到期（黄牌）", "RED-CASE-PROMISED": "超承诺办结期限（红牌）",
    "YELLOW-CASE-STATUTORY": "法定办结期限即将到期（黄牌）", "RED-CASE-STATUTORY": "超法定办结期限（红牌）",
    "CALENDAR-AHEAD": "次年工作日历未导入", "CALENDAR-MISSING": "工作日历缺失",
}
#: the stored result of a closed warning: a step done (on time / late, at) or the case's new status.
#: Rows written before issue 19 hold a UTC ISO time and the status code (办件已approved).
_STEP_RESULT = re.compile(r"^(按期|超期)办结于 (\S+(?: \d{2}:\d{2})?)$")
_CASE_RESULT = re.compile(r"^(?:办件已|办件状态：)(.+)$")
_LABEL_STATUS = {label: status for status, label in LABELS.items()}
#: platform roles that are no department of a step
_NOT_DEPARTMENTS = frozenset({"admin", "designer", "inspector"})
NO_DEPARTMENT = "(none)"


def rule_name(rule_id: str | None) -> str:
    return RULE_NAMES.get(rule_id or "", rule_id or "")


def _minutes(ts: datetime) -> str:
    return ts.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def result_text(result: str | None, tr=lambda text: text) -> str:
    """A closed warning's result as people read it, through ``tr`` (the UI's gettext; zh_CN by
    default): the status by its label, the time in Beijing time to the minute."""
    if not result:
        return ""
    step = _STEP_RESULT.match(result)
    if step:
        try:
            at = datetime.fromisoformat(step[2])
        except ValueError:
            at = None
        return tr(f"{step[1]}办结于 {{}}").format(_minutes(at) if at is not None and at.tzinfo else step[2])
    case = _CASE_RESULT.match(result)
    if case:
        raw = case[1].strip()
        status = _LABEL_STATUS.get(raw)
        if status is None:
            try:
                status = CaseStatus(raw)
            except ValueError:
                return result
        return tr("办件状态：{}").format(tr(status.label))
    return result


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
        event.result = f"{'超期' if late else '按期'}办结于 {_minutes(task.completed_at or now)}"
    open_cases = db.session.execute(select(SupervisionEvent, Case).join(Case, Case.id == SupervisionEvent.case_id).where(
        SupervisionEvent.status == "open", SupervisionEvent.scope == "case",
        Case.clock_state.in_(["stopped", "not_started"]))).all()
    for event, case in open_cases:
        event.status, event.resolved_at = "resolved", now
        event.result = f"办件状态：{LABELS.get(case.status, case.status)}"


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


def _department_of(group: str) -> str | None:
    """The department a candidate group belongs to (``investment_chief`` → ``investment``); None for
    a platform role or an expression that was never resolved."""
    group = str(group or "")
    if not group or "$" in group or group in _NOT_DEPARTMENTS:
        return None
    return role_for_group(group)[1] or group


def step_department(task: HumanTask, people: dict[str, User]) -> str | None:
    """The department responsible for a step: its candidate groups' department; for a step given to
    a person (加签, an assignee expression) that person's department. None for the applicant's own
    steps (补正): those are not the agency's time. ``NO_DEPARTMENT`` when nothing names one."""
    for group in task.candidate_groups or ():
        dept = _department_of(group)
        if dept:
            return dept
    person = people.get(task.assignee or task.completed_by or "")
    if person is None and task.candidate_users:
        person = people.get(str(task.candidate_users[0]))
    if person is not None and person.kind == "applicant":
        return None
    for group in (person.groups if person is not None else None) or ():
        dept = _department_of(group)
        if dept:
            return dept
    return NO_DEPARTMENT


def department_names(codes) -> dict[str, str]:
    """Department names by code (app/services/identity/org.py), ``NO_DEPARTMENT`` named too."""
    names = org_department_names(c for c in codes if c != NO_DEPARTMENT)
    names[NO_DEPARTMENT] = "未指定部门"
    return names


def matter_names() -> dict[str, str]:
    return dict(db.session.execute(select(Matter.process_id, Matter.name)).all())


def on_time_rates(actor: Actor, *, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Finished steps with a limit, per department responsible for the step (``step_department``;
    the applicant's own steps are left out) and per matter: how many were done by their last day.
    Rows: key (department code / process id), name, total, on_time, rate."""
    _require_inspector(actor)
    late = and_(HumanTask.completed_at.is_not(None), HumanTask.due_date.is_not(None))
    stmt = select(HumanTask, Case.process_id).join(Case, Case.id == HumanTask.case_id).where(
        HumanTask.state == "completed", late)
    if since:
        stmt = stmt.where(HumanTask.completed_at >= since)
    if until:
        stmt = stmt.where(HumanTask.completed_at < until)
    found = db.session.execute(stmt).all()
    usernames = {u for task, _ in found if not task.candidate_groups
                 for u in (task.assignee, task.completed_by, *(task.candidate_users or ())[:1]) if u}
    people = {u.username: u for u in db.session.execute(
        select(User).where(User.username.in_(usernames))).scalars()} if usernames else {}
    per_dept: dict[str, list[int]] = {}
    per_matter: dict[str, list[int]] = {}
    for task, process_id in found:
        dept = step_department(task, people)
        if dept is None:
            continue
        on_time = task.completed_at.astimezone(BEIJING).date() <= task.due_date
        for bucket, key in ((per_dept, dept), (per_matter, process_id)):
            counts = bucket.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += int(on_time)

    def rows(bucket, names):
        return [{"key": k, "name": names.get(k) or k, "total": t, "on_time": o, "rate": round(o / t, 4) if t else None}
                for k, (t, o) in sorted(bucket.items())]
    return {"departments": rows(per_dept, department_names(per_dept)), "matters": rows(per_matter, matter_names())}


def export_csv(actor: Actor, **filters) -> str:
    events = list_events(actor, limit=100_000, **filters)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["办件编号", "事项", "监察内容", "部门", "规则", "预警类型", "预警时间", "期限", "状态", "处理结果",
                     "责任部门", "规则编码"])
    matters = matter_names()
    for e in events:
        writer.writerow([e.case_no or "", matters.get(e.process_id, e.process_id or ""), e.content,
                         GROUPS.get(e.department, e.department or ""), rule_name(e.rule_id),
                         {"yellow": "黄牌", "red": "红牌"}[e.colour], _minutes(e.at),
                         e.due_date.isoformat() if e.due_date else "", {"open": "开启", "resolved": "已处理"}.get(e.status, e.status),
                         result_text(e.result), GROUPS.get(e.responsible_department, e.responsible_department or ""),
                         e.rule_id])
    return "\ufeff" + out.getvalue()  # BOM: Excel opens UTF-8 CSV correctly
