from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class CalendarYear(db.Model):
    """A year whose holiday data is complete; a year without a row cannot be computed in."""
    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(64))       # chinesecalendar | import | admin
    note: Mapped[str] = mapped_column(String(500), default="")
    updated_by: Mapped[str] = mapped_column(String(64), default="system")
    updated_at = mapped_column(UTCDateTime, default=utcnow)


class CalendarDay(db.Model):
    """An exception to the Monday–Friday rule: a holiday, or a weekend day that is a working day."""
    __tablename__ = "calendar_days"
    day = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))          # holiday | workday
    name: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(64), default="admin")
    updated_by: Mapped[str] = mapped_column(String(64), default="system")
    updated_at = mapped_column(UTCDateTime, default=utcnow)
