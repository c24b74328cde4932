"""Fixtures: a real database (SQLite file or PostgreSQL from TEST_DATABASE_URL), migrated once per
session with Alembic, emptied before each test; the app; users with API tokens."""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import tempfile

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def _url() -> str:
    return os.environ.get("TEST_DATABASE_URL", "sqlite")


def uses_the_test_database(item) -> bool:
    """Does a test reach the suite's database: through the ``database_url`` fixture (directly or below
    another fixture: ``item.fixturenames`` is the closure), or by reading TEST_DATABASE_URL itself
    (a module that imports ``_url``, e.g. the multi-process tests that make databases next to it)?"""
    module = getattr(item, "module", None)
    return "database_url" in getattr(item, "fixturenames", ()) or (module is not None and "_url" in vars(module))


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, a test that uses no database (the engine, the sandbox, JUEL, the code sets…) would
    only repeat what the SQLite run proved: it runs with the SQLite run only, which keeps the two runs
    of CI within their time. ALL_TESTS_ON_POSTGRES=1 runs them on PostgreSQL as well."""
    if not _url().startswith("postgresql") or os.environ.get("ALL_TESTS_ON_POSTGRES") == "1":
        return
    skip = pytest.mark.skip(reason="uses no database: runs with the SQLite run (ALL_TESTS_ON_POSTGRES=1 for both)")
    for item in items:
        if not uses_the_test_database(item):
            item.add_marker(skip)


def _migrate(url: str) -> None:
    """Schema through the migrations, and the calendar seeded as the app does at start."""
    from flask_migrate import upgrade
    from app.services.clocks.calendar import seed_from_package
    app = create_app({"DATABASE_URL": url, "DEPLOY_ON_START": False, "TESTING": True})
    with app.app_context():
        upgrade()
        seed_from_package()
        db.session.commit()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = _url()
    if url == "sqlite":
        template = tmp_path_factory.mktemp("db") / "template.sqlite3"
        _migrate(f"sqlite:///{template}")
        return f"sqlite-template:{template}"
    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()
    _migrate(url)
    _CALENDAR[url] = _calendar_digest(url)
    return url


#: the calendar tables as migrated and seeded, by database URL: a test that edits the calendar (a
#: holiday marked, a year imported) must not shift the deadlines of the tests after it
_CALENDAR: dict[str, str] = {}
_CALENDAR_DIGEST = text(
    "SELECT md5(coalesce((SELECT string_agg(day::text || kind || coalesce(name, ''), ',' ORDER BY day) "
    "FROM calendar_days), '') || '|' || "
    "coalesce((SELECT string_agg(year::text, ',' ORDER BY year) FROM calendar_years), ''))")


def _calendar_digest(url: str) -> str:
    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.connect() as conn:
        digest = conn.execute(_CALENDAR_DIGEST).scalar()
    eng.dispose()
    return digest


def _restore_calendar(url: str) -> None:
    """Empty the calendar tables and seed them again as _migrate did."""
    from app.services.clocks.calendar import seed_from_package
    app = create_app({"DATABASE_URL": url, "DEPLOY_ON_START": False, "TESTING": True})
    with app.app_context():
        db.session.execute(text("DELETE FROM calendar_days"))
        db.session.execute(text("DELETE FROM calendar_years"))
        seed_from_package()
        db.session.commit()
        db.engine.dispose()


#: every table emptied but the reference data the migrations seed, and the sequences of those tables
#: restarted, in one round trip: what ``TRUNCATE … RESTART IDENTITY CASCADE`` did, at about 10 ms instead
#: of 350–800 ms a test (TRUNCATE gives each of the ~60 tables a new file; a DELETE of a few rows does
#: not). Foreign keys are not checked while the session is a replica: every row of them goes anyway.
_EMPTY = text("""
SET LOCAL session_replication_role = replica;
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::regclass AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
             AND c.relname NOT IN ('alembic_version', 'calendar_days', 'calendar_years', 'regions', 'roles') LOOP
    EXECUTE 'DELETE FROM ' || r.t;
  END LOOP;
  PERFORM setval(s.oid::regclass, 1, false)
     FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
                                        AND d.deptype IN ('a', 'i')
     JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE s.relkind = 'S' AND n.nspname = 'public'
      AND t.relname NOT IN ('alembic_version', 'calendar_days', 'calendar_years', 'regions', 'roles');
END $$;
""")


def fresh_database(database_url: str, folder: Path, name: str = "test.sqlite3") -> str:
    """A database as migrated, for a test or a module: a copy of the SQLite template in ``folder``, or the
    PostgreSQL test database emptied (its calendar restored if a test edited it)."""
    if database_url.startswith("sqlite-template:"):
        target = folder / name
        shutil.copy(database_url.split(":", 1)[1], target)
        return f"sqlite:///{target}"
    eng = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as conn:
        conn.execute(_EMPTY)
        calendar_changed = conn.execute(_CALENDAR_DIGEST).scalar() != _CALENDAR[database_url]
    eng.dispose()
    if calendar_changed:
        _restore_calendar(database_url)
    return database_url


@pytest.fixture
def db_url(database_url, tmp_path):
    return fresh_database(database_url, tmp_path)


def make_app(db_url, **config):
    """An app on ``db_url``. Its clock is a FakeClock on Monday 2 March 2026, 09:00 Beijing (a working
    day with calendar data ahead), unless CLOCK is given: tests do not depend on today's date.

    A script's time limit is wall-clock: CI runs both databases' suites and a browser at once on two
    cores, where the one-line script of a test process's reminder timer was seen to take more than the
    production limit (1 s), and the case got an incident the test did not expect. Tests run with 3 s
    unless they give their own (those about the limit do)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    from app.services.common.clock import FakeClock
    cfg = {"DATABASE_URL": db_url, "DEPLOY_ON_START": False, "TESTING": True,
           "PROCESSES_DIR": str(ROOT / "processes"), "FORMS_DIR": str(ROOT / "forms"),
           "CLOCK": FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))),
           "FILES_DIR": tempfile.mkdtemp(prefix="files-"), "SCRIPT_TIME_LIMIT_MS": 3000}
    cfg.update(config)
    return create_app(cfg)


@pytest.fixture
def app(db_url):
    app = make_app(db_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def fixture_app(db_url):
    """An app whose registry reads the small test processes of tests/fixtures."""
    app = make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def add_user(app, username, kind="staff", groups=(), org_code=None, region_code="320000"):
    """Create a user; the API token is ``tok-<username>``."""
    from app.models import User
    from app.services.identity.actors import hash_token
    with app.app_context():
        db.session.add(User(username=username, display_name=username, kind=kind, groups=sorted(groups),
                            org_code=org_code, token_hash=hash_token(f"tok-{username}"), region_code=region_code))
        db.session.commit()
    return {"Authorization": f"Bearer tok-{username}"}


def deploy_all(app):
    from app.services.cases.registry import deploy_directory
    with app.app_context():
        return deploy_directory(app.config["PROCESSES_DIR"], app.config["FORMS_DIR"])


@contextmanager
def fixture_api(db_url, clock, users: dict):
    """An API client on the fixture processes with ``clock``; ``users`` maps name to groups
    (``"applicant"`` for an applicant)."""
    from tests.web.api.helpers import Api
    app = make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"),
                   CLOCK=clock)
    deploy_all(app)
    api = Api(app)
    for name, groups in users.items():
        if groups == "applicant":
            api.user(name, "applicant")
        else:
            api.user(name, groups=groups)
    try:
        yield api
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
