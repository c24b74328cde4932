"""Signing a phone in from a session the user already has (issue 17, mobile identity).

Two ways, one request table (``mobile_sign_in_requests``):

- **QR code** (``kind`` qr): a signed-in PC session asks for a one-time URL (``start_qr``: a random
  256-bit token, only its SHA-256 stored, QR_SECONDS to be opened, once). The phone opens it
  (``open_qr``): the request is bound to that phone (the hash of a secret kept in the phone's
  session) and the phone shows a short code; the PC session — same user, still valid — confirms by
  typing that code, or refuses (``decide``); the phone then collects its session (``collect``), once.
- **one-time request** (``kind`` link): on the phone's sign-in page the user gives his user name
  (``start_link``, limited per IP address and per user name); every live session of his
  (/account/devices: a PC, or a phone signed in before) sees the request with the phone's user agent
  and address, and approves it by typing the code the phone shows, or refuses it. An unknown or
  inactive user name gets a request as well, which nobody can see or approve: the phone's page looks
  the same whatever the name.

Approving always needs the 6-digit code shown on the requesting phone (the approving screen never
shows it): whoever merely knows a user name cannot get a sign-in approved by a reflexive click
("push fatigue"), and the approver proves the phone in his hand is the one asking. A wrong code is
refused and counts (a rate bucket per request, app/services/identity/rate_limit.py); the
CODE_ATTEMPTS-th wrong code denies the request. Refusing needs no code.

The phone's level is ``assurance.phone_level`` of the deciding session's: at most SUBSTANTIAL, also
when a certificate (HIGH) session confirms — the USB key stays with the PC. A request is decided
within CONFIRM_SECONDS of being opened and collected within CONFIRM_SECONDS of the decision; every
step is a conditional UPDATE on the request's status, so each happens once even in parallel."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from ...domain.errors import Conflict, NotFound, ValidationError
from ...extensions import db
from ...models import User
from ...models.mobile_login import MobileSignInRequest
from ..common.clock import clock_now
from ..common.db_support import commit as _commit
from . import devices
from .actors import Actor
from .assurance import phone_level
from .rate_limit import check_and_count, hit_all

QR_SECONDS = 120        # the QR code's URL is good for 2 minutes, once
CONFIRM_SECONDS = 120   # from opening to the decision, and from the decision to the phone's sign-in
LINK_SECONDS = 180      # a one-time request waits this long for a trusted device
LINK_IP_LIMIT = (10, 600)     # one-time requests per IP address: 10 in 10 minutes
LINK_USER_LIMIT = (3, 600)    # … and per user name: 3 in 10 minutes
QR_USER_LIMIT = (10, 600)     # QR codes a user may ask for in 10 minutes
CODE_ATTEMPTS = 3             # wrong codes per request: the last one denies the request
CODE_WINDOW = 900             # longer than any request lives
WRONG_CODE = "确认码不正确，请输入手机上显示的 6 位确认码（每个请求最多输错 {n} 次）(wrong code)"
NO_CODE = "请输入手机上显示的 6 位确认码 (type the code shown on the phone)"
CODE_USED_UP = "确认码错误次数过多，该登录请求已被拒绝，请在手机上重新发起 (too many wrong codes: request refused)"
TOO_MANY = "请求过于频繁，请{wait}后再试 (too many sign-in requests)"
GONE = "二维码或登录请求已失效（已使用或已过期），请重新获取 (the sign-in request is used or expired)"
METHOD = {"qr": "mobile-qr", "link": "mobile-link"}


@dataclass(frozen=True)
class Started:
    request_id: str
    secret: str          # qr: the URL token (PC); link: the phone's binding secret
    expires_at: object
    code: str = ""


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    method: str
    level: int
    device_id: str


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def start_qr(actor: Actor, device_id: str | None) -> Started:
    """A one-time sign-in URL token for the PC session ``device_id`` of ``actor``. Commits."""
    if actor is None or not actor.is_staff or not devices.is_active(device_id, actor.id):
        raise Conflict("当前登录已失效，请重新登录后再生成二维码")
    hit_all([(f"mobile-qr:{actor.id}", *QR_USER_LIMIT)], message=TOO_MANY)
    now = clock_now()
    token = secrets.token_urlsafe(32)
    req = MobileSignInRequest(id=secrets.token_urlsafe(16), kind="qr", token_hash=_digest(token), user_id=actor.id,
                              origin_device=device_id, status="waiting", code="", created_at=now,
                              expires_at=now + timedelta(seconds=QR_SECONDS))
    db.session.add(req)
    _commit()
    return Started(req.id, token, req.expires_at)


def open_qr(token: str, user_agent: str = "", ip: str = "") -> Started:
    """The phone opened the QR code's URL: bind the request to it (good once). Returns the phone's
    binding secret and the code the phone shows (typed on the PC to confirm). Raises NotFound
    (unknown, used or expired). Commits."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise NotFound(GONE)
    now = clock_now()
    secret, code = secrets.token_urlsafe(32), _code()
    req = db.session.execute(select(MobileSignInRequest).where(
        MobileSignInRequest.token_hash == _digest(token), MobileSignInRequest.kind == "qr")).scalar_one_or_none()
    if req is None:
        raise NotFound(GONE)
    done = db.session.execute(
        update(MobileSignInRequest)
        .where(MobileSignInRequest.id == req.id, MobileSignInRequest.status == "waiting",
               MobileSignInRequest.expires_at > now)
        .values(status="opened", opened_at=now, code=code, phone_binding=_digest(secret),
                phone_user_agent=(user_agent or "")[:300], phone_ip=(ip or "")[:64],
                expires_at=now + timedelta(seconds=CONFIRM_SECONDS))).rowcount
    if not done:
        db.session.rollback()
        raise NotFound(GONE)
    _commit()
    return Started(req.id, secret, now + timedelta(seconds=CONFIRM_SECONDS), code)


def start_link(username: str, user_agent: str = "", ip: str = "") -> Started:
    """A phone asks that the staff member ``username`` sign it in; his trusted devices decide. The
    answer is the same for an unknown name. Limited per IP address and per name. Commits."""
    name = username.strip()[:64] if isinstance(username, str) else ""
    if not name:
        raise ValidationError("请输入用户名", details={"username": ["required"]})
    hit_all([(f"mobile-link-ip:{ip or 'unknown'}", *LINK_IP_LIMIT),
             (f"mobile-link-user:{name.lower()}", *LINK_USER_LIMIT)], message=TOO_MANY)
    user = db.session.execute(select(User.id, User.active, User.kind).where(User.username == name)).first()
    uid = user.id if user is not None and user.active and user.kind == "staff" else None
    now = clock_now()
    secret, code = secrets.token_urlsafe(32), _code()
    req = MobileSignInRequest(id=secrets.token_urlsafe(16), kind="link", user_id=uid, status="opened", code=code,
                              phone_binding=_digest(secret), phone_user_agent=(user_agent or "")[:300],
                              phone_ip=(ip or "")[:64], created_at=now, opened_at=now,
                              expires_at=now + timedelta(seconds=LINK_SECONDS))
    db.session.add(req)
    _commit()
    return Started(req.id, secret, req.expires_at, code)


def _view(req: MobileSignInRequest) -> dict:
    """What the approving screen shows — never the code: the approver types the phone's."""
    return {"id": req.id, "kind": req.kind, "status": req.status,
            "user_agent": req.phone_user_agent, "ip": req.phone_ip, "created_at": req.created_at,
            "opened_at": req.opened_at, "expires_at": req.expires_at, "phone": devices.is_phone(req.phone_user_agent)}


def request_for(actor: Actor, request_id: str) -> dict:
    """One of the actor's own requests (the PC's QR page). Raises NotFound."""
    req = db.session.get(MobileSignInRequest, str(request_id or "")[:32])
    if req is None or actor is None or req.user_id != actor.id:
        raise NotFound("没有找到该登录请求")
    view = _view(req)
    if req.status in ("waiting", "opened", "approved") and req.expires_at <= clock_now():
        view["status"] = "expired"
    return view


def pending_for(actor: Actor) -> list[dict]:
    """The one-time requests waiting for a decision of the actor's trusted devices."""
    rows = db.session.execute(select(MobileSignInRequest).where(
        MobileSignInRequest.user_id == actor.id, MobileSignInRequest.kind == "link",
        MobileSignInRequest.status == "opened", MobileSignInRequest.expires_at > clock_now())
        .order_by(MobileSignInRequest.created_at)).scalars().all()
    return [_view(r) for r in rows]


def _check_code(req: MobileSignInRequest, code, now) -> None:
    """Approving: ``code`` must be the one the phone shows. A wrong one counts against the request;
    the CODE_ATTEMPTS-th denies it. Raises ValidationError (after committing the count). Commits."""
    typed = code.strip() if isinstance(code, str) else ""
    if not typed:
        raise ValidationError(NO_CODE, details={"code": ["required"]})
    if req.code and len(typed) == len(req.code) and secrets.compare_digest(typed, req.code):
        return
    try:  # the bucket allows CODE_ATTEMPTS - 1 wrong codes; the next one is refused: deny the request
        used_up = check_and_count([(f"mobile-code:{req.id}", CODE_ATTEMPTS - 1, CODE_WINDOW)], now=now)
        if used_up:
            db.session.execute(update(MobileSignInRequest)
                               .where(MobileSignInRequest.id == req.id, MobileSignInRequest.status == "opened")
                               .values(status="denied", decided_at=now))
        _commit()
    except BaseException:
        db.session.rollback()
        raise
    if used_up:
        raise ValidationError(CODE_USED_UP, details={"code": ["attempts"]})
    raise ValidationError(WRONG_CODE.format(n=CODE_ATTEMPTS), details={"code": ["mismatch"]})


def decide(actor: Actor, device_id: str | None, request_id: str, approve: bool, code: str | None = None) -> dict:
    """The user's trusted session approves (or refuses) a phone's request: same user, the deciding
    session still live, the request opened by a phone and not expired; a QR request only from the
    session that showed the QR code. Approving needs ``code``, the one the phone shows (``_check_code``);
    refusing does not. The phone gets ``phone_level(actor.assurance)``. Commits."""
    if actor is None or not devices.is_active(device_id, actor.id):
        raise Conflict("当前登录已失效，请重新登录")
    now = clock_now()
    req = db.session.get(MobileSignInRequest, str(request_id or "")[:32])
    if req is None or req.user_id != actor.id or (req.kind == "qr" and req.origin_device != device_id):
        raise NotFound("没有找到该登录请求")
    if req.status != "opened" or req.expires_at <= now:
        raise Conflict("该登录请求已处理或已过期")
    if approve:
        _check_code(req, code, now)
    values = {"status": "approved" if approve else "denied", "decided_at": now, "decided_by_device": device_id}
    if approve:
        values.update(level=phone_level(actor.assurance), expires_at=now + timedelta(seconds=CONFIRM_SECONDS))
    done = db.session.execute(
        update(MobileSignInRequest)
        .where(MobileSignInRequest.id == req.id, MobileSignInRequest.status == "opened",
               MobileSignInRequest.expires_at > now)
        .values(**values)).rowcount
    if not done:
        db.session.rollback()
        raise Conflict("该登录请求已处理或已过期")
    _commit()
    return {"id": req.id, "status": values["status"], "level": values.get("level")}


def phone_state(request_id: str | None, secret: str | None) -> str:
    """What the waiting phone sees: opened | approved | denied | used | expired | unknown."""
    req = db.session.get(MobileSignInRequest, str(request_id or "")[:32]) if request_id else None
    if req is None or not isinstance(secret, str) or req.phone_binding is None or not secrets.compare_digest(
            req.phone_binding, _digest(secret)):
        return "unknown"
    if req.status in ("opened", "approved") and req.expires_at <= clock_now():
        return "expired"
    return req.status


def collect(request_id: str | None, secret: str | None, user_agent: str = "", ip: str = "") -> SignedIn:
    """The phone that opened an approved request takes its session, once: the user still active and
    the deciding session still live. Registers the phone as a trusted device. Raises Conflict. Commits."""
    if phone_state(request_id, secret) != "approved":
        raise Conflict(GONE)
    now = clock_now()
    req = db.session.get(MobileSignInRequest, request_id)
    if not devices.is_active(req.decided_by_device, req.user_id):
        db.session.execute(update(MobileSignInRequest).where(MobileSignInRequest.id == req.id,
                                                              MobileSignInRequest.status == "approved")
                           .values(status="expired"))
        _commit()
        raise Conflict("确认登录的设备已退出登录，请重新发起 (the confirming session has ended)")
    done = db.session.execute(
        update(MobileSignInRequest)
        .where(MobileSignInRequest.id == req.id, MobileSignInRequest.status == "approved",
               MobileSignInRequest.expires_at > now)
        .values(status="used", used_at=now)).rowcount
    if not done:
        db.session.rollback()
        raise Conflict(GONE)
    method = METHOD[req.kind]
    try:
        device = devices.add(req.user_id, method, req.level, user_agent or req.phone_user_agent,
                             ip or req.phone_ip, via_request=req.id)
    except BaseException:
        db.session.rollback()
        raise
    _commit()
    return SignedIn(req.user_id, method, req.level, device.id)
