"""One-time notices (一次性告知 / 补正): what the applicant must supply or put right, listed at once
(行政许可法 art. 32), and the applicant's answer item by item."""
from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class CorrectionRequest(db.Model):
    """A 补正 request. ``mode`` window: at the window before acceptance, through the process's own
    correction step (the applicant's task is ``applicant_task_id``); handling: after acceptance, from
    any staff step, with a special procedure suspending the case clock (``procedure_id``) and the
    staff task blocked until the answer or a withdrawal.

    ``items`` is ``[{material, problem}]``; ``answers`` has one ``{files: [{id, filename}], remark}``
    per item, in the same order, once answered. At most one open request per case."""
    __tablename__ = "correction_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    mode: Mapped[str] = mapped_column(String(10))  # window | handling
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # the staff task it came from
    applicant_task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at = mapped_column(UTCDateTime, default=utcnow)
    items: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    due_date = mapped_column(Date, nullable=True)  # 补正期限 (last day), if one was set
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | answered | withdrawn
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("special_procedures.id"), nullable=True)
    answers: Mapped[list | None] = mapped_column(JSON, nullable=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    express_no: Mapped[str | None] = mapped_column(String(40), nullable=True)
    answered_at = mapped_column(UTCDateTime, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # who withdrew it
    close_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("uq_correction_requests_open", "case_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )
