from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    #: the region whose staff handle the case (GB/T 2260); tasks inherit it
    region_code: Mapped[str] = mapped_column(String(6), default="320000")
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # the start form as submitted
    current_step: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # the case clock (办理时限): starts at acceptance, paused by special procedures
    clock_state: Mapped[str] = mapped_column(String(16), default="not_started")  # not_started|running|suspended|stopped
    statutory_due = mapped_column(Date, nullable=True)   # 法定办结期限 (last day)
    promised_due = mapped_column(Date, nullable=True)    # 承诺办结期限 (last day)
    suspended_days: Mapped[int] = mapped_column(Integer, default=0)  # working days excluded so far
    extended_days: Mapped[int] = mapped_column(Integer, default=0)   # 延长审批 working days
    clock_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    submitted_at = mapped_column(UTCDateTime, nullable=True)
    accepted_at = mapped_column(UTCDateTime, nullable=True)
    decided_at = mapped_column(UTCDateTime, nullable=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow)
    #: a case forwarded in (转报) from another platform: its region and case number there (migration 0014)
    origin_region: Mapped[str | None] = mapped_column(String(6), nullable=True)
    origin_case_no: Mapped[str | None] = mapped_column(String(50), nullable=True)
    #: the head of the case's tamper-evident trail (issue 17, app/services/trail/chain.py): the last
    #: event's seq and row hash; kept here so recording an event never reads the previous row
    trail_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    trail_head: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_cases_status", "status"), Index("ix_cases_clock", "clock_state", "statutory_due"),
                      UniqueConstraint("origin_region", "origin_case_no", name="uq_cases_origin"))


class SpecialProcedure(db.Model):
    """特别程序: a period the statutory clock does not count (补正, 专家评审, 听证, 检测 …), or the one
    extension (延长审批). Kind code per GB/T 39046 A.7: 1 延长审批, 2 其他."""
    __tablename__ = "special_procedures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind_code: Mapped[str] = mapped_column(String(2))
    kind: Mapped[str] = mapped_column(String(32))  # extension|correction|expert_review|hearing|testing|assessment|other
    reason: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text, default="")
    planned_duration: Mapped[int] = mapped_column(Integer)
    planned_unit: Mapped[str] = mapped_column(String(16))  # working_day | natural_day
    started_at = mapped_column(UTCDateTime)
    ended_at = mapped_column(UTCDateTime, nullable=True)
    handler: Mapped[str] = mapped_column(String(64))
    approver: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | ended
    counted_days: Mapped[int] = mapped_column(Integer, default=0)  # working days excluded (or added)


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
    #: the hash chain (issue 17, app/services/trail/chain.py): 1.. per case, the previous row's hash
    #: (64 zeros for the first) and SHA-256 of this row's canonical content with prev_hash
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    row_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the task row this event concerns when it is no longer the row of ``task_id``: a step reopened by
    #: 退回 / 撤回 takes the engine's id of the finished step, whose row goes on as history under a new id
    #: (operations._reset); the events of that finished round point here to the history row. Outside the
    #: chain: ``task_id`` stays as recorded, so the row's hash still verifies.
    task_ref: Mapped[str | None] = mapped_column(String(36), nullable=True)

    @property
    def task_row_id(self) -> str | None:
        """The id of the task row (``human_tasks``) this event concerns."""
        return self.task_ref or self.task_id

    #: ix_case_events_at: the day's changed cases, for the signed daily root (app/services/trail/roots.py)
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_seq"), Index("ix_case_events_at", "at"))


class CaseSerial(db.Model):
    """Per region and day, the last case serial handed out (row-locked while incremented)."""
    __tablename__ = "case_serials"
    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
