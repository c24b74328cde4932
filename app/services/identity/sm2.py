"""SM2 signatures with SM3 (GB/T 32918, GM/T 0009): the ONLY module that calls ``gmssl``.

gmssl 3.2.2 is pure Python and unmaintained; its pitfalls (docs/trust-findings.md §1) are handled here:
- P1: its constructor mangles public keys (``lstrip("04")``) — the key is assigned after construction,
  always as exactly 128 hex digits (x||y, no 04 prefix);
- P2: its signing nonce comes from ``random`` — ``sign`` always passes a ``secrets`` nonce, and keys are
  made with ``secrets`` too (signing is for the software key client and the test CA only);
- P3: malformed input raises instead of returning False — ``verify`` never raises, checks r, s in
  [1, n-1] and that the public key is a point of the curve (P4: gmssl does not).

The digest e = SM3(Z_A || M) with Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) and the
default user id ``1234567812345678`` is computed with ``cryptography``'s SM3 (fast, checked against
gmssl and OpenSSL). Signatures are accepted DER-encoded (SEQUENCE {r, s}, what X.509 and GM/T 0010
use) or raw r||s (64 bytes, what many key clients return); ``sign`` returns DER unless asked for raw."""
from __future__ import annotations

import secrets

from asn1crypto.algos import DSASignature
from cryptography.hazmat.primitives import hashes
from gmssl.sm2 import CryptSM2, default_ecc_table

DEFAULT_USER_ID = b"1234567812345678"
N = int(default_ecc_table["n"], 16)
P = int(default_ecc_table["p"], 16)
A = int(default_ecc_table["a"], 16)
B = int(default_ecc_table["b"], 16)
G_HEX = default_ecc_table["g"]
_ZA_PREFIX = bytes.fromhex(default_ecc_table["a"] + default_ecc_table["b"] + G_HEX)


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def public_key_hex(key) -> str | None:
    """The 128-hex x||y form of a public key given as 65 bytes 04||x||y, 64 bytes x||y, or hex of
    either; None when it is not such a key or not a point of the curve."""
    try:
        if isinstance(key, str):
            key = bytes.fromhex(key)
        if not isinstance(key, (bytes, bytearray)):
            return None
        key = bytes(key)
        if len(key) == 65 and key[0] == 4:
            key = key[1:]
        if len(key) != 64:
            return None
        x, y = int.from_bytes(key[:32], "big"), int.from_bytes(key[32:], "big")
        if not (0 <= x < P and 0 <= y < P) or (y * y - (x * x * x + A * x + B)) % P != 0:
            return None
        return key.hex()
    except (ValueError, TypeError):
        return None


def digest_e(pub_hex: str, data: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """e = SM3(Z_A || data) for the signer's public key (GM/T 0009 §5.2 / GB/T 32918.2)."""
    entl = (len(user_id) * 8).to_bytes(2, "big")
    za = sm3(entl + user_id + _ZA_PREFIX + bytes.fromhex(pub_hex))
    return sm3(za + data)


def _r_s(sig) -> tuple[int, int] | None:
    if isinstance(sig, str):
        sig = bytes.fromhex(sig)
    sig = bytes(sig)
    if len(sig) == 64:
        return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if sig[:1] == b"\x30":
        parsed = DSASignature.load(sig, strict=True)
        return int(parsed["r"].native), int(parsed["s"].native)
    return None


def _engine(pub_hex: str, private_hex: str = "00") -> CryptSM2:
    engine = CryptSM2(private_key=private_hex, public_key="00" * 64)
    engine.public_key = pub_hex  # P1: never through the constructor
    return engine


def verify(public_key, data: bytes, sig) -> bool:
    """Whether ``sig`` (DER or raw r||s; bytes or hex) is an SM2 signature of ``data`` by ``public_key``
    (SM3 with Z_A of the default user id). Never raises: anything malformed is simply False."""
    try:
        pub = public_key_hex(public_key)
        if pub is None or not isinstance(data, (bytes, bytearray)):
            return False
        rs = _r_s(sig)
        if rs is None:
            return False
        r, s = rs
        if not (1 <= r < N and 1 <= s < N):
            return False
        return _engine(pub).verify("%064x%064x" % (r, s), digest_e(pub, bytes(data))) is True
    except Exception:  # noqa: BLE001 — gmssl raises ValueError, binascii.Error, IndexError… (P3)
        return False


def keygen() -> tuple[str, str]:
    """A new key pair: (private d as 64 hex, public x||y as 128 hex). For test and development keys."""
    d = secrets.randbelow(N - 2) + 1
    pub = _engine("00" * 64)._kg(d, G_HEX)
    return "%064x" % d, pub


def sign(private_hex: str, public_key, data: bytes, *, raw: bool = False) -> bytes:
    """An SM2 signature of ``data`` (DER, or raw r||s with ``raw``) with a ``secrets`` nonce (P2).
    For the software key client and the test CA only; the platform's own keys use cryptography."""
    pub = public_key_hex(public_key)
    if pub is None:
        raise ValueError("not an SM2 public key")
    e = digest_e(pub, bytes(data))
    engine = _engine(pub, private_hex)
    while True:
        out = engine.sign(e, "%064x" % (secrets.randbelow(N - 1) + 1))
        if out:
            r, s = int(out[:64], 16), int(out[64:], 16)
            break
    if raw:
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return DSASignature({"r": r, "s": s}).dump()
