"""Certificate sign-in of staff (issue 17): certificates bound to users, single-use login challenges,
signed attempts with a certificate bound to nobody (for an administrator to bind), the per-role policy
and the audit of binding changes. Models never commit."""
from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class UserCertificate(db.Model):
    """A certificate bound to a staff user: found again by issuer + serial number (and by the SHA-256 of
    its DER, unique). ``subject_serial`` is the subject's serialNumber (ID/employee number) if any."""
    __tablename__ = "user_certificates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    serial_hex: Mapped[str] = mapped_column(String(80))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(500))
    subject_serial: Mapped[str | None] = mapped_column(String(64), nullable=True)
    algorithm: Mapped[str] = mapped_column(String(16))          # sm2 | ecdsa | rsa
    not_before = mapped_column(UTCDateTime, nullable=False)
    not_after = mapped_column(UTCDateTime, nullable=False)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    bound_by: Mapped[str] = mapped_column(String(64))
    bound_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_used_at = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (UniqueConstraint("issuer", "serial_hex", name="uq_user_certificates_issuer_serial"),)


class CertChallenge(db.Model):
    """A single-use nonce for one browser session (``session_hash``: SHA-256 of a random value kept in
    the session cookie); used once (``used_at``) or never after ``expires_at``."""
    __tablename__ = "cert_challenges"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    session_hash: Mapped[str] = mapped_column(String(64))
    created_at = mapped_column(UTCDateTime, nullable=False)
    expires_at = mapped_column(UTCDateTime, nullable=False, index=True)
    used_at = mapped_column(UTCDateTime, nullable=True)


class CertLoginAttempt(db.Model):
    """A correctly signed login with a valid certificate that is bound to no user: kept (certificate,
    time, address) so that an administrator can bind it from /admin/users."""
    __tablename__ = "cert_login_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at = mapped_column(UTCDateTime, nullable=False, index=True)
    ip: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    issuer: Mapped[str] = mapped_column(String(500))
    serial_hex: Mapped[str] = mapped_column(String(80))
    der: Mapped[bytes] = mapped_column(LargeBinary)


class CertRolePolicy(db.Model):
    """Per role (app.domain.org.ROLES): its holders must sign in with a certificate (password refused),
    and/or their decisions need HIGH assurance (a certificate sign-in)."""
    __tablename__ = "cert_role_policies"
    role_code: Mapped[str] = mapped_column(ForeignKey("roles.code"), primary_key=True)
    require_certificate: Mapped[bool] = mapped_column(Boolean, default=False)
    decision_high: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at = mapped_column(UTCDateTime, nullable=False)


class CertAudit(db.Model):
    """Who bound or unbound which certificate of whom, or changed a role's policy, and when."""
    __tablename__ = "cert_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at = mapped_column(UTCDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))            # bind | unbind | policy
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str] = mapped_column(String(1000))

    __table_args__ = (Index("ix_cert_audit_user", "user_id", "at"),)
