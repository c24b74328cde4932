"""Review of the designer (issue 6): names that would become odd file names, JSON that cannot be
stored, malformed form schemas, endless loops, sandboxed scripts on the scenario page, every route
for every kind of visitor, CSRF, and two designers deploying the same matter at once."""
from __future__ import annotations

import json
import threading
import time

import pytest

from app.models import CaseEvent  # noqa: F401 - the models are loaded
from tests.web.designer.test_designer import PID, VALID, app, dirs, matter, payload, post, signed_in, snapshot, versions
from tests.conftest import ROOT, add_user

URLS = ("/designer/check", "/designer/deploy", "/designer/scenarios")


def refused_everywhere(c, body, dirs, urls=URLS):
    before = snapshot(dirs)
    for url in urls:
        r = post(c, url, body)
        assert r.status_code == 422, (url, r.status_code, r.get_data(as_text=True)[:300])
    assert snapshot(dirs) == before


# -- names that become file names ----------------------------------------------------------------------
def test_ids_with_a_trailing_newline_are_refused(app, dirs):
    """``$`` in the id pattern matched before a final newline: ``dsg_test\\n`` deployed as the file
    ``dsg_test\\n.bpmn`` and a matter row nobody can open."""
    c = signed_in(app, "d1")
    pid = PID + "\n"
    xml = VALID.replace(f'id="{PID}"', f'id="{PID}&#10;"')
    refused_everywhere(c, dict(payload(xml, pid=pid, meta=dict(matter(), process_id=pid)), scenarios=[]), dirs)
    refused_everywhere(c, dict(payload(forms={"abc\n": {"id": "abc\n", "components": []}}), scenarios=[]), dirs)
    r = post(c, "/designer/import", {"bpmn": xml})  # opens, the import assistant proposing a valid id
    assert r.status_code == 200 and "\n" not in r.json["process_id"]
    assert any(f["kind"] == "process_id" and f["element"] == pid for f in r.json["assistant"]["findings"])
    assert c.get("/designer/forms/xmgl_beian_apply%0A").status_code == 404
    assert c.get("/designer/new?process_id=x%0A%0A1").status_code == 422
    assert versions(app, pid) == [] and versions(app) == []


@pytest.mark.parametrize("where", ["bpmn", "matter", "forms", "scenarios"])
@pytest.mark.parametrize("bad", ["\ud800", "\x00"])
def test_strings_that_cannot_be_stored_are_refused(app, dirs, where, bad):
    """A lone surrogate is valid JSON but not UTF-8 (500 when hashed or written); a NUL cannot go
    into PostgreSQL text (the app refuses a NUL anywhere in the input already). Both are refused with
    the field, nothing deployed or written."""
    c = signed_in(app, "d1")
    body = dict(payload(), scenarios=[])
    if where == "bpmn":
        body["bpmn"] = VALID.replace("设计器测试", "设计" + bad)
    elif where == "matter":
        body["matter"] = dict(matter(), name="事项" + bad)
    elif where == "forms":
        body["forms"] = {"dsg_f": {"id": "dsg_f", "components": [{"type": "text", "text": "说明" + bad}]}}
    else:
        body["scenarios"] = [{"name": "场景" + bad, "end": "end"}]
    raw = json.dumps(body)  # ensure_ascii: "\ud800" travels as its escape, as a browser may send it
    before = snapshot(dirs)
    for url in URLS:
        r = post(c, url, raw)
        assert r.status_code == 422 and ({where, "input"} & set(r.json["errors"])), (url, r.status_code, r.get_data(as_text=True)[:300])
    if where == "bpmn":
        r = post(c, "/designer/import", json.dumps({"bpmn": body["bpmn"]}))
        assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert snapshot(dirs) == before and versions(app) == []


def test_deeply_nested_json_is_a_422(app, dirs):
    c = signed_in(app, "d1")
    before = snapshot(dirs)
    for url in URLS + ("/designer/import",):
        r = post(c, url, "[" * 100_000 + "]" * 100_000)
        assert r.status_code == 422, (url, r.status_code)
    nested: dict = {}
    for _ in range(200):
        nested = {"a": nested}
    refused_everywhere(c, dict(payload(meta=dict(matter(), extra=nested)), scenarios=[]), dirs)
    assert snapshot(dirs) == before


@pytest.mark.parametrize("component", [
    {"type": "textfield", "key": ["a"]},
    {"type": "textfield", "key": {"a": 1}},
    {"type": "group", "components": 5},
    {"type": "group", "path": ["x"], "components": []},
    {"type": "textfield", "key": "a", "validate": "required"},
])
def test_malformed_form_schemas_are_errors_of_that_form(app, dirs, component):
    c = signed_in(app, "d1")
    before = snapshot(dirs)
    body = payload(forms={"dsg_f": {"id": "dsg_f", "components": [component]}})
    r = post(c, "/designer/check", body)
    assert r.status_code == 200 and r.json["ok"] is False, r.get_data(as_text=True)[:300]
    assert {e["file"] for e in r.json["errors"]} == {"dsg_f.form.json"}
    assert post(c, "/designer/deploy", body).status_code == 422
    assert snapshot(dirs) == before and versions(app) == []


# -- scenarios: out-of-range times, endless loops, the sandbox -------------------------------------------
def test_a_scenario_time_out_of_range_is_a_failed_scenario(app):
    c = signed_in(app, "d1")
    for now in ("0001-01-01", "9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00"):
        r = post(c, "/designer/scenarios", dict(payload(), scenarios=[{"name": "x", "end": "end", "now": now}]))
        assert r.status_code == 200, (now, r.get_data(as_text=True)[:300])
        [res] = r.json["results"]
        assert res["passed"] is False and "between" in res["message"]


LOOP_START = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{PID}" name="循环" isExecutable="true">
    <bpmn:startEvent id="start" camunda:formKey="xmgl_beian_apply" />
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="merge" />
    <bpmn:exclusiveGateway id="merge" />
    <bpmn:sequenceFlow id="f1" sourceRef="merge" targetRef="step" />
    {{step}}
    <bpmn:sequenceFlow id="f2" sourceRef="step" targetRef="fork" />
    {{fork}}
    <bpmn:sequenceFlow id="f_end" sourceRef="fork" targetRef="end" />
    <bpmn:sequenceFlow id="f_back" sourceRef="fork" targetRef="merge" {{back}} />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>"""
SCRIPT_STEP = '<bpmn:scriptTask id="step" scriptFormat="python"><bpmn:script>n = 1</bpmn:script></bpmn:scriptTask>'
ENDLESS = {
    # tokens multiply through a parallel fork, no expression anywhere
    "parallel": LOOP_START.replace("{step}", SCRIPT_STEP).replace("{fork}", '<bpmn:parallelGateway id="fork" />')
    .replace("{back}", ""),
    # a condition that never lets go
    "exclusive": LOOP_START.replace("{step}", SCRIPT_STEP)
    .replace("{fork}", '<bpmn:exclusiveGateway id="fork" default="f_back" />')
    .replace('<bpmn:sequenceFlow id="f_end" sourceRef="fork" targetRef="end" />',
             '<bpmn:sequenceFlow id="f_end" sourceRef="fork" targetRef="end">'
             '<bpmn:conditionExpression>False</bpmn:conditionExpression></bpmn:sequenceFlow>')
    .replace("{back}", ""),
}


@pytest.mark.parametrize("kind", list(ENDLESS))
def test_an_endless_loop_without_a_wait_state_is_refused(app, dirs, kind):
    """SpiffWorkflow runs engine steps until nothing is ready: a loop of scripts and gateways never
    returns (the scenario run on the page, the deploy's own scenarios, a case's next step)."""
    c = signed_in(app, "d1")
    before = snapshot(dirs)
    xml = ENDLESS[kind]
    r = post(c, "/designer/check", payload(xml))
    assert r.status_code == 200 and r.json["ok"] is False
    assert {e["element"] for e in r.json["errors"]} == {"merge", "step", "fork"}, r.json
    assert all("循环" in e["message"] for e in r.json["errors"])
    started = time.monotonic()
    r = post(c, "/designer/scenarios", dict(payload(xml), scenarios=[{"name": "x", "end": "end"}]))
    assert r.status_code == 200 and r.json["results"] == [] and r.json["errors"]
    assert time.monotonic() - started < 30
    assert post(c, "/designer/deploy", payload(xml)).status_code == 422
    assert snapshot(dirs) == before and versions(app) == []


def test_a_loop_through_a_user_task_is_fine(app):
    c = signed_in(app, "d1")
    xml = LOOP_START.replace(
        "{step}", '<bpmn:userTask id="step" camunda:formKey="xmgl_beian_window_review" camunda:candidateGroups="window" />'
    ).replace("{fork}", '<bpmn:exclusiveGateway id="fork" default="f_end" />').replace(
        "{back}", "><bpmn:conditionExpression>decision == 'again'</bpmn:conditionExpression></bpmn:sequenceFlow")
    xml = xml.replace('targetRef="merge" >', 'targetRef="merge">').replace("</bpmn:sequenceFlow />", "</bpmn:sequenceFlow>")
    r = post(c, "/designer/check", payload(xml))
    assert r.json == {"ok": True, "errors": []}, r.json


def script_model(source: str) -> str:
    script = (source.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return VALID.replace('<bpmn:sequenceFlow id="f_end" sourceRef="review" targetRef="end" />',
                         '<bpmn:sequenceFlow id="f_s" sourceRef="review" targetRef="s" />'
                         f'<bpmn:scriptTask id="s" scriptFormat="python"><bpmn:script>{script}</bpmn:script>'
                         '</bpmn:scriptTask><bpmn:sequenceFlow id="f_end" sourceRef="s" targetRef="end" />')


@pytest.mark.parametrize("source", [
    "import os", "x = __import__('os')", "x = ().__class__.__bases__", "x = getattr(1, 'real')",
    "x = open('/etc/passwd').read()", "f = (lambda: 0).__globals__", "x = [].__class__",
    "x = eval('1')", "x = type(1)",
])
def test_scripts_that_reach_outside_the_sandbox_are_named(app, source):
    c = signed_in(app, "d1")
    r = post(c, "/designer/scenarios", dict(payload(script_model(source)), scenarios=[{"name": "x", "end": "end"}]))
    assert r.status_code == 200 and r.json["results"] == []
    assert {e["element"] for e in r.json["errors"]} == {"s"}, r.json


REVIEW_DATA = next(st["data"] for sc in json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text("utf-8"))
                   ["scenarios"] for st in sc["steps"] if st["task"] == "window_review")


@pytest.mark.parametrize("source, words", [
    ("while True:\n    pass", "time limit"),
    ("x = 'a' * (10 ** 9)", "too large"),
    ("x = [0] * 10000000", "too large"),
    ("x = 2 ** 100000", "too large"),
    ("x = ''.join(str(i) for i in range(10 ** 7))", "too large"),
    ("x = (1).__class__", ""),
])
def test_scripts_run_from_the_page_stop_at_the_sandbox_limits(app, source, words):
    """The scenario page runs designer-supplied scripts on the server: they run in the sandbox with
    its time and size limits, and end as the scenario's failure, never as a hang or a 500."""
    from tests.web.designer.test_designer_scenarios import START as APPLY_DATA  # the start form's valid data
    c = signed_in(app, "d1")
    started = time.monotonic()
    sc = {"name": "x", "start": APPLY_DATA, "steps": [{"task": "review", "data": REVIEW_DATA}], "end": "end"}
    r = post(c, "/designer/scenarios", dict(payload(script_model(source)), scenarios=[sc]))
    assert time.monotonic() - started < 30
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    if r.json["errors"]:  # refused when checked
        assert {e["element"] for e in r.json["errors"]} == {"s"}
        return
    [res] = r.json["results"]
    assert res["passed"] is False and "'s'" in res["message"] and words in res["message"], res


# -- who may use what ----------------------------------------------------------------------------------
def test_every_route_for_every_kind_of_visitor(app, dirs):
    add_user(app, "insp", "staff", ["inspector"])
    with app.app_context():
        from sqlalchemy import select
        from app.extensions import db
        from app.models import User
        from app.services.identity.auth import set_password
        from tests.web.designer.test_designer import PASSWORD
        set_password(db.session.execute(select(User).where(User.username == "insp")).scalar_one(), PASSWORD)
        db.session.commit()
    before = snapshot(dirs)
    gets = ("/designer", "/designer/new", "/designer/xmgl_beian", "/designer/xmgl_beian/migrate",
            "/designer/forms/xmgl_beian_apply")
    posts = {"/designer/check": payload(), "/designer/deploy": payload(),
             "/designer/scenarios": dict(payload(), scenarios=[]), "/designer/import": {"bpmn": VALID}}
    anonymous = app.test_client()
    for url in gets:
        assert anonymous.get(url).status_code in (302, 401), url
    for url, body in posts.items():
        r = anonymous.post(url, json=body)
        assert r.status_code in (400, 401), (url, r.status_code)
    assert anonymous.post("/designer/xmgl_beian/migrate").status_code in (302, 400, 401)
    for name in ("w1", "alice", "insp"):
        c = signed_in(app, name)
        for url in gets:
            assert c.get(url).status_code == 403, (name, url)
        for url, body in posts.items():
            assert post(c, url, body).status_code == 403, (name, url)
        r = c.post("/designer/xmgl_beian/migrate", data={"csrf_token": c.csrf})
        assert r.status_code == 403, name
    # designers: without the CSRF token every post is refused
    c = signed_in(app, "d1")
    for url, body in posts.items():
        assert c.post(url, json=body).status_code == 400, url
    assert c.post("/designer/xmgl_beian/migrate", data={}).status_code == 400
    assert snapshot(dirs) == before and versions(app) == []


# -- two designers at once -----------------------------------------------------------------------------
def test_two_designers_deploying_the_same_matter_get_two_numbered_versions(app, dirs, monkeypatch):
    """The second deploy waits for the first (the matter row is locked until its files are written
    and committed): versions 2 and 3, never two v2, and the files are those of the latest."""
    import app.services.design.deploy as designer
    c1, c2 = signed_in(app, "d1"), signed_in(app, "adm")
    assert post(c1, "/designer/deploy", payload()).status_code == 200
    real = designer._replace_files
    first_writing, second_done = threading.Event(), threading.Event()

    def slow_replace(files):
        if threading.current_thread().name == "first":
            first_writing.set()
            second_done.wait(3)  # without a lock the second deploy finishes meanwhile
        return real(files)

    monkeypatch.setattr(designer, "_replace_files", slow_replace)
    results = {}

    def run(name, client, xml):
        results[name] = post(client, "/designer/deploy", payload(xml))
        if name == "second":
            second_done.set()

    a = threading.Thread(target=run, name="first", args=("first", c1, VALID.replace('name="审查"', 'name="一审"')))
    b = threading.Thread(target=run, name="second", args=("second", c2, VALID.replace('name="审查"', 'name="二审"')))
    a.start()
    assert first_writing.wait(30)
    b.start()
    a.join(60)
    b.join(60)
    assert {n: r.status_code for n, r in results.items()} == {"first": 200, "second": 200}, \
        {n: r.get_data(as_text=True)[:300] for n, r in results.items()}
    numbers = sorted(v.number for v in versions(app))
    assert numbers == [1, 2, 3], numbers
    with app.app_context():
        from app.extensions import db
        from app.models import Matter
        latest = db.session.get(Matter, PID).latest_version
        assert latest.number == 3 and (dirs[0] / f"{PID}.bpmn").read_text("utf-8") == latest.bpmn_xml
    assert results["first"].json["version"] == 2 and results["second"].json["version"] == 3
