"""Transaction helpers shared by the services: row locks that work on PostgreSQL and SQLite."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import select

from ..extensions import db


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def lock_one(model, *criteria):
    """SELECT … FOR UPDATE (PostgreSQL); on SQLite the write transaction already holds the lock
    (every transaction starts with BEGIN IMMEDIATE, see app/__init__.py)."""
    stmt = select(model).where(*criteria)
    if not is_sqlite():
        stmt = stmt.with_for_update()
    return db.session.execute(stmt).scalar_one_or_none()


@contextmanager
def unit_of_work():
    """One transaction: commit on success, roll back on any exception."""
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
