"""/metrics (issue 13, point 3): who may scrape; what a task completion, a timer, an incident, a
sandbox breach and a pending SMS leave in it; the database gauges; several processes writing into one
PROMETHEUS_MULTIPROC_DIR and one scrape summing them.

The metric objects live for the whole test process, so every assertion compares a scrape before with
one after."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from app.extensions import db
from app.models import Case, Incident
from app.observability import metrics
from app.services.cases.timers import drain
from app.services.common.clock import FakeClock
from app.services.messaging.notify import notify_phone
from tests.conftest import ROOT, add_user, deploy_all, fixture_api, make_app
from tests.web.api.helpers import Api

BJ = ZoneInfo("Asia/Shanghai")
TOKEN = "metrics-token-0123456789abcdef"
OUTSIDE = {"REMOTE_ADDR": "10.0.0.5"}


def parse(body: str) -> dict:
    """{(sample name, frozenset of labels): value} of one exposition."""
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def scrape(app, **kw) -> dict:
    r = app.test_client().get("/metrics", **kw)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert r.content_type.startswith("text/plain; version=0.0.4")
    return parse(r.get_data(as_text=True))


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: dict, name: str, **labels) -> float:
    """Sum of ``name`` over every label set that has ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


@pytest.fixture
def shipped(db_url):
    """The shipped matters, an applicant, a token for /metrics."""
    app = make_app(db_url, METRICS_TOKEN=TOKEN,
                   CLOCK=FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ)))
    deploy_all(app)
    api = Api(app)
    api.user("applicant_1", "applicant")
    yield api
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# -- access ------------------------------------------------------------------------------------------
def test_loopback_scrapes_and_others_need_the_token(shipped):
    c = shipped.app.test_client()
    assert c.get("/metrics").status_code == 200  # the test client's peer is 127.0.0.1
    assert c.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Bearer "}):
        r = c.get("/metrics", headers=headers, environ_base=OUTSIDE)
        assert r.status_code == 403, headers
        body = r.get_json()
        assert body["code"] == 403 and body["error"] == "forbidden" and "yg_" not in r.get_data(as_text=True)

    r = c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=OUTSIDE)
    assert r.status_code == 200 and b"yg_http_request_duration_seconds" in r.data
    assert r.headers["Cache-Control"] == "no-store"


def test_without_a_token_only_loopback_and_behind_a_proxy_only_the_token(db_url):
    app = make_app(db_url)  # METRICS_TOKEN empty
    c = app.test_client()
    assert c.get("/metrics").status_code == 200
    assert c.get("/metrics", headers={"Authorization": "Bearer "}, environ_base=OUTSIDE).status_code == 403
    assert c.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}).status_code == 200
    assert c.get("/metrics", environ_base={"REMOTE_ADDR": "not an address"}).status_code == 403

    # one proxy in front: a loopback peer may be the proxy forwarding anyone, so only the token counts
    proxied = make_app(db_url, PROXY_HOPS=1, METRICS_TOKEN=TOKEN).test_client()
    assert proxied.get("/metrics").status_code == 403
    assert proxied.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403
    assert proxied.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}",
                                            "X-Forwarded-For": "203.0.113.9"}).status_code == 200


# -- what a task completion leaves ------------------------------------------------------------------------
def _start_beian(api) -> dict:
    scenario = json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text(encoding="utf-8"))
    first = scenario["scenarios"][0]
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_beian", "data": first["start"]})
    assert r.status_code == 201, r.json
    return r.json, first["steps"][0]


def test_a_task_completion_on_a_shipped_matter_is_in_the_request_step_and_sql_histograms(shipped):
    api = shipped
    before = scrape(api.app)
    case, step = _start_beian(api)
    [task] = [t for t in case["current_tasks"] if t["element_id"] == step["task"]]
    group = task["candidate_groups"][0]
    api.headers["clerk"] = add_user(api.app, "clerk", "staff", [group])
    r = api.post("clerk", f"/api/tasks/{task['id']}/complete", json={"data": step["data"]})
    assert r.status_code == 200, r.json
    after = scrape(api.app)

    endpoint = api.app.url_map.bind("localhost").match(f"/api/tasks/{task['id']}/complete", method="POST")[0]
    labels = {"endpoint": endpoint, "method": "POST", "status": "2xx"}
    assert value(after, "yg_http_request_duration_seconds_count", **labels) == \
        value(before, "yg_http_request_duration_seconds_count", **labels) + 1
    assert value(after, "yg_http_request_duration_seconds_sum", **labels) > \
        value(before, "yg_http_request_duration_seconds_sum", **labels)
    # the endpoint, never the path: no label holds the task id
    assert not any(task["id"] in v for (_, ls) in after for _, v in ls)

    # two steps of the matter: the case's creation and the completion, each with its statements
    step_labels = {"process_id": "xmgl_beian"}
    steps = value(after, "yg_engine_step_duration_seconds_count", **step_labels) - \
        value(before, "yg_engine_step_duration_seconds_count", **step_labels)
    assert steps == 2
    assert value(after, "yg_engine_step_duration_seconds_sum", **step_labels) > \
        value(before, "yg_engine_step_duration_seconds_sum", **step_labels)
    sql = value(after, "yg_engine_step_sql_statements_sum", **step_labels) - \
        value(before, "yg_engine_step_sql_statements_sum", **step_labels)
    assert value(after, "yg_engine_step_sql_statements_count", **step_labels) - \
        value(before, "yg_engine_step_sql_statements_count", **step_labels) == 2
    assert 10 <= sql <= 400  # both transactions counted, and nothing of the requests around them
    assert value(after, "yg_engine_step_sql_statements_bucket", le="+Inf", **step_labels) == \
        value(after, "yg_engine_step_sql_statements_count", **step_labels)


def test_a_refused_step_is_not_observed(shipped):
    api = shipped
    case, step = _start_beian(api)
    [task] = [t for t in case["current_tasks"] if t["element_id"] == step["task"]]
    api.headers["clerk"] = add_user(api.app, "clerk", "staff", task["candidate_groups"])
    before = scrape(api.app)
    bad = api.post("clerk", f"/api/tasks/{task['id']}/complete", json={"data": {"window_decision": 7}})
    assert bad.status_code == 422
    after = scrape(api.app)
    assert value(after, "yg_engine_step_duration_seconds_count", process_id="xmgl_beian") == \
        value(before, "yg_engine_step_duration_seconds_count", process_id="xmgl_beian")
    assert total(after, "yg_http_request_duration_seconds_count", status="4xx") == \
        total(before, "yg_http_request_duration_seconds_count", status="4xx") + 1


# -- timers, incidents, the sandbox ---------------------------------------------------------------------
def test_a_timer_fired_by_the_scheduler_records_its_lag(db_url):
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))
    with fixture_api(db_url, clock, {"alice": "applicant", "w1": ["window"]}) as api:
        due = clock() + timedelta(minutes=5)
        r = api.post("alice", "/api/cases", json={"process_id": "t_sleep", "data": {
            "amount": 1, "project_name": "定时器", "fire_at": due.isoformat()}})
        assert r.status_code == 201, r.json
        before = scrape(api.app)
        clock.advance(minutes=12)  # the scheduler comes 7 minutes late
        with api.app.app_context():
            assert drain() == 1
        after = scrape(api.app)
    assert value(after, "yg_timer_lag_seconds_count") == value(before, "yg_timer_lag_seconds_count") + 1
    assert value(after, "yg_timer_lag_seconds_sum") - value(before, "yg_timer_lag_seconds_sum") == \
        pytest.approx(7 * 60)
    assert value(after, "yg_timer_lag_seconds_bucket", le="300.0") == value(before, "yg_timer_lag_seconds_bucket",
                                                                            le="300.0")
    assert value(after, "yg_timer_lag_seconds_bucket", le="900.0") == value(before, "yg_timer_lag_seconds_bucket",
                                                                            le="900.0") + 1
    assert value(after, "yg_engine_step_duration_seconds_count", process_id="t_sleep") == \
        value(before, "yg_engine_step_duration_seconds_count", process_id="t_sleep") + 1


def test_an_incident_is_counted_once_by_kind_and_open_ones_are_a_gauge(fixture_app):
    fixture_app.config["SCRIPT_TIME_LIMIT_MS"] = 200
    deploy_all(fixture_app)
    api = Api(fixture_app)
    api.user("alice", "applicant")
    api.user("w1", groups=["window"])
    r = api.post("alice", "/api/cases", json={"process_id": "t_failing", "data": {
        "amount": 10, "project_name": "计费测试", "loop_forever": False}})
    assert r.status_code == 201, r.json
    before = scrape(fixture_app)
    done = api.complete_first("w1", {"decision": "approve"})
    [incident] = done["incidents"]
    after = scrape(fixture_app)
    with fixture_app.app_context():
        error_type = db.session.get(Incident, incident["id"]).error_type
    labels = {"kind": "script", "error_type": error_type}
    assert value(after, "yg_incidents_total", **labels) == value(before, "yg_incidents_total", **labels) + 1
    assert total(after, "yg_incidents_total") == total(before, "yg_incidents_total") + 1  # once, nothing else
    assert value(after, "yg_incidents_open") == 1 and value(before, "yg_incidents_open") == 0


def test_a_script_stopped_by_its_time_limit_is_a_sandbox_breach():
    from app.engine.sandbox import SandboxEnvironment, ScriptError
    def breaches():
        samples = parse(metrics.exposition()[0].decode())
        return {kind: value(samples, "yg_sandbox_breaches_total", kind=kind) for kind in ("time", "memory", "crash")}

    env = SandboxEnvironment(300)
    env.execute("warm = 1", {})
    before = breaches()
    with pytest.raises(ScriptError):
        env.execute("while True: pass", {})
    assert breaches() == {**before, "time": before["time"] + 1}
    with pytest.raises(ScriptError):
        env.execute("x = 1 / 0", {})  # a script's own error is no breach
    env.execute("x = 1", {})
    assert breaches() == {**before, "time": before["time"] + 1}


# -- read from the database at scrape time ------------------------------------------------------------
def test_the_backlog_gauge_shows_a_pending_sms_with_its_age(db_url):
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))
    app = make_app(db_url, CLOCK=clock, TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN="secret",
                   TWILIO_FROM_NUMBER="+15005550006")
    empty = scrape(app)
    assert value(empty, "yg_outbox_pending", channel="sms", peer="twilio") == 0
    assert value(empty, "yg_metrics_database_up") == 1
    with app.app_context():
        assert notify_phone("+8613800138000", "accepted", "metrics-1", promised_due="2026年3月30日")
        db.session.commit()
    clock.advance(seconds=90)
    samples = scrape(app)
    assert value(samples, "yg_outbox_pending", channel="sms", peer="twilio") == 1
    assert value(samples, "yg_outbox_oldest_age_seconds", channel="sms", peer="twilio") == pytest.approx(90)
    assert value(samples, "yg_outbox_pending", channel="internal", peer="local") == 0


def test_overdue_cases_and_the_scheduler_heartbeat(fixture_app):
    deploy_all(fixture_app)
    api = Api(fixture_app)
    api.user("alice", "applicant")
    r = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": {"amount": 1, "project_name": "超期"}})
    assert r.status_code == 201, r.json
    assert value(scrape(fixture_app), "yg_cases_overdue") == 0
    with fixture_app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        today = fixture_app.extensions["clock"]().astimezone(BJ).date()
        case.clock_state, case.statutory_due = "running", today - timedelta(days=1)
        db.session.commit()
    assert value(scrape(fixture_app), "yg_cases_overdue") == 1
    with fixture_app.app_context():
        case = db.session.execute(select(Case)).scalar_one()
        case.clock_state = "suspended"  # 特别程序: its clock does not run
        db.session.commit()
    assert value(scrape(fixture_app), "yg_cases_overdue") == 0

    ops = pytest.importorskip("app.models.ops")
    samples = scrape(fixture_app)
    assert ("yg_scheduler_heartbeat_age_seconds", frozenset()) not in samples  # no scheduler ever beat
    assert value(samples, "yg_schedulers") == 0
    with fixture_app.app_context():
        now = fixture_app.extensions["clock"]()
        db.session.add(ops.SchedulerHeartbeat(name="host:1", host="host", pid=1, started_at=now,
                                              beat_at=now - timedelta(seconds=12)))
        db.session.add(ops.SchedulerHeartbeat(name="host:2", host="host", pid=2, started_at=now,
                                              beat_at=now - timedelta(minutes=10)))
        db.session.commit()
    samples = scrape(fixture_app)
    assert value(samples, "yg_scheduler_heartbeat_age_seconds") == pytest.approx(12)
    assert value(samples, "yg_schedulers") == 1


# -- several processes -----------------------------------------------------------------------------------
WRITER = textwrap.dedent("""
    import sys
    from app.observability import metrics
    n = int(sys.argv[1])
    for _ in range(n):
        metrics.sandbox_breach("time")
        metrics.observe_request("inbox.index", "GET", 200, 0.02)
    metrics.timer_fired(3.0)
    metrics.request_started()  # still "in progress" when the process ends: a live gauge
    print(__import__("os").getpid())
""")


def test_two_processes_write_one_multiprocess_directory_and_a_scrape_sums_them(tmp_path, monkeypatch, db_url):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    pids = []
    for n in (2, 3):
        out = subprocess.run([sys.executable, "-c", WRITER, str(n)], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        pids.append(int(out.stdout.split()[-1]))
    assert len(list(tmp_path.glob("*.db"))) >= 4  # counters, histograms, live gauges: per process

    body, content_type = metrics.exposition(multiproc_dir=str(tmp_path))
    samples = parse(body.decode())
    assert value(samples, "yg_sandbox_breaches_total", kind="time") == 5
    labels = {"endpoint": "inbox.index", "method": "GET", "status": "2xx"}
    assert value(samples, "yg_http_request_duration_seconds_count", **labels) == 5
    assert value(samples, "yg_http_request_duration_seconds_sum", **labels) == pytest.approx(0.1)
    assert value(samples, "yg_timer_lag_seconds_count") == 2
    assert value(samples, "yg_http_requests_in_progress") == 2

    # gunicorn's child_exit: the first process's live gauge goes, its counters stay
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    metrics.child_exit(None, SimpleNamespace(pid=pids[0]))
    samples = parse(metrics.exposition()[0].decode())
    assert value(samples, "yg_http_requests_in_progress") == 1
    assert value(samples, "yg_sandbox_breaches_total", kind="time") == 5

    # and /metrics of a web process in multiprocess mode serves the merged figures plus the database's
    app = make_app(db_url)
    merged = scrape(app)
    assert value(merged, "yg_sandbox_breaches_total", kind="time") == 5
    assert value(merged, "yg_metrics_database_up") == 1


def test_recording_never_raises_and_labels_stay_bounded(monkeypatch):
    monkeypatch.setattr(metrics, "LABEL_CAP", 3)
    monkeypatch.setattr(metrics, "_seen", {})
    assert [metrics.bounded("x", v) for v in "abcde"] == ["a", "b", "c", "other", "other"]
    assert metrics.bounded("x", "a") == "a"
    metrics.observe_request(None, "BREW", "not a status", 0.1)  # no exception
    metrics.sandbox_breach("unknown kind")
    metrics.incident_recorded("whatever", None)
    metrics.timer_fired("NaN?")
