from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class User(db.Model):
    """A person who acts: staff (工作人员), applicant (申请人) or a system account.

    ``groups`` are candidate-group codes (department/role). API clients authenticate with a bearer
    token whose SHA-256 is ``token_hash``; browser sessions are valid while they carry the current
    ``session_version``."""
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # staff | applicant | system
    groups: Mapped[list] = mapped_column(JSON, default=list)
    region_code: Mapped[str] = mapped_column(String(6), default="320000")
    #: 统一社会信用代码 of an enterprise applicant
    org_code: Mapped[str | None] = mapped_column(String(18), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # argon2id
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until = mapped_column(UTCDateTime, nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    #: TOTP second factor (RFC 6238): base32 secret, enabled once the user has confirmed a code
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no code used twice
    #: the browser sessions of this user carry this number; sign-out and a password change raise it,
    #: so every session cookie issued before (a copy captured by someone else too) stops working
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at = mapped_column(UTCDateTime, default=utcnow)
