"""Staff and applicant sign-in with a password (argon2id) and, for users who enrolled, a TOTP code
(RFC 6238) as second factor; lockout after repeated failures of either; a limit of failed attempts
per IP address; the version every browser session of a user carries (sign-out and a password change
raise it, which ends every session cookie issued before).

The lockout holds under parallel attempts: an attempt locks the user's row (SELECT … FOR NO KEY
UPDATE on PostgreSQL, which leaves other tables' foreign-key checks free; on SQLite every transaction
holds the write lock from BEGIN IMMEDIATE) while it reads the lock, checks the password and counts a
failure. Attempts on one account are thus judged one after the other, and once MAX_FAILURES of them
failed the next ones are refused without their password being tried.

An unknown user, a wrong password and a locked account get one answer (BadCredentials: the same text
and status, and each runs one argon2 verification, so the time is alike): the sign-in form tells
nobody which user names exist or are locked."""
from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update

from ...domain import totp
from ...domain.errors import NotAuthenticated, ValidationError
from ...extensions import db
from ...models import User
from ..common.clock import clock_now
from ..common.db_support import is_sqlite
from .actors import Actor, actor_from_user
from .cert_policy import refuse_password
from .rate_limit import hit, refund

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10
#: failed sign-in attempts per IP address (password and code steps together): 20 in 10 minutes
SIGN_IN_IP_LIMIT = (20, 600)
_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not-a-real-password-for-timing")
BAD_CREDENTIALS = ("用户名或密码错误，或账户因多次登录失败已暂时锁定，请稍后再试 "
                   "(wrong user name or password, or the account is locked for a while)")
BAD_CODE = "验证码不正确或已使用 (wrong or already used code)"
TOO_MANY_ATTEMPTS = "登录尝试过于频繁，请{wait}后再试 (too many sign-in attempts from this address)"
_PASSWORD_CHANGED = "identity.password_changed"  # db.session.info key, see take_password_changes


class BadCredentials(NotAuthenticated):
    """The one answer for an unknown user, a wrong password and a locked account."""

    def __init__(self, message: str = BAD_CREDENTIALS):
        super().__init__(message)


class AccountLocked(NotAuthenticated):
    """A locked account at the second step: the password was right, so the lock is no secret to
    whoever is asking (the pending sign-in is dropped; the password must be given again)."""


class SecondFactorRequired(NotAuthenticated):
    """The password was right; the user must now show a TOTP code (``verify_second_factor``).
    ``version`` is the user's session version at that moment: a password change or sign-out before
    the code arrives voids the pending sign-in."""

    def __init__(self, user_id: int, version: int = 0):
        super().__init__("请输入动态验证码 (enter the 6-digit code)")
        self.user_id = user_id
        self.version = version


def set_password(user: User, password: str) -> None:
    """Set the password (≥ MIN_PASSWORD characters) and lift a lock. For an existing account this
    ends all its browser sessions (the web layer keeps the one that made the change)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError("密码至少 10 位", details={"password": [f"at least {MIN_PASSWORD} characters"]})
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    if user.id is not None:
        user.session_version = User.session_version + 1  # one UPDATE: no change is lost to a parallel one
        db.session.info.setdefault(_PASSWORD_CHANGED, set()).add(user.id)


def take_password_changes() -> set[int]:
    """The users whose password this database session changed (and forgets them): the web layer
    keeps the browser session that made the change instead of signing its own user out."""
    return db.session.info.pop(_PASSWORD_CHANGED, set())


def _locked_message(user: User, now) -> str | None:
    if user.locked_until and user.locked_until > now:
        minutes = int((user.locked_until - now).total_seconds() // 60) + 1
        return f"登录失败次数过多，账户已锁定，请 {minutes} 分钟后再试 (account locked)"
    return None


def _count_failure(user: User, now) -> None:
    """One more failure of the row-locked ``user``; the MAX_FAILURES-th locks the account. Commits."""
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= MAX_FAILURES:
        user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        user.failed_logins = 0
    db.session.commit()


def _locked_row(*criteria) -> User | None:
    """The user row, locked until the transaction ends and read fresh (not from the session's cache)."""
    stmt = select(User).where(*criteria).execution_options(populate_existing=True)
    if not is_sqlite():
        stmt = stmt.with_for_update(key_share=True)  # FOR NO KEY UPDATE
    return db.session.execute(stmt).scalar_one_or_none()


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _refuse(password: str) -> BadCredentials:
    """Release the row and spend the time a real check takes, so that an unknown or locked account
    is not told apart from a wrong password by the clock either."""
    db.session.rollback()
    _verify(_DUMMY, password)
    return BadCredentials()


def count_attempt(ip: str | None, prefix: str = "sign-in", limit: tuple[int, int] = SIGN_IN_IP_LIMIT):
    """Count a sign-in attempt from ``ip`` before it is checked (parallel attempts cannot all slip
    under the limit); returns what ``forgive_attempt`` needs once it succeeded. Raises RateLimited
    (429) when the address has used its allowance. Commits."""
    if not ip:
        return None
    key = f"{prefix}:{ip}"[:150]
    return key, limit[1], hit(key, *limit, message=TOO_MANY_ATTEMPTS)


def forgive_attempt(attempt) -> None:
    """A successful sign-in does not use up the address's allowance (only failures do). Commits."""
    if attempt:
        refund(*attempt)
        db.session.commit()


def _password_user(username, password: str) -> User:
    """The active user whose password this is, row still locked (the caller commits). Otherwise
    the failure is counted (a wrong password of a known account) and BadCredentials raised."""
    name = username.strip() if isinstance(username, str) else ""
    user = _locked_row(User.username == name) if name else None
    now = clock_now()
    if user is None or not user.active or not user.password_hash or _locked_message(user, now):
        raise _refuse(password)
    if not _verify(user.password_hash, password):
        _count_failure(user, now)
        raise BadCredentials()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def authenticate(username: str, password: str, ip: str | None = None) -> Actor:
    """The actor for a user name and password; one answer (BadCredentials) for an unknown user, a
    wrong password and a locked account. After MAX_FAILURES failures in a row the account is locked
    for LOCK_MINUTES. With ``ip``, failed attempts per address are limited (RateLimited). Commits.

    A user with TOTP enabled gets SecondFactorRequired instead of an actor: the failure count is
    then kept until the code is right too, so wrong codes count towards the same lock."""
    attempt = count_attempt(ip)
    password = password if isinstance(password, str) else ""
    try:
        user = _password_user(username, password)
        refuse_password(user)  # a role that requires certificate sign-in (cert_policy.py)
        if user.totp_enabled and user.totp_secret:
            user.locked_until = None
            version = user.session_version or 0
            db.session.commit()
            forgive_attempt(attempt)
            raise SecondFactorRequired(user.id, version)
        user.failed_logins, user.locked_until = 0, None
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    forgive_attempt(attempt)
    return actor_from_user(user)


def verify_second_factor(user_id: int, code: str, ip: str | None = None, version: int | None = None) -> Actor:
    """The actor once a user who passed the password shows a valid TOTP code (±30 s, never a code
    already used). A wrong code counts as a failed sign-in (AccountLocked once that locks the
    account). ``version``: the session version of the password step (SecondFactorRequired.version);
    a sign-out or password change since voids the pending sign-in. Commits."""
    attempt = count_attempt(ip)
    try:
        user = _locked_row(User.id == user_id) if isinstance(user_id, int) else None
        if user is None or not user.active or not user.totp_enabled or not user.totp_secret or (
                version is not None and (user.session_version or 0) != version):
            raise BadCredentials()
        now = clock_now()
        locked = _locked_message(user, now)
        if locked:
            raise AccountLocked(locked)
        step = totp.verify(user.totp_secret, code if isinstance(code, str) else "", now.timestamp(),
                           user.totp_last_step)
        if step is None:
            _count_failure(user, now)
            locked = _locked_message(user, now)
            raise AccountLocked(locked) if locked else NotAuthenticated(BAD_CODE)
        user.totp_last_step = step
        user.failed_logins, user.locked_until = 0, None
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    forgive_attempt(attempt)
    return actor_from_user(user)


def password_matches(user_id: int, password: str) -> bool:
    """Whether ``password`` is the user's (asked again before a security setting changes)."""
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not user.password_hash:
        return False
    return _verify(user.password_hash, password or "")


def session_version(user_id: int) -> int:
    """The version a new browser session of this user carries."""
    value = db.session.execute(select(User.session_version).where(User.id == user_id)).scalar_one_or_none()
    return value or 0


def actor_for_session(user_id, version) -> Actor | None:
    """The actor of a browser session: its user is active and the session carries the user's current
    session version (a session from before the column existed counts as version 0)."""
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or (user.session_version or 0) != (version or 0):
        return None
    return actor_from_user(user)


def end_sessions(user_id: int) -> None:
    """Sign-out: raise the user's session version, so that this session cookie and every copy of it
    (and the user's other sessions) stop working — server-side, whatever a browser keeps. Commits."""
    try:
        db.session.execute(update(User).where(User.id == user_id)
                           .values(session_version=User.session_version + 1))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
