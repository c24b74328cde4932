"""The exchange with other systems: the transactional outbox of messages to other platforms (other
levels of the 省市县 network, the 一张网, the investment project platform) and the inbox that makes
each received message take effect once. See app/services/messaging/outbox.py and inbox.py."""
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class OutboxMessage(db.Model):
    """One message to send, written in the transaction of the change that causes it.

    status: ``pending`` (due at ``next_attempt_at``) → ``sending`` (claimed by one sender until
    ``claimed_until``) → ``delivered`` | ``pending`` again (retry, exponential backoff) | ``dead``
    (refused by the peer, or out of attempts; an operator may send it again). ``message_id`` is the
    same on every attempt, so the receiver's inbox applies it once. Messages of one ``order_key`` on
    one link (channel, peer) leave in the order written: one waits while an earlier one is not
    delivered."""
    __tablename__ = "outbox_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    #: idempotent writing: a second message with the same key is not written (e.g. ``result:<case>``)
    key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    peer: Mapped[str] = mapped_column(String(64))
    #: per link (channel, peer): 1, 2, 3 … in the order written
    seq: Mapped[int] = mapped_column(Integer)
    order_key: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    #: claims so far (the claim's token: only grows); ``failures``: failed sends since the last
    #: (re)send, what the retry policy counts
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at = mapped_column(UTCDateTime, nullable=True)
    claimed_until = mapped_column(UTCDateTime, nullable=True)
    last_attempt_at = mapped_column(UTCDateTime, nullable=True)
    delivered_at = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: what the peer answered on delivery (its case number, "duplicate" …)
    reply: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        UniqueConstraint("channel", "peer", "seq", name="uq_outbox_messages_link_seq"),
        Index("ix_outbox_messages_status_due", "status", "next_attempt_at"),
        Index("ix_outbox_messages_order", "channel", "peer", "order_key", "id"),
    )


class OutboxLink(db.Model):
    """The last sequence number given on one link (channel, peer); row-locked while incremented."""
    __tablename__ = "outbox_links"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    peer: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class InboxMessage(db.Model):
    """A message received and applied, kept so that the same message (a retry, a replay) is answered
    with the first answer and applied only once. Written in the transaction that applies it."""
    __tablename__ = "inbox_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``<channel>:<peer>:<message_id>``
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    peer: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    received_at = mapped_column(UTCDateTime, default=utcnow)
    reply: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("channel", "peer", "seq", name="uq_inbox_messages_link_seq"),)


class InboxRefusal(db.Model):
    """A message refused (bad signature, unknown peer, replay, stale, bad content): nothing of it
    took effect; this row is only the record operators see."""
    __tablename__ = "inbox_refusals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    peer: Mapped[str] = mapped_column(String(64))  # as claimed by the message; may be unknown
    message_id: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(32), default="")
    code: Mapped[str] = mapped_column(String(48))
    error: Mapped[str] = mapped_column(Text)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    #: signed by the registered peer it names (stale, replay, refused content): kept; the others
    #: (junk, unknown peers, bad signatures) are throttled by the receiver and pruned first
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    at = mapped_column(UTCDateTime, default=utcnow, index=True)
