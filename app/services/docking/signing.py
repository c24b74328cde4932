"""The gateway signature of the provincial exchange gateways (一张网, the investment project platform):
HMAC-SHA256, keyed by the secret issued with an access key, over a canonical string of the request.

    string-to-sign = METHOD "\\n" PATH "\\n" CANONICAL-QUERY "\\n" ACCESS-KEY "\\n" DATE "\\n" BODY-SHA256

- CANONICAL-QUERY: the query's parameters sorted by name then value, each ``name=value``
  percent-encoded (RFC 3986, ``~`` unreserved), joined by ``&``; empty when there is none;
- DATE: the ``X-Date`` header, UTC, ``YYYYMMDDTHHMMSSZ``; the receiver refuses a date further than
  its max skew (300 s by default) from its clock;
- BODY-SHA256: hex SHA-256 of the body bytes (of the empty string for none).

Headers sent: ``X-Access-Key``, ``X-Date``, ``X-Signature`` (hex HMAC). Both directions use it: this
platform signs its calls to the gateway, and the gateway signs its calls to this platform
(applications from the unified entry, ratings made there) with the same key pair."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote

DATE_FORMAT = "%Y%m%dT%H%M%SZ"
HEADERS = ("X-Access-Key", "X-Date", "X-Signature")


class SignatureError(Exception):
    """The request's signature does not hold: ``code`` one of missing, unknown_key, stale, bad_signature."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def canonical_query(query: str | list[tuple[str, str]] | dict | None) -> str:
    if not query:
        return ""
    if isinstance(query, str):
        pairs = parse_qsl(query, keep_blank_values=True)
    elif isinstance(query, dict):
        pairs = [(str(k), str(v)) for k, v in query.items()]
    else:
        pairs = [(str(k), str(v)) for k, v in query]
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(pairs))


def string_to_sign(method: str, path: str, query, access_key: str, date: str, body: bytes) -> str:
    return "\n".join((method.upper(), path or "/", canonical_query(query), access_key, date,
                      hashlib.sha256(body or b"").hexdigest()))


def signature(secret: str, method: str, path: str, query, access_key: str, date: str, body: bytes) -> str:
    return hmac.new(secret.encode(), string_to_sign(method, path, query, access_key, date, body).encode(),
                    hashlib.sha256).hexdigest()


def sign_headers(secret: str, access_key: str, method: str, path: str, query=None, body: bytes = b"",
                 now: datetime | None = None) -> dict[str, str]:
    """The three headers of a signed request (``now``: the signer's clock, UTC)."""
    date = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime(DATE_FORMAT)
    return {"X-Access-Key": access_key, "X-Date": date,
            "X-Signature": signature(secret, method, path, query, access_key, date, body)}


@dataclass(frozen=True)
class Verified:
    access_key: str
    date: datetime


def verify(headers, secrets_by_key: dict[str, str], method: str, path: str, query, body: bytes,
           now: datetime, max_skew_seconds: int = 300) -> Verified:
    """Check a received request's signature; raises SignatureError. ``headers``: any mapping with
    ``get`` (case-insensitive ones such as Flask's included)."""
    key, date, sig = (headers.get(h) or "" for h in HEADERS)
    if not (key and date and sig):
        raise SignatureError("missing", "请求未签名：缺少 X-Access-Key / X-Date / X-Signature")
    secret = secrets_by_key.get(key)
    if not secret:
        raise SignatureError("unknown_key", f"未知的访问密钥 {key[:40]}")
    try:
        at = datetime.strptime(date, DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise SignatureError("missing", "X-Date 格式应为 YYYYMMDDTHHMMSSZ") from None
    if abs(now - at) > timedelta(seconds=max_skew_seconds):
        raise SignatureError("stale", f"请求时间 {date} 与本平台时钟相差超过 {max_skew_seconds} 秒")
    want = signature(secret, method, path, query, key, date, body)
    if not hmac.compare_digest(want, sig.strip().lower()):
        raise SignatureError("bad_signature", "签名不符")
    return Verified(key, at)
