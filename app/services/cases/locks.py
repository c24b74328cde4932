"""The lock order of a case's rows: its process instance first, then the case.

Every step of the engine locks the instance (the inbox's operations in task_base._lock, the timers, the
messages) and then writes the case row (status, the trail's head) and rows that reference it (the
foreign key of a 我经手的 row takes a KEY SHARE lock on the case). An operation on the whole case that
locked the case first and its instance after would, beside a step of the same case, hold what the other
waits for; PostgreSQL ends such a deadlock by failing one of the two. So whatever locks both takes them
in this order. SQLite: BEGIN IMMEDIATE holds the whole database from the start of the transaction."""
from __future__ import annotations

from sqlalchemy import select

from ...extensions import db
from ...models import Case, ProcessInstance
from ..common.db_support import is_sqlite, lock_one


def lock_case(*criteria) -> tuple[Case | None, ProcessInstance | None]:
    """The case matching ``criteria`` and its process instance (None for a draft), both locked, the
    instance first. (None, None) when no case matches once locked."""
    if is_sqlite():
        case = lock_one(Case, *criteria)
        return case, (db.session.get(ProcessInstance, case.instance_id) if case is not None and case.instance_id
                      else None)
    row = db.session.execute(select(Case.id, Case.instance_id).where(*criteria)).first()
    if row is None:
        return None, None
    inst = lock_one(ProcessInstance, ProcessInstance.id == row.instance_id) if row.instance_id else None
    case = lock_one(Case, Case.id == row.id, *criteria)
    if case is None:
        return None, None
    if case.instance_id != row.instance_id:
        # a draft submitted between the read and the lock: its instance is new, no step can hold it yet
        inst = lock_one(ProcessInstance, ProcessInstance.id == case.instance_id) if case.instance_id else None
    return case, inst
