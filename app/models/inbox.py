from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class TaskCc(db.Model):
    """抄送: a read-only copy of a case sent to a colleague from a task."""
    __tablename__ = "task_cc"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    from_user: Mapped[str] = mapped_column(String(64))
    to_user: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    read_at = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_task_cc_to_created", "to_user", "created_at"),)


class CaseParticipant(db.Model):
    """我经手的: one row per (case, staff user who acted on it), touched on every action."""
    __tablename__ = "case_participants"
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_action: Mapped[str] = mapped_column(String(32))
    last_at = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_case_participants_user_last", "username", "last_at"),)


class CaseFile(db.Model):
    """A file attached to a case (scans of meeting opinions, expert reviews, other departments'
    opinions, applicant materials). The bytes live outside the web root under ``storage_key``."""
    __tablename__ = "case_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32), default="other")
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the materials-list entry (its name) an applicant's upload answers (migration 0006)
    material: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
