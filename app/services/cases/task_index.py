"""The 待办 index (task_candidates): which inbox keys an open task is listed under."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import bindparam, delete, update

from ...domain.org import inbox_keys
from ...extensions import db
from ...models import HumanTask, ProcessInstance, TaskCandidate
from ..common.one_write import run_later

NO_DUE = date(9999, 12, 31)


def keys_of(task: HumanTask) -> set[str]:
    """Where a task is listed: its assignee alone once it has one, else its candidate users and its
    candidate groups in the task's region. A task waiting for 前加签 signers is listed nowhere."""
    if task.state != "ready" or (task.blocked or 0) > 0:
        return set()
    if task.assignee:
        return {f"u:{task.assignee}"}
    region = task.region_code or "320000"
    return {f"g:{g}@{region}" for g in task.candidate_groups or ()} | \
        {f"u:{u}" for u in task.candidate_users or ()}


_DROP = delete(TaskCandidate).where(TaskCandidate.task_id == bindparam("task_id"))


def drop_candidates(task_id: int) -> None:
    """The inbox rows of a task that left the inbox (completed, or about to be rewritten): nothing in the
    step reads them back, so on PostgreSQL they go with the step's one statement."""
    run_later(_DROP, (TaskCandidate,), params={"task_id": task_id})


def _suspended(task: HumanTask) -> bool:
    """An administrator suspended the task's process. The instance is the step's, locked and in the
    session: no statement."""
    inst = db.session.get(ProcessInstance, task.instance_id) if task.instance_id else None
    return inst is not None and inst.status == "suspended"


def index_task(task: HumanTask, *, fresh: bool = False) -> None:
    """(Re)write a task's rows. Call after any change to its assignee, candidates, state or block;
    ``fresh`` for a task created in this transaction (nothing to delete)."""
    if not fresh:
        drop_candidates(task.id)
        if _suspended(task):
            return   # 挂起: out of every inbox until resumed (admin_ops.resume lists its open tasks again)
    for key in sorted(keys_of(task)):
        db.session.add(TaskCandidate(task_id=task.id, key=key, due_sort=task.due_date or NO_DUE,
                                     created_at=task.created_at, process_id=task.process_id))


def close_signs(parent_ids, ts: datetime) -> None:
    """Cancel open 加签 tasks whose parent task left the process (returned, withdrawn, terminated)."""
    ids = list(parent_ids)
    if not ids:
        return
    open_signs = db.session.execute(
        update(HumanTask).where(HumanTask.parent_id.in_(ids), HumanTask.state == "ready")
        .values(state="cancelled", completed_at=ts).returning(HumanTask.id)
        .execution_options(synchronize_session=False)).scalars().all()
    if open_signs:
        db.session.execute(delete(TaskCandidate).where(TaskCandidate.task_id.in_(open_signs)))


__all__ = ["keys_of", "index_task", "close_signs", "inbox_keys", "NO_DUE"]
