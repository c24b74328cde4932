"""The restricted environment: every escape attempt fails with a clear ScriptError and no effect."""
import time

import pytest

from app.engine.sandbox import ScriptError, SandboxEnvironment, check_source

ESCAPES = [
    ("import os", "import"),
    ("from os import path", "import"),
    ("open('/etc/passwd').read()", "open"),
    ("__import__('os').system('touch /tmp/pwned')", "__import__"),
    ("x = ().__class__.__base__.__subclasses__()", "__class__"),
    ("x = items.__class__", "__class__"),
    ("x = (lambda: 1).__globals__", "__globals__"),
    ("x = eval('1+1')", "eval"),
    ("exec('x = 1')", "exec"),
    ("x = getattr(items, '__class__')", "getattr"),
    ("x = globals()", "globals"),
    ("try:\n    x = 1\nexcept Exception:\n    pass", "try"),
    ("class A:\n    pass", "class"),
]


@pytest.fixture
def env():
    return SandboxEnvironment(time_limit_ms=200)


@pytest.mark.parametrize("source,word", ESCAPES)
def test_escape_payloads_are_refused_at_compile_time(env, source, word):
    assert word in (check_source(source) or "")
    ctx = {"items": [1, 2]}
    with pytest.raises(ScriptError):
        env.execute(source, ctx)
    assert ctx == {"items": [1, 2]}


def test_endless_loop_is_stopped_by_the_time_limit(env):
    started = time.perf_counter()
    with pytest.raises(ScriptError) as err:
        env.execute("n = 0\nwhile True:\n    n = n + 1", {})
    assert err.value.kind == "timeout"
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("source", ["x = 10 ** 10 ** 10", "x = 'a' * 10 ** 9", "x = [0] * 10 ** 9",
                                    "x = 1 << 10 ** 8", "x = list(range(10 ** 9))", "n = 2\nn **= 10 ** 9"])
def test_huge_results_are_refused(env, source):
    with pytest.raises(ScriptError) as err:
        env.execute(source, {})
    assert err.value.kind == "limit"


def test_str_format_attribute_walk_is_blocked(env):
    with pytest.raises(ScriptError):
        env.execute("x = '{0.__class__}'.format(1)", {})


def test_runtime_errors_name_their_line(env):
    with pytest.raises(ScriptError) as err:
        env.execute("a = 1\nb = missing + 1", {})
    assert "NameError" in str(err.value)
    assert err.value.line == 2


def test_a_plain_script_updates_task_data(env):
    ctx = {"amount": 3, "depts": ["cs_ecology"]}
    env.execute("total = amount * 2\nlist_ = [{'dept': d} for d in depts]\nd = {}\nd['k'] = 1\nn = 1\nn += 2", ctx)
    assert ctx == {"amount": 3, "depts": ["cs_ecology"], "total": 6, "list_": [{"dept": "cs_ecology"}],
                   "d": {"k": 1}, "n": 3}


def test_scripts_cannot_leave_functions_in_task_data(env):
    ctx = {}
    env.execute("def helper(x):\n    return x + 1\ny = helper(1)", ctx)
    assert ctx == {"y": 2}


def test_expressions_see_task_data_and_helpers(env):
    assert env.evaluate("len(items) == 2 and max(items) == 2", {"items": [1, 2]}) is True
    assert env.evaluate("timedelta(days=1).days", {}) == 1


def test_task_data_may_not_shadow_helpers(env):
    with pytest.raises(ScriptError):
        env.execute("x = 1", {"timedelta": 5})


def test_dates_and_decimals_from_scripts_survive_save_and_reload():
    import json
    from app.engine.parser import check_model
    from app.engine.runtime import Engine
    from tests.fixtures.build import form
    bpmn = (b'<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d"><bpmn:process id="p" isExecutable="true">'
            b'<bpmn:startEvent id="s"/><bpmn:scriptTask id="calc" scriptFormat="python"><bpmn:script>'
            b'when = datetime(2025, 1, 2, 3, 4)\nday = date(2026, 2, 13)\nfee = Decimal("12.50")\n'
            b'span = timedelta(days=2)\nlabels = {"a", "b"}</bpmn:script></bpmn:scriptTask>'
            b'<bpmn:userTask id="u" camunda:formKey="f" camunda:candidateGroups="window"/><bpmn:endEvent id="e"/>'
            b'<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="calc"/><bpmn:sequenceFlow id="f2" sourceRef="calc" '
            b'targetRef="u"/><bpmn:sequenceFlow id="f3" sourceRef="u" targetRef="e"/></bpmn:process></bpmn:definitions>')
    model = check_model(bpmn, "p.bpmn", {"f": form("f", [])})
    engine = Engine()
    pair = (model.spec, model.subprocess_specs)
    result = engine.start(pair, {})
    assert result.incident is None
    wf = engine.load(pair, result.state)
    data = wf.get_tasks(state=16)[0].data  # READY user task
    from datetime import date, datetime, timedelta
    from decimal import Decimal
    assert data["when"] == datetime(2025, 1, 2, 3, 4) and data["day"] == date(2026, 2, 13)
    assert data["fee"] == Decimal("12.50") and data["span"] == timedelta(days=2)
    assert sorted(data["labels"]) == ["a", "b"]
    json.loads(result.state)
