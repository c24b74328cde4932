"""Evaluations (好差评), rectifications, consultations, complaints, disclosure."""
from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class Evaluation(db.Model):
    """好差评 of one case by its applicant: level (GB/T 39046 A.8: 1 非常满意 … 5 非常不满意), the four
    online indicators, a comment and the channel. One per case (the case is of one matter)."""
    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    process_id: Mapped[str] = mapped_column(String(64))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    #: {"efficiency", "guide_accuracy", "convenience", "usability"} -> 1..5
    indicators: Mapped[dict] = mapped_column(JSON, default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(2))  # see app.services.feedback.evaluations.CHANNELS
    named: Mapped[bool] = mapped_column(Boolean, default=True)  # 实名 (100% call back) or anonymous
    created_at = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("case_id", name="uq_evaluations_case"),)


class Rectification(db.Model):
    """整改工单: a 差评 sent to the department that handled the case. States: verifying (待核实) →
    rectifying (整改中) → replied (已反馈) → closed (已回访); appeal (申诉复核) → invalid | rectifying."""
    __tablename__ = "rectifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department: Mapped[str] = mapped_column(String(64))  # department code (candidate group of its handlers)
    region_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(16), default="verifying")
    due_date = mapped_column(Date, nullable=True)  # None while the calendar lacks the year
    verify_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)       # 整改反馈
    callback_result: Mapped[str | None] = mapped_column(String(16), nullable=True)  # satisfied|unsatisfied|unreachable
    callback_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    appeal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    appeal_from: Mapped[str | None] = mapped_column(String(16), nullable=True)
    appeal_decision: Mapped[str | None] = mapped_column(String(16), nullable=True)  # upheld | rejected
    appeal_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    replied_at = mapped_column(UTCDateTime, nullable=True)
    closed_at = mapped_column(UTCDateTime, nullable=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_rectifications_dept", "department", "region_code", "status"),)


class Question(db.Model):
    """咨询 (kind consultation, about a matter) or 投诉 (kind complaint, optionally about a case),
    routed to a candidate group in a region, with an answer deadline in working days."""
    __tablename__ = "questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))          # consultation | complaint
    category: Mapped[str] = mapped_column(String(12))      # general | specific (consultations); complaint
    process_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"), nullable=True)  # 追问
    asker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    route_group: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | answered
    due_date = mapped_column(Date, nullable=True)  # None while the calendar lacks the year
    extended_days: Mapped[int] = mapped_column(Integer, default=0)
    extension_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answered_at = mapped_column(UTCDateTime, nullable=True)
    overdue_days: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[str | None] = mapped_column(String(12), nullable=True)  # satisfied | unsatisfied
    rated_at = mapped_column(UTCDateTime, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_questions_route", "route_group", "region_code", "status"),)


class Disclosure(db.Model):
    """双公示 record of a decision. pending (waiting for staff: e.g. no document number) → published →
    retracted (with reason; a corrected record ``replaces_id`` it)."""
    __tablename__ = "disclosures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("disclosures.id"), nullable=True)
    document_no: Mapped[str | None] = mapped_column(String(100), nullable=True)  # 决定书文号
    project_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(200))       # 审批类别 (matter name / type)
    content: Mapped[str] = mapped_column(Text)                # the decision
    result: Mapped[str] = mapped_column(String(12))           # approved | rejected
    applicant_name: Mapped[str] = mapped_column(String(200))  # enterprises; individuals masked
    applicant_code: Mapped[str | None] = mapped_column(String(18), nullable=True)  # credit code only
    agency: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(6))
    decision_date = mapped_column(Date)
    due_date = mapped_column(Date, nullable=True)  # None while the calendar lacks the year
    status: Mapped[str] = mapped_column(String(12), default="pending")
    created_at = mapped_column(UTCDateTime, default=utcnow)
    published_at = mapped_column(UTCDateTime, nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    retracted_at = mapped_column(UTCDateTime, nullable=True)
    retracted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    retract_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_disclosures_status_date", "status", "decision_date"),)


class FeedbackEvent(db.Model):
    """The trail of rectifications, questions and disclosures: who did what, when, with what note."""
    __tablename__ = "feedback_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_kind: Mapped[str] = mapped_column(String(16))  # rectification | question | disclosure
    item_id: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    at = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_feedback_events_item", "item_kind", "item_id"),)
