"""X.509 certificates of staff: parse them, check them against the configured CA roots and CRLs, and check
a signature made with their key. No database here (certificates.py maps certificates to users).

Parsing is cryptography's (it reads SM2 certificates and CRLs, but cannot verify SM2 signatures: it has no
SM2 curve); the SM2 public key is read with asn1crypto and SM2-with-SM3 signatures are checked through
sm2.py. RSA and ECDSA certificates and CRLs are verified by cryptography itself.

The checks run in a fixed order, each failure with its own zh_CN reason (CertificateRefused.message):
the leaf is an end-entity certificate for signing (not a CA; keyUsage present with digitalSignature) →
issuer trusted (every issuer a CA, keyCertSign when it has keyUsage) → validity window (every certificate
of the chain) → CRL (signed by its CA — cRLSign when it has keyUsage —, a complete CRL with nextUpdate,
current, serial not listed; for every certificate below a root) → the signature over the challenge."""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from dataclasses import dataclass
from datetime import datetime

import requests
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtensionOID, NameOID

from ...domain.errors import NotAuthenticated, ValidationError
from . import sm2

SM2_WITH_SM3 = "1.2.156.10197.1.501"
SM2_CURVE = "1.2.156.10197.1.301"
MAX_CHAIN = 5
MAX_CERT_BYTES = 16 * 1024

FORMAT = "证书格式错误，无法解析（需要 PEM 或 DER 编码的 X.509 证书）"
UNTRUSTED = "证书不是受信任的CA签发"
EXPIRED = "证书已过期或未生效"
REVOKED = "证书已吊销"
CRL_INVALID = "证书吊销列表（CRL）签名无效或已过期，暂时无法核验证书状态"
CRL_MISSING = "未取得签发CA的证书吊销列表（CRL），暂时无法核验证书状态"
SIGNATURE_INVALID = "签名无效：签名与本次挑战码不符"
SIGNATURE_FORMAT = "签名格式错误（需要 Base64 或十六进制编码）"
NOT_FOR_SIGNING = "该证书不能用于数字签名（密钥用法须包含 digitalSignature），请选择签名证书"
CA_AS_LEAF = "这是CA证书，不能用于登录，请选择个人签名证书"
CRL_NO_NEXT_UPDATE = "证书吊销列表（CRL）缺少下次更新时间（nextUpdate），无法判断是否过期，暂时无法核验证书状态"
CRL_PARTIAL = "不支持分区或增量证书吊销列表（CRL 含 issuingDistributionPoint 或 deltaCRLIndicator 扩展），请配置完整的CRL"
NO_CA = "未配置受信任的CA证书，数字证书登录暂不可用"


class CertificateRefused(NotAuthenticated):
    """A certificate or signature that does not sign anyone in; ``code`` names the check that failed."""

    def __init__(self, message: str, code: str):
        super().__init__(message, details={"reason": code})
        self.code = code


@dataclass(frozen=True)
class CertInfo:
    der: bytes
    cert: x509.Certificate
    algorithm: str            # sm2 | ecdsa | rsa | other
    sm2_key: str | None       # 128-hex x||y of an SM2 key
    subject: str
    issuer: str
    serial_hex: str
    sha256: str
    common_name: str
    subject_serial: str | None  # subject serialNumber (2.5.4.5): ID number, employee or credit code
    not_before: datetime
    not_after: datetime

    @property
    def is_ca(self) -> bool:
        try:
            return bool(self.cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca)
        except x509.ExtensionNotFound:
            return False

    def key_usage(self):
        try:
            return self.cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
        except x509.ExtensionNotFound:
            return None

    def may_sign_certificates(self) -> bool:
        """A CA whose keyUsage (when present) includes keyCertSign."""
        usage = self.key_usage()
        return self.is_ca and (usage is None or usage.key_cert_sign)

    def may_sign_crls(self) -> bool:
        """keyUsage (when present) includes cRLSign."""
        usage = self.key_usage()
        return usage is None or usage.crl_sign


def _attr(name: x509.Name, oid) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _der_from(data) -> bytes:
    """DER bytes from PEM text/bytes, DER bytes, or Base64 of DER (what key clients hand over)."""
    if isinstance(data, str):
        data = data.strip().encode("ascii", "strict")
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise ValueError("empty")
    data = bytes(data)
    if b"-----BEGIN" in data:
        body = re.search(rb"-----BEGIN [A-Z0-9 ]+-----(.*?)-----END [A-Z0-9 ]+-----", data, re.S)
        if not body:
            raise ValueError("bad PEM")
        return base64.b64decode(re.sub(rb"\s+", b"", body.group(1)), validate=True)
    if data[:1] == b"\x30":
        return data
    return base64.b64decode(re.sub(rb"\s+", b"", data), validate=True)


def parse_certificate(data) -> CertInfo:
    """A certificate given as PEM, DER or Base64 DER. Raises ValidationError (FORMAT) otherwise."""
    try:
        der = _der_from(data)
        if len(der) > MAX_CERT_BYTES:
            raise ValueError("too large")
        cert = x509.load_der_x509_certificate(der)
        spki = asn1_x509.Certificate.load(der).public_key
        algorithm, sm2_key = "other", None
        params = spki["algorithm"]["parameters"]
        if spki.algorithm == "ec" and params.name == "named" and params.chosen.dotted == SM2_CURVE:
            algorithm, sm2_key = "sm2", sm2.public_key_hex(spki["public_key"].native)
            if sm2_key is None:
                raise ValueError("SM2 key not on the curve")
        elif spki.algorithm == "ec":
            algorithm = "ecdsa"
        elif spki.algorithm == "rsa":
            algorithm = "rsa"
        return CertInfo(
            der=der, cert=cert, algorithm=algorithm, sm2_key=sm2_key, subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(), serial_hex=format(cert.serial_number, "x"),
            sha256=hashlib.sha256(der).hexdigest(), common_name=_attr(cert.subject, NameOID.COMMON_NAME) or "",
            subject_serial=_attr(cert.subject, NameOID.SERIAL_NUMBER),
            not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc)
    except Exception as exc:  # noqa: BLE001 — any parse failure (ASN.1, Base64, Unicode) is one answer
        raise ValidationError(FORMAT, details={"certificate": [FORMAT]}) from exc


def decode_signature(text) -> bytes:
    """A signature as a key client returns it: Base64 (standard or URL-safe) or hex; bytes as they are."""
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    if not isinstance(text, str) or not text.strip() or len(text) > 4096:
        raise CertificateRefused(SIGNATURE_FORMAT, "signature_format")
    text = text.strip()
    try:
        if re.fullmatch(r"(?:[0-9a-fA-F]{2}){32,}", text):  # hex (Base64 of a signature is never all hex)
            return bytes.fromhex(text)
        return base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise CertificateRefused(SIGNATURE_FORMAT, "signature_format") from exc


# ---------------------------------------------------------------- the trust store

@dataclass
class TrustStore:
    roots: list[CertInfo]
    crls: list[x509.CertificateRevocationList]
    crl_required: bool = True


def load_pem_bundle(text: bytes) -> list[CertInfo]:
    """Every certificate of a PEM file (one or more), or a single DER certificate."""
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    return [parse_certificate(b) for b in blocks] if blocks else [parse_certificate(text)]


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


_CRL_CACHE: dict[str, tuple[float, bytes]] = {}


def fetch_crl(url: str, timeout: float, refresh_seconds: float) -> bytes | None:
    """A CRL from its distribution point over HTTP, kept ``refresh_seconds``; the last good copy is used
    while the point does not answer (its nextUpdate still decides whether it may be used)."""
    hit = _CRL_CACHE.get(url)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    try:
        response = requests.get(url, timeout=timeout)
        if response.status_code == 200 and response.content:
            load_crl(response.content)
            _CRL_CACHE[url] = (time.monotonic() + refresh_seconds, response.content)
            return response.content
    except Exception:  # noqa: BLE001 — unreachable, or not a CRL: fall back to the last copy
        pass
    return hit[1] if hit else None


def trust_store(config) -> TrustStore:
    """The CA roots and CRLs the configuration names (CERT_CA_FILES, CERT_CRL_FILES, CERT_CRL_URLS).
    An unreadable file is a configuration error and raises RuntimeError."""
    roots, crls = [], []
    for path in _list(config.get("CERT_CA_FILES")):
        with open(path, "rb") as fh:
            roots.extend(load_pem_bundle(fh.read()))
    for path in _list(config.get("CERT_CRL_FILES")):
        with open(path, "rb") as fh:
            crls.append(load_crl(fh.read()))
    for url in _list(config.get("CERT_CRL_URLS")):
        data = fetch_crl(url, float(config.get("CERT_TIMEOUT_SECONDS") or 5),
                         float(config.get("CERT_CRL_REFRESH_SECONDS") or 300))
        if data is not None:
            crls.append(load_crl(data))
    return TrustStore(roots, crls, bool(config.get("CERT_CRL_REQUIRED", True)))


def _list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


# ---------------------------------------------------------------- checks

def _signed_by(child_sig_oid: str, tbs: bytes, signature: bytes, parent: CertInfo, verify_other) -> bool:
    if child_sig_oid == SM2_WITH_SM3:
        return parent.algorithm == "sm2" and sm2.verify(parent.sm2_key, tbs, signature)
    if parent.algorithm not in ("rsa", "ecdsa"):
        return False
    try:
        verify_other()
        return True
    except Exception:  # noqa: BLE001 — InvalidSignature, an unsupported algorithm: not signed by it
        return False


def _cert_signed_by(child: CertInfo, parent: CertInfo) -> bool:
    if child.cert.issuer != parent.cert.subject:
        return False
    return _signed_by(child.cert.signature_algorithm_oid.dotted_string, child.cert.tbs_certificate_bytes,
                      child.cert.signature, parent, lambda: child.cert.verify_directly_issued_by(parent.cert))


def _crl_signed_by(crl: x509.CertificateRevocationList, ca: CertInfo) -> bool:
    if crl.issuer != ca.cert.subject:
        return False

    def other():
        if not crl.is_signature_valid(ca.cert.public_key()):
            raise InvalidSignature()
    return _signed_by(crl.signature_algorithm_oid.dotted_string, crl.tbs_certlist_bytes, crl.signature, ca, other)


def build_chain(leaf: CertInfo, store: TrustStore) -> list[CertInfo]:
    """leaf → … → a configured CA, each certificate signed by the next (issuer name and signature),
    every issuer a CA allowed to sign certificates (keyCertSign). Raises CertificateRefused (UNTRUSTED)."""
    if not store.roots:
        raise CertificateRefused(NO_CA, "no_ca")
    chain = [leaf]
    while len(chain) <= MAX_CHAIN:
        current = chain[-1]
        parent = next((ca for ca in store.roots if ca.may_sign_certificates() and ca.sha256 != current.sha256
                       and ca not in chain and _cert_signed_by(current, ca)), None)
        if parent is None:
            break
        chain.append(parent)
        if parent.cert.issuer == parent.cert.subject:  # a root: done
            return chain
    if len(chain) > 1:
        return chain  # a configured intermediate CA is a trust anchor too
    raise CertificateRefused(UNTRUSTED, "untrusted")


def check_validity(chain: list[CertInfo], now: datetime) -> None:
    for info in chain:
        if not info.not_before <= now <= info.not_after:
            raise CertificateRefused(EXPIRED, "expired")


def _partial(crl: x509.CertificateRevocationList) -> bool:
    """A delta CRL or one covering only part of the CA's certificates (issuingDistributionPoint)."""
    for oid in (ExtensionOID.ISSUING_DISTRIBUTION_POINT, ExtensionOID.DELTA_CRL_INDICATOR):
        try:
            crl.extensions.get_extension_for_oid(oid)
            return True
        except x509.ExtensionNotFound:
            continue
        except Exception:  # noqa: BLE001 — a malformed extension: not a CRL we can rely on
            return True
    return False


def check_revocation(chain: list[CertInfo], store: TrustStore, now: datetime) -> None:
    """For every certificate with an issuer in the chain: the issuer's CRL (valid signature by a key
    allowed to sign CRLs, complete, with nextUpdate, this/next update around ``now``) must not list it."""
    for child, ca in zip(chain, chain[1:]):
        crls = [c for c in store.crls if c.issuer == ca.cert.subject]
        if not crls:
            if store.crl_required:
                raise CertificateRefused(CRL_MISSING, "crl_missing")
            continue
        signed = [c for c in crls if ca.may_sign_crls() and _crl_signed_by(c, ca)]
        if any(_partial(c) for c in signed):
            raise CertificateRefused(CRL_PARTIAL, "crl_partial")
        if any(c.next_update_utc is None for c in signed):
            raise CertificateRefused(CRL_NO_NEXT_UPDATE, "crl_no_next_update")
        usable = [c for c in signed if c.last_update_utc <= now <= c.next_update_utc]
        if not usable:
            raise CertificateRefused(CRL_INVALID, "crl_invalid")
        if any(c.get_revoked_certificate_by_serial_number(child.cert.serial_number) is not None for c in usable):
            raise CertificateRefused(REVOKED, "revoked")


def check_leaf(leaf: CertInfo) -> None:
    """An end-entity signing certificate: not a CA, keyUsage present and including digitalSignature."""
    if leaf.is_ca:
        raise CertificateRefused(CA_AS_LEAF, "ca_as_leaf")
    usage = leaf.key_usage()
    if usage is None or not usage.digital_signature:
        raise CertificateRefused(NOT_FOR_SIGNING, "key_usage")


def signature_valid(leaf: CertInfo, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the leaf key's signature of ``data``: SM2-with-SM3 (DER or r||s, user id
    1234567812345678), ECDSA with SHA-256 (DER or r||s), RSA PKCS#1 v1.5 or PSS with SHA-256."""
    if leaf.algorithm == "sm2":
        return sm2.verify(leaf.sm2_key, data, signature)
    try:
        key = leaf.cert.public_key()
        if isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(signature) == 2 * size:
                signature = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                                 int.from_bytes(signature[size:], "big"))
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            return True
        if isinstance(key, rsa.RSAPublicKey):
            try:
                key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                key.verify(signature, data, padding.PSS(padding.PSS.MGF1(hashes.SHA256()),
                                                        padding.PSS.AUTO), hashes.SHA256())
            return True
    except Exception:  # noqa: BLE001 — InvalidSignature, unsupported key, malformed DER: not valid
        return False
    return False


def check_certificate(leaf: CertInfo, store: TrustStore, now: datetime) -> list[CertInfo]:
    """The whole certificate check (no signature yet); returns the chain. Raises CertificateRefused."""
    check_leaf(leaf)
    chain = build_chain(leaf, store)
    check_validity(chain, now)
    check_revocation(chain, store, now)
    return chain


def check_signature(leaf: CertInfo, data: bytes, signature) -> None:
    if not signature_valid(leaf, data, decode_signature(signature)):
        raise CertificateRefused(SIGNATURE_INVALID, "signature")
