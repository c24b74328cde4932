"""The agency's seal key and certificate, and the roots /verify trusts.

Where the key comes from, in order:
1. SEAL_PKCS11_MODULE — a PKCS#11 module (a USB key or an HSM) through pyhanko.sign.pkcs11 (needs
   python-pkcs11; app/config.py refuses to start when the module is configured without it);
2. SEAL_KEY_FILE + SEAL_CERT_FILE (+ SEAL_CHAIN_FILES, SEAL_KEY_PASSPHRASE) — PEM or DER files kept
   outside the repository;
3. nothing configured, in development or tests: a development CA and a seal certificate (ECDSA P-256,
   subject = the organ's name) generated on first use under SEAL_DEV_DIR (default instance/seal-dev,
   gitignored; tests: a temporary directory per process). Never in production: there, sealing is
   unavailable with a clear message and /verify trusts only the configured chain.

The trusted roots for /verify: the configured chain (and its self-signed members) plus, in
development, the development CA."""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import current_app
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from ...config import ROOT, is_development
from ...domain.errors import DomainError

try:  # PKCS#11 is optional (python-pkcs11); app/config.py refuses a configured module without it
    from pyhanko.sign import pkcs11 as hanko_pkcs11
except ImportError:  # pragma: no cover - depends on the installation
    hanko_pkcs11 = None


class SealUnavailable(DomainError):
    """No seal key: production without SEAL_* settings, or a key that cannot be loaded."""
    status = 503
    code = "seal_unavailable"


@dataclass
class SealKey:
    signer: object
    cert: asn1_x509.Certificate
    #: SHA-256 (hex) of the seal certificate's DER
    fingerprint: str
    subject: str
    source: str  # pkcs11 | files | development
    chain: list = field(default_factory=list)


_LOCK = threading.Lock()
_CACHE: dict = {}
_TEST_DIRS: set = set()
DEV_FILES = ("dev-ca.key.pem", "dev-ca.pem", "seal.key.pem", "seal.pem")


def fingerprint(cert: asn1_x509.Certificate) -> str:
    return hashlib.sha256(cert.dump()).hexdigest()


def organ_name() -> str:
    return current_app.config["AGENCY_NAME"]


# -- configured files ------------------------------------------------------------------------------
def _load_certs(path: str) -> list[asn1_x509.Certificate]:
    data = Path(path).read_bytes()
    if asn1_pem.detect(data):
        return [asn1_x509.Certificate.load(der) for _, _, der in asn1_pem.unarmor(data, multiple=True)]
    return [asn1_x509.Certificate.load(data)]


def _chain_files(cfg) -> list[str]:
    return [p.strip() for p in (cfg.get("SEAL_CHAIN_FILES") or "").split(",") if p.strip()]


def configured_chain(cfg) -> list[asn1_x509.Certificate]:
    certs = []
    for path in _chain_files(cfg):
        try:
            certs.extend(_load_certs(path))
        except (OSError, ValueError) as exc:
            raise SealUnavailable(f"印章证书链文件无法读取：{path}（{exc.__class__.__name__}）") from None
    return certs


def _from_files(cfg) -> SealKey:
    passphrase = (cfg.get("SEAL_KEY_PASSPHRASE") or "").encode("utf-8") or None
    try:
        signer = signers.SimpleSigner.load(cfg["SEAL_KEY_FILE"], cfg["SEAL_CERT_FILE"],
                                           ca_chain_files=tuple(_chain_files(cfg)) or None, key_passphrase=passphrase)
    except Exception as exc:  # noqa: BLE001 - any failure to read the key is "unavailable", told plainly
        raise SealUnavailable(f"印章密钥或证书无法读取（SEAL_KEY_FILE / SEAL_CERT_FILE）：{exc.__class__.__name__}") from None
    if signer is None or signer.signing_cert is None:
        raise SealUnavailable("印章密钥或证书无法读取（SEAL_KEY_FILE / SEAL_CERT_FILE）：口令错误或格式不支持")
    cert = signer.signing_cert
    return SealKey(signer, cert, fingerprint(cert), cert.subject.human_friendly, "files", configured_chain(cfg))


def _from_pkcs11(cfg) -> SealKey:
    if hanko_pkcs11 is None:
        raise SealUnavailable("已配置 SEAL_PKCS11_MODULE，但未安装 python-pkcs11")
    try:
        session = hanko_pkcs11.open_pkcs11_session(cfg["SEAL_PKCS11_MODULE"], token_label=cfg.get("SEAL_PKCS11_TOKEN")
                                                   or None, user_pin=cfg.get("SEAL_PKCS11_PIN") or None)
        signer = hanko_pkcs11.PKCS11Signer(session, key_label=cfg["SEAL_PKCS11_KEY_LABEL"],
                                           other_certs_to_pull=None)
        cert = signer.signing_cert
    except Exception as exc:  # noqa: BLE001 - a token error is "unavailable", told plainly
        raise SealUnavailable(f"无法打开印章密钥（PKCS#11）：{exc.__class__.__name__}") from None
    return SealKey(signer, cert, fingerprint(cert), cert.subject.human_friendly, "pkcs11", configured_chain(cfg))


# -- the development CA ----------------------------------------------------------------------------
def dev_dir(cfg) -> Path:
    if cfg.get("SEAL_DEV_DIR"):
        return Path(cfg["SEAL_DEV_DIR"])
    if cfg.get("TESTING"):  # tests: keys made at test time, in a temporary directory, never in the repo
        path = Path(tempfile.gettempdir()) / f"yg-seal-test-{os.getpid()}"
        if path not in _TEST_DIRS:
            _TEST_DIRS.add(path)
            atexit.register(shutil.rmtree, path, True)  # removed when the test process ends
        return path
    return ROOT / "instance" / "seal-dev"


def _name(cn: str, unit: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, cn)]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn if not unit else f"{cn}{unit}"))
    return x509.Name(attrs)


def make_ca_and_seal(organ: str, ca_name: str = "阳光发改开发用根证书（仅供开发测试）") -> tuple:
    """A CA and a seal certificate issued by it (ECDSA P-256, SHA-256): (ca_key, ca_cert, key, cert).
    Also used by the tests to make a foreign seal."""
    now = datetime.now(timezone.utc) - timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = _name(ca_name)
    ca_cert = (x509.CertificateBuilder().subject_name(ca_subject).issuer_name(ca_subject)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(now + timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(organ, "电子印章")).issuer_name(ca_subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=1825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return ca_key, ca_cert, key, cert


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def ensure_dev_files(directory: Path, organ: str) -> None:
    """Generate the development CA and seal certificate once (kept: documents sealed earlier stay
    verifiable across restarts)."""
    if all((directory / name).exists() for name in DEV_FILES):
        return
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca_key, ca_cert, key, cert = make_ca_and_seal(organ)
    pem = serialization.Encoding.PEM
    for name, data in zip(DEV_FILES, (_pem_key(ca_key), ca_cert.public_bytes(pem), _pem_key(key),
                                      cert.public_bytes(pem))):
        _write_private(directory / name, data)


def simple_signer(key, cert, chain) -> signers.SimpleSigner:
    """A pyhanko signer from cryptography objects (the key in PKCS#8 DER)."""
    der = serialization.Encoding.DER
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(der)),
        signing_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(c.public_bytes(der))
                                                         for c in chain]))


def _development(cfg) -> SealKey:
    directory = dev_dir(cfg)
    try:
        ensure_dev_files(directory, cfg["AGENCY_NAME"])
        key = serialization.load_pem_private_key((directory / "seal.key.pem").read_bytes(), None)
        cert = x509.load_pem_x509_certificate((directory / "seal.pem").read_bytes())
        ca = x509.load_pem_x509_certificate((directory / "dev-ca.pem").read_bytes())
    except (OSError, ValueError) as exc:
        raise SealUnavailable(f"开发用印章密钥无法生成或读取（{directory}）：{exc.__class__.__name__}") from None
    signer = simple_signer(key, cert, [ca])
    asn_cert = signer.signing_cert
    return SealKey(signer, asn_cert, fingerprint(asn_cert), asn_cert.subject.human_friendly, "development",
                   [asn1_x509.Certificate.load(ca.public_bytes(serialization.Encoding.DER))])


def _cache_key(cfg) -> tuple:
    return tuple(str(cfg.get(k) or "") for k in ("SEAL_PKCS11_MODULE", "SEAL_PKCS11_KEY_LABEL", "SEAL_KEY_FILE",
                                                 "SEAL_CERT_FILE", "SEAL_CHAIN_FILES", "AGENCY_NAME",
                                                 "SEAL_PKCS11_TOKEN")) \
        + (str(dev_dir(cfg)), is_development(cfg),
           hashlib.sha256(str(cfg.get("SEAL_KEY_PASSPHRASE") or cfg.get("SEAL_PKCS11_PIN") or "").encode()).hexdigest())


def seal_key() -> SealKey:
    """The seal key of this deployment. Raises SealUnavailable (503) with the reason in Chinese."""
    cfg = current_app.config
    ck = _cache_key(cfg)
    with _LOCK:
        if ck in _CACHE:
            return _CACHE[ck]
        if cfg.get("SEAL_PKCS11_MODULE"):
            found = _from_pkcs11(cfg)
        elif cfg.get("SEAL_KEY_FILE") and cfg.get("SEAL_CERT_FILE"):
            found = _from_files(cfg)
        elif is_development(cfg):
            found = _development(cfg)
        else:
            raise SealUnavailable("本机关尚未配置电子印章密钥（SEAL_KEY_FILE / SEAL_CERT_FILE 或 SEAL_PKCS11_MODULE），"
                                  "暂不能盖章签发，请联系系统管理员")
        _CACHE[ck] = found
        return found


def trust_roots() -> list[asn1_x509.Certificate]:
    """The roots /verify trusts: the configured chain, and the development CA in development (its
    files only when they already exist: verifying never generates keys)."""
    cfg = current_app.config
    roots = []
    try:
        roots.extend(configured_chain(cfg))
    except SealUnavailable:
        pass
    if is_development(cfg) and not cfg.get("SEAL_PKCS11_MODULE") and not cfg.get("SEAL_KEY_FILE"):
        ca = dev_dir(cfg) / "dev-ca.pem"
        if ca.exists():
            try:
                roots.extend(_load_certs(str(ca)))
            except (OSError, ValueError):
                pass
    return roots


def current_fingerprint() -> str | None:
    """The SHA-256 of the seal certificate in use (None when sealing is unavailable)."""
    try:
        return seal_key().fingerprint
    except SealUnavailable:
        return None
