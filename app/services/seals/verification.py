"""Checking a PDF's electronic seal (/verify): is it a PDF, does it hold exactly one seal, is the
signed content intact, does it cover the whole file, is the certificate trusted, and is it one of this
agency's seal certificates — answered as a verdict with the first reason it fails, in Chinese.

pyhanko's status (see docs/trust-findings.md §2): ``bottom_line`` is the verdict; the reason comes from
``intact`` (the digest over the signed bytes), ``coverage`` / ``modification_level`` (an incremental
update after the seal), ``trusted`` (the chain to the roots of keys.trust_roots) and the certificate's
SHA-256 against the seal certificates this platform has sealed with. The signing time is the one the
signer reported (there is no timestamp authority): labelled so. ``validate_pdf_signature`` runs its own
event loop (asyncio.run): loop.py runs it on a worker thread when the caller's thread already runs one."""
from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from ...models.seals import SealedDocument
from ..common.clock import BEIJING
from .keys import fingerprint as cert_fingerprint
from .keys import trust_roots
from .loop import outside_event_loop
from .sealing import known_fingerprints, record_for_hash

logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)

REASONS = {
    "valid": "电子印章有效：文件自盖章后未被修改，印章证书由本机关信任的证书机构签发",
    "not_pdf": "不是PDF文件",
    "damaged": "文件已损坏，无法读取其中的PDF结构",
    "unsigned": "没有电子印章：该PDF未经电子签章",
    "several": "文件含有多个签名：本机关签发的文书只加盖一个电子印章，无法确认是原件",
    "unreadable": "电子印章数据无法解析（签名格式不受支持或已损坏）",
    "tampered": "文件在盖章后被修改：文件内容与电子印章不符",
    "appended": "盖章后追加了内容：电子印章只覆盖文件的一部分",
    "untrusted": "证书不受信任：印章证书不是由本机关信任的证书机构签发（或已过期）",
    "foreign": "印章证书与本机关不符：证书虽由受信任的机构签发，但不是本机关的电子印章",
    "mismatch": "文件与该验证码登记的文书不一致：请核对是否为同一份文书",
    "unregistered": "本机关的电子印章签发登记中没有这份文书：印章密钥可能被滥用，请与本机关核实",
}


@dataclass
class Verdict:
    valid: bool
    code: str
    message: str
    signer: str | None = None
    cert_sha256: str | None = None
    signed_at: str | None = None  # the signer-reported time (Beijing), no timestamp authority
    case_no: str | None = None
    sha256: str | None = None
    record: SealedDocument | None = None
    details: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        rec = self.record
        return {"valid": self.valid, "code": self.code, "message": self.message, "signer": self.signer,
                "cert_sha256": self.cert_sha256, "signer_reported_time": self.signed_at, "case_no": self.case_no,
                "sha256": self.sha256,
                "record": {"verify_code": rec.verify_code, "title": rec.title, "doc_no": rec.doc_no,
                           "case_no": rec.case_no, "organ": rec.organ, "sha256": rec.sha256,
                           "sealed_at": rec.sealed_at.isoformat() if rec.sealed_at else None} if rec else None}


def _bad(code: str, **kw) -> Verdict:
    return Verdict(False, code, REASONS[code], **kw)


def _local(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return ts.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def verify_pdf(blob: bytes, expected: SealedDocument | None = None) -> Verdict:
    """The verdict on ``blob`` (never raises for bad input). With ``expected`` (the record of a
    /verify/<code> page) the file must also be exactly the document sealed under that code."""
    sha = hashlib.sha256(blob).hexdigest()
    if not blob.startswith(b"%PDF-"):
        return _bad("not_pdf", sha256=sha)
    try:
        reader = PdfFileReader(io.BytesIO(blob), strict=False)
        sigs = list(reader.embedded_signatures)
    except Exception:  # noqa: BLE001 - any parse failure of an untrusted file is "damaged", never a 500
        return _bad("damaged", sha256=sha)
    if not sigs:
        return _bad("unsigned", sha256=sha)
    if len(sigs) > 1:
        return _bad("several", sha256=sha, details={"count": len(sigs)})
    sig = sigs[0]
    try:
        reason = sig.sig_object.get("/Reason")
        case_no = str(reason) if reason is not None else None
    except Exception:  # noqa: BLE001
        case_no = None
    context = ValidationContext(trust_roots=trust_roots(), allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = outside_event_loop(validate_pdf_signature, sig, context)
    except Exception:  # noqa: BLE001 - a CMS blob pyhanko cannot read is "unreadable", not a 500
        return _bad("unreadable", sha256=sha, case_no=case_no)
    cert = status.signing_cert
    info = {"signer": cert.subject.human_friendly if cert is not None else None,
            "cert_sha256": cert_fingerprint(cert) if cert is not None else None,
            "signed_at": _local(status.signer_reported_dt), "case_no": case_no, "sha256": sha,
            "details": {"intact": status.intact, "trusted": status.trusted,
                        "coverage": status.coverage.name if status.coverage else None,
                        "modification_level": status.modification_level.name if status.modification_level else None,
                        "summary": status.summary()}}
    if not status.intact or not status.valid:
        return _bad("tampered", **info)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE or (
            status.modification_level is not None and status.modification_level.name != "NONE"):
        return _bad("appended", **info)
    if not status.trusted:
        return _bad("untrusted", **info)
    if info["cert_sha256"] not in known_fingerprints():
        return _bad("foreign", **info)
    record = record_for_hash(sha)
    if expected is not None and expected.sha256 != sha:
        return _bad("mismatch", record=expected, **info)
    if not status.bottom_line:
        return _bad("untrusted", **info)
    if record is None:  # every seal is registered in the transaction that makes it
        return _bad("unregistered", **info)
    return Verdict(True, "valid", REASONS["valid"], record=record, **info)
