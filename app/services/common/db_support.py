"""Transaction helpers shared by the services: row locks that work on PostgreSQL and SQLite."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ...domain.errors import CONCURRENT_CHANGE, ConcurrentChange
from ...extensions import db


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


def row_by_id(model, ident, *, lock: bool = False):
    """The row of ``model`` with this integer id, or None — also when ``ident`` is not an int in the
    32-bit range of the id columns (such a row cannot exist; PostgreSQL would refuse the value)."""
    if not isinstance(ident, int) or not 0 < ident < 2 ** 31:
        return None
    return lock_one(model, model.id == ident) if lock else db.session.get(model, ident)


def lock_one(model, *criteria):
    """SELECT … FOR UPDATE (PostgreSQL); on SQLite the write transaction already holds the lock
    (every transaction starts with BEGIN IMMEDIATE, see app/__init__.py). The row as it is once
    locked: an object of it the session already holds (read before the lock, in this transaction) is
    refreshed, not returned as it was."""
    stmt = select(model).where(*criteria).execution_options(populate_existing=True)
    if not is_sqlite():
        stmt = stmt.with_for_update()
    return db.session.execute(stmt).scalar_one_or_none()


#: how PostgreSQL ends a transaction that waited on another one's row locks: deadlock, serialization
#: failure, lock not available
_LOCK_LOSSES = frozenset({"40P01", "40001", "55P03"})


def lost_to_another(exc: BaseException) -> bool:
    """Whether a database error says that the transaction lost to a concurrent one on the same rows: the
    database ended it on a lock (PostgreSQL), or another transaction wrote the next entry of the case's
    trail first (UNIQUE case_id, seq of the hash chain, app/domain/trail_chain.py)."""
    if isinstance(exc, OperationalError):
        return getattr(exc.orig, "sqlstate", None) in _LOCK_LOSSES
    if isinstance(exc, IntegrityError):
        text = str(exc.orig)
        return "uq_case_events_seq" in text or "case_events.case_id, case_events.seq" in text
    return False


def rolled_back(exc: BaseException) -> None:
    """After a failed transaction: roll it back; one that lost to a concurrent change is raised again as
    the ConcurrentChange it is (a Conflict for the user, refused like any other refusal: the page's
    message, HTTP 409; a message from another platform is answered so that it is sent again)."""
    db.session.rollback()
    if lost_to_another(exc):
        raise ConcurrentChange(CONCURRENT_CHANGE) from exc


@contextmanager
def unit_of_work():
    """One transaction: commit on success, roll back on any exception."""
    try:
        yield db.session
        db.session.commit()
    except BaseException as exc:
        rolled_back(exc)
        raise


def commit() -> None:
    """Commit the session's transaction; on any failure roll it back and raise."""
    try:
        db.session.commit()
    except BaseException as exc:
        rolled_back(exc)
        raise


def insert_once(model, unique_column: str | tuple[str, ...], **values) -> bool:
    """INSERT … ON CONFLICT (unique_column) DO NOTHING: idempotent even when two processes insert the
    same key at once. Returns True when this call inserted the row. ``unique_column`` may be the
    columns of a composite key (the first is returned)."""
    columns = (unique_column,) if isinstance(unique_column, str) else tuple(unique_column)
    db.session.flush()
    stmt = (sqlite_insert if is_sqlite() else pg_insert)(model).values(**values) \
        .on_conflict_do_nothing(index_elements=list(columns)).returning(getattr(model, columns[0]))
    return db.session.execute(stmt).first() is not None  # (rowcount is not reliable here on psycopg)
