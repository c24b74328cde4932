"""Docking (issue 15): what the 一张网 sent us and we keep beyond the inbox — the application its
unified entry forwarded (its 申办流水号 linked to our case, so every stage we push names it) and the
ratings its evaluation system sent (their rating id linked to our evaluation: a rating received is
never pushed back). See app/services/docking/ywtb_intake.py and ywtb_ratings.py."""
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class YwtbApplication(db.Model):
    """One application received from the 一张网's unified entry (统一申办受理) and the case it became."""
    __tablename__ = "ywtb_applications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the 一张网's 申办流水号
    serial_no: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    #: the matter code as the 一张网 sent it (basic or implementation code)
    matter_code: Mapped[str] = mapped_column(String(40))
    #: the 一张网's submission channel (申报渠道) as sent, e.g. "2" PC, "3" mobile
    channel: Mapped[str] = mapped_column(String(8), default="")
    received_at = mapped_column(UTCDateTime, default=utcnow)


class YwtbRating(db.Model):
    """One 好差评 rating received from the 一张网's evaluation system, stored as our evaluation."""
    __tablename__ = "ywtb_ratings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the evaluation system's id of the rating
    rating_id: Mapped[str] = mapped_column(String(36), unique=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    #: the level as sent, on the national scale (5 非常满意 … 1 非常不满意)
    level_sent: Mapped[int] = mapped_column(Integer)
    received_at = mapped_column(UTCDateTime, default=utcnow)
