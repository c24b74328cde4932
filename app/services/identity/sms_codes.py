"""SMS verification codes (短信验证码) for sign-in, registration and the progress query.

A code is 6 random digits (``secrets``), valid ``SMS_CODE_TTL_SECONDS`` (5 minutes), usable once,
scoped to (phone, purpose, subject) — subject is e.g. a case number, so a code asked for one case
does not open another. Only an HMAC of it (keyed with SECRET_KEY) is stored; the SMS text carries it
to the phone through the notifications outbox (app/services/sms.py masks it there once sent or
expired). ``SMS_CODE_MAX_ATTEMPTS`` (5) wrong attempts burn the code.

Both functions **commit** the session (wrong attempts and rate-limit hits must count even when the
request then fails): call them before changing anything else in a request.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from ...domain.errors import ValidationError
from ...extensions import db
from ...models.sms import SmsCode
from ..common.clock import clock_now
from ..common.db_support import is_sqlite
from ..messaging.notify import notify_phone
from ..messaging.phones import normalize_phone
from .rate_limit import check_and_count, hit_all, refusal

PURPOSES = {"login": "登录", "register": "注册", "progress": "查询办件进度"}
SUBJECT_MAX = 64


def _cfg(name: str) -> int:
    return int(current_app.config[name])


def _phone(phone) -> str:
    e164 = normalize_phone(phone)
    if e164 is None:
        raise ValidationError("请输入正确的手机号码", details={"phone": ["请输入正确的11位手机号码"]})
    return e164


def _purpose(purpose) -> str:
    if purpose not in PURPOSES:
        raise ValidationError("验证码用途无效", details={"purpose": ["用途必须是 " + "、".join(PURPOSES)]})
    return purpose


def _subject(subject) -> str:
    if not isinstance(subject, str) or len(subject) > SUBJECT_MAX or "\x00" in subject:
        raise ValidationError("查询对象无效", details={"subject": ["格式不正确"]})
    return subject.strip()


def _hash(phone: str, purpose: str, subject: str, code: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    msg = f"{phone}|{purpose}|{subject}|{code}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def _limits(phone: str, ip: str) -> list[tuple[str, int, int]]:
    return [(f"sms:phone:{phone}", 1, _cfg("SMS_CODE_PHONE_INTERVAL_SECONDS")),
            (f"sms:phone:{phone}", _cfg("SMS_CODE_PHONE_DAILY"), 86400),
            (f"sms:ip:{(ip or 'unknown')[:64]}", _cfg("SMS_CODE_IP_HOURLY"), 3600)]


def request_code(phone: str, purpose: str, ip: str, *, subject: str = "", deliver: bool = True) -> None:
    """Send a fresh code to ``phone`` for ``purpose`` ("login" | "register" | "progress") scoped to
    ``subject``. Raises ValidationError (bad phone, purpose, subject) and RateLimited (per phone
    1 per minute and 10 per day, per IP 30 per hour; settings SMS_CODE_*). Older active codes of the
    same (phone, purpose, subject) are superseded. With ``deliver=False`` the limits are counted
    exactly the same but no code is stored or sent (so a caller can answer alike whether or not the
    thing asked about exists). Commits."""
    e164, purpose, subject = _phone(phone), _purpose(purpose), _subject(subject)
    message = "获取验证码过于频繁，请{wait}后再试"
    if not deliver:
        hit_all(_limits(e164, ip), message=message)
        return
    try:
        retry = check_and_count(_limits(e164, ip))
        if retry:
            raise refusal(retry, message)
        now = clock_now()
        ttl = _cfg("SMS_CODE_TTL_SECONDS")
        db.session.execute(update(SmsCode).where(
            SmsCode.phone == e164, SmsCode.purpose == purpose, SmsCode.subject == subject,
            SmsCode.status == "active").values(status="superseded"))
        code = f"{secrets.randbelow(10 ** 6):06d}"
        row = SmsCode(phone=e164, purpose=purpose, subject=subject, code_hash=_hash(e164, purpose, subject, code),
                      created_at=now, expires_at=now + timedelta(seconds=ttl), attempts=0, status="active")
        db.session.add(row)
        db.session.flush()
        notify_phone(e164, "verification_code", f"code:{row.id}", code=code, minutes=max(1, ttl // 60),
                     purpose=PURPOSES[purpose])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def verify_code(phone: str, purpose: str, code: str, *, subject: str = "") -> None:
    """Check ``code`` for (phone, purpose, subject) and consume it. Raises ValidationError with
    details ``{"code": [message]}``: no code (请先获取验证码), expired (验证码已过期，请重新获取), wrong
    (验证码错误，还可尝试N次), too many attempts (错误次数过多，请重新获取验证码). A wrong attempt is
    committed before raising; success marks the code used and commits."""
    def fail(msg: str):
        return ValidationError(msg, details={"code": [msg]})

    e164, purpose, subject = _phone(phone), _purpose(purpose), _subject(subject)
    try:
        stmt = select(SmsCode).where(SmsCode.phone == e164, SmsCode.purpose == purpose, SmsCode.subject == subject,
                                     SmsCode.status.in_(("active", "exhausted", "used"))) \
            .order_by(SmsCode.id.desc()).limit(1)
        if not is_sqlite():
            stmt = stmt.with_for_update()
        row = db.session.execute(stmt).scalar_one_or_none()
        if row is None:
            raise fail("请先获取验证码")
        if row.status == "used":
            raise fail("验证码已使用，请重新获取")
        max_attempts = _cfg("SMS_CODE_MAX_ATTEMPTS")
        if row.status == "exhausted" or row.attempts >= max_attempts:
            raise fail("错误次数过多，请重新获取验证码")
        if clock_now() >= row.expires_at:
            raise fail("验证码已过期，请重新获取")
        given = code.strip() if isinstance(code, str) else ""
        ok = len(given) == 6 and given.isdigit()
        # constant time; a malformed code is compared too, so timing says nothing
        ok = hmac.compare_digest(_hash(e164, purpose, subject, given if ok else "x"), row.code_hash) and ok
        if not ok:
            row.attempts += 1
            left = max_attempts - row.attempts
            if left <= 0:
                row.status = "exhausted"
            db.session.commit()
            raise fail(f"验证码错误，还可尝试{left}次" if left > 0 else "错误次数过多，请重新获取验证码")
        row.status = "used"
        row.used_at = clock_now()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
