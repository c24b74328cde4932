"""Structured logs (issue 13, point 3): one JSON object per line with the request id (taken from a
valid X-Request-Id or made, and echoed), the user and the case number; one access line per request;
one line per case action; the text format; configure_logging is idempotent and leaves other handlers
(pytest's caplog) alone."""
from __future__ import annotations

import json
import logging
import re

import pytest

from app.observability import logs
from tests.conftest import deploy_all
from tests.web.api.helpers import Api

GENERATED = re.compile(r"[0-9a-f]{32}")


def json_lines(err: str) -> list[dict]:
    out = []
    for line in err.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@pytest.fixture
def api(fixture_app):
    deploy_all(fixture_app)
    a = Api(fixture_app)
    a.user("alice", "applicant")
    a.user("w1", groups=["window"])
    return a


def test_a_case_action_logs_request_id_user_and_case_number_and_echoes_the_id(api, capsys):
    r = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": {"amount": 1, "project_name": "日志"}})
    assert r.status_code == 201, r.json
    case_no = r.json["case_no"]
    [task] = api.tasks("w1")
    capsys.readouterr()

    r = api.client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}},
                        headers={**api.headers["w1"], "X-Request-Id": "lb-7f3a.42:req"})
    assert r.status_code == 200, r.json
    assert r.headers["X-Request-Id"] == "lb-7f3a.42:req"
    lines = json_lines(capsys.readouterr().err)
    for line in lines:
        assert {"ts", "level", "logger", "msg", "request_id", "user", "case_no", "pid"} <= set(line)
    mine = [line for line in lines if line["request_id"] == "lb-7f3a.42:req"]
    [complete] = [line for line in mine if line["logger"] == "yg.events" and line["action"] == "complete"]
    assert complete["case_no"] == case_no and complete["user"] == "w1" and complete["actor"] == "w1"
    assert complete["task_id"] == task["id"] and complete["level"] == "INFO"
    assert complete["ts"].endswith("Z")
    [access] = [line for line in mine if line["logger"] == "yg.access"]
    assert access["method"] == "POST" and access["status"] == 200 and access["path"] == f"/api/tasks/{task['id']}/complete"
    assert access["endpoint"] and "/" not in access["endpoint"] and access["duration_ms"] > 0
    assert access["user"] == "w1" and access["case_no"] == case_no
    # status changes of the same step are actions too, by the system or the clerk, with the same context
    assert all(line["case_no"] == case_no for line in mine if line["logger"] == "yg.events")

    # the next request starts with a clean context and its own id
    r = api.get("w1", "/api/tasks")
    rid = r.headers["X-Request-Id"]
    assert GENERATED.fullmatch(rid)
    [access] = [line for line in json_lines(capsys.readouterr().err) if line["logger"] == "yg.access"]
    assert access["request_id"] == rid and access["case_no"] is None


@pytest.mark.parametrize("bad", ["x" * 129, "abc\x01def", "a b", 'q"uote', "<script>", "-leading-dash", "\u4e2d\u6587"])
def test_a_bad_request_id_is_replaced_not_echoed(api, capsys, bad):
    r = api.client.get("/healthz", headers={"X-Request-Id": bad})
    rid = r.headers["X-Request-Id"]
    assert rid != bad and GENERATED.fullmatch(rid)
    err = capsys.readouterr().err
    assert bad not in err
    [access] = [line for line in json_lines(err) if line["logger"] == "yg.access"]
    assert access["request_id"] == rid


def test_every_request_has_one_access_line_also_errors_and_unknown_routes(api, capsys):
    capsys.readouterr()
    api.client.get("/no/such/page")
    api.client.post("/api/cases", json={"process_id": "t_simple", "data": {"amount": 1, "project_name": "x"}})
    lines = [line for line in json_lines(capsys.readouterr().err) if line["logger"] == "yg.access"]
    assert [(line["status"], line["endpoint"]) for line in lines][0] == (404, None)
    assert [line["status"] for line in lines] == [404, 401]
    assert len({line["request_id"] for line in lines}) == 2


def test_the_session_user_is_on_the_access_line(api, capsys):
    from app.models import User
    from app.extensions import db
    from app.services.identity.auth import set_password
    with api.app.app_context():
        user = db.session.query(User).filter_by(username="w1").one()
        set_password(user, "correct horse battery")
        db.session.commit()
    c = api.app.test_client()
    page = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert c.post("/login", data={"username": "w1", "password": "correct horse battery",
                                  "csrf_token": token}).status_code == 302
    capsys.readouterr()
    assert c.get("/inbox").status_code == 200
    [access] = [line for line in json_lines(capsys.readouterr().err) if line["logger"] == "yg.access"]
    assert access["user"] == "w1" and access["path"] == "/inbox"


def test_text_format_and_idempotent_configuration(capsys, caplog):
    root = logging.getLogger()
    try:
        logs.configure_logging(fmt="text", level="INFO")
        handler = logs.configure_logging(fmt="text", level="INFO")
        assert sum(1 for h in root.handlers if getattr(h, "_yg_handler", False)) == 1
        with logs.scope(request_id="rid-1", case_no="320000-20260302-000001"):
            logging.getLogger("yg.test").info("hello %s", "world", extra={"action": "complete"})
        err = capsys.readouterr().err
        line = next(line for line in err.splitlines() if "hello world" in line)
        assert "INFO yg.test hello world" in line and "request_id=rid-1" in line and "action=complete" in line
        assert "case_no=320000-20260302-000001" in line
        assert not line.startswith("{")
        assert logs.current()["request_id"] is None  # the scope restored it
        # caplog still sees the records (our handler did not replace its own)
        assert any(r.getMessage() == "hello world" for r in caplog.records)
        assert handler in root.handlers
    finally:
        logs.configure_logging(fmt="json", level="INFO")


def test_json_lines_carry_exceptions_and_extra_fields(capsys):
    logs.configure_logging(fmt="json", level="INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("yg.test").exception("failed", extra={"instance_id": 7, "when": object()})
    [line] = [line for line in json_lines(capsys.readouterr().err) if line["logger"] == "yg.test"]
    assert line["level"] == "ERROR" and line["instance_id"] == 7 and "ValueError: boom" in line["exc"]
    assert line["when"].startswith("<object")  # anything not JSON is given as text, never an error


def test_a_line_break_from_outside_cannot_forge_a_text_log_line():
    import logging as _logging
    from app.observability.logs import TextFormatter
    record = _logging.LogRecord("yg.access", _logging.INFO, __file__, 1, "GET %s 404", ("/x\nINFO yg.access admin",),
                                None)
    line = TextFormatter().format(record)
    assert "\n" not in line and line.endswith("GET /x\\nINFO yg.access admin 404")
