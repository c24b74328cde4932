"""The transactional outbox to other systems, and its sender.

One mechanism for every system the platform sends to: the platforms of the other levels
(federation), the 一张网, the investment project platform. A wing above registers a **channel**:
its name, the function that delivers one message over its protocol (``send``), and its retry
policy. Then:

1. ``enqueue`` writes a message in the caller's transaction — the step that causes it commits it or
   nothing: no message for a rolled-back step, no step without its message. Each message gets a
   ``message_id`` (kept on every attempt: the receiver applies it once) and a sequence number on
   its link (channel, peer). An optional ``key`` makes writing idempotent (``result:<case no>``).
2. ``deliver_due`` (the scheduler's outbox job, ``flask outbox send``) claims ONE due message at a
   time in a short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer):
   status ``sending``, ``attempts`` + 1 (the claim's token: it only ever grows, also across a
   ``resend``, so a sender still hanging in an old claim cannot record over a newer one), a lease
   ``claimed_until`` longer than
   one send can take. It calls the channel's ``send`` with no transaction open, then records the
   outcome in its own transaction if the row is still this claim's:
   - ``send`` returns (a dict, the peer's answer) → ``delivered``;
   - it raises ``Retry`` or any other exception (network, 5xx, timeout) → ``pending`` again after
     ``base × 2^(n-1)`` seconds (at most ``max_backoff``; ``n`` counts the failures, ``failures``),
     ``dead`` after ``max_attempts`` failures;
   - it raises ``Defer`` (the peer is disabled here: nothing was tried) → ``pending`` again after
     ``base`` seconds, no failure counted: the message waits as long as it takes;
   - it raises ``Wait`` (the peer took the message but cannot apply it yet: the case there is
     suspended) → ``pending`` again after ``max_backoff`` seconds, no failure counted: the message
     waits as long as the case there does (``max_attempts`` is for a peer that fails, not one that
     asks to wait);
   - it raises ``Refused`` (the peer said the message itself is bad: a 4xx) → ``dead`` at once.
   A sender killed mid-send leaves the row ``sending``; another takes it after the lease. Delivery
   is at least once; the receiver's inbox (inbox.py) makes it take effect once.
3. **Order**: messages with the same non-empty ``order_key`` on one link (one case's messages to one
   peer) leave in the order written: one is not claimed while an earlier one is not ``delivered`` —
   also while that one is ``dead``, so a peer never receives a case's result before its forward.
   Messages of other cases, and messages without an order key, are not held up.
4. ``resend`` puts a ``dead`` message back to ``pending`` (same message id: still applied once).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from ...extensions import db
from ...models.exchange import OutboxLink, OutboxMessage
from ..common.clock import clock_now
from ..common.db_support import insert_once, is_sqlite, lock_one

log = logging.getLogger(__name__)

WAITING = ("pending", "sending")
MAX_ERROR = 2000


class DeliveryError(Exception):
    """A send that did not deliver; ``code`` is a short machine-readable reason."""

    def __init__(self, message: str, code: str = "error"):
        super().__init__(message)
        self.code = code


class Retry(DeliveryError):
    """Not delivered this time (the peer is down, busy or timed out): try again later."""


class Defer(DeliveryError):
    """Nothing was tried (the peer is disabled on this side): wait and try again, without counting a
    failure."""


class Wait(DeliveryError):
    """The peer answered that it cannot apply the message yet (its case is suspended) and nothing was
    applied: try again after the channel's longest backoff, without counting a failure."""


class Refused(DeliveryError):
    """The peer refused the message itself (bad signature, unknown matter …): sending it again as it
    is cannot help. The message goes ``dead`` at once."""


@dataclass(frozen=True)
class Outgoing:
    """What ``send`` gets: the message as written, and which attempt this is (1, 2 …)."""
    id: int
    message_id: str
    channel: str
    peer: str
    seq: int
    kind: str
    payload: dict
    attempt: int
    created_at: datetime


@dataclass(frozen=True)
class Channel:
    name: str
    send: Callable[[Outgoing], dict | None]
    max_attempts: int = 12
    base_seconds: float = 10.0
    max_backoff_seconds: float = 3600.0
    #: how long a claim holds a message: longer than one ``send`` can take
    lease_seconds: float = 120.0


_CHANNELS: dict[str, Channel] = {}


def register_channel(channel: Channel) -> None:
    """Make a channel deliverable (the wing that owns it calls this when the app starts)."""
    if not channel.name or len(channel.name) > 32:
        raise ValueError("a channel name has 1 to 32 characters")
    _CHANNELS[channel.name] = channel


def channels() -> dict[str, Channel]:
    return dict(_CHANNELS)


def backoff_seconds(channel: Channel, attempt: int) -> float:
    return min(channel.max_backoff_seconds, channel.base_seconds * 2 ** max(0, attempt - 1))


# -- writing ---------------------------------------------------------------------------------------

def enqueue(channel: str, peer: str, kind: str, payload: dict, *, case_id: int | None = None,
            order_key: str = "", key: str | None = None) -> OutboxMessage | None:
    """Write one message in the caller's transaction (does not commit). With ``key``, a message of
    that key already written makes this a no-op (returns None). The link's row is locked until the
    caller commits, so sequence numbers follow the commit order of one link."""
    if channel not in _CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}")
    if not peer or len(peer) > 64 or not kind or len(kind) > 32 or len(order_key) > 64:
        raise ValueError("peer (1–64), kind (1–32) and order_key (≤64) characters")
    link = lock_link(channel, peer)  # first: a concurrent writer of the same key commits before we look
    if key is not None and db.session.execute(
            select(OutboxMessage.id).where(OutboxMessage.key == key)).first() is not None:
        return None
    link.last_seq += 1
    seq = link.last_seq
    message = OutboxMessage(message_id=str(uuid.uuid4()), key=key, channel=channel, peer=peer, seq=seq,
                            order_key=order_key, kind=kind, payload=payload, case_id=case_id,
                            status="pending", attempts=0, failures=0, created_at=clock_now(),
                            next_attempt_at=clock_now())
    db.session.add(message)
    db.session.flush()
    return message


def lock_link(channel: str, peer: str) -> OutboxLink:
    """The link's row, locked until the caller commits (created if need be). ``enqueue`` takes it; a
    caller that will write to several links takes them first in the order every step does."""
    _create_link(channel, peer)
    return lock_one(OutboxLink, OutboxLink.channel == channel, OutboxLink.peer == peer)


def _create_link(channel: str, peer: str) -> None:
    """The link's row, created once even when two transactions write its first message at once."""
    if db.session.get(OutboxLink, (channel, peer)) is None:
        insert_once(OutboxLink, ("channel", "peer"), channel=channel, peer=peer, last_seq=0)


# -- sending ---------------------------------------------------------------------------------------

def _due(now: datetime, channel: str | None):
    """Due rows whose earlier messages of the same order key on the same link are all delivered."""
    earlier = aliased(OutboxMessage)
    blocked = and_(OutboxMessage.order_key != "", exists().where(
        earlier.channel == OutboxMessage.channel, earlier.peer == OutboxMessage.peer,
        earlier.order_key == OutboxMessage.order_key, earlier.id < OutboxMessage.id, earlier.status != "delivered"))
    ready = or_(and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now))
    criteria = [ready, ~blocked, OutboxMessage.channel.in_(list(_CHANNELS))]
    if channel is not None:
        criteria.append(OutboxMessage.channel == channel)
    return criteria


def _claim(channel: str | None) -> Outgoing | None:
    now = clock_now()
    stmt = select(OutboxMessage).where(*_due(now, channel)) \
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(1)
    if not is_sqlite():
        stmt = stmt.with_for_update(skip_locked=True, of=OutboxMessage)
    try:
        m = db.session.execute(stmt).scalar_one_or_none()
        if m is None:
            db.session.rollback()
            return None
        spec = _CHANNELS[m.channel]
        m.status, m.attempts = "sending", (m.attempts or 0) + 1
        m.claimed_until, m.last_attempt_at = now + timedelta(seconds=spec.lease_seconds), now
        out = Outgoing(m.id, m.message_id, m.channel, m.peer, m.seq, m.kind, dict(m.payload or {}), m.attempts,
                       m.created_at)
        db.session.commit()
        return out
    except BaseException:
        db.session.rollback()
        raise


def _record(out: Outgoing, reply: dict | None, exc: BaseException | None) -> str:
    """The outcome of one send, written if the row is still this claim's. Returns 'delivered' |
    'retry' | 'dead' | 'lost'."""
    try:
        m = lock_one(OutboxMessage, OutboxMessage.id == out.id, OutboxMessage.status == "sending",
                     OutboxMessage.attempts == out.attempt)
        if m is None:
            db.session.rollback()
            log.warning("outbox %s/%s: lease lost during the send (attempt %d)", out.channel, out.message_id,
                        out.attempt)
            return "lost"
        now, spec = clock_now(), _CHANNELS[out.channel]
        m.claimed_until = None
        if exc is None:
            m.status, m.delivered_at, m.reply, m.next_attempt_at, m.last_error = \
                "delivered", now, reply or {}, None, None
        else:
            code = getattr(exc, "code", type(exc).__name__)
            m.last_error = f"[{code}] {exc}"[:MAX_ERROR]
            if isinstance(exc, Defer):
                m.status, m.next_attempt_at = "pending", now + timedelta(seconds=spec.base_seconds)
            elif isinstance(exc, Wait):
                m.status, m.next_attempt_at = "pending", now + timedelta(seconds=spec.max_backoff_seconds)
            else:
                m.failures = (m.failures or 0) + 1
                if isinstance(exc, Refused) or m.failures >= spec.max_attempts:
                    m.status, m.next_attempt_at = "dead", None
                else:
                    m.status = "pending"
                    m.next_attempt_at = now + timedelta(seconds=backoff_seconds(spec, m.failures))
        outcome = "retry" if m.status == "pending" else m.status
        db.session.commit()
        return outcome
    except BaseException:
        db.session.rollback()
        raise


def deliver_due(limit: int = 100, channel: str | None = None) -> dict:
    """One pass of the sender: claim, send and record up to ``limit`` due messages, one at a time.
    Returns counts ``{"claimed", "delivered", "retry", "dead", "lost"}``."""
    counts = {"claimed": 0, "delivered": 0, "retry": 0, "dead": 0, "lost": 0}
    for _ in range(limit):
        out = _claim(channel)
        if out is None:
            break
        counts["claimed"] += 1
        reply, error = None, None
        try:
            reply = _CHANNELS[out.channel].send(out)
        except Exception as exc:  # every failure is recorded on the row; its kind decides retry or dead
            error = exc
            log.warning("outbox %s to %s (%s, attempt %d) failed: %s", out.kind, out.peer, out.message_id,
                        out.attempt, exc)
        counts[_record(out, reply if isinstance(reply, dict) else None, error)] += 1
    return counts


def resend(message_id: str) -> OutboxMessage:
    """Send a ``dead`` message again (an operator's decision; commits). The message id is kept, so
    a message that did arrive before is not applied twice. Raises LookupError / ValueError."""
    try:
        m = lock_one(OutboxMessage, OutboxMessage.message_id == message_id)
        if m is None:
            raise LookupError("no such message")
        if m.status != "dead":
            raise ValueError("only a dead message can be sent again")
        m.status, m.failures, m.next_attempt_at, m.claimed_until = "pending", 0, clock_now(), None
        db.session.commit()
        return m
    except BaseException:
        db.session.rollback()
        raise


def send_again(message_id: str) -> OutboxMessage:
    """An operator's 重发: a dead message back to the queue (``resend``), one waiting for its next
    attempt due now (``send_now``), e.g. a result the peer asked to wait with (``Wait``) after its case
    was resumed. Raises LookupError, or ValueError for one delivered or being sent."""
    status = db.session.execute(select(OutboxMessage.status).where(OutboxMessage.message_id == message_id)).scalar()
    db.session.rollback()
    if status is None:
        raise LookupError("no such message")
    if status == "dead":
        return resend(message_id)
    if status == "pending":
        return send_now(message_id)
    raise ValueError("已送达或正在发送的消息不能重发 (delivered or being sent)")


def send_now(message_id: str) -> OutboxMessage:
    """Make a message waiting for its next retry due now (an operator who knows the other side is
    back; commits). Its failures so far still count. Raises LookupError / ValueError."""
    try:
        m = lock_one(OutboxMessage, OutboxMessage.message_id == message_id)
        if m is None:
            raise LookupError("no such message")
        if m.status != "pending":
            raise ValueError("only a message waiting for its next attempt can be sent now")
        m.next_attempt_at = clock_now()
        db.session.commit()
        return m
    except BaseException:
        db.session.rollback()
        raise


# -- reading ---------------------------------------------------------------------------------------

def link_stats(channel: str | None = None) -> list[dict]:
    """Per link (channel, peer): messages waiting, dead, delivered, the oldest waiting message's
    creation time, the last delivery and the last error."""
    q = select(OutboxMessage.channel, OutboxMessage.peer,
               func.count().filter(OutboxMessage.status.in_(WAITING)),
               func.count().filter(OutboxMessage.status == "dead"),
               func.count().filter(OutboxMessage.status == "delivered"),
               func.min(OutboxMessage.created_at).filter(OutboxMessage.status.in_(WAITING)),
               func.max(OutboxMessage.delivered_at)).group_by(OutboxMessage.channel, OutboxMessage.peer)
    if channel is not None:
        q = q.where(OutboxMessage.channel == channel)
    out = []
    for ch, peer, waiting, dead, delivered, oldest, last in db.session.execute(q).all():
        error = db.session.execute(
            select(OutboxMessage.last_error).where(OutboxMessage.channel == ch, OutboxMessage.peer == peer,
                                                   OutboxMessage.last_error.is_not(None))
            .order_by(OutboxMessage.last_attempt_at.desc()).limit(1)).scalar()
        out.append({"channel": ch, "peer": peer, "waiting": waiting, "dead": dead, "delivered": delivered,
                    "oldest_waiting_at": oldest, "last_delivered_at": last, "last_error": error})
    return sorted(out, key=lambda r: (r["channel"], r["peer"]))


def retrying(channel: str | None = None, limit: int = 100) -> list[OutboxMessage]:
    """Messages waiting for a next attempt after one did not go through (a failure, or a peer that
    asked to wait, e.g. a result for a case suspended there): the next attempt first. An operator who
    knows the other side is ready can send one now (``send_again``)."""
    return _listed((OutboxMessage.status == "pending", OutboxMessage.last_error.is_not(None)),
                   (OutboxMessage.next_attempt_at, OutboxMessage.id), channel, limit)


def dead_letters(channel: str | None = None, limit: int = 100) -> list[OutboxMessage]:
    """Messages that will not be sent again without an operator: newest first."""
    return _listed((OutboxMessage.status == "dead",), (OutboxMessage.id.desc(),), channel, limit)


def _listed(where: tuple, order: tuple, channel: str | None, limit: int) -> list[OutboxMessage]:
    q = select(OutboxMessage).where(*where).order_by(*order).limit(limit)
    if channel is not None:
        q = q.where(OutboxMessage.channel == channel)
    return list(db.session.execute(q).scalars())
