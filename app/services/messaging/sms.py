"""SMS delivery through Twilio: the sender of the ``notifications`` outbox (channel ``sms``).

Rows are written by app/services/notify.py in the same transaction as the change that causes them:
``pending`` when Twilio is configured, ``dev`` otherwise (they then stay for the development outbox
page, /dev/outbox). ``deliver_pending`` (the scheduler's sender job and ``flask sms send``):

1. claims ONE due row in a short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
   senders never take the same row; SQLite has one writer): status ``sending``, ``attempts`` + 1 (the
   claim's token) and a lease until ``claimed_until`` longer than a send can take (3 x
   TWILIO_TIMEOUT_SECONDS + 60 s). A sender that dies mid-send leaves the row, taken again after its
   lease. One row at a time, not a batch: with a slow provider a batch sent one by one outlives the
   lease of its last rows (50 rows x 2 s > 90 s), another sender takes them again and they go out twice;
2. sends it through the twilio SDK (``Client.messages.create``) with no transaction open — Twilio's
   Messages API takes no idempotency key, so the lease is what keeps a row to one sender;
3. records the answer in its own transaction, if the row is still this claim's (``sending`` with the
   claim's attempt number; else another sender took it after the lease and records it itself): ``sent``
   with the message SID and Twilio's status;
   on 429, 5xx, 401 (credentials) or a network error ``pending`` again with exponential backoff
   (SMS_RETRY_BASE_SECONDS x 2^(attempt-1)) until SMS_MAX_ATTEMPTS, then ``failed``; on other 4xx
   answers (21211 invalid 'To' number, 21610 unsubscribed …) ``failed`` at once, with Twilio's error
   code and message.

Delivery is at least once: a sender killed between Twilio's answer and the record may leave a row
that is sent again after its lease. Verification codes are masked in the stored text once sent,
failed or expired, so the code does not stay in the database in clear.
"""
from __future__ import annotations

import logging
import re
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from ...extensions import db
from ...models import Notification
from ..common.clock import clock_now
from ..common.db_support import is_sqlite
from .notify import sms_configured
from .phones import normalize_phone

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
MASK = "******"
_CODE = re.compile(r"(验证码为)\d{4,8}")


def _http_client(base_url: str, timeout: float):
    """A twilio HTTP client that sends to ``base_url`` instead of https://api.twilio.com (a local
    stand-in in tests, a gateway in some networks); the SDK still builds and parses every request."""
    from twilio.http.http_client import TwilioHttpClient

    class RebasedHttpClient(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            if base_url and url.startswith(TWILIO_API):
                url = base_url.rstrip("/") + url[len(TWILIO_API):]
            return super().request(method, url, *args, **kwargs)

    client = RebasedHttpClient(timeout=timeout)
    if base_url:
        client.session.trust_env = False  # no proxy from the environment for a local host
    return client


def twilio_client():
    """The twilio REST client for the app's settings (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
    TWILIO_BASE_URL, TWILIO_TIMEOUT_SECONDS)."""
    from twilio.rest import Client
    cfg = current_app.config
    return Client(cfg["TWILIO_ACCOUNT_SID"], cfg["TWILIO_AUTH_TOKEN"],
                  http_client=_http_client(cfg.get("TWILIO_BASE_URL") or "", float(cfg["TWILIO_TIMEOUT_SECONDS"])))


def mask_code(text: str) -> str:
    return _CODE.sub(lambda m: m.group(1) + MASK, text)


def _mask(n: Notification) -> None:
    if n.template == "verification_code" and (n.payload or {}).get("code") != MASK:
        n.text = mask_code(n.text)
        n.payload = {**(n.payload or {}), "code": MASK}


def _classify(exc: Exception) -> tuple[bool, str | None, str]:
    """(retry?, error code, message) for a failed send."""
    from twilio.base.exceptions import TwilioRestException, TwilioServiceException
    if isinstance(exc, (TwilioRestException, TwilioServiceException)):
        status = int(exc.status or 0)
        code = str(exc.code) if exc.code is not None else str(status)
        msg = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "") or ""
        retry = status == 429 or status >= 500 or status == 401 or status == 0
        return retry, code, f"HTTP {status}: {msg}"[:1000]
    return True, None, f"{type(exc).__name__}: {exc}"[:1000]


def _expire_codes(now) -> int:
    """Verification-code SMS older than a code's validity: mask them; never send them late."""
    ttl = int(current_app.config["SMS_CODE_TTL_SECONDS"])
    rows = db.session.execute(select(Notification).where(
        Notification.channel == "sms", Notification.template == "verification_code",
        Notification.created_at <= now - timedelta(seconds=ttl), ~Notification.text.contains("验证码为" + MASK),
        Notification.status.in_(("dev", "pending", "sent", "failed")))).scalars().all()
    changed = 0
    for n in rows:
        _mask(n)
        if n.status == "pending":
            n.status, n.last_error, n.next_attempt_at = "failed", "验证码已过期，未发送", None
        changed += 1
    return changed


def lease_seconds() -> float:
    """How long a claim holds a row: longer than one send can take (the twilio client's timeout)."""
    return float(current_app.config["TWILIO_TIMEOUT_SECONDS"]) * 3 + 60


def _claim(limit: int) -> list[tuple[int, str, str, int]]:
    """Take up to ``limit`` due rows; returns (id, to, body, attempt number) and commits. The sender
    takes one at a time (see the module's docstring): the lease only covers one send."""
    now = clock_now()
    lease = timedelta(seconds=lease_seconds())
    due = or_(and_(Notification.status == "pending",
                   or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now)),
              and_(Notification.status == "sending", Notification.claimed_until < now))
    stmt = select(Notification).where(Notification.channel == "sms", due) \
        .order_by(Notification.next_attempt_at, Notification.id).limit(limit)
    if not is_sqlite():
        stmt = stmt.with_for_update(skip_locked=True)
    try:
        rows = db.session.execute(stmt).scalars().all()
        claimed = []
        for n in rows:
            n.status, n.claimed_until, n.attempts = "sending", now + lease, (n.attempts or 0) + 1
            claimed.append((n.id, n.recipient, n.text, n.attempts))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return claimed


def _send(client, to: str, body: str):
    cfg = current_app.config
    kwargs = {"to": to, "body": body}
    if cfg.get("TWILIO_MESSAGING_SERVICE_SID"):
        kwargs["messaging_service_sid"] = cfg["TWILIO_MESSAGING_SERVICE_SID"]
    else:
        kwargs["from_"] = cfg["TWILIO_FROM_NUMBER"]
    if cfg.get("TWILIO_STATUS_CALLBACK_URL"):
        kwargs["status_callback"] = cfg["TWILIO_STATUS_CALLBACK_URL"]
    return client.messages.create(**kwargs)


def _record(nid: int, attempt: int, message=None, exc: Exception | None = None) -> str:
    """Write one send's outcome if the row is still this claim's; returns 'sent' | 'retry' |
    'failed' | 'lost'."""
    cfg = current_app.config
    try:
        n = db.session.execute(select(Notification).where(
            Notification.id == nid, Notification.status == "sending", Notification.attempts == attempt)
            .with_for_update()).scalar_one_or_none()
        if n is None:  # taken over after its lease expired: the other sender records
            db.session.rollback()
            log.warning("SMS %s: lease lost during the send (attempt %d); the sender that took it records", nid,
                        attempt)
            return "lost"
        now = clock_now()
        n.claimed_until = None
        if exc is None:
            n.status, n.sent_at = "sent", now
            n.provider_sid, n.provider_status = message.sid, str(message.status or "queued")
            n.error_code = str(message.error_code) if message.error_code else None
            n.last_error = message.error_message or None
            n.next_attempt_at = None
            outcome = "sent"
        else:
            retry, code, text = _classify(exc)
            n.error_code, n.last_error = code, text
            if retry and attempt < int(cfg["SMS_MAX_ATTEMPTS"]):
                n.status = "pending"
                n.next_attempt_at = now + timedelta(seconds=int(cfg["SMS_RETRY_BASE_SECONDS"]) * 2 ** (attempt - 1))
                outcome = "retry"
            else:
                n.status, n.next_attempt_at = "failed", None
                outcome = "failed"
        if n.status in ("sent", "failed"):
            _mask(n)
        db.session.commit()
        return outcome
    except BaseException:
        db.session.rollback()
        raise


def deliver_pending(limit: int | None = None) -> dict:
    """One pass of the sender: send the due SMS of the outbox (at most ``limit``, default SMS_BATCH).
    Returns counts ``{"claimed", "sent", "retry", "failed", "lost", "expired", "configured"}``. Claims,
    sends and records one row after the other. Commits; without Twilio settings it sends nothing (rows
    stay ``dev``)."""
    counts = {"claimed": 0, "sent": 0, "retry": 0, "failed": 0, "lost": 0, "expired": 0,
              "configured": sms_configured()}
    try:
        counts["expired"] = _expire_codes(clock_now())
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if not counts["configured"]:
        return counts
    client = None
    for _ in range(int(limit or current_app.config["SMS_BATCH"])):
        claimed = _claim(1)
        if not claimed:
            break
        counts["claimed"] += 1
        nid, to, body, attempt = claimed[0]
        client = client or twilio_client()
        message, error = None, None
        try:
            message = _send(client, to, body)
        except Exception as exc:  # every failure is recorded on the row; the next pass decides
            error = exc
            log.warning("SMS %s to …%s failed (attempt %d): %s", nid, to[-4:], attempt,
                        _classify(exc)[2])  # (a phone number is personal data: its last four digits only)
        outcome = _record(nid, attempt, message, error)
        if outcome in counts:
            counts[outcome] += 1
    return counts


def apply_status_callback(sid: str, status: str, error_code: str | None = None) -> bool:
    """Twilio's status callback (queued → sent → delivered | undelivered | failed) for message
    ``sid``. Returns False when no SMS has that SID. Commits."""
    if not sid or len(sid) > 64 or not status or len(status) > 32:
        return False
    try:
        values = {"provider_status": status}
        if error_code:
            values["error_code"] = str(error_code)[:16]
        if status in ("failed", "undelivered"):
            values["last_error"] = f"Twilio: {status}" + (f" ({error_code})" if error_code else "")
        found = db.session.execute(update(Notification).where(Notification.provider_sid == sid)
                                   .values(**values)).rowcount
        db.session.commit()
        return bool(found)
    except BaseException:
        db.session.rollback()
        raise


def recent_sms(phone: str | None = None, limit: int = 100) -> list[Notification]:
    """The newest SMS of the outbox, optionally for one phone (any accepted spelling of it)."""
    stmt = select(Notification).where(Notification.channel == "sms")
    if phone:
        stmt = stmt.where(Notification.recipient.in_({phone.strip()[:64], normalize_phone(phone) or phone.strip()[:64]}))
    return list(db.session.execute(stmt.order_by(Notification.id.desc()).limit(limit)).scalars())
