"""The federation protocol's envelope: its fields, its canonical bytes, its signature.

Every message between two platforms is one JSON object (docs/federation.md states it for other
implementations)::

    {"v": 1, "alg": "ed25519", "id": "<uuid>", "from": "320500", "to": "320000", "seq": 17,
     "ts": "2026-12-02T08:00:00Z", "kind": "forward", "body": {...}, "sig": "<base64>"}

- ``id``: the message's id, the same on every attempt (the receiver applies it once);
- ``seq``: 1, 2, 3 … per link (sender region → receiver region), in the order written;
- ``ts``: when this attempt was signed (UTC, whole seconds, ``Z``); refused when more than
  FEDERATION_MAX_SKEW_SECONDS from the receiver's clock — so a retry is signed again;
- ``sig``: Ed25519 over the **canonical bytes** of the object without ``sig``: JSON with keys
  sorted by code point, no whitespace, strings as UTF-8 (not ``\\u`` escapes), integers only (no
  fractions, no exponents, no NaN), ``true``/``false``/``null`` — the form of RFC 8785 for documents
  without numbers other than integers.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

VERSION = 1
ALG = "ed25519"
KINDS = ("ping", "forward", "receipt", "progress", "result", "withdraw", "recall")
LEVELS = ("province", "city", "county")
FIELDS = {"v", "alg", "id", "from", "to", "seq", "ts", "kind", "body", "sig"}
_REGION = re.compile(r"^[1-9]\d{5}$")
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MAX_DEPTH = 32


class ProtocolError(Exception):
    """A message that is not a valid envelope (422, as every refused request body of the platform),
    or whose signature fails (401): ``code`` for machines, ``message`` for people, ``status`` the HTTP
    answer."""

    def __init__(self, code: str, message: str, status: int = 422):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Envelope:
    id: str
    sender: str
    recipient: str
    seq: int
    ts: datetime
    kind: str
    body: dict
    sig: bytes
    raw: dict

    def signed_bytes(self) -> bytes:
        return canonical({k: v for k, v in self.raw.items() if k != "sig"})


# -- canonical bytes -------------------------------------------------------------------------------

def _check_value(value, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ProtocolError("bad_envelope", f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) >= 2 ** 53:
            raise ProtocolError("bad_envelope", "integers must lie within ±2^53")
        return
    if isinstance(value, float):
        raise ProtocolError("bad_envelope", "numbers must be integers (amounts in 分, as text or integer)")
    if isinstance(value, list):
        for item in value:
            _check_value(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProtocolError("bad_envelope", "object keys must be strings")
            _check_value(item, depth + 1)
        return
    raise ProtocolError("bad_envelope", f"a value of type {type(value).__name__} cannot be sent")


def canonical(obj: dict) -> bytes:
    """The bytes a signature covers (see the module's docstring). Raises ProtocolError on values
    the canonical form does not have (fractions, non-string keys, over-deep nesting)."""
    _check_value(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


# -- keys ------------------------------------------------------------------------------------------

def public_key_text(key: Ed25519PublicKey) -> str:
    return f"{ALG}:" + base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey:
    """``ed25519:<base64 of the 32 raw bytes>`` → the key; ValueError with a clear reason otherwise."""
    if not isinstance(text, str) or not text.startswith(f"{ALG}:"):
        raise ValueError("公钥格式应为 ed25519:<Base64>（32 字节原始公钥）")
    try:
        raw = base64.b64decode(text[len(ALG) + 1:].strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("公钥不是有效的 Base64") from exc
    if len(raw) != 32:
        raise ValueError("Ed25519 公钥应为 32 字节")
    return Ed25519PublicKey.from_public_bytes(raw)


def private_key_from_seed(seed_b64: str) -> Ed25519PrivateKey:
    try:
        raw = base64.b64decode(seed_b64.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("signing key is not valid Base64") from exc
    if len(raw) != 32:
        raise ValueError("an Ed25519 signing key is a 32-byte seed")
    return Ed25519PrivateKey.from_private_bytes(raw)


def new_seed() -> str:
    return base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode("ascii")


# -- envelopes -------------------------------------------------------------------------------------

def format_ts(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def seal(key: Ed25519PrivateKey, *, message_id: str, sender: str, recipient: str, seq: int, ts: datetime,
         kind: str, body: dict) -> dict:
    """The envelope of one attempt, signed."""
    env = {"v": VERSION, "alg": ALG, "id": message_id, "from": sender, "to": recipient, "seq": seq,
           "ts": format_ts(ts), "kind": kind, "body": body}
    env["sig"] = base64.b64encode(key.sign(canonical(env))).decode("ascii")
    return env


def open_envelope(raw) -> Envelope:
    """Check an envelope's shape (not its signature: the sender's key is looked up by ``from``).
    Raises ProtocolError naming the first thing wrong."""
    if not isinstance(raw, dict):
        raise ProtocolError("bad_envelope", "the message must be a JSON object")
    missing = sorted(FIELDS - set(raw))
    if missing:
        raise ProtocolError("bad_envelope", f"missing fields: {', '.join(missing)}")
    extra = sorted(set(raw) - FIELDS)
    if extra:
        raise ProtocolError("bad_envelope", f"unknown fields: {', '.join(extra)}")
    if raw["v"] != VERSION or isinstance(raw["v"], bool):
        raise ProtocolError("unsupported_version", f"protocol version {raw['v']!r} is not supported (1 is)")
    if raw["alg"] != ALG:
        raise ProtocolError("unsupported_algorithm", f"signature algorithm {raw['alg']!r} is not supported")
    try:
        if not isinstance(raw["id"], str) or str(uuid.UUID(raw["id"])) != raw["id"].lower():
            raise ValueError
    except ValueError:
        raise ProtocolError("bad_envelope", "id must be a UUID") from None
    for name in ("from", "to"):
        if not isinstance(raw[name], str) or not _REGION.match(raw[name]):
            raise ProtocolError("bad_envelope", f"{name} must be a 6-digit region code (GB/T 2260)")
    if isinstance(raw["seq"], bool) or not isinstance(raw["seq"], int) or not 1 <= raw["seq"] < 2 ** 31:
        raise ProtocolError("bad_envelope", "seq must be an integer from 1")
    if not isinstance(raw["ts"], str) or not _TS.match(raw["ts"]):
        raise ProtocolError("bad_envelope", "ts must be UTC time as YYYY-MM-DDTHH:MM:SSZ")
    try:
        ts = datetime.strptime(raw["ts"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise ProtocolError("bad_envelope", "ts is not a valid time") from None
    if raw["kind"] not in KINDS:
        raise ProtocolError("unknown_kind", f"kind must be one of {', '.join(KINDS)}")
    if not isinstance(raw["body"], dict):
        raise ProtocolError("bad_envelope", "body must be a JSON object")
    try:
        sig = base64.b64decode(raw["sig"], validate=True) if isinstance(raw["sig"], str) else b""
    except (binascii.Error, ValueError):
        sig = b""
    if len(sig) != 64:
        raise ProtocolError("bad_signature", "sig must be the Base64 of a 64-byte Ed25519 signature", 401)
    _check_value(raw)
    return Envelope(raw["id"].lower(), raw["from"], raw["to"], raw["seq"], ts, raw["kind"], raw["body"], sig, raw)


def verify(envelope: Envelope, key: Ed25519PublicKey) -> None:
    try:
        key.verify(envelope.sig, envelope.signed_bytes())
    except InvalidSignature:
        raise ProtocolError("bad_signature", "签名验证失败：消息不是该平台签发，或已被改动", 401) from None
