"""The PostgreSQL cursor whose description makes its columns when read (app/pg_cursor.py): the
same columns as psycopg's own, taken from the result it was asked for even after the cursor has run
another statement, and the app's connections use it."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from app.extensions import db
from app.models import HumanTask
from app.pg_cursor import LazyDescription, LazyDescriptionCursor
from tests.conftest import _url

pytestmark = pytest.mark.skipif(not _url().startswith("postgresql"),
                                reason="PostgreSQL only: the cursor is psycopg's")


def _shape(description):
    return [(c.name, c.type_code, c.internal_size, c.precision, c.scale) for c in description]


def test_the_lazy_description_is_psycopgs_and_stays_with_its_result(app):
    with app.app_context():
        raw = db.engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert conn.cursor_factory is LazyDescriptionCursor   # the engine's connect hook set it
        sql = "SELECT 1::int AS a, 'x'::varchar(7) AS b, 2.5::numeric(5,2) AS c, now() AS d"
        plain = psycopg.Cursor(conn)   # psycopg's own, for the reference
        plain.execute(sql)
        expected = _shape(plain.description)
        cur = conn.cursor()
        cur.execute(sql)
        lazy = cur.description
        assert isinstance(lazy, LazyDescription) and len(lazy) == 4
        cur.execute("SELECT 'other'::text AS z")          # the cursor moves on before the columns are made
        assert _shape(lazy) == expected
        assert [c.name for c in lazy[-2:]] == ["c", "d"] and lazy[0][0] == "a"
        assert _shape(cur.description) == [("z", 25, None, None, None)]
        cur.execute("CREATE TEMP TABLE t_lazy (i int)")
        assert cur.description is None                     # no tuples: no description, as psycopg's
        cur.execute("SELECT")
        assert cur.description is not None and len(cur.description) == 0
    finally:
        raw.close()


def test_sqlalchemy_reads_rows_through_it(app):
    with app.app_context():
        first = db.session.execute(text("SELECT 7 AS n, '甲' AS s")).mappings().one()
        again = db.session.execute(text("SELECT 7 AS n, '甲' AS s")).mappings().one()
        assert dict(first) == dict(again) == {"n": 7, "s": "甲"}
        assert db.session.query(HumanTask).count() == 0
