"""Unified identity over the CAS-style ticket flow of provincial identity platforms (ticket →
validate → token → user info; docs/integration.md).

1. the browser goes to ``{CAS_BASE_URL}/login?service=<CAS_SERVICE_CODE>&returnUrl=<base64 of our
   callback>`` (standard base64, RFC 4648 §4; the callback carries our ``state``);
2. it comes back to the callback with ``ticket`` added to the query;
3. server to server: ``POST {CAS_BASE_URL}/api/ticket/validate`` with ``{"ticket", "service"}`` →
   ``{"token", "expiresIn"}``; then ``GET {CAS_BASE_URL}/api/user/info`` with ``Authorization:
   Bearer <token>`` → the user's attributes.

Every server call is signed with the gateway signature of docking/signing.py (HMAC-SHA256 over
method, path, query, key, date and the body's hash; ``X-Access-Key`` = the service code, secret =
CAS_SECRET; the platform refuses a date more than 300 s off). A ticket is good once and for a short
while: the platform refuses it after (``invalid_ticket``); our state is good once too (the session
drops it at the callback). Logout: ``{CAS_BASE_URL}/logout?service=…&returnUrl=<base64>``.

User info read: ``userId``, ``userType`` (法人 / 自然人), ``name``, ``creditCode`` (法人) or
``idNumber`` (自然人), ``mobile``, ``mobileVerified``, ``level``, ``legalPerson``."""
from __future__ import annotations

import base64
import secrets
import time
from urllib.parse import urlencode

from flask import current_app

from . import http
from .sso import KIND_ALIASES, UNAVAILABLE, Identity, SsoError, check_identity, check_state, protocol_settings



def configured() -> bool:
    return bool(current_app.config.get("CAS_BASE_URL"))


def _settings() -> tuple[str, str, str, float]:
    return protocol_settings("CAS_BASE_URL", "CAS_SERVICE_CODE", "CAS_SECRET", "CAS_TIMEOUT_SECONDS", "票据方式")


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def begin(callback_url: str) -> tuple[str, dict]:
    """(the platform's login URL, what the session keeps: state and time)."""
    base, service, _, _ = _settings()
    state = secrets.token_urlsafe(24)
    back = callback_url + ("&" if "?" in callback_url else "?") + urlencode({"state": state})
    return base + "/login?" + urlencode({"service": service, "returnUrl": b64(back)}), {"s": state, "t": time.time()}


def _call(method: str, path: str, **kwargs) -> dict:
    base, service, secret, timeout = _settings()
    try:
        answer = http.check(http.request(method, base + path, timeout=timeout, credentials=(service, secret),
                                         **kwargs))
        body = answer.json()
    except http.Unavailable as exc:
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（{exc}）"[:300], 503) from None
    except http.Rejected as exc:
        if exc.code in ("invalid_ticket", "ticket_used", "ticket_expired", "invalid_token"):
            raise SsoError("bad_ticket", f"登录票据无效、已使用或已过期，请重新登录（{exc.code}）", 401) from None
        raise SsoError("provider_refused", f"统一身份认证平台拒绝了本平台的请求：{exc}"[:300], 502) from None
    if not isinstance(body, dict):
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（应答不是 JSON 对象）", 503)
    return body


def finish(pending: dict | None, args) -> Identity:
    """The callback's ``ticket`` → validated → token → user info → the identity. Raises SsoError;
    writes nothing."""
    check_state(pending, args)
    ticket = args.get("ticket") or ""
    if not ticket or len(ticket) > 256 or not ticket.isascii() or not ticket.isprintable():
        raise SsoError("bad_ticket", "统一身份认证平台的回调缺少有效的登录票据，请重新登录", 400)
    _, service, _, _ = _settings()
    validated = _call("POST", "/api/ticket/validate", json={"ticket": ticket, "service": service})
    token = validated.get("token")
    if not isinstance(token, str) or not token or len(token) > 2048:
        raise SsoError("provider_unavailable", f"{UNAVAILABLE}（票据验证应答缺少 token）", 503)
    info = _call("GET", "/api/user/info", headers={"Authorization": f"Bearer {token}"})
    return check_identity("cas", attributes(info))


def attributes(info: dict) -> dict:
    kind = str(info.get("userType") or "")
    code = info.get("creditCode") if KIND_ALIASES.get(kind.lower()) == "enterprise" else info.get("idNumber")
    return {"subject": info.get("userId"), "kind": kind, "name": info.get("name"), "code": code,
            "mobile": info.get("mobile"), "mobile_verified": info.get("mobileVerified", True),
            "level": info.get("level") or "", "legal_representative": info.get("legalPerson")}


def logout_url(return_url: str) -> str | None:
    if not configured():
        return None
    base, service, _, _ = _settings()
    return base + "/logout?" + urlencode({"service": service, "returnUrl": b64(return_url)})
