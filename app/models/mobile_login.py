"""Mobile sign-in (issue 17): the trusted devices (signed-in browser sessions) of a user, and the
requests of a phone to be signed in — by the QR code a PC session shows, or by a one-time request
that one of the user's trusted devices approves."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime


class TrustedDevice(db.Model):
    """One signed-in browser session (a PC or a phone): the session cookie carries its ``id``
    (``did``); ending the row ends that session only, server-side. A row whose ``session_version``
    is no longer its user's is over too (sign-out, a password change end every session)."""
    __tablename__ = "trusted_devices"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)      # random, in the session cookie
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    method: Mapped[str] = mapped_column(String(32))                      # amr: password, mobile-qr, …
    level: Mapped[int] = mapped_column(Integer)                          # loa (assurance.py)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    via_request: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the mobile request it came from
    created_at = mapped_column(UTCDateTime, nullable=False)
    last_seen_at = mapped_column(UTCDateTime, nullable=False)
    ended_at = mapped_column(UTCDateTime, nullable=True)


class MobileSignInRequest(db.Model):
    """A phone asking to be signed in. ``kind``: qr (a PC session showed a QR code of a one-time URL;
    only the token's SHA-256 is kept) | link (the phone gave a user name; a trusted device approves).
    status: waiting (QR not yet opened) → opened (a phone holds it, waits for the decision) →
    approved | denied → used (the phone signed in). The phone that opened it is bound by the hash of
    a secret kept in its session: nobody else can collect the sign-in."""
    __tablename__ = "mobile_sign_in_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)  # None: unknown name
    origin_device: Mapped[str | None] = mapped_column(String(32), nullable=True)   # the PC that showed the QR
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    code: Mapped[str] = mapped_column(String(8), default="")            # shown on the phone; typed by the approver
    phone_binding: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phone_user_agent: Mapped[str] = mapped_column(String(300), default="")
    phone_ip: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[int | None] = mapped_column(Integer, nullable=True)   # granted on approval
    decided_by_device: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    opened_at = mapped_column(UTCDateTime, nullable=True)
    decided_at = mapped_column(UTCDateTime, nullable=True)
    used_at = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_mobile_sign_in_requests_user_status", "user_id", "status"),)
