from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow


class Matter(db.Model):
    """An administrative matter (事项); its process id is the key. Points at the latest version."""
    __tablename__ = "matters"
    process_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    basic_code: Mapped[str] = mapped_column(String(10))
    implementation_code: Mapped[str] = mapped_column(String(24))
    matter_type: Mapped[str] = mapped_column(String(4))
    case_type: Mapped[str] = mapped_column(String(2))
    latest_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_versions.id", use_alter=True), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    latest_version = relationship("ProcessVersion", foreign_keys=[latest_version_id], lazy="joined")


class ProcessVersion(db.Model):
    """One deployed version of a matter, identified by the SHA-256 of its content. Stored once; every
    instance started on it points here, so a running case keeps its version (forms included)."""
    __tablename__ = "process_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(64), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 … per process
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    matter: Mapped[dict] = mapped_column(JSON)
    forms: Mapped[dict] = mapped_column(JSON)       # form id -> form-js schema
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)  # serialized SpiffWorkflow spec
    summary: Mapped[dict] = mapped_column(JSON)     # start form, user tasks, end events (for lists)
    source_file: Mapped[str] = mapped_column(String(255))
    deployed_by: Mapped[str] = mapped_column(String(64), default="system")
    deployed_at = mapped_column(UTCDateTime, default=utcnow)
