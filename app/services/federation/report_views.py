"""Supervision across levels, read side: what the lower levels reported (federated_case_reports,
kept by reports.py), per region and per case, for the supervision pages (inspectors and
administrators, as the rest of 电子监察).

Per reporting region: cases reported, decided, decided on time (of the decided cases that had a
statutory limit: decided by its last day), the on-time rate, and the open cases past their statutory
last day with their clock running (computed with today's date here, so a case that became overdue
since its last report counts). Per region, its cases with the overdue ones first.
"""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import and_, case as when, func, not_, or_, select

from ...domain.case_status import FINAL
from ...domain.errors import NotAuthorized, NotFound
from ...extensions import db
from ...models import Region
from ...models.federation import FederationPeer
from ...models.federation_reports import FederatedCaseReport as R
from ..common.clock import BEIJING, today_beijing
from ..identity.actors import Actor
from .peers import level_of

_REGION = re.compile(r"^[1-9]\d{5}$")
FINAL_VALUES = sorted(s.value for s in FINAL)
#: the most cases a drill-down lists
CASES_LIMIT = 500


def _require_inspector(actor: Actor) -> None:
    if not (actor.is_inspector or actor.is_admin):
        raise NotAuthorized("只有电子监察人员可以查看")


def _open_overdue(today: date):
    """Open (not decided, not final), the clock running, past the statutory last day."""
    return and_(R.decided_at.is_(None), R.status.not_in(FINAL_VALUES), R.clock_state == "running",
                R.statutory_due.is_not(None), R.statutory_due < today)


def region_names(codes) -> dict[str, str]:
    """Names from the regions table, else the peer's name, else the code."""
    codes = sorted(set(codes))
    if not codes:
        return {}
    names = {c: n for c, n in db.session.execute(select(Region.code, Region.name).where(Region.code.in_(codes)))}
    for c, n in db.session.execute(select(FederationPeer.region, FederationPeer.name)
                                   .where(FederationPeer.region.in_([c for c in codes if c not in names]))):
        names[c] = n
    return {c: names.get(c, c) for c in codes}


def region_summaries(actor: Actor) -> list[dict]:
    """One row per reporting region, by region code: ``region``, ``name``, ``level``, ``reported``,
    ``decided``, ``timed`` (decided with a statutory limit), ``on_time``, ``rate`` (on_time / timed,
    None without any), ``open_overdue``, ``last_report_at``."""
    _require_inspector(actor)
    today = today_beijing()
    decided = R.decided_at.is_not(None)
    timed = and_(decided, R.statutory_due.is_not(None))
    stmt = select(R.region, func.count(R.id),
                  func.sum(when((decided, 1), else_=0)),
                  func.sum(when((timed, 1), else_=0)),
                  func.sum(when((and_(timed, not_(R.overdue)), 1), else_=0)),
                  func.sum(when((_open_overdue(today), 1), else_=0)),
                  func.max(R.received_at)).group_by(R.region).order_by(R.region)
    rows = db.session.execute(stmt).all()
    names = region_names(r[0] for r in rows)
    out = []
    for region, reported, n_decided, n_timed, on_time, open_overdue, last in rows:
        n_timed, on_time = int(n_timed or 0), int(on_time or 0)
        out.append({"region": region, "name": names[region], "level": level_of(region), "reported": int(reported),
                    "decided": int(n_decided or 0), "timed": n_timed, "on_time": on_time,
                    "rate": round(on_time / n_timed, 4) if n_timed else None,
                    "open_overdue": int(open_overdue or 0), "last_report_at": last})
    return out


def _day(value) -> str | None:
    return value.isoformat() if value else None


def region_cases(actor: Actor, region: str, *, limit: int = CASES_LIMIT) -> dict:
    """A region's reported cases, the overdue ones first (open overdue, then decided late), then by
    statutory last day. Raises NotFound for a region nothing was reported of."""
    _require_inspector(actor)
    if not isinstance(region, str) or not _REGION.match(region):
        raise NotFound("没有该地区的办件报告")
    today = today_beijing()
    open_overdue = _open_overdue(today)
    late = or_(open_overdue, R.overdue.is_(True))
    stmt = select(R, open_overdue.label("open_overdue")).where(R.region == region).order_by(
        when((open_overdue, 0), (R.overdue.is_(True), 1), else_=2),
        when((R.statutory_due.is_(None), 1), else_=0), R.statutory_due, R.case_no).limit(limit)
    found = db.session.execute(stmt).all()
    if not found:
        raise NotFound("没有该地区的办件报告")
    overdue_total = db.session.execute(select(func.count(R.id)).where(R.region == region, late)).scalar()
    total = db.session.execute(select(func.count(R.id)).where(R.region == region)).scalar()
    cases = []
    for row, is_open_overdue in found:
        cases.append({"case_no": row.case_no, "process_id": row.process_id, "basic_code": row.basic_code,
                      "matter": row.matter_name or row.process_id, "status": row.status, "label": row.label,
                      "seq": row.seq,
                      "submitted_at": row.submitted_at, "accepted_at": row.accepted_at, "decided_at": row.decided_at,
                      "accepted_on": _day(row.accepted_at.astimezone(BEIJING).date()) if row.accepted_at else None,
                      "decided_on": _day(row.decided_at.astimezone(BEIJING).date()) if row.decided_at else None,
                      "statutory_due": _day(row.statutory_due), "promised_due": _day(row.promised_due),
                      "clock_state": row.clock_state, "overdue": bool(is_open_overdue) or bool(row.overdue),
                      "open_overdue": bool(is_open_overdue), "origin": row.origin, "via": row.via,
                      "received_at": row.received_at})
    return {"region": region, "name": region_names([region])[region], "level": level_of(region), "total": int(total),
            "overdue": int(overdue_total), "cases": cases, "limited": int(total) > len(cases)}
