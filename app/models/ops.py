"""Operations: what the running processes say about themselves (migration 0012)."""
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime


class SchedulerHeartbeat(db.Model):
    """One running scheduler process, named ``<hostname>:<pid>``. Its ``beat_at`` is rewritten every
    SCHEDULER_HEARTBEAT_SECONDS (app/services/ops/health.py); the row is deleted when the process stops
    cleanly, and by the other schedulers' beats a day after a process stopped without doing so."""
    __tablename__ = "scheduler_heartbeats"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at = mapped_column(UTCDateTime, nullable=False)
    beat_at = mapped_column(UTCDateTime, nullable=False, index=True)
