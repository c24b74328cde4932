"""Staff and applicant sign-in with a password (argon2id) and, for users who enrolled, a TOTP code
(RFC 6238) as second factor; lockout after repeated failures of either."""
from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from ...domain import totp
from ...domain.errors import NotAuthenticated, ValidationError
from ...extensions import db
from ...models import User
from ..common.clock import clock_now
from .actors import Actor, actor_from_user

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not-a-real-password-for-timing")
BAD_CREDENTIALS = "用户名或密码错误 (wrong user name or password)"
BAD_CODE = "验证码不正确或已使用 (wrong or already used code)"


class SecondFactorRequired(NotAuthenticated):
    """The password was right; the user must now show a TOTP code (``verify_second_factor``)."""

    def __init__(self, user_id: int):
        super().__init__("请输入动态验证码 (enter the 6-digit code)")
        self.user_id = user_id


def set_password(user: User, password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError("密码至少 10 位", details={"password": [f"at least {MIN_PASSWORD} characters"]})
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None


def _locked_message(user: User, now) -> str | None:
    if user.locked_until and user.locked_until > now:
        minutes = int((user.locked_until - now).total_seconds() // 60) + 1
        return f"登录失败次数过多，账户已锁定，请 {minutes} 分钟后再试 (account locked)"
    return None


def _count_failure(user: User, now) -> None:
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= MAX_FAILURES:
        user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        user.failed_logins = 0
    db.session.commit()


def authenticate(username: str, password: str) -> Actor:
    """The actor for a user name and password. The same answer for an unknown user and a wrong
    password; after MAX_FAILURES failures in a row the account is locked for LOCK_MINUTES. Commits.

    A user with TOTP enabled gets SecondFactorRequired instead of an actor: the failure count is
    then kept until the code is right too, so wrong codes count towards the same lock."""
    user = db.session.execute(select(User).where(User.username == (username or "").strip())).scalar_one_or_none()
    now = clock_now()
    if user is None or not user.active or not user.password_hash:
        try:
            _hasher.verify(_DUMMY, password or "")  # same time either way
        except VerificationError:
            pass
        raise NotAuthenticated(BAD_CREDENTIALS)
    locked = _locked_message(user, now)
    if locked:
        raise NotAuthenticated(locked)
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        _count_failure(user, now)
        raise NotAuthenticated(BAD_CREDENTIALS) from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    if user.totp_enabled and user.totp_secret:
        user.locked_until = None
        db.session.commit()
        raise SecondFactorRequired(user.id)
    user.failed_logins, user.locked_until = 0, None
    db.session.commit()
    return actor_from_user(user)


def verify_second_factor(user_id: int, code: str) -> Actor:
    """The actor once a user who passed the password shows a valid TOTP code (±30 s, never a code
    already used). A wrong code counts as a failed sign-in. Commits."""
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not user.active or not user.totp_enabled or not user.totp_secret:
        raise NotAuthenticated(BAD_CREDENTIALS)
    now = clock_now()
    locked = _locked_message(user, now)
    if locked:
        raise NotAuthenticated(locked)
    step = totp.verify(user.totp_secret, code, now.timestamp(), user.totp_last_step)
    if step is None:
        _count_failure(user, now)
        raise NotAuthenticated(_locked_message(user, now) or BAD_CODE)
    user.totp_last_step = step
    user.failed_logins, user.locked_until = 0, None
    db.session.commit()
    return actor_from_user(user)


def password_matches(user_id: int, password: str) -> bool:
    """Whether ``password`` is the user's (asked again before a security setting changes)."""
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def actor_for_user_id(user_id: int | None) -> Actor | None:
    if not user_id:
        return None
    user = db.session.get(User, user_id)
    return actor_from_user(user) if user is not None and user.active else None
