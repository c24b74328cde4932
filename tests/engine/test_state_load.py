"""A step that missed the workflow cache (app/engine/state_load.py, issue 20): the state is read as
json.loads reads it, each task id is one object, and the state written after the step — the finished
tasks' text as they were stored, the rest converted — is byte for byte the state written from nothing.
When kept and loaded steps alternate it is the same JSON (the keys of a task's data may come in another
order: a loaded task's data has its inherited keys first)."""
from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal

import pytest
from SpiffWorkflow.util.task import TaskState

from app.engine import serializer
from app.engine.runtime import Engine
from app.engine.serializer import StateFormatError, dump_state, load_state
from app.engine.state_load import parse_state
from tests.engine.test_state_size import DOCS, ROOT, STEP, _forget_kept_text, linear_pair, run_shipped, tree


def one_object_per_id(wf) -> None:
    """Each task id of the workflow and its sub-processes is one object: the map's key, the task's id, its
    parent's entry in ``_children`` and its children's ``_parent``."""
    for w in (wf, *wf.subprocesses.values()):
        for key, task in w.tasks.items():
            assert key is task.id
            for child in task._children:
                assert child is w.tasks[child].id
            if task._parent is not None:
                assert task._parent is w.tasks[task._parent].id


def kept_texts(wf) -> int:
    return sum(len(w.__dict__.get(serializer._MEMO_ATTR) or {}) for w in (wf, *wf.subprocesses.values()))


def texts_are_the_stored_ones(state: str) -> int:
    """parse_state reads what json.loads reads; each task's text is where it stands in the state and
    reads as that task."""
    dct, texts = parse_state(state)
    assert dct == json.loads(state)
    count = 0
    for name, stored in texts.items():
        tasks = dct["tasks"] if name is None else dct["subprocesses"][name]["tasks"]
        assert set(stored) == set(tasks)
        for key, text in stored.items():
            assert f'"{key}":{text}' in state
            assert json.loads(text) == tasks[key]
            count += 1
    assert count == len(dct["tasks"]) + sum(len(s["tasks"]) for s in dct.get("subprocesses", {}).values())
    return count


class ColdEngine(Engine):
    """Every step goes on from the state stored by the step before, as on a worker that did not keep the
    workflow. Each state written must equal, byte for byte, the state written from nothing."""

    def __init__(self, *args, **kw):
        super().__init__(*args, isolation="inline", **kw)
        self.checked = 0
        self.reused = 0
        self.reused_in_subprocesses = 0

    def _finish(self, wf, *args, **kw):
        result = super()._finish(wf, *args, **kw)
        _forget_kept_text(wf)
        assert dump_state(wf) == result.state
        texts_are_the_stored_ones(result.state)
        again = load_state(result.state, wf.spec, wf.subprocess_specs, self.script_engine)
        one_object_per_id(again)
        assert tree(again) == tree(wf)
        self.reused += kept_texts(again)
        self.reused_in_subprocesses += kept_texts(again) - len(again.__dict__.get(serializer._MEMO_ATTR) or {})
        result.workflow = again
        self.checked += 1
        return result


def test_every_step_of_a_100_task_model_from_its_stored_state_writes_what_it_writes_from_nothing():
    engine = ColdEngine()
    step = engine.start(linear_pair(engine, 100), {"title": "x", "nested": {"items": [1]}})
    for i in range(1, 101):
        assert [v.element_id for v in step.ready] == [f"task_{i}"]
        step = engine.complete(step.workflow, step.ready[0].id, STEP)
    assert step.status == "complete" and engine.checked == 101
    # the loads before tasks 2…100 kept the text of every finished task under a finished parent
    assert engine.reused >= sum(range(1, 100))


@pytest.mark.parametrize("pid", sorted(DOCS))
def test_every_shipped_scenario_from_the_stored_state_at_every_step_writes_what_it_writes_from_nothing(
        pid, monkeypatch):
    """Call activities (their tasks are kept by sub-process), gateways, boundary timers, 会签, returns."""
    engines = run_shipped(pid, monkeypatch, ColdEngine)
    assert sum(e.reused for e in engines) > 0
    if "callActivity" in (ROOT / "processes" / f"{pid}.bpmn").read_text("utf-8"):
        assert sum(e.reused_in_subprocesses for e in engines) > 0


class MixedEngine(Engine):
    """Steps alternate between a kept workflow and one loaded from the state the step before stored (two
    kept, one loaded), as when a case's steps reach workers with and without it. Each state written must
    be, as JSON, the state written from nothing."""

    def __init__(self, *args, **kw):
        super().__init__(*args, isolation="inline", **kw)
        self.checked = self.loaded = 0

    def _finish(self, wf, *args, **kw):
        result = super()._finish(wf, *args, **kw)
        memos = {id(w): w.__dict__.pop(serializer._MEMO_ATTR, None) for w in (wf, *wf.subprocesses.values())}
        scratch = dump_state(wf)
        for w in (wf, *wf.subprocesses.values()):
            if memos[id(w)] is not None:
                w.__dict__[serializer._MEMO_ATTR] = memos[id(w)]
        assert json.loads(result.state) == json.loads(scratch)
        self.checked += 1
        if self.checked % 3 == 0:
            result.workflow = load_state(result.state, wf.spec, wf.subprocess_specs, self.script_engine)
            self.loaded += 1
        return result


@pytest.mark.parametrize("pid", sorted(DOCS))
def test_every_shipped_scenario_with_kept_and_loaded_steps_alternating_writes_what_it_writes_from_nothing(
        pid, monkeypatch):
    assert sum(e.loaded for e in run_shipped(pid, monkeypatch, MixedEngine)) > 0


def test_a_finished_task_changed_in_place_after_a_load_is_written_again():
    engine = Engine(isolation="inline")
    pair = linear_pair(engine, 5)
    step = engine.start(pair, {"title": "x", "nested": {"items": [1]}})
    for _ in range(3):
        step = engine.complete(step.workflow, step.ready[0].id, STEP)
    stored = step.state
    wf = engine.load(pair, stored)
    assert kept_texts(wf) >= 3
    assert dump_state(wf) == stored                              # nothing changed: the texts as stored
    done = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.name == "task_1"][0]
    done.data["nested"]["items"].append(2)                       # shared with the tasks after it
    after = dump_state(wf)
    _forget_kept_text(wf)
    assert after == dump_state(wf) != stored
    again = engine.load(pair, after)
    assert [t for t in again.get_tasks(state=TaskState.READY)][0].data["nested"]["items"] == [1, 2]


EQUAL_IN_PYTHON = [   # (before, after): == in Python, written differently in the state
    pytest.param(1, True, id="1-True"), pytest.param(0, False, id="0-False"), pytest.param(True, 1, id="True-1"),
    pytest.param(1, 1.0, id="1-1.0"), pytest.param(0.0, -0.0, id="0.0--0.0"),
    pytest.param(1, Decimal("1.0"), id="1-Decimal"), pytest.param(Decimal("1.0"), Decimal("1.00"), id="Decimal-digits"),
]


@pytest.mark.parametrize("cold", [True, False], ids=["after a load", "kept workflow"])
@pytest.mark.parametrize("before,after", EQUAL_IN_PYTHON)
def test_a_nested_value_changed_in_place_to_one_python_calls_equal_is_written_again(cold, before, after):
    """A level-2 value is shared by every task after the one that set it; changed in place (an inline
    script does it) to a value ``==`` calls equal but JSON writes differently, the kept text is stale: the
    state must carry the new value, or the next step reads the old one."""
    engine = Engine(isolation="inline")
    pair = linear_pair(engine, 5)
    step = engine.start(pair, {"title": "x", "nested": {"inner": {"v": before}}})
    for _ in range(3):
        step = engine.complete(step.workflow, step.ready[0].id, STEP)
    wf = engine.load(pair, step.state) if cold else step.workflow
    if cold:
        assert kept_texts(wf) >= 3
    done = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if "nested" in t.data][0]
    done.data["nested"]["inner"]["v"] = after
    written = dump_state(wf)
    _forget_kept_text(wf)
    assert written == dump_state(wf)
    again = engine.load(pair, written)
    value = [t for t in again.get_tasks(state=TaskState.READY)][0].data["nested"]["inner"]["v"]
    assert type(value) is type(after) and str(value) == str(after)


def test_a_snapshot_equals_only_what_is_written_alike():
    snap = serializer._snapshot
    data = {"s": "x", "n": None, "i": 1, "f": 2.5, "z": 0.0, "b": True, "d": Decimal("1.10"),
            "l": [1, False, {"k": [0.5]}], "when": date(2026, 12, 7)}
    assert snap(data) == copy.deepcopy(data)
    assert not snap(data) != copy.deepcopy(data)
    assert snap({"v": float("nan")}) == {"v": float("nan")}           # JSON writes both NaN
    for before, after in [(p.values[0], p.values[1]) for p in EQUAL_IN_PYTHON]:
        assert snap({"v": before}) != {"v": after} and snap([before]) != [after]
    assert snap({"v": 1}) != {"v": 2}


def test_a_migrated_state_keeps_no_texts(monkeypatch):
    engine = Engine(isolation="inline")
    pair = linear_pair(engine, 5)
    step = engine.start(pair, {"title": "x"})
    step = engine.complete(step.workflow, step.ready[0].id, STEP)
    dct = json.loads(step.state)
    dct["serializer_version"] = "0.0-test"
    monkeypatch.setitem(serializer.MIGRATIONS, "0.0-test", lambda d: None)
    wf = engine.load(pair, json.dumps(dct, ensure_ascii=False))
    assert kept_texts(wf) == 0
    one_object_per_id(wf)
    assert json.loads(dump_state(wf)) == json.loads(step.state)


STATE = '{"data":{"tasks":{"a":1},"subprocesses":{}},"tasks":{"x":{"id":"x","data":{"tasks":[1]}},"y":{}},' \
        '"subprocesses":{"s":{"tasks":{"z":{"k":"v"}},"root":"z"}},"root":"x"}'


@pytest.mark.parametrize("text", [
    STATE,
    json.dumps(json.loads(STATE), indent=2),               # whitespace everywhere
    "  " + STATE + "\n",
    '{"t\\u0061sks":{"x":{"a":"\\u540c\\u610f"}}}',         # escapes in keys and values
    "{}", '{"tasks":{}}', '{"tasks":[]}', '{"subprocesses":{"s":1}}', '{"subprocesses":[]}',
])
def test_parse_state_reads_what_json_loads_reads_and_the_texts_of_the_tasks(text):
    dct, texts = parse_state(text)
    assert dct == json.loads(text)
    for name, stored in texts.items():
        tasks = dct["tasks"] if name is None else dct["subprocesses"][name]["tasks"]
        assert {k: json.loads(t) for k, t in stored.items()} == tasks


def test_parse_state_keeps_only_the_tasks_of_the_workflows():
    _, texts = parse_state(STATE)
    assert set(texts) == {None, "s"}
    assert texts[None] == {"x": '{"id":"x","data":{"tasks":[1]}}', "y": "{}"}
    assert texts["s"] == {"z": '{"k":"v"}'}


@pytest.mark.parametrize("text", [
    '{"a":1,"a":2}', '{"tasks":{"x":{},"x":{"b":1}}}', '{"subprocesses":{"s":{},"s":{}}}',
    '{"subprocesses":{"s":{"tasks":{}},"t":5}}', "[1]", '"x"', "1", "null",
])
def test_what_parse_state_does_not_follow_is_json_loads_with_no_texts(text):
    assert parse_state(text) == (json.loads(text), {})


@pytest.mark.parametrize("text", ['{"tasks":{', "{} x", "", "{'a':1}", '{"a":1,}', '{"tasks":{"x":}}', "\ufeff{}"])
def test_parse_state_refuses_what_json_loads_refuses(text):
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as got:
        parse_state(text)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("text", ["[1]", "1", '"x"', "null"])
def test_a_stored_state_that_is_not_an_object_is_refused_as_a_state(text):
    engine = Engine(isolation="inline")
    with pytest.raises(StateFormatError):
        engine.load(linear_pair(engine, 3), text)
