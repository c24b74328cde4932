"""Staff and applicant sign-in with a password (argon2id), with lockout after repeated failures."""
from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from ..domain.errors import NotAuthenticated, ValidationError
from ..extensions import db
from ..models import User
from .actors import Actor, actor_from_user
from .clock import clock_now

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not-a-real-password-for-timing")
BAD_CREDENTIALS = "用户名或密码错误 (wrong user name or password)"


def set_password(user: User, password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError("密码至少 10 位", details={"password": [f"at least {MIN_PASSWORD} characters"]})
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None


def authenticate(username: str, password: str) -> Actor:
    """The actor for a user name and password. The same answer for an unknown user and a wrong
    password; after MAX_FAILURES failures in a row the account is locked for LOCK_MINUTES. Commits."""
    user = db.session.execute(select(User).where(User.username == (username or "").strip())).scalar_one_or_none()
    now = clock_now()
    if user is None or not user.active or not user.password_hash:
        try:
            _hasher.verify(_DUMMY, password or "")  # same time either way
        except VerificationError:
            pass
        raise NotAuthenticated(BAD_CREDENTIALS)
    if user.locked_until and user.locked_until > now:
        minutes = int((user.locked_until - now).total_seconds() // 60) + 1
        raise NotAuthenticated(f"登录失败次数过多，账户已锁定，请 {minutes} 分钟后再试 (account locked)")
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
        db.session.commit()
        raise NotAuthenticated(BAD_CREDENTIALS) from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until = 0, None
    db.session.commit()
    return actor_from_user(user)


def actor_for_user_id(user_id: int | None) -> Actor | None:
    if not user_id:
        return None
    user = db.session.get(User, user_id)
    return actor_from_user(user) if user is not None and user.active else None
