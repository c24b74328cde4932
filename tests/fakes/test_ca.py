"""A certificate authority made at test time (never a committed key): an SM2 CA (SM2-with-SM3 certificates
and CRLs built with asn1crypto, signed through app/services/identity/sm2.py) and an ECDSA P-256 or RSA CA
(cryptography's builders). Both issue staff certificates and CRLs and hand out the user's key, so that the
software key client (tests/fakes/keyclient_standin.py) can sign as a USB key would.

    ca = SM2CA("测试CA")
    user = ca.issue("张三", employee_no="EMP0001")            # valid 2025-01-01 … 2030-01-01
    old = ca.issue("李四", not_before=datetime(2020, 1, 1, tzinfo=UTC), days=1)
    crl = ca.crl(revoked=[old.serial])                       # DER; ca.crl_pem(...) for PEM
    user.sign(b"nonce")                                      # DER SM2 signature (raw=True for r||s)
    enc = ca.issue("王五", key_usage={"key_encipherment"})   # keyUsage without digitalSignature; None: omitted
    sub = ca.issue("下级CA", ca=True)                        # a CA certificate (basicConstraints ca=True)
"""
from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from asn1crypto import crl as asn1_crl
from asn1crypto.algos import DSASignature
from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from gmssl.sm2 import CryptSM2, default_ecc_table

UTC = timezone.utc
SM2_WITH_SM3 = "1.2.156.10197.1.501"
SM2_CURVE = "1.2.156.10197.1.301"
DEFAULT_FROM = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT_DAYS = 5 * 365


_N = int(default_ecc_table["n"], 16)
#: keyUsage of an issued certificate: digitalSignature for a user, keyCertSign + cRLSign for a CA
SIGNING = frozenset({"digital_signature"})
_KEY_USAGE_ARGS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                   "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")


class _SM2:
    """SM2 with gmssl's own SM3/Z_A code, independent of the app's sm2.py (a test then proves that the
    app verifies what another implementation signed). gmssl pitfalls avoided as the app does: the key
    is assigned after construction (P1), nonces and keys come from ``secrets`` (P2)."""

    @staticmethod
    def _engine(d_hex: str, pub_hex: str) -> CryptSM2:
        engine = CryptSM2(private_key=d_hex, public_key="00" * 64)
        engine.public_key = pub_hex
        return engine

    @classmethod
    def keygen(cls) -> tuple[str, str]:
        d = secrets.randbelow(_N - 2) + 1
        return "%064x" % d, cls._engine("00", "00" * 64)._kg(d, default_ecc_table["g"])

    @classmethod
    def sign(cls, d_hex: str, pub_hex: str, data: bytes, raw: bool = False) -> bytes:
        engine = cls._engine(d_hex, pub_hex)
        out = None
        while not out:
            out = engine.sign_with_sm3(data, "%064x" % (secrets.randbelow(_N - 1) + 1))
        r, s = int(out[:64], 16), int(out[64:], 16)
        if raw:
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return DSASignature({"r": r, "s": s}).dump()


sm2 = _SM2


def _pem(kind: str, der: bytes) -> str:
    return asn1_pem.armor(kind, der).decode("ascii")


@dataclass
class Issued:
    """A certificate with its private key (what a USB key holds)."""
    cn: str
    serial: int
    der: bytes
    algorithm: str              # sm2 | ecdsa | rsa
    key: object                 # sm2: (d_hex, pub_hex); else a cryptography private key
    extra: dict = field(default_factory=dict)

    @property
    def pem(self) -> str:
        return _pem("CERTIFICATE", self.der)

    @property
    def b64(self) -> str:
        return base64.b64encode(self.der).decode("ascii")

    def sign(self, data: bytes, *, raw: bool = False) -> bytes:
        if self.algorithm == "sm2":
            return sm2.sign(self.key[0], self.key[1], data, raw=raw)
        if self.algorithm == "ecdsa":
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _name(cn: str, employee_no: str | None = None, org: str = "江苏省发展和改革委员会") -> asn1_x509.Name:
    values = {"country_name": "CN", "organization_name": org, "common_name": cn}
    if employee_no:
        values["serial_number"] = employee_no
    return asn1_x509.Name.build(values, use_printable=False)


class SM2CA:
    """A root CA with an SM2 key; certificates and CRLs signed SM2-with-SM3 (GM/T 0015 shape)."""

    algorithm = "sm2"

    def __init__(self, name: str = "测试SM2根CA", *, not_before: datetime = DEFAULT_FROM,
                 days: int = 10 * 365):
        self.name = _name(name, org="测试证书认证中心")
        self.d, self.pub = sm2.keygen()
        self._serial = 1000
        self.der = self._build(self.name, self.pub, serial=1, not_before=not_before, days=days, ca=True)

    @property
    def pem(self) -> str:
        return _pem("CERTIFICATE", self.der)

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _sign(self, data: bytes) -> bytes:
        return sm2.sign(self.d, self.pub, data)

    def _build(self, subject, pub_hex, *, serial, not_before, days, ca=False, key_usage=SIGNING) -> bytes:
        spki = asn1_keys.PublicKeyInfo({
            "algorithm": {"algorithm": "ec",
                          "parameters": asn1_keys.ECDomainParameters(name="named", value=SM2_CURVE)},
            "public_key": b"\x04" + bytes.fromhex(pub_hex)})
        usage = {"key_cert_sign", "crl_sign"} if ca and key_usage is SIGNING else key_usage
        exts = [{"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}}]
        if usage is not None:
            exts.append({"extn_id": "key_usage", "critical": True, "extn_value": set(usage)})
        tbs = asn1_x509.TbsCertificate({
            "version": "v3", "serial_number": serial, "signature": {"algorithm": SM2_WITH_SM3},
            "issuer": self.name, "subject": subject,
            "validity": {"not_before": asn1_x509.Time({"utc_time": not_before}),
                         "not_after": asn1_x509.Time({"utc_time": not_before + timedelta(days=days)})},
            "subject_public_key_info": spki, "extensions": exts})
        cert = asn1_x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": {"algorithm": SM2_WITH_SM3},
                                      "signature_value": self._sign(tbs.dump())})
        return cert.dump()

    def issue(self, cn: str, *, employee_no: str | None = None, not_before: datetime = DEFAULT_FROM,
              days: int = DEFAULT_DAYS, key_usage=SIGNING, ca: bool = False) -> Issued:
        d, pub = sm2.keygen()
        serial = self._next_serial()
        der = self._build(_name(cn, employee_no), pub, serial=serial, not_before=not_before, days=days,
                          ca=ca, key_usage=key_usage)
        return Issued(cn, serial, der, "sm2", (d, pub))

    def crl(self, revoked=(), *, this_update: datetime = DEFAULT_FROM,
            next_update: datetime | None = datetime(2031, 1, 1, tzinfo=UTC), extensions=None) -> bytes:
        """``extensions``: asn1crypto crl_extensions, e.g. [{"extn_id": "delta_crl_indicator", "critical": True,
        "extn_value": 7}]."""
        tbs = asn1_crl.TbsCertList({
            "version": "v2", "signature": {"algorithm": SM2_WITH_SM3}, "issuer": self.name,
            "this_update": asn1_x509.Time({"utc_time": this_update}),
            "next_update": asn1_x509.Time({"utc_time": next_update}) if next_update else None,
            "revoked_certificates": [{"user_certificate": s, "revocation_date": asn1_x509.Time(
                {"utc_time": this_update})} for s in revoked] or None,
            "crl_extensions": extensions or None})
        return asn1_crl.CertificateList({"tbs_cert_list": tbs, "signature_algorithm": {"algorithm": SM2_WITH_SM3},
                                         "signature": self._sign(tbs.dump())}).dump()

    def crl_pem(self, revoked=(), **kw) -> str:
        return _pem("X509 CRL", self.crl(revoked, **kw))

    # -- kept between runs of scripts/keyclient (instance/keyclient/, never in the repository) -----
    def state(self) -> dict:
        return {"d": self.d, "pub": self.pub, "der": base64.b64encode(self.der).decode(),
                "name": base64.b64encode(self.name.dump()).decode(), "serial": self._serial}

    @classmethod
    def from_state(cls, state: dict) -> "SM2CA":
        ca = cls.__new__(cls)
        ca.d, ca.pub, ca._serial = state["d"], state["pub"], state["serial"]
        ca.der = base64.b64decode(state["der"])
        ca.name = asn1_x509.Name.load(base64.b64decode(state["name"]))
        return ca


def issued_state(issued: Issued) -> dict:
    return {"cn": issued.cn, "serial": issued.serial, "der": issued.b64, "d": issued.key[0], "pub": issued.key[1]}


def issued_from_state(state: dict) -> Issued:
    return Issued(state["cn"], state["serial"], base64.b64decode(state["der"]), "sm2", (state["d"], state["pub"]))


class CryptoCA:
    """A root CA with an ECDSA P-256 (``kind="ecdsa"``) or RSA-2048 (``kind="rsa"``) key."""

    def __init__(self, name: str = "测试ECDSA根CA", kind: str = "ecdsa", *, not_before: datetime = DEFAULT_FROM,
                 days: int = 10 * 365):
        self.algorithm = kind
        self.key = self._key()
        self.name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                               x509.NameAttribute(NameOID.ORGANIZATION_NAME, "测试证书认证中心"),
                               x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._serial = 1000
        self.cert = (self._builder(self.name, self.key.public_key(), 1, not_before, days)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)
                     .sign(self.key, hashes.SHA256()))
        self.der = self.cert.public_bytes(serialization.Encoding.DER)

    def _key(self):
        if self.algorithm == "rsa":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return ec.generate_private_key(ec.SECP256R1())

    @property
    def pem(self) -> str:
        return _pem("CERTIFICATE", self.der)

    def _builder(self, subject, public_key, serial, not_before, days):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(self.name).public_key(public_key)
                .serial_number(serial).not_valid_before(not_before)
                .not_valid_after(not_before + timedelta(days=days)))

    def issue(self, cn: str, *, employee_no: str | None = None, not_before: datetime = DEFAULT_FROM,
              days: int = DEFAULT_DAYS, key_usage=SIGNING) -> Issued:
        key = self._key()
        self._serial += 1
        attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, "江苏省发展和改革委员会"),
                 x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if employee_no:
            attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, employee_no))
        builder = (self._builder(x509.Name(attrs), key.public_key(), self._serial, not_before, days)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
        if key_usage is not None:
            builder = builder.add_extension(x509.KeyUsage(**{k: k in key_usage for k in _KEY_USAGE_ARGS}), True)
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(cn, self._serial, cert.public_bytes(serialization.Encoding.DER), self.algorithm, key)

    def crl(self, revoked=(), *, this_update: datetime = DEFAULT_FROM,
            next_update: datetime | None = datetime(2031, 1, 1, tzinfo=UTC)) -> bytes:
        builder = x509.CertificateRevocationListBuilder().issuer_name(self.name).last_update(this_update) \
            .next_update(next_update or this_update + timedelta(days=3650))
        for serial in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(this_update).build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def crl_pem(self, revoked=(), **kw) -> str:
        return _pem("X509 CRL", self.crl(revoked, **kw))


def random_nonce() -> str:
    return secrets.token_urlsafe(24)
