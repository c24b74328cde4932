"""Paper-mail intake (快递申请), receipts (回执单) and results (办理结果) of a case."""
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class MailIntake(db.Model):
    """One submission of the paper-mail evidence by the applicant: the courier slip scan (快递面单)
    with courier and tracking number, the content list (材料清单) and the signed commitment letter
    (承诺书). The window clerk confirms it (the receipt is issued, ``receipt_file_id``) or refuses it
    with a reason; after a refusal the applicant submits a new one. The latest row is the current one.

    status: submitted | confirmed | refused"""
    __tablename__ = "mail_intakes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    courier: Mapped[str] = mapped_column(String(40))
    tracking_no: Mapped[str] = mapped_column(String(40))
    slip_file_id: Mapped[int] = mapped_column(ForeignKey("case_files.id"))
    list_file_id: Mapped[int] = mapped_column(ForeignKey("case_files.id"))
    commitment_file_id: Mapped[int] = mapped_column(ForeignKey("case_files.id"))
    #: the paper materials of the matter this intake stands for (names, at submission)
    materials: Mapped[list] = mapped_column(JSON, default=list)
    submitted_by: Mapped[str] = mapped_column(String(64))
    submitted_at = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at = mapped_column(UTCDateTime, nullable=True)
    refuse_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    receipt_file_id: Mapped[int | None] = mapped_column(ForeignKey("case_files.id"), nullable=True)

    __table_args__ = (Index("ix_mail_intakes_case_status", "case_id", "status"),)


class CaseResult(db.Model):
    """The mailed original of a case's result (决定书原件): courier and tracking number, one per case.
    The decision scan itself is a case file of kind ``result``."""
    __tablename__ = "case_results"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    courier: Mapped[str] = mapped_column(String(40))
    tracking_no: Mapped[str] = mapped_column(String(40))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at = mapped_column(UTCDateTime, default=utcnow)
