"""Scripts run out of process (issue 12): hostile scripts — one C-level call that holds the CPU,
memory-hungry builtins, a BaseException, results the state cannot store — are each stopped within
twice the time limit, cost the server no memory (the worker's address space is limited, not the
server's), become an incident on their element when a case runs them, and the next request is
served. Also: a call activity that calls its own process is refused at check time, a step has a
wall-clock budget, and an engine error that is not SpiffWorkflow's own is an incident, not a 500."""
from __future__ import annotations

import json
import os
import time

import pytest

from app.domain.errors import InvalidModel
from app.engine.parser import check_model
from app.engine.runtime import Engine
from app.engine.sandbox import SandboxEnvironment, ScriptError
from app.engine.sandbox import pool as sandbox_pool
from tests.conftest import deploy_all, make_app
from tests.fixtures.build import HEAD, form, matter
from tests.web.api.helpers import Api

LIMIT_MS = 500

#: each stops the script: by the worker's own tracer, by its address-space limit, or by being killed
HOSTILE = {
    "sorted over a big text (C-level)": "s = 'ba' * 5000000\nn = len(list(map(sorted, [s] * 40)))",
    "list of big texts (memory)": "n = len(list(map(list, ['a' * 10000000] * 16)))",
    "str.join of big texts": "n = len(''.join(map(str, [list(range(100000))] * 200)))",
    "bytes of a big text": "n = len(list(map(bytes, ['a' * 9000000] * 40, ['utf-8'] * 40)))",
    "bytearray": "n = len(list(map(bytearray, [9000000] * 40)))",
    "big int arithmetic": "n = 7\nfor i in range(60):\n    n = n * n % (10 ** 4000 + 7)",
    "endless loop on one line": "while True: pass",
    "BaseException": "raise Exception.mro()[1]('x')",
    "lone surrogate": "x = chr(0xd800)",
    "nested 50,000 deep": "x = []\nfor i in range(50000):\n    x = [x]",
}


def _rss(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm", "rb") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def env():
    return SandboxEnvironment(LIMIT_MS)


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_script_is_stopped_in_time_without_costing_the_server_memory(env, source):
    env.execute("warm = 1", {})  # a worker is running
    before = _rss()
    started = time.perf_counter()
    with pytest.raises(ScriptError) as err:
        env.execute(source, {})
    took = time.perf_counter() - started
    assert took < 2 * LIMIT_MS / 1000, f"{took:.2f}s: {err.value}"
    assert _rss() - before < 64 * 2**20  # the server did not grow: the worker did, under its limit
    assert err.value.kind in {"timeout", "limit", "error", "unstorable"}
    ctx = {"a": 2}
    env.execute("b = a * 21", ctx)  # the next script is served
    assert ctx == {"a": 2, "b": 42}


def test_workers_run_under_operating_system_limits(env):
    env.execute("x = 1", {})
    pool = sandbox_pool.pool()
    workers = [w for w in pool._idle if w.alive]
    assert workers
    limits = open(f"/proc/{workers[0].proc.pid}/limits").read()
    address = next(line for line in limits.splitlines() if line.startswith("Max address space"))
    files = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert address.split()[3] != "unlimited" and int(address.split()[3]) < 2 * 2**30
    assert files.split()[3] == "3"
    assert "DATABASE_URL" not in open(f"/proc/{workers[0].proc.pid}/environ", "rb").read().decode("latin-1")


def test_a_script_has_no_file_or_network_even_through_the_helpers(env):
    for source in ("x = open('/etc/passwd').read()", "import socket", "x = __import__('os')"):
        with pytest.raises(ScriptError):
            env.execute(source, {})


def test_values_cross_the_pipe_unchanged(env):
    from datetime import date, datetime, timedelta
    from decimal import Decimal
    ctx = {"d": date(2026, 3, 2), "n": 3}
    env.execute("when = datetime(2026, 3, 2, 9, 30)\nfee = Decimal('12.50')\nspan = timedelta(days=n)\n"
                "pair = (1, 'a')\nlabels = {'x'}\nnested = {'a': [1, {'b': d}]}", ctx)
    assert ctx["when"] == datetime(2026, 3, 2, 9, 30) and ctx["fee"] == Decimal("12.50")
    assert ctx["span"] == timedelta(days=3) and ctx["pair"] == (1, "a") and ctx["labels"] == {"x"}
    assert ctx["nested"] == {"a": [1, {"b": date(2026, 3, 2)}]}
    assert env.evaluate("fee * 2", ctx) == Decimal("25.00")


def test_the_app_helpers_run_in_the_server_with_its_clock_and_calendar():
    from datetime import datetime, timezone
    from app.domain.workdays import WorkCalendar
    from app.engine.helpers import make_time_helpers
    clock = lambda: datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # noqa: E731
    helpers = make_time_helpers(clock, lambda: WorkCalendar(years=frozenset({2026})))
    env = SandboxEnvironment(LIMIT_MS, helpers)
    assert env.evaluate("today()", {}) == "2026-03-02"
    assert env.evaluate("add_working_days('2026-03-02', 5)", {}) == "2026-03-09"
    for bad in ("add_working_days('not a date', 1)", "add_working_days('2031-01-01', 1)", "today(1)"):
        with pytest.raises(ScriptError):
            env.evaluate(bad, {})


SLOW = "t = datetime.now()\nwhile (datetime.now() - t).total_seconds() < 0.3:\n    n = 1"


def test_the_step_budget_stops_a_chain_of_slow_scripts():
    """Each script keeps within its limit (0.3 s of 0.5 s); the fourth starts after 0.9 s of a 1 s
    budget and is stopped by the budget: an incident on that element."""
    tasks = "".join(f'<bpmn:scriptTask id="slow{i}" scriptFormat="python"><bpmn:script>{SLOW.replace("<", "&lt;")}</bpmn:script>'
                    f'</bpmn:scriptTask><bpmn:sequenceFlow id="g{i}" sourceRef="slow{i}" '
                    f'targetRef="{f"slow{i + 1}" if i < 5 else "u"}"/>' for i in range(6))
    bpmn = (HEAD.format(pid="p") + '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>' + tasks +
            '<bpmn:userTask id="u" camunda:formKey="f" camunda:candidateGroups="window"/><bpmn:endEvent id="e"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="slow0"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="u" targetRef="e"/></bpmn:process></bpmn:definitions>').encode()
    model = check_model(bpmn, "p.bpmn", {"f": form("f", [])})
    pair = (model.spec, model.subprocess_specs)
    started = time.perf_counter()
    result = Engine(LIMIT_MS, step_budget_ms=1000).start(pair, {})
    assert time.perf_counter() - started < 1.6
    assert result.incident is not None and result.incident.element_id in {"slow3", "slow4"}
    assert "step budget" in result.incident.message
    assert Engine(LIMIT_MS, step_budget_ms=5000).start(pair, {}).incident is None


def _model(pid: str, body: str) -> str:
    return (HEAD.format(pid=pid) + f'<bpmn:process id="{pid}" isExecutable="true">'
            f'<bpmn:startEvent id="start" camunda:formKey="{pid}_start"/>{body}'
            '<bpmn:userTask id="after" name="后续" camunda:formKey="iso_step" camunda:candidateGroups="window"/>'
            '<bpmn:endEvent id="end_done"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="hostile" targetRef="after"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end_done"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="hostile"/>'
            '</bpmn:process></bpmn:definitions>')


@pytest.fixture
def hostile_api(db_url, tmp_path):
    procs, forms = tmp_path / "processes", tmp_path / "forms"
    procs.mkdir()
    forms.mkdir()
    (forms / "iso_step.form.json").write_text(json.dumps(form("iso_step", [])), "utf-8")
    for n, source in enumerate(HOSTILE.values()):
        pid = f"iso_{n}"
        script = source.replace("&", "&amp;").replace("<", "&lt;")
        (procs / f"{pid}.bpmn").write_text(_model(pid, f'<bpmn:scriptTask id="hostile" scriptFormat="python">'
                                                        f'<bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'), "utf-8")
        (procs / f"{pid}.matter.json").write_text(json.dumps(matter(pid)), "utf-8")
        (forms / f"{pid}_start.form.json").write_text(json.dumps(form(f"{pid}_start", [])), "utf-8")
    # a multi-instance whose input collection is missing: not SpiffWorkflow's own error
    (procs / "iso_mi.bpmn").write_text(_model("iso_mi", (
        '<bpmn:scriptTask id="hostile" scriptFormat="python"><bpmn:multiInstanceLoopCharacteristics>'
        '<bpmn:loopDataInputRef>missing_items</bpmn:loopDataInputRef><bpmn:inputDataItem id="item" name="item"/>'
        '</bpmn:multiInstanceLoopCharacteristics><bpmn:script>y = item</bpmn:script></bpmn:scriptTask>')), "utf-8")
    (procs / "iso_mi.matter.json").write_text(json.dumps(matter("iso_mi")), "utf-8")
    (forms / "iso_mi_start.form.json").write_text(json.dumps(form("iso_mi_start", [])), "utf-8")
    app = make_app(db_url, PROCESSES_DIR=str(procs), FORMS_DIR=str(forms), SCRIPT_TIME_LIMIT_MS=LIMIT_MS,
                   STEP_TIME_BUDGET_MS=5000)
    deploy_all(app)
    api = Api(app)
    api.user("alice", "applicant")
    api.user("admin", groups=["admin"])
    yield api


def test_every_hostile_script_in_a_case_is_an_incident_and_the_next_request_is_served(hostile_api):
    pids = [f"iso_{n}" for n in range(len(HOSTILE))] + ["iso_mi"]
    for pid in pids:
        r = hostile_api.post("alice", "/api/cases", json={"process_id": pid, "data": {}})
        assert r.status_code in (200, 201), (pid, r.status_code, r.get_data(as_text=True)[:300])
        started = time.perf_counter()
        assert hostile_api.get("alice", "/api/matters").status_code == 200
        # served, not held by the script (which alone would run for minutes): ~7 ms here, but CI runs
        # the two databases' suites side by side on two cores and once saw 1.09 s, so the bound is loose
        assert time.perf_counter() - started < 10 * LIMIT_MS / 1000
    incidents = hostile_api.get("admin", "/api/incidents").json
    assert sorted(i["element_id"] for i in incidents) == ["hostile"] * len(pids)
    by_message = " | ".join(i["message"] for i in incidents)
    assert "time limit" in by_message and "unstorable" in by_message and "BaseException" in by_message


def test_memory_beyond_the_workers_limit_stops_the_script_and_the_worker_is_replaced():
    env = SandboxEnvironment(5000)
    env.execute("warm = 1", {})
    before = _rss()
    started = time.perf_counter()
    with pytest.raises(ScriptError) as err:
        env.execute("x = []\nfor i in range(200):\n    x.append('a' * 9000000)", {})
    assert "memory limit" in str(err.value) and err.value.kind == "limit"
    assert time.perf_counter() - started < 5
    assert _rss() - before < 64 * 2**20
    assert env.evaluate("6 * 7", {}) == 42


def test_a_call_activity_that_reaches_its_own_process_is_refused_by_element():
    direct = (HEAD.format(pid="p") + '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>'
              '<bpmn:callActivity id="again" calledElement="p"/><bpmn:endEvent id="e"/>'
              '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="again"/>'
              '<bpmn:sequenceFlow id="f2" sourceRef="again" targetRef="e"/></bpmn:process></bpmn:definitions>')
    through = (HEAD.format(pid="p") + '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>'
               '<bpmn:callActivity id="to_q" calledElement="q"/><bpmn:endEvent id="e"/>'
               '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="to_q"/>'
               '<bpmn:sequenceFlow id="f2" sourceRef="to_q" targetRef="e"/></bpmn:process>'
               '<bpmn:process id="q" isExecutable="false"><bpmn:startEvent id="qs"/>'
               '<bpmn:callActivity id="back_to_p" calledElement="p"/><bpmn:endEvent id="qe"/>'
               '<bpmn:sequenceFlow id="q1" sourceRef="qs" targetRef="back_to_p"/>'
               '<bpmn:sequenceFlow id="q2" sourceRef="back_to_p" targetRef="qe"/></bpmn:process>'
               '</bpmn:definitions>')
    for xml, element in ((direct, "again"), (through, "back_to_p")):
        with pytest.raises(InvalidModel) as err:
            check_model(xml.encode(), "p.bpmn", {})
        hits = [e for e in err.value.errors if "recursion" in e["message"]]
        assert [e["element"] for e in hits] == [element], err.value.errors
