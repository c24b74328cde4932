"""PostgreSQL keeps the plans of the app's statements across requests that only read (app/pg_prepared.py),
and nothing else about ending a transaction changes: what was written and rolled back is undone, locks are
released, a transaction in error ends cleanly, and a plan whose result type the schema changed drops the
pool instead of failing every later request."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.pg_prepared import READ_ONLY
from tests.conftest import _url

pytestmark = pytest.mark.skipif(not _url().startswith("postgresql"),
                                reason="PostgreSQL only: the prepared statements are psycopg's")


@pytest.fixture
def table(app):
    """A table of this test's own (the statements below write to it)."""
    name = f"t_prep_{uuid.uuid4().hex[:8]}"
    with app.app_context():
        db.session.execute(text(f"CREATE TABLE {name} (code text PRIMARY KEY, n integer)"))
        db.session.commit()
    yield name
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        db.session.execute(text(f"DROP TABLE IF EXISTS {name}"))
        db.session.commit()
        db.session.remove()


def _prepared(app) -> list[str]:
    with app.app_context():
        rows = db.session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
        db.session.remove()
    return rows


def _count(table: str, code: str) -> int:
    return db.session.execute(text(f"SELECT count(*) FROM {table} WHERE code = :code"), {"code": code}).scalar()


def _read_requests(app, table: str, n: int) -> None:
    """n units of work that only read, each ended as a request ends (the session removed: a rollback)."""
    for _ in range(n):
        with app.app_context():
            assert _count(table, "none") == 0
            db.session.remove()


def _is_prepared(app, table: str) -> bool:
    return any(f"FROM {table} WHERE code" in s for s in _prepared(app))


def test_a_statement_read_in_five_requests_stays_prepared(app, table):
    _read_requests(app, table, 4)
    assert not _is_prepared(app, table)      # psycopg prepares from the fifth run on a connection
    _read_requests(app, table, 2)
    assert _is_prepared(app, table)
    _read_requests(app, table, 3)            # and later requests find it there
    assert _is_prepared(app, table)


def test_a_rollback_after_a_write_undoes_it_and_forgets_the_plans(app, table):
    _read_requests(app, table, 6)
    with app.app_context():
        assert _count(table, "a") == 0
        assert db.session.connection().info[READ_ONLY] is True
        db.session.execute(text(f"INSERT INTO {table} VALUES ('a', 1)"))
        assert db.session.connection().info[READ_ONLY] is False
        assert _count(table, "a") == 1
        db.session.rollback()
        assert _count(table, "a") == 0
        db.session.remove()
    # psycopg's own rule after a real ROLLBACK: every prepared statement is deallocated
    assert not _is_prepared(app, table)


def test_a_write_inside_with_is_rolled_back_too(app, table):
    with app.app_context():
        db.session.execute(text(f"WITH w AS (INSERT INTO {table} VALUES ('b', 2) RETURNING code) "
                                "SELECT count(*) FROM w"))
        db.session.remove()
        assert _count(table, "b") == 0
        db.session.remove()


def test_a_read_only_lock_is_released_and_an_error_ends_cleanly(app, table):
    code = "c"
    with app.app_context():
        db.session.execute(text(f"INSERT INTO {table} VALUES (:c, 3)"), {"c": code})
        db.session.commit()
        db.session.execute(text(f"SELECT code FROM {table} WHERE code = :c FOR UPDATE"), {"c": code})
        db.session.remove()     # read only: committed, and the row lock is gone with it
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with other.connect() as conn:
            assert conn.execute(text(f"SELECT code FROM {table} WHERE code = :c FOR UPDATE NOWAIT"),
                                {"c": code}).scalar() == code
            conn.rollback()
    finally:
        other.dispose()
    with app.app_context():
        with pytest.raises(DBAPIError):
            db.session.execute(text("SELECT 1 / 0"))
        db.session.rollback()   # in error: the real ROLLBACK
        assert db.session.execute(text("SELECT 2")).scalar() == 2
        db.session.remove()


def test_a_plan_whose_result_type_changed_drops_the_pool(app, table):
    with app.app_context():
        db.session.execute(text(f"INSERT INTO {table} VALUES ('d', 4)"))
        db.session.commit()
    for _ in range(6):
        with app.app_context():
            assert db.session.execute(text(f"SELECT n FROM {table}")).scalar() == 4
            db.session.remove()
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with other.begin() as conn:   # a migration from another process changes the column's type
        conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN n TYPE text")
    other.dispose()
    with app.app_context():
        with pytest.raises(DBAPIError) as err:
            db.session.execute(text(f"SELECT n FROM {table}"))
        assert err.value.connection_invalidated
        db.session.remove()
    with app.app_context():   # the next request has a fresh connection and the new type
        assert db.session.execute(text(f"SELECT n FROM {table}")).scalar() == "4"
        db.session.remove()
