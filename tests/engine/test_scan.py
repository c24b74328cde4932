"""One walk of the task tree (app/engine/scan.py, issue 20) gives, at every step of every scenario of the
shipped matters, the lists SpiffWorkflow's own walks give: ready, waiting, completed and errored tasks,
in their order — sub-processes, 会签's multi-instance, boundary timers, returns and cancels included."""
from __future__ import annotations

import copy
import json

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskIterator, TaskState

from app.engine.runtime import Engine
from app.engine.scan import PlatformWorkflow, scan, waiting_walk
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
