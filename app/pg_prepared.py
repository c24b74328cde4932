"""PostgreSQL (psycopg 3): the server keeps the plans of the app's statements between transactions.

psycopg prepares a statement on the server (parsed and planned once, then only bound and run) after
it has run ``prepare_threshold`` (5) times on a connection, and forgets every prepared statement on
each ROLLBACK (``DEALLOCATE ALL``): a rolled-back transaction may have dropped or created what they
refer to. Every request ends its transaction, and one that only read ends it with a rollback (the
session is closed at the end of the request). A clerk's inbox, the task page, the portal's pages all
read only, so the connection's count went back to zero before any statement reached five: PostgreSQL
parsed and planned the four statements of every task completion again, about half of the backend's
CPU for it (docs/performance.md, "6 December 2026, night").

A transaction that ran nothing but ``SELECT`` is ended with COMMIT rather than ROLLBACK: for the
database the two are the same there (nothing to undo; row locks and advisory locks released alike),
and psycopg keeps its statements. Any other statement — INSERT, UPDATE, DELETE, a ``WITH`` (it may
write), DDL, SAVEPOINT — or a transaction in error keeps the real ROLLBACK and psycopg's clearing.
The app's SELECTs read only: none calls a function with an effect a rollback would undo (a
``set_config`` for the session, a function that writes) or is ``SELECT … INTO``. One that must would
be written as a ``WITH``, which counts as a write.

The plans of prepared statements follow the schema (PostgreSQL re-plans after a change to a table
they use) except when the columns of a result change type: that is refused with "cached plan must not
change result type". A rolling upgrade adds tables and columns (docs/deploy.md §9) and does not do
that; should it happen anyway, the error invalidates the pool, as a lost connection does, so the
next request of the worker starts afresh instead of every request failing until a restart."""
from __future__ import annotations

import re

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import event

#: Connection.info (the pooled connection's): True while the open transaction has only read
READ_ONLY = "pg_prepared.read_only"
_SELECT = re.compile(r"\s*select\b", re.IGNORECASE)


def _begin(conn) -> None:
    conn.info[READ_ONLY] = True


def _statement(conn, _cursor, statement, _parameters, _context, _executemany) -> None:
    if conn.info.get(READ_ONLY) and not _SELECT.match(statement):
        conn.info[READ_ONLY] = False


def _rollback(conn) -> None:
    """Before SQLAlchemy's rollback: a transaction that has only read is committed, and the driver's
    rollback that follows finds no transaction and keeps the prepared statements."""
    if conn.invalidated or not conn.info.pop(READ_ONLY, False):
        return   # a lost connection has nothing to end
    raw = conn.connection.dbapi_connection
    if raw.pgconn.transaction_status != TransactionStatus.INTRANS:
        return   # none open, or in error: the real ROLLBACK
    try:
        raw.commit()
    except psycopg.Error:
        pass     # the transaction has ended either way; the rollback that follows is then a no-op


def _plan_changed(ctx) -> None:
    """A prepared statement whose result's types changed with the schema: drop the pool's connections."""
    exc = ctx.original_exception
    if isinstance(exc, psycopg.errors.FeatureNotSupported) and "cached plan must not change result type" in str(exc):
        ctx.is_disconnect = True


def keep_prepared(engine) -> None:
    """Install on the app's engine when the driver is psycopg (app/__init__.py); idempotent."""
    for name, fn in (("begin", _begin), ("before_cursor_execute", _statement), ("rollback", _rollback),
                     ("handle_error", _plan_changed)):
        if not event.contains(engine, name, fn):
            event.listen(engine, name, fn)
