"""Sealed documents and electronic licences (issue 17).

- ``sealed_documents``: one row per document the agency sealed (PAdES, app/services/seals): the decision
  document of a case (准予/不予许可决定书, 备案通知书, …) or one of its notices (受理通知书 / 不予受理决定书).
  The row keeps what /verify shows for the QR code's ``verify_code`` — the document's number, the
  SHA-256 of the sealed PDF exactly as issued, the seal certificate's SHA-256 and subject.
- ``licences``: the electronic licence record (电子证照, GB/T 36901-family catalog fields) an approval
  issues when its decision is sealed: type, identifier and number, holder and code, issuer and code,
  dates and status (有效 / 注销 / 撤销)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class SealedDocument(db.Model):
    """kind: ``decision`` (the case's decision document) | ``accept`` | ``refuse`` (the notices of
    case_notices); one of each kind per case at most."""
    __tablename__ = "sealed_documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: the document's title as printed (准予行政许可决定书, 项目备案通知书, 受理通知书 …)
    title: Mapped[str] = mapped_column(String(100))
    #: 文号 printed on the document
    doc_no: Mapped[str] = mapped_column(String(100))
    case_no: Mapped[str] = mapped_column(String(50))
    #: the case file holding the sealed PDF (kind ``result`` for a decision, ``notice`` for a notice)
    file_id: Mapped[int] = mapped_column(ForeignKey("case_files.id"))
    #: SHA-256 (hex) of the sealed PDF as issued
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: SHA-256 (hex) of the seal certificate (DER) and its subject
    cert_sha256: Mapped[str] = mapped_column(String(64), index=True)
    cert_subject: Mapped[str] = mapped_column(String(300))
    organ: Mapped[str] = mapped_column(String(200))
    sealed_at = mapped_column(UTCDateTime, default=utcnow)
    sealed_by: Mapped[str] = mapped_column(String(64))
    #: the code in the QR link /verify/<code> (random, not guessable)
    verify_code: Mapped[str] = mapped_column(String(32), unique=True)

    __table_args__ = (UniqueConstraint("case_id", "kind", name="uq_sealed_documents_case_kind"),)


LICENCE_STATUS = {"valid": "有效", "cancelled": "注销", "revoked": "撤销"}


class Licence(db.Model):
    """电子证照 record. ``licence_id`` is the 证照标识 (unique: type code, issuer code, case number);
    ``licence_no`` the 证照编号 printed on the document (the decision's 文号)."""
    __tablename__ = "licences"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    sealed_document_id: Mapped[int] = mapped_column(ForeignKey("sealed_documents.id"))
    licence_id: Mapped[str] = mapped_column(String(120), unique=True)
    type_code: Mapped[str] = mapped_column(String(40))
    type_name: Mapped[str] = mapped_column(String(200))
    licence_no: Mapped[str] = mapped_column(String(100), index=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_code: Mapped[str | None] = mapped_column(String(18), nullable=True)
    issuer_name: Mapped[str] = mapped_column(String(200))
    issuer_code: Mapped[str | None] = mapped_column(String(18), nullable=True)
    issued_on: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date] = mapped_column(Date)
    #: None: valid until cancelled or revoked (项目核准文件 and 备案证 name no fixed end)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    #: valid | cancelled | revoked (LICENCE_STATUS: 有效 / 注销 / 撤销)
    status: Mapped[str] = mapped_column(String(12), default="valid")
    created_at = mapped_column(UTCDateTime, default=utcnow)
