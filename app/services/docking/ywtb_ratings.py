"""好差评 with the 一张网's evaluation system, both ways.

Levels. Ours are GB/T 39046 A.8 (DOMAIN.md §6): 1 非常满意 … 5 非常不满意, 4–5 差评. The national
evaluation system (国办发〔2019〕51号) counts the other way: 5 非常满意 … 1 非常不满意, 1–2 差评. On the
wire every level is on the national scale: ``national = 6 − ours``, for the rating and each indicator.

Out: each rating made here (feedback.evaluations.evaluate) is pushed through the outbox in its
transaction (the feedback wing's ``on_evaluated`` listener; nothing when YWTB_BASE_URL is not set):
channel ``ywtb``, kind ``rating``, key ``ywtb:rating:<evaluation id>``, order key the case number — so
it leaves after every stage of its case. A rating received from the 一张网 is not pushed back.

In: ``POST /api/ywtb/ratings`` (signed like every call of the gateway): once per rating id (inbox
channel ``ywtb``, peer ``ywtb-rating``); linked to the case by our case number (or the 申办流水号 of a
case from the unified entry); stored as the case's evaluation (channel as sent); a 差评 opens a
rectification exactly as one made here (feedback.evaluations.open_rectification). Refusals (422
``bad_payload``, 404 ``unknown_case``, 409 ``not_decided`` / ``already_evaluated``) are recorded in
``inbox_refusals`` and change nothing."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from ...extensions import db
from ...models import Case, Matter
from ...models.docking_ywtb import YwtbApplication, YwtbRating
from ...models.feedback import Evaluation
from ..common.clock import clock_now
from ..feedback import evaluations
from ..feedback.evaluations import BAD_LEVELS, CHANNELS, DECIDED, INDICATORS, LEVELS, on_evaluated, open_rectification
from ..messaging import inbox, outbox
from . import ywtb
from .ywtb import CHANNEL, PEER, GatewayRefusal, wire_time
from .ywtb_intake import serial_no_of

IN_PEER = "ywtb-rating"
KIND = "rating"
RATING_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_\-]{0,35}\Z")
NATIONAL_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


def national(level: int) -> int:
    """Our level (1 best) on the national scale (5 best), and back: the same mapping both ways."""
    return 6 - level


# -- out ------------------------------------------------------------------------------------------

def rating_payload(ev: Evaluation, case: Case) -> dict:
    matter = db.session.get(Matter, case.process_id)
    level = national(ev.level)
    return {"rating_id": str(ev.id), "case_no": case.case_no, "serial_no": serial_no_of(case.id) or case.case_no,
            "matter_code": matter.implementation_code if matter else "", "matter_name": matter.name if matter else "",
            "region_code": case.region_code, "level": level, "level_label": NATIONAL_LABELS[level],
            "bad": ev.level in BAD_LEVELS,
            "indicators": {k: national(v) for k, v in (ev.indicators or {}).items() if isinstance(v, int)},
            "comment": ev.comment or "", "channel": ev.channel, "named": bool(ev.named),
            "rated_at": wire_time(ev.created_at)}


@on_evaluated
def _push(ev: Evaluation, case: Case) -> None:
    if not ywtb.enabled() or not case.case_no:
        return
    outbox.enqueue(CHANNEL, PEER, KIND, rating_payload(ev, case), case_id=case.id, order_key=case.case_no,
                   key=f"ywtb:rating:{ev.id}")


# -- in -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RatingIn:
    rating_id: str
    case_no: str
    level: int  # national scale
    indicators: dict
    comment: str
    channel: str
    named: bool


def _level(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value in LEVELS else None


def parse(body: bytes) -> RatingIn:
    """The rating's fields, checked for shape. Raises GatewayRefusal ``bad_payload``."""
    raw = ywtb.json_object(body)
    errors: dict = {}
    rating_id, case_no = raw.get("rating_id"), raw.get("case_no")
    if not isinstance(rating_id, str) or not RATING_ID.match(rating_id):
        errors["rating_id"] = ["评价编号应为 1–36 位字母、数字、下划线或连字符"]
    if not isinstance(case_no, str) or not 1 <= len(case_no) <= 50:
        errors["case_no"] = ["应为办件编号（或申办流水号）"]
    level = _level(raw.get("level"))
    if level is None:
        errors["level"] = ["应为 1–5 的整数（5 非常满意 … 1 非常不满意）"]
    indicators = raw.get("indicators") or {}
    if not isinstance(indicators, dict) or set(indicators) - set(INDICATORS) or \
            any(_level(v) is None for v in indicators.values()):
        errors["indicators"] = [f"应为 {{{', '.join(INDICATORS)}}} 中各项 1–5 的整数"]
        indicators = {}
    comment = raw.get("comment") if raw.get("comment") is not None else ""
    if not isinstance(comment, str) or len(comment) > 1000:
        errors["comment"] = ["应为不超过 1000 字的文本"]
    channel = raw.get("channel") if raw.get("channel") is not None else "1"
    if not isinstance(channel, str) or channel not in CHANNELS:
        errors["channel"] = [f"应为评价渠道代码 {'、'.join(CHANNELS)} 之一"]
    named = raw.get("named", True)
    if not isinstance(named, bool):
        errors["named"] = ["应为 true 或 false"]
    if errors:
        raise GatewayRefusal("bad_payload", "评价数据格式不正确：" + "；".join(sorted(errors)), 422, errors)
    return RatingIn(rating_id, case_no, level, indicators, comment.strip(), channel, named)


def _case(case_no: str) -> Case | None:
    case = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one_or_none()
    if case is None:
        case_id = db.session.execute(select(YwtbApplication.case_id).where(YwtbApplication.serial_no == case_no)).scalar()
        case = db.session.get(Case, case_id) if case_id is not None else None
    return case


def _apply(r: RatingIn) -> tuple[dict, int]:
    case = _case(r.case_no)
    if case is None:
        raise GatewayRefusal("unknown_case", f"本平台没有办件 {r.case_no}", 404)
    if case.status not in DECIDED or case.decided_at is None:
        raise GatewayRefusal("not_decided", f"办件 {case.case_no} 尚未办结，不能评价", 409)
    if evaluations.evaluated(case.id):
        raise GatewayRefusal("already_evaluated", f"办件 {case.case_no} 已评价，每个办件只能评价一次", 409)
    ours = national(r.level)
    comment = r.comment or ("（一张网差评，未填写原因）" if ours in BAD_LEVELS else "")
    ev = Evaluation(case_id=case.id, process_id=case.process_id, applicant_id=case.applicant_id, level=ours,
                    indicators={k: national(v) for k, v in r.indicators.items()}, comment=comment,
                    channel=r.channel, named=r.named, created_at=clock_now())
    db.session.add(ev)
    db.session.flush()
    rectification = open_rectification(case, ev) if ours in BAD_LEVELS else None
    db.session.add(YwtbRating(rating_id=r.rating_id, evaluation_id=ev.id, case_id=case.id, level_sent=r.level,
                              received_at=clock_now()))
    db.session.flush()
    return {"case_no": case.case_no, "evaluation_id": ev.id, "level": ours,
            "rectification_id": rectification.id if rectification is not None else None}, case.id


def receive_rating(headers, method: str, path: str, query: str, body: bytes, remote_addr: str = "") -> tuple[dict, bool]:
    """One rating from the gateway: checked, then applied once. Returns (answer, duplicate). Raises
    GatewayRefusal (recorded)."""
    ywtb.authenticate(headers, method, path, query, body, remote_addr, peer=IN_PEER, kind=KIND)
    try:
        r = parse(body)
    except GatewayRefusal as refusal:
        ywtb.refuse(refusal, peer=IN_PEER, message_id="", kind=KIND, remote_addr=remote_addr)
    db.session.rollback()
    return inbox.receive(CHANNEL, IN_PEER, r.rating_id, None, KIND, lambda: _apply(r), remote_addr=remote_addr)
