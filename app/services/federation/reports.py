"""Supervision across levels (issue 14 point 5): each city and county platform reports every case it
handles to the platform of the level above, which keeps them for its supervision pages.

Sending (``_report_status``, an ``on_status`` hook, in the step's transaction): at every status change
of a numbered case, one ``progress`` message to the peer above (the enabled or disabled peer of the
next level whose region contains ours; none registered → nothing is sent), through the outbox (key
``report:<region>:<case no>:<seq>``, order key ``report:<region>:<case no>``: a case's reports leave
in order, and neither wait for nor hold up the case's own 转报 messages). Its body carries no
``origin_case_no`` (that is how it is told from a forwarded case's progress) and no personal data:

    {"report": {"region", "case_no", "matter": {"process_id", "basic_code", "name"}, "status", "label",
                "seq", "submitted_at", "accepted_at", "decided_at", "statutory_due", "promised_due",
                "clock_state", "overdue", "origin": {"region", "case_no"} | null}}

``seq`` counts the case's status changes (it only grows); the times are UTC ``YYYY-MM-DDTHH:MM:SSZ``,
the limits ``YYYY-MM-DD`` (each level's case has its own statutory clock; a case forwarded in names
its origin); ``overdue``: decided after its statutory last day, or open (clock running) past it.

Receiving (``apply_report``, inside the inbox's transaction; forwarding.apply_progress hands it the
``progress`` messages without ``origin_case_no``): the report is checked (``422 bad_report``: nothing
stored), the sender must be below this platform and the report's region the sender's or inside it
(``422 foreign_region``: a city relays its counties, nobody reports for a region not theirs), then
one row per (region, case number) in ``federated_case_reports`` keeps the newest report by ``seq``
(an older one arriving later changes nothing). A newer report is relayed to the peer above this platform, if any, in the same
transaction (a city passes its counties' reports to the province). Answer ``{"ok": true}``.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

from sqlalchemy import func, select

from ...domain.case_status import FINAL, LABELS, CaseStatus
from ...extensions import db
from ...models import Case, CaseEvent, Matter
from ...models.federation_reports import FederatedCaseReport
from ..cases.hooks import on_status
from ..common.clock import BEIJING, clock_now, today_beijing
from ..common.db_support import insert_once, lock_one
from ..messaging import inbox, outbox
from .peers import level_of, own_region, up_peer
from .transport import CHANNEL

#: the level above each level
CLOCK_STATES = frozenset({"not_started", "running", "suspended", "stopped"})
STATUSES = frozenset(s.value for s in CaseStatus)
_REGION = re.compile(r"^[1-9]\d{5}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


# -- regions ---------------------------------------------------------------------------------------

def within(upper: str, region: str) -> bool:
    """``region`` is ``upper`` itself or inside it (a province contains its cities and counties, a
    city its counties)."""
    if region == upper:
        return True
    level = level_of(upper)
    if level == "province":
        return region[:2] == upper[:2]
    if level == "city":
        return region[:4] == upper[:4]
    return False


# -- sending ---------------------------------------------------------------------------------------

def _time(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).strftime(TIME_FORMAT) if value else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def is_overdue(status: str, clock_state: str, statutory_due: date | None, decided_at: datetime | None,
               today: date) -> bool:
    """Decided after the statutory last day, or still open with its clock running past it."""
    if statutory_due is None:
        return False
    if decided_at is not None:
        return decided_at.astimezone(BEIJING).date() > statutory_due
    return status not in FINAL and clock_state == "running" and today > statutory_due


def report_of(case: Case, seq: int) -> dict:
    """The report of one case (no personal data: no applicant, no form data)."""
    matter = db.session.get(Matter, case.process_id)
    here = own_region()
    region = case.region_code if case.region_code and within(here, case.region_code) else here
    origin = {"region": case.origin_region, "case_no": case.origin_case_no} if case.origin_region else None
    status = CaseStatus(case.status)
    return {"region": region, "case_no": case.case_no,
            "matter": {"process_id": case.process_id, "basic_code": (matter.basic_code or "") if matter else "",
                       "name": matter.name if matter else ""},
            "status": status.value, "label": LABELS[status], "seq": seq,
            "submitted_at": _time(case.submitted_at), "accepted_at": _time(case.accepted_at),
            "decided_at": _time(case.decided_at), "statutory_due": _day(case.statutory_due),
            "promised_due": _day(case.promised_due), "clock_state": case.clock_state or "not_started",
            "overdue": is_overdue(status.value, case.clock_state, case.statutory_due, case.decided_at,
                                  today_beijing()),
            "origin": origin}


def _enqueue(to_region: str, report: dict, case_id: int | None) -> None:
    region, case_no = report["region"], report["case_no"]
    outbox.enqueue(CHANNEL, to_region, "progress", {"report": report}, case_id=case_id,
                   order_key=f"report:{region}:{case_no}", key=f"report:{region}:{case_no}:{report['seq']}")


@on_status
def _report_status(case: Case, old: str, new: str, actor: str) -> None:
    if not case.case_no:
        return
    up = up_peer()
    if up is None:
        return
    seq = db.session.execute(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == case.id,
                                                                    CaseEvent.action == "status")).scalar()
    _enqueue(up.region, report_of(case, int(seq or 0)), case.id)


# -- receiving -------------------------------------------------------------------------------------

def _bad(message: str) -> inbox.Refusal:
    return inbox.Refusal("bad_report", f"办件进度报告不正确：{message}", 422)


def _text(d: dict, key: str, max_len: int, *, required: bool = True) -> str:
    value = d.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > max_len or (required and not value.strip()):
        raise _bad(f"{key} 缺失或不正确")
    return value.strip()


def _region(d: dict, key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not _REGION.match(value):
        raise _bad(f"{key} 应为 6 位行政区划代码")
    return value


def _parse_time(d: dict, key: str) -> datetime | None:
    value = d.get(key)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or not _TIME.match(value):
            raise ValueError
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise _bad(f"{key} 应为 YYYY-MM-DDTHH:MM:SSZ 或 null") from None


def _parse_day(d: dict, key: str) -> date | None:
    value = d.get(key)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or not _DAY.match(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(f"{key} 应为 YYYY-MM-DD 或 null") from None


def parse_report(body: dict) -> dict:
    """The report's fields as the table's columns. Raises Refusal ``bad_report``."""
    r = body.get("report") if isinstance(body, dict) else None
    if not isinstance(r, dict):
        raise _bad("缺少 report 对象")
    matter = r.get("matter")
    if not isinstance(matter, dict):
        raise _bad("matter 应为对象")
    status = r.get("status")
    if status not in STATUSES:
        raise _bad("status 不是已知的办件状态")
    seq = r.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2 ** 31:
        raise _bad("seq 应为非负整数")
    clock_state = r.get("clock_state")
    if clock_state not in CLOCK_STATES:
        raise _bad("clock_state 不正确")
    if not isinstance(r.get("overdue"), bool):
        raise _bad("overdue 应为 true 或 false")
    origin = r.get("origin")
    if origin is not None:
        if not isinstance(origin, dict):
            raise _bad("origin 应为对象或 null")
        origin = {"region": _region(origin, "region"), "case_no": _text(origin, "case_no", 50)}
    return {"region": _region(r, "region"), "case_no": _text(r, "case_no", 50),
            "process_id": _text(matter, "process_id", 64, required=False),
            "basic_code": _text(matter, "basic_code", 20, required=False),
            "matter_name": _text(matter, "name", 200, required=False),
            "status": status, "label": _text(r, "label", 50, required=False) or LABELS[CaseStatus(status)],
            "seq": seq, "submitted_at": _parse_time(r, "submitted_at"), "accepted_at": _parse_time(r, "accepted_at"),
            "decided_at": _parse_time(r, "decided_at"), "statutory_due": _parse_day(r, "statutory_due"),
            "promised_due": _parse_day(r, "promised_due"), "clock_state": clock_state, "overdue": r["overdue"],
            "origin": origin}


def relayed(fields: dict) -> dict:
    """A checked report (``parse_report``'s fields) in the shape it came in, to pass it up."""
    return {"region": fields["region"], "case_no": fields["case_no"],
            "matter": {"process_id": fields["process_id"], "basic_code": fields["basic_code"],
                       "name": fields["matter_name"]},
            "status": fields["status"], "label": fields["label"], "seq": fields["seq"],
            "submitted_at": _time(fields["submitted_at"]), "accepted_at": _time(fields["accepted_at"]),
            "decided_at": _time(fields["decided_at"]), "statutory_due": _day(fields["statutory_due"]),
            "promised_due": _day(fields["promised_due"]), "clock_state": fields["clock_state"],
            "overdue": fields["overdue"], "origin": fields["origin"]}


def apply_report(env) -> tuple[dict, int | None]:
    """Keep a lower level's report (inside the inbox's transaction) and relay it up. Refuses
    ``bad_report`` / ``foreign_region`` (422): nothing is stored."""
    fields = parse_report(env.body)
    here = own_region()
    if env.sender == here or not within(here, env.sender):
        raise inbox.Refusal("foreign_region", f"{env.sender} 不是本平台（{here}）的下级平台，不接收其办件进度报告", 422)
    if not within(env.sender, fields["region"]):
        raise inbox.Refusal("foreign_region", f"办件进度报告的地区 {fields['region']} 不属于发送方 {env.sender}", 422)
    ts = clock_now()
    fields["overdue"] = fields["overdue"] or is_overdue(fields["status"], fields["clock_state"],
                                                        fields["statutory_due"], fields["decided_at"], today_beijing())
    if not insert_once(FederatedCaseReport, ("region", "case_no"), via=env.sender, received_at=ts, **fields):
        row = lock_one(FederatedCaseReport, FederatedCaseReport.region == fields["region"],
                       FederatedCaseReport.case_no == fields["case_no"])
        if row.seq >= fields["seq"]:  # an older (or the same) report arriving late: the newer one stays
            return {"ok": True}, None
        for key, value in fields.items():
            setattr(row, key, value)
        row.via, row.received_at = env.sender, ts
    up = up_peer()
    if up is not None and up.region != env.sender:
        _enqueue(up.region, relayed(fields), None)
    return {"ok": True}, None
