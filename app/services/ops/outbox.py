"""The outboxes' backlog: what waits to leave the platform, by channel and peer.

Two outboxes are delivered: ``notifications`` (channel ``sms``: SMS through Twilio, peer ``twilio``;
``internal``: in-app notices, delivered when written) and ``outbox_messages`` (messages to other
systems: channel ``federation`` with one peer per platform of the 省市县 network, and the channels of
the docking with outside systems). A row waits while its status is ``pending`` (or ``sending``,
claimed by a sender). ``outbound_messages`` (messages and signals a process throws) is a record with
no sender, so it is no backlog."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ...extensions import db
from ...models.exchange import OutboxMessage
from ...models.supervision import Notification
from ..common.clock import clock_now

WAITING = ("pending", "sending")


@dataclass(frozen=True)
class Backlog:
    channel: str
    peer: str
    pending: int
    oldest: datetime | None

    def oldest_age_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest).total_seconds()) if self.oldest else 0.0


def backlog() -> list[Backlog]:
    """One entry per (channel, peer) with rows waiting; an empty list when nothing waits."""
    out: list[Backlog] = []
    rows = db.session.execute(
        select(Notification.channel, func.count(), func.min(Notification.created_at))
        .where(Notification.status.in_(WAITING), Notification.channel != "internal")  # delivered when written
        .group_by(Notification.channel)).all()
    out += [Backlog(channel, "twilio" if channel == "sms" else "local", n, oldest) for channel, n, oldest in rows]
    rows = db.session.execute(
        select(OutboxMessage.channel, OutboxMessage.peer, func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status.in_(WAITING)).group_by(OutboxMessage.channel, OutboxMessage.peer)).all()
    out += [Backlog(channel, peer, n, oldest) for channel, peer, n, oldest in rows]
    return sorted(out, key=lambda b: (b.channel, b.peer))


def summary(now: datetime | None = None) -> dict:
    """For /readyz: the total waiting and the oldest waiting row's age, per channel."""
    now = now or clock_now()
    channels: dict[str, dict] = {}
    for b in backlog():
        c = channels.setdefault(b.channel, {"pending": 0, "oldest_age_seconds": 0.0})
        c["pending"] += b.pending
        c["oldest_age_seconds"] = max(c["oldest_age_seconds"], round(b.oldest_age_seconds(now), 1))
    return channels
