"""What operators see of the docking (/admin/integrations) and what supervision is warned of.

Per outside system: whether it is configured and where; what was sent (the outbox rows of its
channel: waiting, delivered, dead, the oldest waiting, the last delivery, the last remote error);
what was received from it (the inbox rows of its channel) and refused (inbox_refusals); the messages
one by one with their case, attempts and the remote's answer or error. ``failing`` is a push that
has failed and is not delivered yet (dead, or waiting after at least one failure); one failing for
longer than DOCKING_ALERT_HOURS is an alert on the supervision page."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from flask import current_app
from sqlalchemy import func, or_, select

from ...extensions import db
from ...models.case import Case
from ...models.exchange import InboxMessage, InboxRefusal, OutboxMessage
from ..common.clock import clock_now
from ..messaging import outbox


@dataclass(frozen=True)
class System:
    key: str
    name: str
    #: the outbox / inbox channel of its messages (None: nothing is queued for it)
    channel: str | None
    #: settings that hold its address; the first set one is shown
    url_settings: tuple[str, ...]
    kinds: dict


SYSTEMS = (
    System("ywtb", "政务服务一张网", "ywtb", ("YWTB_BASE_URL",),
           {"case_stage": "办件信息", "rating": "好差评", "application": "一张网申报", }),
    System("tzxm", "全国投资项目在线审批监管平台", "tzxm", ("TZXM_BASE_URL",), {"result": "审批结果"}),
    System("identity", "统一身份认证", None, ("OIDC_ISSUER", "CAS_BASE_URL"), {}),
)
BY_KEY = {s.key: s for s in SYSTEMS}
STATUSES = ("pending", "sending", "delivered", "dead")


def _url(system: System) -> str:
    """The system's address as shown to operators: without any user:password written into it."""
    for name in system.url_settings:
        value = current_app.config.get(name)
        if value:
            parts = urlsplit(str(value))
            if "@" in parts.netloc:
                parts = parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1])
            return urlunsplit(parts)
    return ""


def _failing_clause(channel: str):
    return (OutboxMessage.channel == channel) & or_(
        OutboxMessage.status == "dead",
        (OutboxMessage.status.in_(outbox.WAITING)) & (OutboxMessage.failures > 0))


def summary(system: System) -> dict:
    """One system's summary (see the module's doc)."""
    url = _url(system)
    row = {"system": system, "url": url, "configured": bool(url), "sent": {}, "received": 0,
           "last_received_at": None, "refused": 0, "failing": 0, "failing_since": None, "alert": False}
    if system.channel:
        stats = outbox.link_stats(system.channel)
        row["sent"] = {
            "waiting": sum(s["waiting"] for s in stats), "dead": sum(s["dead"] for s in stats),
            "delivered": sum(s["delivered"] for s in stats),
            "oldest_waiting_at": min((s["oldest_waiting_at"] for s in stats if s["oldest_waiting_at"]), default=None),
            "last_delivered_at": max((s["last_delivered_at"] for s in stats if s["last_delivered_at"]), default=None),
            "last_error": next((s["last_error"] for s in stats if s["last_error"]), None)}
        row["received"], row["last_received_at"] = db.session.execute(
            select(func.count(), func.max(InboxMessage.received_at)).where(InboxMessage.channel == system.channel)).one()
        row["refused"] = db.session.execute(
            select(func.count()).where(InboxRefusal.channel == system.channel)).scalar()
        row["failing"], row["failing_since"] = _failing(system.channel)
        row["alert"] = _overdue(row["failing_since"])
    return row


def overview() -> list[dict]:
    """One summary per system."""
    return [summary(system) for system in SYSTEMS]


def _failing(channel: str) -> tuple[int, datetime | None]:
    """How many pushes failed and are not delivered, and when the oldest of them was written."""
    return db.session.execute(select(func.count(), func.min(OutboxMessage.created_at))
                              .where(_failing_clause(channel))).one()


def _overdue(since: datetime | None) -> bool:
    alert_after = timedelta(hours=float(current_app.config.get("DOCKING_ALERT_HOURS", 24)))
    return since is not None and clock_now() - since > alert_after


def alerts() -> list[dict]:
    """The systems with a push failing for longer than DOCKING_ALERT_HOURS (for the supervision page):
    one query per system that has a channel."""
    out = []
    for system in SYSTEMS:
        if system.channel:
            failing, since = _failing(system.channel)
            if _overdue(since):
                out.append({"key": system.key, "name": system.name, "failing": failing, "failing_since": since})
    return out


def messages(system_key: str, *, status: str | None = None, case_no: str | None = None, failing: bool = False,
             limit: int = 50, before_id: int | None = None) -> list[dict]:
    """The system's outbox messages, newest first (``before_id`` pages on), with their case number."""
    system = BY_KEY[system_key]
    if system.channel is None:
        return []
    q = select(OutboxMessage, Case.case_no).outerjoin(Case, Case.id == OutboxMessage.case_id) \
        .where(OutboxMessage.channel == system.channel).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        q = q.where(OutboxMessage.status == status)
    if failing:
        q = q.where(_failing_clause(system.channel))
    if case_no:
        q = q.where(Case.case_no == case_no)
    if before_id:
        q = q.where(OutboxMessage.id < before_id)
    return [{"m": m, "case_no": no, "kind_label": system.kinds.get(m.kind, m.kind),
             "stage": (m.payload or {}).get("stage_label") or (m.payload or {}).get("stage") or ""}
            for m, no in db.session.execute(q).all()]


def received(system_key: str, limit: int = 50) -> list[dict]:
    system = BY_KEY[system_key]
    if system.channel is None:
        return []
    q = select(InboxMessage, Case.case_no).outerjoin(Case, Case.id == InboxMessage.case_id) \
        .where(InboxMessage.channel == system.channel).order_by(InboxMessage.id.desc()).limit(limit)
    return [{"m": m, "case_no": no, "kind_label": system.kinds.get(m.kind, m.kind)} for m, no in db.session.execute(q).all()]


def refusals(system_key: str, limit: int = 50) -> list[InboxRefusal]:
    system = BY_KEY[system_key]
    if system.channel is None:
        return []
    return list(db.session.execute(select(InboxRefusal).where(InboxRefusal.channel == system.channel)
                                   .order_by(InboxRefusal.id.desc()).limit(limit)).scalars())


def resend(system_key: str, message_id: str) -> OutboxMessage:
    """Send one of the system's messages again: a dead one goes back to the queue (same message id:
    the other side applies it once); one waiting for its next retry is made due now."""
    system = BY_KEY[system_key]
    m = db.session.execute(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).scalar_one_or_none()
    if m is None or m.channel != system.channel:
        raise LookupError("no such message")
    db.session.rollback()
    return outbox.send_again(message_id)
