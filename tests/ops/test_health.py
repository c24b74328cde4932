"""/healthz, /readyz and the scheduler heartbeat (issue 13, point 2): readiness follows the database,
the migrations and the youngest heartbeat on the app's clock; schedulers beat side by side and delete
their row when they stop; administrators — and only they — see a banner while no scheduler beats."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, text

from app.extensions import db
from app.models import User
from app.models.ops import SchedulerHeartbeat
from app.services.ops import health
from app.services.ops.health import SchedulerIdentity, beat, forget, head_revisions
from tests.conftest import FIXTURES, ROOT, add_user, make_app

BANNER = "调度进程未运行"
#: the newest migration file: migrations/versions/NNNN_*.py, revision NNNN (0012 added the heartbeats)
HEAD = max(p.name[:4] for p in (ROOT / "migrations" / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


@contextmanager
def count_statements(app):
    seen = []

    def listener(conn, cursor, statement, params, context, executemany):
        seen.append(statement)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def heartbeats(app) -> dict[str, datetime]:
    with app.app_context():
        rows = dict(db.session.execute(select(SchedulerHeartbeat.name, SchedulerHeartbeat.beat_at)).all())
        db.session.rollback()
        return rows


def beat_as(app, name: str, **kw) -> SchedulerIdentity:
    me = SchedulerIdentity(name=name, host=name.split(":")[0], pid=int(name.split(":")[1]))
    with app.app_context():
        beat(me, **kw)
    return me


def test_the_head_is_the_newest_migration():
    assert HEAD >= "0012" and head_revisions() == (HEAD,)


def test_healthz_answers_without_touching_the_database(app, client):
    assert app.url_map.bind("localhost").match("/healthz") == ("ops_health.healthz", {})
    with count_statements(app) as seen:
        r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}
    assert r.headers["Cache-Control"] == "no-store"
    assert seen == []


def test_readyz_follows_the_heartbeat_on_the_apps_clock(app, client):
    clock = app.extensions["clock"]
    r = client.get("/readyz")  # no scheduler: this node serves, but is degraded
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    body = r.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["migrations"] == {"ok": True, "current": HEAD, "head": HEAD}
    assert body["checks"]["scheduler"] == {"ok": False, "age_seconds": None, "schedulers": []}
    assert body["checks"]["outbox"] == {"ok": True, "channels": {}}

    beat_as(app, "node-1:4242")
    clock.advance(seconds=12)
    r = client.get("/readyz")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["scheduler"] == {"ok": True, "age_seconds": 12.0,
                                           "schedulers": [{"name": "node-1:4242", "age_seconds": 12.0}]}

    clock.advance(seconds=17.9)
    assert client.get("/readyz").status_code == 200  # 29.9 s: still young enough
    clock.advance(seconds=0.1)
    r = client.get("/readyz")
    assert r.status_code == 200 and r.get_json()["status"] == "degraded"
    assert r.get_json()["checks"]["scheduler"]["ok"] is False
    assert r.get_json()["checks"]["scheduler"]["age_seconds"] == 30.0


def test_readyz_lists_every_scheduler_youngest_first_and_reports_the_outbox(app, client):
    from app.models import Notification
    clock = app.extensions["clock"]
    old = beat_as(app, "node-1:1")
    clock.advance(seconds=50)
    beat_as(app, "node-2:2")
    with app.app_context():
        db.session.add(Notification(key="k1", channel="sms", recipient="+8613800000000", template="t", text="x",
                                    payload={}, status="pending", attempts=0,
                                    created_at=clock() - timedelta(seconds=90)))
        db.session.commit()
    clock.advance(seconds=5)
    body = client.get("/readyz").get_json()
    assert body["status"] == "ready"
    assert body["checks"]["scheduler"]["age_seconds"] == 5.0
    assert body["checks"]["scheduler"]["schedulers"] == [{"name": "node-2:2", "age_seconds": 5.0},
                                                         {"name": "node-1:1", "age_seconds": 55.0}]
    assert body["checks"]["outbox"] == {"ok": True, "channels": {"sms": {"pending": 1, "oldest_age_seconds": 95.0}}}
    with app.app_context():
        forget(old)
    assert [s["name"] for s in client.get("/readyz").get_json()["checks"]["scheduler"]["schedulers"]] == ["node-2:2"]


def test_readyz_reports_migrations_behind_the_head(app, client):
    beat_as(app, "node-1:1")
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = '0011'"))
        db.session.commit()
    try:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.get_json()["checks"]["migrations"] == {"ok": False, "current": "0011", "head": HEAD}
        assert r.get_json()["checks"]["scheduler"]["ok"] is True
    finally:  # on PostgreSQL the tests share alembic_version
        with app.app_context():
            db.session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": HEAD})
            db.session.commit()
    assert client.get("/readyz").status_code == 200


def test_readyz_without_a_database_is_not_ready_and_tells_no_secret(tmp_path):
    url = f"sqlite:///{tmp_path}/missing/dir/app.sqlite3"
    app = make_app(url)
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    body = r.get_json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert body["checks"]["migrations"]["ok"] is False and body["checks"]["migrations"]["head"] == HEAD
    assert body["checks"]["scheduler"]["ok"] is False
    raw = r.get_data(as_text=True)
    assert str(tmp_path) not in raw and "sqlite" not in raw and "unable to open" not in raw
    assert app.test_client().get("/healthz").status_code == 200  # alive all the same


def test_two_schedulers_beat_at_once_without_a_conflict(app):
    """Threads beating two names at once — several of them the same new name at the same instant (the
    insert race a select-then-insert would lose): no error, one row per name."""
    names = ["host-a:100", "host-b:200"]
    barrier = threading.Barrier(8)
    errors = []

    def worker(i):
        me = SchedulerIdentity(name=names[i % 2], host=names[i % 2].split(":")[0], pid=100 * (1 + i % 2))
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                for _ in range(10):
                    beat(me)
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    rows = heartbeats(app)
    assert sorted(rows) == names
    with app.app_context():
        rows = db.session.execute(select(SchedulerHeartbeat)).scalars().all()
        assert {(r.host, r.pid) for r in rows} == {("host-a", 100), ("host-b", 200)}
    assert app.test_client().get("/readyz").get_json()["checks"]["scheduler"]["ok"] is True


def test_a_beat_forgets_schedulers_stopped_a_day_ago_but_not_younger_ones(app):
    clock = app.extensions["clock"]
    beat_as(app, "crashed:1")
    clock.advance(hours=23)
    beat_as(app, "crashed-later:2")
    clock.advance(hours=2)  # crashed:1 is 25 h old, crashed-later:2 is 2 h old
    me = beat_as(app, "alive:3")
    assert sorted(heartbeats(app)) == ["alive:3", "crashed-later:2"]
    with app.app_context():
        first = db.session.get(SchedulerHeartbeat, "alive:3").started_at
    clock.advance(seconds=10)
    with app.app_context():
        beat(me)
        row = db.session.get(SchedulerHeartbeat, "alive:3")
        assert row.started_at == first and row.beat_at == clock()


def test_a_running_scheduler_beats_and_deletes_its_row_when_it_stops(fixture_app):
    from app.jobs.scheduler import run
    app = fixture_app
    app.config.update(SCHEDULER_HEARTBEAT_SECONDS=0.5, SUPERVISION_SECONDS=3600, SMS_SEND_SECONDS=3600)
    name = f"{socket.gethostname()}:{os.getpid()}"
    thread = threading.Thread(target=run, args=(app,), kwargs={"max_seconds": 3})
    thread.start()
    seen = None
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline and seen is None:
        seen = heartbeats(app).get(name)
        time.sleep(0.1)
    assert seen == app.extensions["clock"](), "no heartbeat while the scheduler ran"
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert name not in heartbeats(app)
    assert client.get("/readyz").get_json()["status"] == "degraded"  # the scheduler gone: served, degraded


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_scheduler_process_stopped_by_a_signal_deletes_its_row(db_url, stop):
    app = make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"),
                   CLOCK=lambda: datetime.now(timezone.utc))
    env = {**os.environ, "DATABASE_URL": db_url, "PROCESSES_DIR": str(FIXTURES / "processes"),
           "FORMS_DIR": str(FIXTURES / "forms"), "DEPLOY_ON_START": "0", "SUPERVISION_SECONDS": "3600",
           "APP_ENV": "development", "SCHEDULER_HEARTBEAT_SECONDS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run", "--max-seconds", "60"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    name = f"{socket.gethostname()}:{proc.pid}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and name not in heartbeats(app):
            time.sleep(0.2)
        assert name in heartbeats(app)
        body = app.test_client().get("/readyz").get_json()
        assert body["status"] == "ready" and body["checks"]["scheduler"]["schedulers"][0]["name"] == name
        proc.send_signal(stop)
        out = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in out, out
    assert name not in heartbeats(app)
    assert app.test_client().get("/readyz").get_json()["status"] == "degraded"
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# -- the administrators' banner ------------------------------------------------------------------------

def sign_in(app, username):
    c = app.test_client()
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        uid, sv = user.id, user.session_version or 0
    with c.session_transaction() as s:
        s["uid"], s["sv"] = uid, sv
    return c


@pytest.fixture
def people(app):
    add_user(app, "root", groups=["admin"])
    add_user(app, "w1", groups=["window"])
    add_user(app, "alice", "applicant")
    return {name: sign_in(app, name) for name in ("root", "w1", "alice")}


def test_administrators_see_the_banner_while_no_scheduler_beats(app, people, monkeypatch):
    page = people["root"].get("/admin/calendar").get_data(as_text=True)
    assert "调度进程未运行：计时、超期预警和短信暂停（最近心跳 从未）" in page
    en = people["root"].get("/admin/calendar?lang=en").get_data(as_text=True)
    assert "The scheduler is not running: timers, deadline warnings and SMS are paused (last heartbeat never)" in en
    people["root"].get("/?lang=zh")
    for who, url in (("w1", "/inbox"), ("alice", "/portal/"), ("w1", "/"), ("alice", "/")):
        r = people[who].get(url)
        assert r.status_code == 200 and BANNER not in r.get_data(as_text=True), (who, url)
    assert BANNER not in app.test_client().get("/portal/").get_data(as_text=True)  # signed out

    beat_as(app, "node-1:1")
    # read at most every few seconds per process: the beat is not seen yet
    assert BANNER in people["root"].get("/").get_data(as_text=True)
    monkeypatch.setattr(health, "STALE_CACHE_SECONDS", 0.0)
    assert BANNER not in people["root"].get("/").get_data(as_text=True)
    app.extensions["clock"].advance(seconds=45)
    assert "（最近心跳 45 秒前）" in people["root"].get("/").get_data(as_text=True)
    app.extensions["clock"].advance(minutes=10)
    assert "最近心跳 10 分钟前" in people["root"].get("/").get_data(as_text=True)
    assert BANNER not in people["w1"].get("/inbox").get_data(as_text=True)


def test_the_banner_costs_one_query_per_few_seconds(app, people):
    c = people["root"]
    c.get("/")  # reads the heartbeat once
    with count_statements(app) as seen:
        page = c.get("/").get_data(as_text=True)
    assert BANNER in page
    assert not [s for s in seen if "scheduler_heartbeats" in s], seen


def test_readyz_tells_its_findings_to_operators_only(app, client):
    r = client.get("/readyz", environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert r.status_code == 200 and r.get_json() == {"status": "degraded"}  # no hosts, pids, revisions
    app.config["METRICS_TOKEN"] = "t" * 32
    r = client.get("/readyz", environ_base={"REMOTE_ADDR": "10.0.0.5"}, headers={"Authorization": "Bearer " + "t" * 32})
    assert r.get_json()["checks"]["scheduler"]["ok"] is False
