"""Supervision across levels (issue 14 point 5): the cases of the lower levels as their platforms
report them (``progress`` messages without ``origin_case_no``), one row per reporting region and
case number, the newest report (by its ``seq``) kept."""
from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class FederatedCaseReport(db.Model):
    """One lower-level case as last reported: its matter, status, dates and its own statutory clock
    (each level's case has its own; a case forwarded in names its origin)."""
    __tablename__ = "federated_case_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the case's region (GB/T 2260) and its number there
    region: Mapped[str] = mapped_column(String(6))
    case_no: Mapped[str] = mapped_column(String(50))
    #: the peer the newest report came from (the region itself, or the city that relayed it)
    via: Mapped[str] = mapped_column(String(6))
    seq: Mapped[int] = mapped_column(Integer)
    process_id: Mapped[str] = mapped_column(String(64), default="")
    basic_code: Mapped[str] = mapped_column(String(20), default="")
    matter_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(24))
    label: Mapped[str] = mapped_column(String(50), default="")
    submitted_at = mapped_column(UTCDateTime, nullable=True)
    accepted_at = mapped_column(UTCDateTime, nullable=True)
    decided_at = mapped_column(UTCDateTime, nullable=True)
    statutory_due = mapped_column(Date, nullable=True)
    promised_due = mapped_column(Date, nullable=True)
    clock_state: Mapped[str] = mapped_column(String(16), default="not_started")
    #: as the sender judged it when reporting (decided late, or open past its statutory day)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a case forwarded in at that level: ``{"region", "case_no"}`` of its origin, else None
    origin: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    received_at = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("region", "case_no", name="uq_federated_case_reports_case"),
                      Index("ix_federated_case_reports_due", "region", "statutory_due"))
