from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class Case(db.Model):
    """办件: one application for one matter, on one process version."""
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_no: Mapped[str | None] = mapped_column(String(50), unique=True, nullable=True)  # set on submit
    process_id: Mapped[str] = mapped_column(String(64), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), nullable=True, unique=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_code: Mapped[str | None] = mapped_column(String(18), nullable=True)
    project_code: Mapped[str | None] = mapped_column(String(24), nullable=True, index=True)
    project_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(24), default="draft")
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # the start form as submitted
    current_step: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    submitted_at = mapped_column(UTCDateTime, nullable=True)
    accepted_at = mapped_column(UTCDateTime, nullable=True)
    decided_at = mapped_column(UTCDateTime, nullable=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_cases_status", "status"),)


class CaseEvent(db.Model):
    """The audit trail: every action on a case, by whom, when, with what opinion and data change."""
    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    element_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    step_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    opinion: Mapped[str | None] = mapped_column(Text, nullable=True)
    from_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    data_change: Mapped[dict] = mapped_column(JSON, default=dict)


class CaseSerial(db.Model):
    """Per region and day, the last case serial handed out (row-locked while incremented)."""
    __tablename__ = "case_serials"
    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
