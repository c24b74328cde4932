from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class SupervisionEvent(db.Model):
    """电子监察 event (GB/T 39046 table 11): a yellow or red warning on a step or a case, or a system
    alert (calendar missing). Recorded once per (case, task, limit, colour)."""
    __tablename__ = "supervision_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    case_no: Mapped[str | None] = mapped_column(String(50), nullable=True)
    process_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    scope: Mapped[str] = mapped_column(String(8))        # step | case | system
    limit_kind: Mapped[str] = mapped_column(String(16))  # step | promised | statutory | calendar
    colour: Mapped[str] = mapped_column(String(8))       # yellow | red
    rule_id: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)  # handling group
    responsible_department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    due_date = mapped_column(Date, nullable=True)
    at = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_at = mapped_column(UTCDateTime, nullable=True)
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)

    __table_args__ = (Index("ix_supervision_colour_at", "colour", "at"),)


class Notification(db.Model):
    """Outbox of notices to people (SMS, in-app), written in the same transaction as the change that
    causes them, delivered later by a sender job. ``key`` makes writing one idempotent."""
    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # sms | internal
    recipient: Mapped[str] = mapped_column(String(64))  # user name, group code (g:…) or phone
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    template: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    sent_at = mapped_column(UTCDateTime, nullable=True)
    # SMS delivery (migration 0005, app/services/sms.py); status of an SMS: dev (no provider configured) |
    # pending | sending (claimed by a sender until claimed_until) | sent | failed
    provider_sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    next_attempt_at = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    claimed_until = mapped_column(UTCDateTime, nullable=True)
