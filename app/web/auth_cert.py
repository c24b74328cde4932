"""Certificate sign-in of staff: the challenge and the signed answer (JSON, called by
static/js/cert_login.js on the sign-in page, which talks to the local key client — docs/identity.md).

    POST /login/cert/challenge          → {"nonce", "to_sign", "expires_in"}     (X-CSRF-Token header)
    POST /login/cert {certificate, signature, nonce}  → {"ok": true, "redirect"} | {"error", "reason"}

The key client signs ``to_sign`` ("yg-cert-login-v1|<origin of this app>|<nonce>",
certificates.message_to_sign), never the bare nonce. The nonce is bound to this browser session (a random
``cert_sid`` in the session cookie). On success the session is a new one recording ``amr=certificate``
(HIGH assurance)."""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request, session

from ..domain.errors import DomainError, RateLimited
from ..services.identity.certificates import issue_challenge, message_to_sign, sign_in_with_certificate
from . import CONTENT_SECURITY_POLICY, i18n
from .auth import _landing, client_ip, sign_in

bp = Blueprint("auth_cert", __name__)



def _sid() -> str:
    sid = session.get("cert_sid")
    if not isinstance(sid, str) or len(sid) < 20:
        sid = session["cert_sid"] = secrets.token_urlsafe(24)
    return sid


def _error(exc: DomainError):
    body = {"error": exc.message, "reason": exc.details.get("reason", exc.code)}
    response = jsonify(body)
    response.status_code = exc.status
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@bp.post("/login/cert/challenge")
def challenge():
    try:
        row = issue_challenge(_sid(), client_ip())
        to_sign = message_to_sign(row.nonce)
    except DomainError as exc:
        return _error(exc)
    return jsonify({"nonce": row.nonce, "to_sign": to_sign,
                    "expires_in": int((row.expires_at - row.created_at).total_seconds())})


@bp.post("/login/cert")
def login():
    data = request.get_json(silent=True) if request.is_json else request.form
    if request.is_json and not isinstance(data, dict):
        data = {}
    sid = session.get("cert_sid")
    try:
        actor = sign_in_with_certificate(data.get("certificate"), data.get("signature"), data.get("nonce"),
                                         sid if isinstance(sid, str) else "", client_ip())
    except DomainError as exc:
        return _error(exc)
    sign_in(actor.id, "certificate")
    return jsonify({"ok": True, "redirect": _landing(actor, request.args.get("next") or data.get("next"))})


def keyclient_origin() -> str:
    parts = urlsplit(current_app.config.get("CERT_KEYCLIENT_URL") or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


@bp.after_app_request
def allow_keyclient(response):
    """The sign-in page may fetch from the local key client (connect-src), and from nowhere else."""
    origin = keyclient_origin()
    if request.endpoint == "auth.login" and origin:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self'", f"connect-src 'self' {origin}")
    return response
