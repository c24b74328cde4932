"""A workflow must behave the same whether a step runs on the workflow kept in memory (the engine's
workflow cache, WORKFLOW_CACHE_SIZE) or on one deserialised from the database, e.g. by another node.

The two-node load test found the shipped matter 中央预算内投资项目资金申请 (zjsq_zhongyang) sending
cases where every department agreed to 协调: the 会签 results were appended to the ``countersign``
collection (2 departments, 3 or 4 items) instead of replacing its items. The cause was not the cache
itself but the spec every workflow of a version shares in a process: SpiffWorkflow's Camunda
multi-instance classes set ``data_input`` / ``input_item`` on that shared spec when the
multi-instance *starts*, so only the process that had started it (the one holding the cached
workflow) wrote the results back in place; any other process (another node, a restart) appended
them, and a sequential 会签 failed there outright.

Here two apps on one database are two nodes: each has its own engine (spec cache and workflow
cache). The shipped matter is driven through the HTTP API with the data of its scenarios, switching
node at the countersign, both ways round; the fixture matters cover sequential, parallel, 或签 and
standard BPMN multi-instance; an engine-level matrix covers every multi-instance shape of the
dialect, every way of splitting a run between two engines, and specs and states stored before the
fix."""
from __future__ import annotations

import itertools
import json

import pytest
from sqlalchemy import event, select

from app.engine.multiinstance import INPUT_KEY
from app.engine.parser import check_model
from app.engine.runtime import Engine
from app.engine.serializer import dump_spec, load_spec
from app.extensions import db
from app.models import ProcessInstance, ProcessVersion
from app.services.cases.steps import engine as current_engine
from app.services.cases.steps import spec_pair
from app.services.common.db_support import is_sqlite
from tests.conftest import FIXTURES, ROOT, deploy_all, make_app
from tests.web.api.helpers import Api

SCENARIOS = json.loads((ROOT / "processes" / "zjsq_zhongyang.scenarios.json").read_text(encoding="utf-8"))["scenarios"]
AGREED = SCENARIOS[0]        # 同意转报（含一次补正）: both departments agree
DISAGREED = SCENARIOS[1]     # 会签有不同意见: 财政厅 no, the industry department yes
TWICE = SCENARIOS[2]         # 处长退回重审后转报: two rounds of 会签
assert [s["task"] for s in AGREED["steps"]].count("countersign") == 2
assert TWICE["steps"][4]["data"]["chief_decision"] == "return"

#: who does each step of zjsq_zhongyang (a 会签 instance: its department's user)
DOER = {"window_review": "win", "correction": "applicant_1", "division_review": "inv", "coordinate": "inv",
        "chief_review": "chief", "leader_decision": "leader", "forward_upward": "inv"}
DEPT_USERS = {"cs_finance": "fin", "cs_water": "water"}


def _close(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def nodes(db_url):
    """Two apps (nodes) on one database, each with its engine and its workflow cache on."""
    apps = [make_app(db_url, WORKFLOW_CACHE_SIZE=256) for _ in range(2)]
    deploy_all(apps[0])
    apis = [Api(app) for app in apps]
    apis[0].user("applicant_1", "applicant")
    for name, group in (("win", "window"), ("inv", "investment"), ("chief", "investment_chief"),
                        ("leader", "leader"), ("fin", "cs_finance"), ("water", "cs_water")):
        apis[0].user(name, groups=[group])
    apis[1].headers = apis[0].headers  # the same users (tokens) on the other node
    yield apis
    for app in apps:
        _close(app)


def _open(api, who, element):
    return [t for t in api.tasks(who) if t["element_id"] == element]


def _step(api, element, data):
    """Complete the open ``element`` (a 会签: the first department that has one open) on ``api``."""
    if element == "countersign":
        candidates = [(who, tasks) for who in DEPT_USERS.values() if (tasks := _open(api, who, element))]
        assert candidates, "no department has an open countersign"
        who, tasks = candidates[0]
    else:
        who = DOER[element]
        tasks = _open(api, who, element)
        assert tasks, f"{who} has no open {element}"
    r = api.post(who, f"/api/tasks/{tasks[0]['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    assert not r.json["incidents"], r.json["incidents"]
    return r.json


def _stored_workflow(app):
    """The workflow of the one instance as stored, loaded by a third engine (the app's own one may hold
    the spec of either node's history)."""
    with app.app_context():
        inst = db.session.execute(select(ProcessInstance)).scalar_one()
        version = db.session.get(ProcessVersion, inst.version_id)
        fresh = Engine(isolation="inline")
        return fresh.load(fresh.spec(version.id, lambda: version.spec_json), inst.state)


def _countersign_rounds(app) -> list[list[dict]]:
    """The ``countersign`` collection as each round of 会签 left it (read from the stored state)."""
    wf = _stored_workflow(app)
    done = [t for t in wf.get_tasks() if t.task_spec.bpmn_id == "gw_countersign" and t.state == 64]
    return [t.data["countersign"] for t in sorted(done, key=lambda t: t.last_state_change)]


def _run(apis, scenario, node_of) -> tuple[dict, list[str]]:
    """Create the case on node 0 and run the scenario's steps, step i on node ``node_of(i, step)``.
    Returns the last response and the element ids ready after each 会签 round."""
    r = apis[0].post("applicant_1", "/api/cases", json={"process_id": "zjsq_zhongyang", "data": scenario["start"]})
    assert r.status_code in (200, 201), r.json
    after_rounds, state = [], None
    steps = scenario["steps"]
    for i, step in enumerate(steps):
        state = _step(apis[node_of(i, step)], step["task"], step["data"])
        if step["task"] == "countersign" and (i + 1 == len(steps) or steps[i + 1]["task"] != "countersign"):
            after_rounds.append(sorted(t["element_id"] for t in state["current_tasks"]))
    return state, after_rounds


def _second_countersign(scenario) -> int:
    return [i for i, s in enumerate(scenario["steps"]) if s["task"] == "countersign"][1]


@pytest.mark.parametrize("order", ["first_node_then_second", "second_node_then_first"])
def test_zhongyang_countersign_split_between_nodes_ends_all_agree(nodes, order):
    """Everything up to and including the first 会签 on one node (its cache holds the workflow), the
    second 会签 on the other node (it deserialises the workflow), the rest back on the first."""
    split = _second_countersign(AGREED)
    first, second = (0, 1) if order == "first_node_then_second" else (1, 0)
    state, rounds = _run(nodes, AGREED, lambda i, step: second if i == split else first)
    assert rounds == [["chief_review"]]  # 一致同意, not 协调
    [collection] = _countersign_rounds(nodes[0].app)
    assert [item["dept"] for item in collection] == ["cs_finance", "cs_water"]
    assert [item["agree"] for item in collection] == ["yes", "yes"]
    assert state["instance_status"] == "complete"
    with nodes[0].app.app_context():
        inst = db.session.execute(select(ProcessInstance)).scalar_one()
        assert inst.end_event == AGREED["end"] == "end_approved"


def test_zhongyang_every_step_on_the_other_node(nodes):
    """Alternating nodes on every step, through two rounds of 会签 (the chief returns the case)."""
    state, rounds = _run(nodes, TWICE, lambda i, step: i % 2)
    assert rounds == [["chief_review"], ["chief_review"]]
    collections = _countersign_rounds(nodes[0].app)
    assert len(collections) == 2
    for collection in collections:
        assert [item["dept"] for item in collection] == ["cs_finance", "cs_water"]
        assert all(item["agree"] == "yes" for item in collection)
    assert state["instance_status"] == "complete"
    with nodes[1].app.app_context():
        assert db.session.execute(select(ProcessInstance)).scalar_one().end_event == TWICE["end"]


def test_zhongyang_disagreement_still_goes_to_coordination_across_nodes(nodes):
    split = _second_countersign(DISAGREED)
    state, rounds = _run(nodes, DISAGREED, lambda i, step: 1 if i == split else 0)
    assert rounds == [["coordinate"]]
    [collection] = _countersign_rounds(nodes[0].app)
    assert [(item["dept"], item["agree"]) for item in collection] == [("cs_finance", "no"), ("cs_water", "yes")]
    with nodes[0].app.app_context():
        assert db.session.execute(select(ProcessInstance)).scalar_one().end_event == DISAGREED["end"]


def test_fixture_sequential_any_one_and_standard_across_nodes(db_url):
    """tests/fixtures t_mi: 依次会签 (sequential), 或签 and standard BPMN multi-instance, every step on
    the other node than the one before."""
    from tests.web.api.helpers import START
    apps = [make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"),
                     WORKFLOW_CACHE_SIZE=256) for _ in range(2)]
    try:
        deploy_all(apps[0])
        apis = [Api(app) for app in apps]
        apis[0].user("alice", "applicant")
        apis[0].user("eco", groups=["cs_ecology"])
        apis[0].user("fin", groups=["cs_finance"])
        apis[1].headers = apis[0].headers
        case = apis[0].post("alice", "/api/cases", json={"process_id": "t_mi", "data": START}).json
        assert [t["element_id"] for t in case["current_tasks"]] == ["seq_sign"]
        apis[0].complete_first("eco", {"cs": {"agree": "yes", "opinion": "一"}})
        assert apis[1].tasks("eco") == []
        state = apis[1].complete_first("fin", {"cs": {"agree": "no", "opinion": "二"}})
        assert sorted(t["element_id"] for t in state["current_tasks"]) == ["any_sign", "any_sign"]
        state = apis[0].complete_first("fin", {"cs": {"agree": "yes", "opinion": "同意"}}, element="any_sign")
        assert {t["element_id"] for t in state["current_tasks"]} == {"std_sign"}
        apis[1].complete_first("eco", {"cs": {"agree": "yes", "opinion": "甲"}})
        done = apis[0].complete_first("fin", {"cs": {"agree": "yes", "opinion": "乙"}})
        assert done["instance_status"] == "complete"
        with apps[1].app_context():
            inst = db.session.execute(select(ProcessInstance)).scalar_one()
            wf = current_engine().load(spec_pair(db.session.get(ProcessVersion, inst.version_id)), inst.state)
            data = wf.data if wf.data else wf.last_task.data
            assert data["signers"] == [{"dept": "cs_ecology", "agree": "yes", "opinion": "一"},
                                       {"dept": "cs_finance", "agree": "no", "opinion": "二"}]
            # 或签: the department that signed has its opinion in its own item, the other is untouched
            assert data["anyone"] == [{"dept": "cs_ecology"},
                                      {"dept": "cs_finance", "agree": "yes", "opinion": "同意"}]
            assert [s["opinion"] for s in data["std_opinions"]] == ["甲", "乙"]
    finally:
        for app in apps:
            _close(app)


# -- the engine: every multi-instance shape, every split between two engines ------------------------
FORM = {"type": "default", "id": "t_sign", "schemaVersion": 16, "components": [
    {"type": "group", "path": "it", "components": [{"type": "textfield", "key": "sig", "label": "签"}]}]}

#: name -> (attributes, child elements) of the loop characteristics; every shape runs over three
#: departments in ``items``
SHAPES = {
    "collection": ('camunda:collection="items" camunda:elementVariable="it"', ""),
    "cardinality_number": ('camunda:collection="results" camunda:elementVariable="it"',
                           "<bpmn:loopCardinality>len(items)</bpmn:loopCardinality>"),
    "cardinality_collection_same": ('camunda:collection="items" camunda:elementVariable="it"',
                                    "<bpmn:loopCardinality>items</bpmn:loopCardinality>"),
    "cardinality_collection_other": ('camunda:collection="results" camunda:elementVariable="it"',
                                     "<bpmn:loopCardinality>items</bpmn:loopCardinality>"),
    "standard_same": ("", '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>'
                          '<bpmn:loopDataOutputRef>items</bpmn:loopDataOutputRef>'
                          '<bpmn:inputDataItem id="it" name="it"/><bpmn:outputDataItem id="it" name="it"/>'),
    "standard_other": ("", '<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>'
                           '<bpmn:loopDataOutputRef>results</bpmn:loopDataOutputRef>'
                           '<bpmn:inputDataItem id="it" name="it"/><bpmn:outputDataItem id="it" name="it"/>'),
}
ITEMS = [{"dept": "cs_finance"}, {"dept": "cs_water"}, {"dept": "cs_ecology"}]
EXPECTED = {  # (the collection written, its items) after the three signed in order s0, s1, s2
    "collection": ("items", [{**d, "sig": f"s{i}"} for i, d in enumerate(ITEMS)]),
    "cardinality_number": ("results", [{"sig": f"s{i}"} for i in range(3)]),
    "cardinality_collection_same": ("items", [{**d, "sig": f"s{i}"} for i, d in enumerate(ITEMS)]),
    "cardinality_collection_other": ("results", [{**d, "sig": f"s{i}"} for i, d in enumerate(ITEMS)]),
    "standard_same": ("items", [{**d, "sig": f"s{i}"} for i, d in enumerate(ITEMS)]),
    "standard_other": ("results", [{**d, "sig": f"s{i}"} for i, d in enumerate(ITEMS)]),
}


def _bpmn(shape: str, sequential: bool) -> bytes:
    attributes, children = SHAPES[shape]
    seq = ' isSequential="true"' if sequential else ""
    characteristics = (f"<bpmn:multiInstanceLoopCharacteristics{seq} {attributes}>{children}"
                       "</bpmn:multiInstanceLoopCharacteristics>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://example.org/t">
  <bpmn:process id="t_shape" name="多实例形态" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="sign" name="会签" camunda:formKey="t_sign" camunda:candidateGroups="window">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      {characteristics}
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sign"/>
    <bpmn:sequenceFlow id="f2" sourceRef="sign" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def _legacy_spec(spec_json: str) -> str:
    """The spec as stored before the fix (SpiffWorkflow's Camunda classes, same type names): the
    references they set only at run time are absent."""
    dct = json.loads(spec_json)
    changed = 0
    for task in dct["spec"]["task_specs"].values():
        if task["typename"] in ("ParallelMultiInstanceTask", "SequentialMultiInstanceTask"):
            assert task["input_item"] == {"bpmn_id": "it", "bpmn_name": None, "typename": "TaskDataReference"}
            task["data_input"] = None
            task["input_item"] = None
            changed += 1
    assert changed == 1
    return json.dumps(dct, ensure_ascii=False)


def _legacy_state(state: str) -> str:
    """A state stored before the fix: no INPUT_KEY in the multi-instance task's internal data."""
    dct = json.loads(state)
    for task in dct["tasks"].values():
        task["internal_data"].pop(INPUT_KEY, None)
    return json.dumps(dct, ensure_ascii=False)


def _run_split(spec_json: str, nodes: tuple[int, ...], legacy_state: bool = False):
    """Start on engine ``nodes[0]``, complete the ready instance (the first) with s<k> on engine
    ``nodes[k + 1]``. The same engine as the step before keeps the workflow in memory (its cache);
    the other engine deserialises the stored state with its own spec (another process)."""
    engines = [Engine(isolation="inline") for _ in range(2)]
    pairs = [e.spec(1, lambda: spec_json) for e in engines]
    result = engines[nodes[0]].start(pairs[nodes[0]], {"items": json.loads(json.dumps(ITEMS))})
    assert result.incident is None, result.incident
    previous = nodes[0]
    for k, node in enumerate(nodes[1:]):
        if node == previous:
            wf = result.workflow
        else:
            state = _legacy_state(result.state) if legacy_state else result.state
            wf = engines[node].load(pairs[node], state)
        ready = [v for v in result.ready if v.element_id == "sign"]
        assert ready, f"step {k}: nothing ready ({result.status}, {result.incident})"
        result = engines[node].complete(wf, ready[0].id, {"it": {"sig": f"s{k}"}})
        assert result.incident is None, result.incident
        previous = node
    assert result.status == "complete" and result.end_event == "end"
    return engines[0].load(pairs[0], result.state).last_task.data


SPLITS = list(itertools.product((0, 1), repeat=4))  # which engine starts and does each of the 3 signings


@pytest.mark.parametrize("sequential", [False, True], ids=["parallel", "sequential"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_gives_the_same_data_however_the_run_is_split(shape, sequential):
    model = check_model(_bpmn(shape, sequential), "t_shape.bpmn", {"t_sign": FORM})
    spec_json = dump_spec(model.spec, model.subprocess_specs)
    name, items = EXPECTED[shape]
    for nodes in SPLITS:
        data = _run_split(spec_json, nodes)
        assert data[name] == items, (nodes, data[name])
    if "standard" not in shape:  # a version deployed before the fix, cases started before it
        for nodes in SPLITS:
            assert _run_split(_legacy_spec(spec_json), nodes)[name] == items, nodes
            assert _run_split(spec_json, nodes, legacy_state=True)[name] == items, nodes


def test_running_never_changes_the_shared_spec():
    """The spec is shared by every workflow of a version in a process: running one must not change
    it (SpiffWorkflow's Camunda classes set data_input / input_item, even cardinality = None)."""
    for shape, sequential in itertools.product(SHAPES, (False, True)):
        model = check_model(_bpmn(shape, sequential), "t_shape.bpmn", {"t_sign": FORM})
        spec_json = dump_spec(model.spec, model.subprocess_specs)
        engine = Engine(isolation="inline")
        pair = engine.spec(1, lambda: spec_json)
        before = dump_spec(*pair)
        result = engine.start(pair, {"items": json.loads(json.dumps(ITEMS))})
        engine.complete(result.workflow, result.ready[0].id, {"it": {"sig": "s0"}})
        assert dump_spec(*pair) == before, shape
        # and what is stored loads back as the same spec
        assert dump_spec(*load_spec(before)) == before, shape


def test_collection_without_element_variable_is_refused_at_deploy():
    """SpiffWorkflow's Camunda classes failed on it only when the step was reached (an incident)."""
    from app.domain.errors import InvalidModel
    SHAPES["no_element_variable"] = ('camunda:collection="items"', "")
    try:
        with pytest.raises(InvalidModel) as info:
            check_model(_bpmn("no_element_variable", False), "t_shape.bpmn", {"t_sign": FORM})
    finally:
        del SHAPES["no_element_variable"]
    [error] = info.value.details["errors"]
    assert error["element"] == "sign" and "camunda:elementVariable" in error["message"]


NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://example.org/t">
  <bpmn:process id="t_nested" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="a" camunda:formKey="t_sign" camunda:candidateGroups="window"/>
    <bpmn:userTask id="b" camunda:formKey="t_sign" camunda:candidateGroups="window"/>
    <bpmn:userTask id="c" camunda:formKey="t_sign" camunda:candidateGroups="window"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a"/>
    <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
    <bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="c"/>
    <bpmn:sequenceFlow id="f4" sourceRef="c" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.mark.parametrize("reload", [False, True], ids=["cached", "reloaded"])
def test_a_nested_submission_never_rewrites_the_data_earlier_steps_completed_with(reload):
    """Task data shares its nested objects with the tasks before it (SpiffWorkflow copies only the
    top level, in memory and when rebuilding a reloaded state). A submission merged into them in
    place rewrote what the earlier steps completed with, and 退回 then restored the new values."""
    model = check_model(NESTED, "t_nested.bpmn", {"t_sign": FORM})
    spec_json = dump_spec(model.spec, model.subprocess_specs)
    eng = Engine(isolation="inline")
    pair = eng.spec(1, lambda: spec_json)
    result = eng.start(pair, {"project": {"site": {"city": "盐城", "area": 1}}})
    result = eng.complete(result.workflow, result.ready[0].id, {})                  # a
    wf = eng.load(pair, result.state) if reload else result.workflow
    b_id = result.ready[0].id
    result = eng.complete(wf, b_id, {"project": {"site": {"area": 2}}})            # b changes a nested value
    wf = eng.load(pair, result.state) if reload else result.workflow

    def data(workflow, element):
        return [t.data for t in workflow.get_tasks() if t.task_spec.bpmn_id == element][0]["project"]

    assert data(wf, "a") == {"site": {"city": "盐城", "area": 1}}
    assert data(wf, "b") == data(wf, "c") == {"site": {"city": "盐城", "area": 2}}
    result = eng.reset_to(wf, b_id)                                                 # 退回 to b
    assert data(result.workflow, "b") == {"site": {"city": "盐城", "area": 1}}      # as it was reached
    assert data(eng.load(pair, result.state), "b") == {"site": {"city": "盐城", "area": 1}}


def test_a_step_on_the_kept_workflow_does_not_read_the_stored_state(nodes, monkeypatch):
    """PostgreSQL: the lock returns the instance's revision; when the engine keeps the workflow of that
    revision the read leaves the stored state out (tens of KiB for a long case). Where it does not (the
    other node), the read takes it, in the same statement; should the kept workflow be gone between the
    lock and the step (another request's workflow pushed it out of the cache), the state is read then."""
    with nodes[0].app.app_context():
        sqlite = is_sqlite()
    if sqlite:
        pytest.skip("SQLite takes no lock statement: the read always takes the state")
    reads = []

    def listen(node):
        with nodes[node].app.app_context():
            event.listen(db.engine, "before_cursor_execute", lambda c, cur, sql, *a: reads.append(
                (node, "process_instances.state" in sql)) if "FROM process_instances JOIN human_tasks" in sql else None)
    listen(0)
    listen(1)
    nodes_of = [0, 0, 0, 1]
    _run(nodes, {**AGREED, "steps": AGREED["steps"][:len(nodes_of)]}, lambda i, step: nodes_of[i])
    assert reads == [(0, False), (0, False), (0, False), (1, True)], reads
    with nodes[1].app.app_context():
        kept = current_engine()
    monkeypatch.setattr(kept, "take_cached", lambda *a: None)      # gone after the lock
    state = _step(nodes[1], "countersign", AGREED["steps"][4]["data"])
    assert reads[4:] == [(1, False)] and [t["element_id"] for t in state["current_tasks"]] == ["countersign"]
    # the steps on the kept workflow wrote the state all the same: another engine reads it back
    wf = _stored_workflow(nodes[0].app)
    assert len([t for t in wf.get_tasks() if t.state == 64]) > len(nodes_of)
