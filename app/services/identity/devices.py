"""Trusted devices: every signed-in browser session (a PC or a phone) is one row of
``trusted_devices`` whose id the session cookie carries (``did``), so that a user can see where he is
signed in (/account/devices) and end one session without ending the others.

A session is valid while its user is active, the session carries the user's session version (sign-out
and a password change raise it: app/services/identity/auth.py) **and** its device row is not ended.
``session_actor`` checks all three in one statement (the user row joined with the device row), so the
per-device check costs no extra query per request. ``last_seen_at`` is written at most every
SEEN_EVERY seconds."""
from __future__ import annotations

import secrets
from sqlalchemy import select, update

from ...domain.errors import NotFound
from ...extensions import db
from ...models import User
from ...models.mobile_login import TrustedDevice
from ..common.clock import clock_now
from .actors import Actor, actor_from_user
from .assurance import LEVEL_NAMES, METHOD_NAMES

SEEN_EVERY = 300


def register(user_id: int, method: str, level: int, user_agent: str = "", ip: str = "",
             via_request: str | None = None) -> str:
    """A new trusted device for a session just signed in; returns its id (for the session). Commits."""
    try:
        device = add(user_id, method, level, user_agent, ip, via_request)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return device.id


def add(user_id: int, method: str, level: int, user_agent: str = "", ip: str = "",
        via_request: str | None = None) -> TrustedDevice:
    """``register`` in the caller's transaction (flushed, not committed)."""
    now = clock_now()
    version = db.session.execute(select(User.session_version).where(User.id == user_id)).scalar_one_or_none()
    device = TrustedDevice(id=secrets.token_urlsafe(16), user_id=user_id, method=(method or "password")[:32],
                           level=int(level or 1), user_agent=(user_agent or "")[:300], ip=(ip or "")[:64],
                           session_version=version or 0, via_request=via_request, created_at=now,
                           last_seen_at=now)
    db.session.add(device)
    db.session.flush()
    return device


def session_actor(user_id, version, device_id) -> tuple[Actor | None, str]:
    """The actor of a browser session carrying ``device_id``, and the device's state: "ok"; "ended"
    (the row was ended or is gone: no actor); "foreign" (the row is another user's — a session whose
    user was switched without signing in, as tests do: the actor stands, the caller drops the device
    id). No actor either when the user is inactive or the version is no longer
    the user's. One SELECT (the user joined with the device; at most every SEEN_EVERY seconds an
    UPDATE of last_seen_at)."""
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not isinstance(device_id, str):
        return None, "ended"
    row = db.session.execute(
        select(User, TrustedDevice.user_id, TrustedDevice.ended_at, TrustedDevice.last_seen_at,
               TrustedDevice.session_version)
        .outerjoin(TrustedDevice, TrustedDevice.id == device_id)
        .where(User.id == user_id)).first()
    if row is None:
        return None, "ended"
    user, owner, ended_at, seen_at, device_version = row
    if owner is None or (owner == user_id and ended_at is not None):
        return None, "ended"
    if not user.active or (user.session_version or 0) != (version or 0):
        return None, "ok"
    if owner != user_id:
        return actor_from_user(user), "foreign"
    now = clock_now()
    changes = {}
    if seen_at is None or (now - seen_at).total_seconds() > SEEN_EVERY:
        changes["last_seen_at"] = now
    if (device_version or 0) != (version or 0):  # the session that changed the password carries on
        changes["session_version"] = version or 0
    if changes:
        try:
            db.session.execute(update(TrustedDevice).where(TrustedDevice.id == device_id).values(**changes))
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return actor_from_user(user), "ok"


def is_active(device_id: str | None, user_id: int | None) -> bool:
    """Whether ``device_id`` is a live session of ``user_id`` (not ended, current session version)."""
    if not device_id or not user_id:
        return False
    row = db.session.execute(
        select(TrustedDevice.ended_at, TrustedDevice.session_version, User.session_version, User.active)
        .join(User, User.id == TrustedDevice.user_id)
        .where(TrustedDevice.id == device_id, TrustedDevice.user_id == user_id)).first()
    return row is not None and row[0] is None and row[3] and (row[1] or 0) == (row[2] or 0)


def list_for(actor: Actor, current: str | None = None) -> list[dict]:
    """The user's live sessions, the newest first; ``current`` marks this one."""
    version = db.session.execute(select(User.session_version).where(User.id == actor.id)).scalar_one_or_none()
    rows = db.session.execute(
        select(TrustedDevice).where(TrustedDevice.user_id == actor.id, TrustedDevice.ended_at.is_(None),
                                    TrustedDevice.session_version == (version or 0))
        .order_by(TrustedDevice.created_at.desc(), TrustedDevice.id)).scalars().all()
    return [{"id": d.id, "method": d.method, "method_name": METHOD_NAMES.get(d.method, d.method),
             "level": d.level, "level_name": LEVEL_NAMES.get(d.level, ""), "user_agent": d.user_agent,
             "ip": d.ip, "created_at": d.created_at, "last_seen_at": d.last_seen_at,
             "kind": "phone" if is_phone(d.user_agent) else "pc", "current": d.id == current} for d in rows]


def end(actor: Actor, device_id: str) -> None:
    """End one of the actor's own sessions (server-side: its cookie stops working). Commits."""
    now = clock_now()
    try:
        done = db.session.execute(
            update(TrustedDevice).where(TrustedDevice.id == str(device_id or "")[:32],
                                        TrustedDevice.user_id == actor.id, TrustedDevice.ended_at.is_(None))
            .values(ended_at=now)).rowcount
        if not done:
            raise NotFound("没有找到该登录设备，或它已退出登录")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def is_phone(user_agent: str | None) -> bool:
    ua = (user_agent or "").lower()
    return any(word in ua for word in ("iphone", "android", "mobile", "harmonyos", "micromessenger"))
