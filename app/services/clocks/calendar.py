"""The working-day calendar: seeded from chinesecalendar, edited by administrators, imported per year."""
from __future__ import annotations

import csv
import io
import time
from datetime import date

from flask import current_app
from sqlalchemy import delete, select

from ...domain.errors import NotAuthorized, ValidationError
from ...domain.workdays import WorkCalendar
from ...extensions import db
from ...models import CalendarDay, CalendarYear
from ..common.clock import clock_now as now
from ..identity.actors import SYSTEM, Actor

NAMES_ZH = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
            "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
            "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利纪念日"}


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise NotAuthorized("只有管理员可以维护工作日历")


CACHE_SECONDS = 60


def _bump() -> None:
    """A change here drops this process's cached calendar; other processes re-read within a minute."""
    current_app.extensions["calendar"] = None


def current_calendar() -> WorkCalendar:
    """The calendar as stored, cached for CACHE_SECONDS (and dropped at once on a local change)."""
    cached = current_app.extensions.get("calendar")
    cal = None
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        cal = cached[1]
    if cal is None:
        years = frozenset(db.session.execute(select(CalendarYear.year)).scalars())
        holidays, workdays = set(), set()
        for day, kind in db.session.execute(select(CalendarDay.day, CalendarDay.kind)):
            (holidays if kind == "holiday" else workdays).add(day)
        cal = WorkCalendar(frozenset(holidays), frozenset(workdays), years)
        current_app.extensions["calendar"] = (time.monotonic(), cal)
    return cal


def seed_from_package(actor: Actor = SYSTEM) -> list[int]:
    """Load every year chinesecalendar knows that the table does not have yet. Does not commit."""
    from chinese_calendar import constants
    have = set(db.session.execute(select(CalendarYear.year)).scalars())
    years = sorted({d.year for d in constants.holidays} - have)
    for year in years:
        for day, name in constants.holidays.items():
            if day.year == year:
                db.session.merge(CalendarDay(day=day, kind="holiday", name=NAMES_ZH.get(name, name),
                                             source="chinesecalendar", updated_by=actor.username))
        for day, name in constants.workdays.items():
            if day.year == year:
                db.session.merge(CalendarDay(day=day, kind="workday", name=NAMES_ZH.get(name, name),
                                             source="chinesecalendar", updated_by=actor.username))
        db.session.add(CalendarYear(year=year, source="chinesecalendar", updated_by=actor.username,
                                    note="由 chinesecalendar 软件包导入"))
    if years:
        _bump()
    return years


#: the statutory days off whose Gregorian date never moves (全国年节及纪念日放假办法): what a demo
#: deployment may assume for a year the State Council has not announced yet — never a real one
FIXED_HOLIDAYS = ((1, 1, "元旦"), (5, 1, "劳动节"), (5, 2, "劳动节"), (10, 1, "国庆节"), (10, 2, "国庆节"),
                  (10, 3, "国庆节"))
DEMO_NOTE = "演示数据：仅含固定日期的法定节日（元旦、劳动节、国庆节），无春节等农历节日和调休；正式使用前须按国务院办公厅通知导入"


def seed_demo_years(today: date, actor: Actor = SYSTEM) -> list[int]:
    """For a demo deployment only (``flask demo seed``): this year and the next, where no calendar is
    stored yet, get the fixed-date statutory holidays, marked as demo data, so that the demo's
    deadlines can be computed in December. A real deployment imports the notice instead and a year
    without data keeps failing loudly. Does not commit."""
    have = set(db.session.execute(select(CalendarYear.year)).scalars())
    years = [y for y in (today.year, today.year + 1) if y not in have]
    for year in years:
        for month, day, name in FIXED_HOLIDAYS:
            db.session.merge(CalendarDay(day=date(year, month, day), kind="holiday", name=name, source="demo",
                                         updated_by=actor.username))
        db.session.add(CalendarYear(year=year, source="demo", note=DEMO_NOTE, updated_by=actor.username))
    if years:
        _bump()
    return years


def parse_year_file(text: str, year: int) -> list[tuple[date, str, str]]:
    """A year file: one line per day, ``YYYY-MM-DD,holiday|workday,名称`` (``#`` comments allowed).
    Raises ValidationError naming every bad line."""
    rows, errors = [], {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or not row[0].strip() or row[0].strip().startswith("#"):
            continue
        try:
            day = date.fromisoformat(row[0].strip())
            kind = row[1].strip().lower()
            name = row[2].strip() if len(row) > 2 else ""
            if kind not in {"holiday", "workday"}:
                raise ValueError("second column must be holiday or workday")
            if day.year != year:
                raise ValueError(f"date is not in {year}")
            if kind == "workday" and day.weekday() < 5:
                raise ValueError("an adjusted workday must be a Saturday or Sunday")
            rows.append((day, kind, name[:64]))
        except (ValueError, IndexError) as exc:
            errors[f"line {number}"] = [str(exc)]
    if errors:
        raise ValidationError("日历文件有错误，未导入", details=errors)
    if not rows:
        raise ValidationError("日历文件为空", details={"file": ["no days"]})
    return rows


def import_year(actor: Actor, year: int, text: str, note: str = "") -> int:
    """Replace one year's days with the file's (the State Council's notice for that year). Commits."""
    _require_admin(actor)
    if not 2000 <= year <= 2100:
        raise ValidationError("年份不正确", details={"year": ["out of range"]})
    rows = parse_year_file(text, year)
    try:
        db.session.execute(delete(CalendarDay).where(CalendarDay.day >= date(year, 1, 1),
                                                     CalendarDay.day <= date(year, 12, 31)))
        for day, kind, name in rows:
            db.session.add(CalendarDay(day=day, kind=kind, name=name, source="import", updated_by=actor.username))
        db.session.merge(CalendarYear(year=year, source="import", note=note[:500], updated_by=actor.username,
                                      updated_at=now()))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    _bump()
    return len(rows)


def set_day(actor: Actor, day: date, kind: str | None, name: str = "") -> None:
    """Mark one day a holiday or an adjusted workday, or (kind None) back to the weekday rule. Commits."""
    _require_admin(actor)
    if kind not in {None, "holiday", "workday"}:
        raise ValidationError("类型不正确", details={"kind": ["holiday, workday or empty"]})
    if kind == "workday" and day.weekday() < 5:
        raise ValidationError("调休上班日必须是周六或周日", details={"day": ["not a weekend day"]})
    try:
        db.session.execute(delete(CalendarDay).where(CalendarDay.day == day))
        if kind:
            db.session.add(CalendarDay(day=day, kind=kind, name=name[:64], source="admin", updated_by=actor.username))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    _bump()


def year_days(year: int) -> list[CalendarDay]:
    return list(db.session.execute(select(CalendarDay).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)).order_by(CalendarDay.day)).scalars())


def years() -> list[CalendarYear]:
    return list(db.session.execute(select(CalendarYear).order_by(CalendarYear.year)).scalars())
