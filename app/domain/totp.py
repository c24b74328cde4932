"""RFC 6238 time-based one-time passwords (HMAC-SHA1, 30-second steps, 6 digits), standard library only.

A secret is base32 text (160 random bits). ``verify`` accepts the code of the current step or of
one step either side (clock drift) and refuses a step not newer than ``last_step``, so a code once
used cannot be used again."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
ISSUER = "阳光发改"


def new_secret() -> str:
    """A fresh base32 secret of 160 bits (32 characters, no padding)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    text = (secret or "").replace(" ", "").upper()
    text += "=" * (-len(text) % 8)
    try:
        return base64.b32decode(text, casefold=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("TOTP secret is not base32") from exc


def step_at(unix_time: float, step_seconds: int = STEP_SECONDS) -> int:
    return int(unix_time // step_seconds)


def hotp(secret: str, counter: int, digits: int = DIGITS) -> str:
    """RFC 4226 HOTP value of ``counter``."""
    mac = hmac.new(_key(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % (10 ** digits)).zfill(digits)


def code_at(secret: str, unix_time: float, digits: int = DIGITS) -> str:
    """The code shown by an authenticator at ``unix_time``."""
    return hotp(secret, step_at(unix_time), digits)


def verify(secret: str, code: str, unix_time: float, last_step: int | None = None,
           digits: int = DIGITS) -> int | None:
    """The step whose code ``code`` is (current step ±1, newer than ``last_step``), or None."""
    code = (code or "").strip().replace(" ", "")
    if not secret or len(code) != digits or not code.isdigit():
        return None
    now = step_at(unix_time)
    for step in (now, now - DRIFT_STEPS, now + DRIFT_STEPS):
        if last_step is not None and step <= last_step:
            continue
        if step >= 0 and hmac.compare_digest(hotp(secret, step, digits), code):
            return step
    return None


def otpauth_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/...`` URI authenticator apps read (usually from a QR code)."""
    label = quote(f"{issuer}:{username}", safe="")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS,
                       "period": STEP_SECONDS}, quote_via=quote)
    return f"otpauth://totp/{label}?{query}"
