"""Certificate sign-in of staff (challenge–response, as government CA clients do it) and the binding of
certificates to users.

1. ``issue_challenge``: a random single-use nonce, stored with its expiry (CERT_CHALLENGE_SECONDS) and
   bound to the browser session (the SHA-256 of a random value kept in the session cookie).
2. The page asks the local key client (docs/identity.md) for the certificate and a signature over the
   UTF-8 bytes of ``to_sign`` = "yg-cert-login-v1|<origin of this app>|<nonce>" (``message_to_sign``: a
   signature another site obtained from the key client names that site, so it cannot be relayed here),
   and posts both.
3. ``sign_in_with_certificate``: the nonce is consumed first (one UPDATE … WHERE used_at IS NULL: a
   replay, a nonce of another session or an expired one is refused), then the certificate is checked
   (certchain.py: trusted issuer, validity, CRL), then the signature, then the certificate is looked up
   among the bindings (SHA-256 of the DER, or issuer + serial number). A correctly signed certificate
   bound to nobody is kept as an attempt an administrator can bind. Failed attempts use up the address's
   sign-in allowance like wrong passwords do (auth.count_attempt)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete, or_, select, update

from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...extensions import db
from ...models import User
from ...models.certs import CertChallenge, CertLoginAttempt, UserCertificate
from ..common.clock import clock_now
from ..common.db_support import commit as _commit
from ..common.urls import public_url
from . import assurance
from .actors import Actor, actor_from_user
from .auth import count_attempt, forgive_attempt
from .cert_policy import audit
from .certchain import CertificateRefused, CertInfo, check_certificate, check_signature, parse_certificate, trust_store
from .rate_limit import hit

NONCE_REFUSED = "挑战码已使用或已过期，请重新获取后再签名"
UNBOUND = "该证书尚未绑定本系统用户，请联系系统管理员绑定后再登录"
INACTIVE = "该证书绑定的用户已停用"
CHALLENGE_LIMIT = (30, 60)  # challenges per address per minute
KEEP_ATTEMPTS = 200
MESSAGE_PREFIX = "yg-cert-login-v1"
NO_ORIGIN = "无法确定本系统的地址（PUBLIC_BASE_URL），数字证书登录暂不可用"


def login_origin() -> str:
    """This app's origin (scheme://host[:port], lower case): PUBLIC_BASE_URL when configured, else this
    request's host; "" when neither is known."""
    parts = urlsplit(public_url("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def message_to_sign(nonce: str) -> str:
    """What the key client signs for ``nonce``: "yg-cert-login-v1|<origin>|<nonce>". Raises
    CertificateRefused when the origin is unknown (no PUBLIC_BASE_URL outside a request)."""
    origin = login_origin()
    if not origin:
        raise CertificateRefused(NO_ORIGIN, "no_origin")
    return f"{MESSAGE_PREFIX}|{origin}|{nonce}"


def _session_hash(session_secret: str) -> str:
    return hashlib.sha256(session_secret.encode("utf-8")).hexdigest()


def issue_challenge(session_secret: str, ip: str | None = None) -> CertChallenge:
    """A new nonce for the browser session holding ``session_secret``. Commits."""
    if ip:
        hit(f"cert-challenge:{ip}"[:150], *CHALLENGE_LIMIT, message="获取挑战码过于频繁，请{wait}后再试")
    now = clock_now()
    seconds = int(current_app.config.get("CERT_CHALLENGE_SECONDS") or 120)
    try:
        db.session.execute(delete(CertChallenge).where(CertChallenge.expires_at < now - timedelta(hours=1)))
        challenge = CertChallenge(nonce=secrets.token_urlsafe(32), session_hash=_session_hash(session_secret),
                                  created_at=now, expires_at=now + timedelta(seconds=seconds))
        db.session.add(challenge)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return challenge


def _consume(nonce, session_secret: str) -> str:
    """Use up the nonce (once, by this session, before it expires). Commits."""
    if not isinstance(nonce, str) or not nonce or len(nonce) > 64 or not session_secret:
        raise CertificateRefused(NONCE_REFUSED, "nonce")
    now = clock_now()
    result = db.session.execute(
        update(CertChallenge).where(CertChallenge.nonce == nonce,
                                    CertChallenge.session_hash == _session_hash(session_secret),
                                    CertChallenge.used_at.is_(None), CertChallenge.expires_at >= now)
        .values(used_at=now).execution_options(synchronize_session=False))
    _commit()
    if result.rowcount != 1:
        raise CertificateRefused(NONCE_REFUSED, "nonce")
    return nonce


def find_binding(info: CertInfo) -> UserCertificate | None:
    return db.session.execute(select(UserCertificate).where(or_(
        UserCertificate.sha256 == info.sha256,
        (UserCertificate.issuer == info.issuer) & (UserCertificate.serial_hex == info.serial_hex)))
    ).scalars().first()


def _keep_attempt(info: CertInfo, ip: str | None) -> None:
    """Remember a correctly signed, valid certificate that is bound to nobody (one row per certificate,
    the latest time and address). Commits."""
    now = clock_now()
    row = db.session.execute(select(CertLoginAttempt).where(CertLoginAttempt.sha256 == info.sha256)).scalars().first()
    if row is None:
        row = CertLoginAttempt(sha256=info.sha256, subject=info.subject[:500], issuer=info.issuer[:500],
                               serial_hex=info.serial_hex[:80], der=info.der)
        db.session.add(row)
    row.at, row.ip = now, (ip or "unknown")[:64]
    old = list(db.session.execute(select(CertLoginAttempt.id).order_by(CertLoginAttempt.at.desc())
                                  .offset(KEEP_ATTEMPTS)).scalars())
    if old:
        db.session.execute(delete(CertLoginAttempt).where(CertLoginAttempt.id.in_(old)))
    _commit()


def verify_login(certificate, signature, nonce, session_secret: str, ip: str | None = None) -> CertInfo:
    """The checks of a certificate sign-in, in order (nonce, certificate, signature); the checked leaf.
    Raises CertificateRefused or ValidationError (a certificate that does not parse)."""
    _consume(nonce, session_secret)
    leaf = parse_certificate(certificate)
    check_certificate(leaf, trust_store(current_app.config), clock_now())
    check_signature(leaf, message_to_sign(nonce).encode("utf-8"), signature)
    return leaf


def sign_in_with_certificate(certificate, signature, nonce, session_secret: str, ip: str | None = None) -> Actor:
    """The staff actor whose bound certificate signed the session's nonce (``message_to_sign``). Raises
    CertificateRefused (401, with the reason), ValidationError (422: not a certificate) or RateLimited
    (429). Commits."""
    attempt = count_attempt(ip, prefix="cert-sign-in")
    leaf = verify_login(certificate, signature, nonce, session_secret, ip)
    binding = find_binding(leaf)
    if binding is None:
        _keep_attempt(leaf, ip)
        raise CertificateRefused(UNBOUND, "unbound")
    user = db.session.get(User, binding.user_id)
    if user is None or not user.active or user.kind != "staff":
        raise CertificateRefused(INACTIVE, "inactive")
    binding.last_used_at = clock_now()
    _commit()
    forgive_attempt(attempt)
    return actor_from_user(user)


# ---------------------------------------------------------------- binding (administrators)

def _require_admin(actor) -> None:
    if actor is None or not actor.is_admin:
        raise NotAuthorized("只有系统管理员可以绑定证书 (administrators only)")


def _require_binder(actor) -> None:
    """An administrator signed in at SUBSTANTIAL or above (a stolen password alone binds no certificate)."""
    _require_admin(actor)
    assurance.require_for(actor, "certificate-binding")


def _staff_user(user_id) -> User:
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise NotFound("用户不存在 (no such user)")
    if user.kind != "staff":
        raise ValidationError("只能为工作人员绑定证书", details={"certificate": ["只能为工作人员绑定证书"]})
    return user


def _bind(actor, user: User, info: CertInfo, how: str) -> UserCertificate:
    _require_binder(actor)
    if info.is_ca:
        raise ValidationError("这是CA证书，不能绑定给用户", details={"certificate": ["这是CA证书"]})
    existing = find_binding(info)
    if existing is not None:
        owner = db.session.get(User, existing.user_id)
        raise Conflict(f"该证书已绑定用户 {owner.username if owner else existing.user_id}，请先解除绑定")
    row = UserCertificate(user_id=user.id, issuer=info.issuer[:500], serial_hex=info.serial_hex[:80],
                          sha256=info.sha256, subject=info.subject[:500],
                          subject_serial=(info.subject_serial or None) and info.subject_serial[:64],
                          algorithm=info.algorithm[:16], not_before=info.not_before, not_after=info.not_after,
                          der=info.der, bound_by=actor.username[:64], bound_at=clock_now())
    db.session.add(row)
    db.session.execute(delete(CertLoginAttempt).where(CertLoginAttempt.sha256 == info.sha256))
    audit(actor, "bind", user.id, f"{how}绑定证书 {info.subject}（颁发者 {info.issuer}，序列号 {info.serial_hex}，"
                                  f"SHA-256 {info.sha256[:16]}…）给 {user.username}")
    return row


def bind_certificate(actor, user_id: int, data) -> UserCertificate:
    """Bind an uploaded certificate (PEM, DER or Base64) to a staff user; the administrator's session must
    be SUBSTANTIAL or above (NotAuthorized otherwise). Commits."""
    _require_binder(actor)
    user = _staff_user(user_id)
    info = parse_certificate(data)
    try:
        row = _bind(actor, user, info, "上传")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return row


def bind_attempt(actor, user_id: int, attempt_id) -> UserCertificate:
    """Bind the certificate of a signed login attempt that matched no user (SUBSTANTIAL, as above). Commits."""
    _require_binder(actor)
    user = _staff_user(user_id)
    attempt = db.session.get(CertLoginAttempt, attempt_id) if isinstance(attempt_id, int) else None
    if attempt is None:
        raise ValidationError("该登录尝试不存在或已绑定", details={"attempt": ["不存在或已绑定"]})
    try:
        row = _bind(actor, user, parse_certificate(attempt.der), "按登录尝试")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return row


def unbind(actor, user_id: int, cert_id: int) -> None:
    """Remove a binding (the certificate no longer signs the user in). Commits."""
    _require_admin(actor)
    row = db.session.get(UserCertificate, cert_id) if isinstance(cert_id, int) else None
    if row is None or row.user_id != user_id:
        raise NotFound("该用户没有这个证书绑定 (no such binding)")
    user = db.session.get(User, user_id)
    try:
        audit(actor, "unbind", user_id, f"解除绑定证书 {row.subject}（颁发者 {row.issuer}，序列号 {row.serial_hex}）"
                                        f"与 {user.username if user else user_id}")
        db.session.delete(row)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def user_certificates(user_id: int) -> list[UserCertificate]:
    return list(db.session.execute(select(UserCertificate).where(UserCertificate.user_id == user_id)
                                   .order_by(UserCertificate.bound_at)).scalars())


def unbound_attempts(limit: int = 20) -> list[CertLoginAttempt]:
    """Recent correctly signed logins with a certificate bound to nobody, newest first."""
    return list(db.session.execute(select(CertLoginAttempt).order_by(CertLoginAttempt.at.desc()).limit(limit))
                .scalars())
