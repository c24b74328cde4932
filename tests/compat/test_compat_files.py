"""Issue 18, "done when": every file of the corpus, opened as a designer does — 打开文件, the import
assistant's defaults (a default group for tasks and lanes without people, forms made from
camunda:formData or empty ones, JUEL translated where exact, ids repaired) — and deployed, then
driven through the API to the end event its manifest names with data that takes a real path
(start form, each step claimed and completed by a user who may act, messages delivered); or, where
the platform deliberately does not support the shape, refused with the element named."""
from __future__ import annotations

import pytest

from tests.compat.conftest import (BY_FILE, FILES, MANIFEST, CaseDriver, brief, deploy_file, designer, elements,
                                   import_and_apply)

MAX_STEPS = 20


def test_the_corpus_is_complete():
    names = {e["file"] for e in MANIFEST}
    assert names == {p.name for p in FILES.glob("*.bpmn")}
    assert len(names) >= 40
    dialects = {e["dialect"] for e in MANIFEST}
    assert dialects == {"camunda7", "flowable", "bpmnio", "spiffarena"}
    for e in MANIFEST:
        assert e["expect"] in ("run", "refused"), e
        if e["expect"] == "refused":
            assert e["refused_element"], e
        else:
            assert e["end"] and isinstance(e["steps"], list) and isinstance(e["start"], dict), e
        assert all(dep in BY_FILE and BY_FILE[dep]["expect"] == "run" for dep in e["deploy_first"]), e


def _deploy_dependencies(d, entry):
    for dep in entry["deploy_first"]:
        status, answer, _ = deploy_file(d, dep)
        assert status == 200, f"{dep} (deploy_first) did not deploy at {answer.get('stage')}: " \
                              f"{brief(answer.get('errors') or [])}"


@pytest.mark.parametrize("name", [e["file"] for e in MANIFEST if e["expect"] == "refused"])
def test_refused_with_the_element_named(compat_app, name):
    entry = BY_FILE[name]
    d = designer(compat_app)
    _deploy_dependencies(d, entry)
    got = import_and_apply(d, name)
    assert got["status"] in (200, 422), (got["stage"], got["status"], got.get("body"))
    errors = got["errors"]
    if got["status"] == 200:
        applied = got["applied"]
        r = d.post("/designer/deploy", {"process_id": applied["process_id"], "bpmn": applied["bpmn"],
                                        "matter": applied["matter"], "forms": applied.get("forms") or {}})
        assert r.status_code == 422, f"deployed although {entry['refused_element']} should be refused: {r.get_json()}"
        errors = r.get_json()["errors"]
    assert entry["refused_element"] in elements(errors), \
        f"refused, but {entry['refused_element']} not named: {brief(errors)}"
    named = [e for e in errors if e.get("element") == entry["refused_element"]]
    assert all(e.get("message") for e in named)
    assert not d.server_errors and not d.slow, (d.server_errors, d.slow)


@pytest.mark.parametrize("name", [e["file"] for e in MANIFEST if e["expect"] == "run"])
def test_runs_to_its_end_event(compat_app, name):
    entry = BY_FILE[name]
    d = designer(compat_app)
    _deploy_dependencies(d, entry)
    status, answer, applied = deploy_file(d, name)
    assert status == 200, f"not deployed ({answer.get('stage')} {status}): {brief(answer.get('errors') or [])}"
    process_id = answer["process_id"]

    run = CaseDriver(compat_app)
    r = run.start(process_id, entry["start"])
    assert r.status_code == 201, f"start refused: {r.get_json()}"
    case = r.get_json()
    for i, step in enumerate(entry["steps"][:MAX_STEPS]):
        assert not case["incidents"], f"before step {i}: incidents {case['incidents']}"
        if "message" in step:
            run.deliver(case["id"], step["message"], step["data"])
            case = run.case(case["id"]).get_json()
            continue
        ready = [t for t in case["current_tasks"] if t["element_id"] == step["task"]]
        assert ready, (f"step {i}: {step['task']} is not open; open: "
                       f"{[t['element_id'] for t in case['current_tasks']]}, status {case.get('instance_status')}")
        r = run.complete(ready[0], step["data"])
        assert r.status_code == 200, f"step {i} ({step['task']}): {r.status_code} {r.get_json()}"
        case = run.case(case["id"]).get_json()
    assert not case["incidents"], f"incidents: {case['incidents']}"
    assert case["current_tasks"] == [], f"still open: {[t['element_id'] for t in case['current_tasks']]}"
    assert case["instance_status"] == "complete", case["instance_status"]
    assert case["end_event"] == entry["end"], f"ended at {case['end_event']}, expected {entry['end']}"
    assert not (d.server_errors or run.server_errors), d.server_errors + run.server_errors
    assert not (d.slow or run.slow), d.slow + run.slow
