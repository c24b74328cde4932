"""The dated written notices of acceptance (受理通知书) and of refusal to accept (不予受理决定书):
行政许可法 art. 32 requires a written notice stamped by the organ and dated, whether the application is
accepted or not. Each row is the notice as issued — its text is a snapshot (the matter's name, the
organ, the applicant, the reason), so a later change of the matter or of the account does not alter
a document already handed out."""
from datetime import date

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class CaseNotice(db.Model):
    """kind: ``accept`` (受理通知书) | ``refuse`` (不予受理决定书); one of each kind per case at most."""
    __tablename__ = "case_notices"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: the notice's document number (文号), from the case number
    notice_no: Mapped[str] = mapped_column(String(64))
    case_no: Mapped[str] = mapped_column(String(50))
    matter_name: Mapped[str] = mapped_column(String(200))
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_code: Mapped[str | None] = mapped_column(String(18), nullable=True)
    #: the issuing organ (matter.json implementing_body.name)
    organ: Mapped[str] = mapped_column(String(200))
    #: the date printed on the notice: the Beijing day of the decision
    issued_on: Mapped[date] = mapped_column(Date)
    issued_at = mapped_column(UTCDateTime, default=utcnow)
    issued_by: Mapped[str] = mapped_column(String(64))
    #: 不予受理: the window's reason
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: further text of the notice: submitted_on, deadlines (受理), remedy (不予受理)
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (UniqueConstraint("case_id", "kind", name="uq_case_notices_case_kind"),)
