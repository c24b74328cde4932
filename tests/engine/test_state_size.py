"""The stored state without SpiffWorkflow's predicted future (issue 20, app/engine/serializer.py):
its size follows what happened, not the model; every step reloaded from it behaves, and predicts,
exactly as the workflow kept in memory; states stored before (whole tree) still load and run."""
from __future__ import annotations

import copy
import json

import pytest
from SpiffWorkflow.bpmn.serializer.default.workflow import WorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from app.engine import serializer
from app.engine.parser import check_model
from app.engine.runtime import Engine
from app.engine.scenarios import run_scenarios
from app.engine.serializer import dump_spec, dump_state, load_state
from app.services.cases.registry import load_forms, process_library
from tests.conftest import ROOT
from tests.fixtures.build import form, linear_process

PREDICTED = TaskState.FUTURE | TaskState.PREDICTED_MASK
STEP = {"opinion": "同意", "decision": "approve"}


def linear_pair(engine: Engine, n: int):
    pid = f"size_linear{n}"
    forms = {f"{pid}_start": form(f"{pid}_start", []), f"{pid}_step": form(f"{pid}_step", [])}
    checked = check_model(linear_process(pid, n).encode(), f"{pid}.bpmn", forms, expected_id=pid)
    return engine.spec(n, lambda: dump_spec(checked.spec, checked.subprocess_specs))


def tree(wf, task=None, ids=True):
    """The task tree as SpiffWorkflow has it: spec, state, triggered, children in order, sub-processes;
    the ids (unless ``ids`` is false), data and internal data of the tasks reached (predicted tasks
    get new ids on load)."""
    task = task or wf.task_tree
    reached = not task._state & PREDICTED
    sub = wf.top_workflow.subprocesses.get(task.id)
    return (task.task_spec.name, task._state, task.triggered,
            (str(task.id) if ids else None, serializer._registry.convert(task.data),
             serializer._registry.convert(task.internal_data)) if reached else None,
            tuple(tree(wf, c, ids) for c in task.children), tree(sub, None, ids) if sub is not None else None)


def full_state(wf) -> str:
    """The state as it was stored before issue 20: the whole tree, predicted tasks included."""
    conv = serializer._registry.convert_to_dict[serializer._registry.typenames[BpmnWorkflow]].args[1].__self__
    dct = WorkflowConverter.to_dict(conv, wf)
    dct["typename"] = "BpmnWorkflow"
    dct["subprocesses"] = {str(k): WorkflowConverter.to_dict(conv, sp) | {
        "parent_task_id": str(sp.parent_task_id), "spec": sp.spec.name, "typename": "BpmnSubWorkflow"}
        for k, sp in wf.subprocesses.items()}
    dct["bpmn_events"] = serializer._registry.convert(wf.bpmn_events)
    dct.update(serializer_version=serializer.SPIFF_VERSION, platform_format=serializer.PLATFORM_FORMAT)
    return json.dumps(dct, ensure_ascii=False, cls=serializer._StateEncoder)


class ReloadingEngine(Engine):
    """Every step's state is loaded again and compared with the workflow it came from; the scenario
    then goes on with the reloaded workflow, as a server without the workflow cache does."""

    def __init__(self, *args, **kw):
        super().__init__(*args, isolation="inline", **kw)
        self.checked = 0

    def _finish(self, wf, *args, **kw):
        result = super()._finish(wf, *args, **kw)
        again = load_state(result.state, wf.spec, wf.subprocess_specs, self.script_engine)
        assert tree(again) == tree(wf)
        assert json.loads(dump_state(again)) == json.loads(result.state)
        assert json.loads(result.state)["future"] == "predict"
        result.workflow = again
        self.checked += 1
        return result


@pytest.fixture
def engine():
    return Engine(isolation="inline")


def test_the_state_at_task_1_does_not_grow_with_the_model(engine):
    small = engine.start(linear_pair(engine, 20), {"title": "x"}).state
    big = engine.start(linear_pair(engine, 100), {"title": "x"}).state
    assert len(big) <= 2 * len(small)
    assert len(big) < 4096
    tasks = json.loads(big)["tasks"]
    assert not [t for t in tasks.values() if t["state"] & PREDICTED]
    # what is left: the start, the start event, the ready task 1 (stored without children)
    assert sorted(t["state"] for t in tasks.values()) == [TaskState.READY, TaskState.COMPLETED, TaskState.COMPLETED]


def test_every_step_of_a_100_task_model_reloads_as_it_was_kept():
    """One chain goes on from the stored state (reloaded at every step, compared with the workflow it
    was stored from), the other keeps its workflow in memory from the start: they stay the same."""
    engine = ReloadingEngine()
    pair = linear_pair(engine, 100)
    stored = engine.start(pair, {"title": "x"})
    kept_engine = Engine(isolation="inline")
    kept = kept_engine.start(pair, {"title": "x"})
    sizes = []
    for i in range(1, 101):
        assert tree(stored.workflow, ids=False) == tree(kept.workflow, ids=False)
        assert [v.element_id for v in stored.ready] == [f"task_{i}"] == [v.element_id for v in kept.ready]
        stored = engine.complete(stored.workflow, stored.ready[0].id, STEP)
        kept = kept_engine.complete(kept.workflow, kept.ready[0].id, STEP)
        sizes.append(len(stored.state))
    assert engine.checked == 101
    assert stored.status == kept.status == "complete"
    assert stored.end_event == kept.end_event == "end_done"
    # the state grows with the steps taken, evenly; the one stored with its future did not shrink so
    assert abs((sizes[-2] - sizes[-3]) - (sizes[1] - sizes[0])) < 16
    assert len(full_state(engine.start(pair, {"title": "x"}).workflow)) > 20 * sizes[0] / 2


def test_a_state_stored_with_its_predicted_future_still_loads_and_runs(engine):
    pair = linear_pair(engine, 20)
    started = engine.start(pair, {"title": "x"})
    old = full_state(started.workflow)
    assert "future" not in json.loads(old)
    assert sum(1 for t in json.loads(old)["tasks"].values() if t["state"] & PREDICTED) == 22
    loaded = engine.load(pair, old)
    assert tree(loaded) == tree(started.workflow)
    step = engine.complete(loaded, started.ready[0].id, STEP)
    assert [v.element_id for v in step.ready] == ["task_2"]
    # saved again, it is stored without the future, and goes on from there
    assert json.loads(step.state)["future"] == "predict"
    assert not [t for t in json.loads(step.state)["tasks"].values() if t["state"] & PREDICTED]
    again = engine.complete(engine.load(pair, step.state), step.ready[0].id, STEP)
    assert [v.element_id for v in again.ready] == ["task_3"]


FORMS, _ = load_forms(ROOT / "forms")
LIBRARY = process_library(ROOT / "processes")
DOCS = {p.name.split(".")[0]: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(ROOT.glob("processes/*.scenarios.json"))}


def run_shipped(pid: str, monkeypatch, engine_class) -> list:
    """Run the scenarios of the shipped matter ``pid`` with every engine they make an ``engine_class``; all
    must pass, and the engines together must have checked (``checked``) at least two steps per scenario.
    Returns the engines."""
    engines = []

    def make_engine(*a, **kw):
        engines.append(engine_class(*a, **kw))
        return engines[-1]

    monkeypatch.setattr("app.engine.scenarios.Engine", make_engine)
    results = run_scenarios((ROOT / "processes" / f"{pid}.bpmn").read_bytes(), FORMS, copy.deepcopy(DOCS[pid]),
                            filename=f"{pid}.bpmn", library=LIBRARY)
    assert [r.message for r in results if not r.passed] == []
    assert sum(e.checked for e in engines) >= len(results) * 2
    return engines


@pytest.mark.parametrize("pid", sorted(DOCS))
def test_every_shipped_scenario_passes_with_the_workflow_reloaded_at_every_step(pid, monkeypatch):
    """Gateways, boundary timers (their MAYBE branches are kept), 会签, call activities, messages:
    each step of each scenario of the shipped matters goes on from the reloaded state."""
    run_shipped(pid, monkeypatch, ReloadingEngine)


def _forget_kept_text(wf):
    for w in (wf, *wf.subprocesses.values()):
        w.__dict__.pop(serializer._MEMO_ATTR, None)


class KeptTextCheckingEngine(Engine):
    """The workflow is kept from step to step (as the workflow cache keeps it) and each step's state,
    written with the finished tasks' text kept from the step before, is compared with the state
    written from nothing."""

    def __init__(self, *args, **kw):
        super().__init__(*args, isolation="inline", **kw)
        self.checked = 0

    def _finish(self, wf, *args, **kw):
        result = super()._finish(wf, *args, **kw)
        _forget_kept_text(wf)
        assert dump_state(wf) == result.state
        self.checked += 1
        return result


@pytest.mark.parametrize("pid", sorted(DOCS))
def test_every_shipped_scenario_writes_with_the_kept_text_what_it_writes_from_nothing(pid, monkeypatch):
    """Returns (退回: tasks dropped, a finished task ready again), cancels, 会签's multi-instance
    (a running parent whose finished children are written every time), sub-processes, timers."""
    engines = []

    def make_engine(*a, **kw):
        engines.append(KeptTextCheckingEngine(*a, **kw))
        return engines[-1]

    monkeypatch.setattr("app.engine.scenarios.Engine", make_engine)
    doc = copy.deepcopy(DOCS[pid])
    results = run_scenarios((ROOT / "processes" / f"{pid}.bpmn").read_bytes(), FORMS, doc, filename=f"{pid}.bpmn",
                            library=LIBRARY)
    assert [r.message for r in results if not r.passed] == []
    assert sum(e.checked for e in engines) >= len(results) * 2


def test_a_finished_task_changed_in_place_is_written_again_with_what_came_after_it(engine):
    """Task data shares nested values with the task before it (SpiffWorkflow copies the top level
    only): a change in place of a finished task's nested value is seen, that task and the tasks
    after it are written again, and the state loads back with the change."""
    pair = linear_pair(engine, 5)
    step = engine.start(pair, {"title": "x", "nested": {"items": [1]}})
    step = engine.complete(step.workflow, step.ready[0].id, STEP)
    step = engine.complete(step.workflow, step.ready[0].id, STEP)
    wf = step.workflow
    before = dump_state(wf)
    assert serializer._MEMO_ATTR in wf.__dict__ and wf.__dict__[serializer._MEMO_ATTR]
    assert dump_state(wf) == before                          # nothing changed: the kept text as it was
    done = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.name == "task_1"][0]
    done.data["nested"]["items"].append(2)                   # shared with the tasks after it
    after = dump_state(wf)
    _forget_kept_text(wf)
    assert after == dump_state(wf) != before
    again = load_state(after, wf.spec, wf.subprocess_specs, engine.script_engine)
    assert tree(again) == tree(wf)
    assert [t for t in again.get_tasks(state=TaskState.READY)][0].data["nested"]["items"] == [1, 2]


def test_a_reset_forgets_the_text_of_the_tasks_it_drops(engine):
    pair = linear_pair(engine, 6)
    step = engine.start(pair, {"title": "x"})
    first = step.ready[0].id
    for _ in range(4):
        step = engine.complete(step.workflow, step.ready[0].id, STEP)
    wf = step.workflow
    assert len(wf.__dict__[serializer._MEMO_ATTR]) >= 5
    step = engine.reset_to(wf, first)
    assert [v.element_id for v in step.ready] == ["task_1"]
    finished = {t.id for t in wf.get_tasks(state=TaskState.FINISHED_MASK)}
    assert set(wf.__dict__[serializer._MEMO_ATTR]) <= finished
    _forget_kept_text(wf)
    assert dump_state(wf) == step.state


def test_the_snapshot_of_task_data_is_a_deep_copy_that_shares_only_what_cannot_change():
    from datetime import date
    from decimal import Decimal
    nested = {"items": [1, {"deep": ["x"]}], "when": date(2026, 3, 2), "amount": Decimal("1.5"),
              "pair": ([1], 2), "tags": {"a"}}
    data = {"title": "x", "nested": nested, "none": None}
    snap = serializer._snapshot(data)
    assert snap == data
    assert snap["nested"] is not nested and snap["nested"]["items"][1] is not nested["items"][1]
    assert snap["nested"]["pair"][0] is not nested["pair"][0] and snap["nested"]["tags"] is not nested["tags"]
    assert snap["nested"]["when"] is nested["when"]                   # shared: a date cannot change in place
    assert snap["nested"]["amount"] == nested["amount"]
    assert snap["nested"]["amount"] != Decimal("1.50")                # equal only to what is written alike
    nested["items"][1]["deep"].append("y")
    nested["pair"][0].append(3)
    nested["tags"].add("b")
    assert snap["nested"] == {"items": [1, {"deep": ["x"]}], "when": date(2026, 3, 2), "amount": Decimal("1.5"),
                              "pair": ([1], 2), "tags": {"a"}}
