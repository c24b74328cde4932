from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class ProcessInstance(db.Model):
    """The durable state of one running process. ``revision`` grows on every step: it is the
    optimistic-lock token that clients and timers check."""
    __tablename__ = "process_instances"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|waiting|error|complete|cancelled
    revision: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(16))
    end_event: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    updated_at = mapped_column(UTCDateTime, default=utcnow)


class HumanTask(db.Model):
    """Projection of a user task, written in the same transaction as the state: inboxes read this,
    never the workflow state."""
    __tablename__ = "human_tasks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the SpiffWorkflow task uuid
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    element_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(200), nullable=True)
    form_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    action: Mapped[str | None] = mapped_column(String(32), nullable=True)
    candidate_groups: Mapped[list] = mapped_column(JSON, default=list)
    candidate_users: Mapped[list] = mapped_column(JSON, default=list)
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mi_index: Mapped[int | None] = mapped_column(Integer, nullable=True)  # multi-instance item
    state: Mapped[str] = mapped_column(String(16), default="ready")  # ready|completed|cancelled
    limit_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    due_date = mapped_column(Date, nullable=True)  # step limit (环节时限), last day
    created_at = mapped_column(UTCDateTime, default=utcnow)
    completed_at = mapped_column(UTCDateTime, nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # inbox fields (issue 4)
    process_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    region_code: Mapped[str] = mapped_column(String(6), default="320000")
    #: user = a BPMN user task; sign = an ad-hoc 加签 task attached to ``parent_id``
    kind: Mapped[str] = mapped_column(String(8), default="user")
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    sign_mode: Mapped[str | None] = mapped_column(String(8), nullable=True)  # before | after (加签)
    #: open 加签 tasks this task waits for (before: it is hidden; after: its completion is pending)
    blocked: Mapped[int] = mapped_column(Integer, default=0)
    pending_data: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # 后加签: the held completion
    pending_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)  # 委派: who delegated
    delegation: Mapped[str | None] = mapped_column(String(16), nullable=True)  # pending | resolved
    claimed_at = mapped_column(UTCDateTime, nullable=True)
    draft: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # 暂存
    draft_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    draft_at = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)  # approve|reject|return|sign|…
    opinion: Mapped[str | None] = mapped_column(Text, nullable=True)
    urge_count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_human_tasks_instance_state", "instance_id", "state"),
        Index("ix_human_tasks_case", "case_id"),
        Index("ix_human_tasks_assignee_state", "assignee", "state"),
        Index("ix_human_tasks_state_due", "state", "due_date"),
        Index("ix_human_tasks_done_by", "completed_by", "completed_at"),
    )


class TaskCandidate(db.Model):
    """The 待办 index: one row per (open, actionable task, inbox key). A key is ``u:<username>``
    (assignee or candidate user) or ``g:<group>@<region>``. The urgency order and the matter filter
    are copied here so a first inbox page is an index range scan per key, whatever the inbox size."""
    __tablename__ = "task_candidates"
    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    due_sort = mapped_column(Date)  # the step's due date, 9999-12-31 when it has none
    created_at = mapped_column(UTCDateTime)
    process_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    __table_args__ = (Index("ix_task_candidates_key_due", "key", "due_sort", "created_at", "task_id"),
                      Index("ix_task_candidates_key_proc_due", "key", "process_id", "due_sort", "created_at",
                            "task_id"))


class Timer(db.Model):
    """Projection of a waiting timer event with its due time (UTC)."""
    __tablename__ = "timers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # spiff task uuid
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(64))
    due_at = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="waiting")  # waiting|fired|cancelled|suspended
    fired_at = mapped_column(UTCDateTime, nullable=True)
    #: failed firings so far, and when the scheduler may try again (exponential backoff, migration 0010)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_timers_status_due", "status", "due_at"),)


class OutboundMessage(db.Model):
    """Messages and signals thrown by a process, kept for delivery (outbox)."""
    __tablename__ = "outbound_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))  # the event definition's class, e.g. EscalationEventDefinition
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at = mapped_column(UTCDateTime, default=utcnow)


class Incident(db.Model):
    """A failure inside a process (script, expression, model error). The instance keeps its state
    and waits here until retried."""
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    element_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_type: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|resolved
    retries: Mapped[int] = mapped_column(Integer, default=0)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    resolved_at = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
