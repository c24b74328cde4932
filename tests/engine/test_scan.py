"""One walk of the task tree (app/engine/scan.py, issue 20) gives, at every step of every scenario of the
shipped matters, the lists SpiffWorkflow's own walks give: ready, waiting, completed and errored tasks,
in their order — sub-processes, 会签's multi-instance, boundary timers, returns and cancels included."""
from __future__ import annotations

import copy
import json

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.util.task import TaskIterator, TaskState

from app.engine.runtime import Engine
from app.engine.scan import PlatformEndJoin, PlatformWorkflow, scan, unfinished_besides, waiting_walk
from app.engine.serializer import dump_spec, load_spec
from app.engine.scenarios import run_scenarios
from app.services.cases.registry import load_forms, process_library
from tests.conftest import ROOT
from tests.engine.test_state_size import STEP, linear_pair

FORMS, _ = load_forms(ROOT / "forms")
LIBRARY = process_library(ROOT / "processes")
DOCS = {p.name.split(".")[0]: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(ROOT.glob("processes/*.scenarios.json"))}


MASKS = [TaskState.READY, TaskState.WAITING, TaskState.COMPLETED, TaskState.ERROR, TaskState.FUTURE,
         TaskState.STARTED, TaskState.CANCELLED, TaskState.PREDICTED_MASK, TaskState.NOT_FINISHED_MASK,
         TaskState.FINISHED_MASK, TaskState.ANY_MASK, TaskState.READY | TaskState.WAITING]


def assert_same(wf):
    assert type(wf) is PlatformWorkflow
    for mask in MASKS:
        for manual in (None, True, False):
            kw = {"state": mask} if manual is None else {"state": mask, "manual": manual}
            assert [t.id for t in wf.get_tasks(**kw)] == [t.id for t in BpmnWorkflow.get_tasks(wf, **kw)], kw
    assert [t.id for t in wf.get_tasks()] == [t.id for t in BpmnWorkflow.get_tasks(wf)]
    assert [t.id for t in waiting_walk(wf)] == \
        [t.id for t in TaskIterator(wf.task_tree, state=TaskState.WAITING)]
    found = scan(wf)
    for name, state in (("ready", TaskState.READY), ("waiting", TaskState.WAITING),
                        ("completed", TaskState.COMPLETED), ("error", TaskState.ERROR)):
        assert [t.id for t in getattr(found, name)] == [t.id for t in wf.get_tasks(state=state)], name
    assert_same_end_joins(wf)


def assert_same_end_joins(wf) -> int:
    """Every end join of the workflow and its sub-processes, whatever its state, gets from the platform's
    check the answer SpiffWorkflow's iterator gives. Returns how many were asked."""
    asked = 0
    for workflow in (wf, *wf.subprocesses.values()):
        for task in list(workflow.tasks.values()):
            if isinstance(task.task_spec, _EndJoin):
                assert PlatformEndJoin._check_threshold_unstructured(task.task_spec, task) == \
                    _EndJoin._check_threshold_unstructured(task.task_spec, task), (task.task_spec.name, task.state)
                asked += 1
    return asked


class ScanCheckingEngine(Engine):
    def __init__(self, *args, **kw):
        super().__init__(*args, isolation="inline", **kw)
        self.checked = 0

    def _snapshot(self, wf):
        assert_same(wf)
        return super()._snapshot(wf)

    def _finish(self, wf, *args, **kw):
        assert_same(wf)
        self.checked += 1
        return super()._finish(wf, *args, **kw)


@pytest.mark.parametrize("pid", sorted(DOCS))
def test_one_walk_gives_what_spiffworkflows_walks_give_at_every_step_of_the_shipped_scenarios(pid, monkeypatch):
    engines = []

    def make_engine(*a, **kw):
        engines.append(ScanCheckingEngine(*a, **kw))
        return engines[-1]

    monkeypatch.setattr("app.engine.scenarios.Engine", make_engine)
    results = run_scenarios((ROOT / "processes" / f"{pid}.bpmn").read_bytes(), FORMS, copy.deepcopy(DOCS[pid]),
                            filename=f"{pid}.bpmn", library=LIBRARY)
    assert [r.message for r in results if not r.passed] == []
    assert sum(e.checked for e in engines) >= len(results) * 2


def test_an_errored_task_and_a_reset_are_found_as_spiffworkflow_finds_them():
    engine = ScanCheckingEngine()
    pair = linear_pair(engine, 4)
    step = engine.start(pair, {"title": "x"})
    first = step.ready[0].id
    step = engine.complete(step.workflow, first, STEP)
    wf = step.workflow
    task = wf.get_tasks(state=TaskState.READY)[0]
    task._set_state(TaskState.ERROR)
    assert_same(wf)
    assert scan(wf).error == [task]
    task._set_state(TaskState.READY)
    step = engine.reset_to(wf, first)
    assert_same(step.workflow)
    assert [t.task_spec.name for t in scan(step.workflow).ready] == ["task_1"]


def test_the_end_join_waits_for_the_same_tasks_as_spiffworkflows_and_is_stored_as_spiffworkflows():
    engine = ScanCheckingEngine()
    spec, subs = linear_pair(engine, 3)
    # stored under SpiffWorkflow's type name, loaded as the platform's class
    text = dump_spec(spec, subs)
    assert '"typename":"_EndJoin"' in text and "PlatformEndJoin" not in text
    loaded, _ = load_spec(text)
    assert type(loaded.task_specs[f"{loaded.name}.EndJoin"]) is PlatformEndJoin
    assert dump_spec(loaded, subs) == text
    step = engine.start((loaded, subs), {"title": "x"})
    wf = step.workflow
    end = next(t for t in wf.tasks.values() if isinstance(t.task_spec, PlatformEndJoin))
    assert unfinished_besides(end, end.task_spec.name)   # the steps to come are not finished
    for _ in range(3):
        assert assert_same_end_joins(wf) >= 1
        step = engine.complete(wf, step.ready[0].id, STEP)
    assert step.status == "complete" and wf.completed
    assert not unfinished_besides(end, end.task_spec.name)
    assert_same_end_joins(wf)
