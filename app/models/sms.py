"""SMS delivery through Twilio, verification codes, rate limits.

The SMS outbox itself is the ``notifications`` table (app/models/supervision.py, channel ``sms``);
its delivery columns (provider_sid, provider_status, next_attempt_at, last_error, error_code) are
added by migration 0005."""
from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime


class RateBucket(db.Model):
    """One rate-limit key with its sliding window: ``hits`` holds the times (epoch seconds) of the
    hits still inside the window (at most ``limit`` of them), so a row stays small. The row is
    locked while it is read and written, so limits hold across processes."""
    __tablename__ = "rate_buckets"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[list] = mapped_column(JSON, default=list)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)  # last hit + window: then forgettable


class SmsCode(db.Model):
    """A one-time SMS verification code (短信验证码). Only an HMAC of the code is stored.
    status: active | used | superseded | exhausted."""
    __tablename__ = "sms_codes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))          # E.164, +86…
    purpose: Mapped[str] = mapped_column(String(16))        # login | register | progress
    subject: Mapped[str] = mapped_column(String(64), default="")  # e.g. a case number; "" = none
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # wrong attempts so far
    status: Mapped[str] = mapped_column(String(16), default="active")
    used_at = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_sms_codes_lookup", "phone", "purpose", "subject", "status"),)
