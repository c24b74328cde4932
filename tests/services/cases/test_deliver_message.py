"""``deliver_message``: a message delivered to a waiting case (the upper level's ``result`` after a
转报) is one step like any other — in the caller's transaction, in the trail, the forwarding limit's
timer row cancelled, the case status the model sets — and is refused (Conflict, nothing changed) when
the instance is not waiting for it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.domain.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.models import Case, CaseEvent, ProcessInstance, ProcessVersion, Timer
from app.services.cases.messages import MAX_PAYLOAD_BYTES, deliver_message
from app.services.cases.steps import engine, spec_pair
from app.services.cases.timers import drain
from app.services.common.db_support import unit_of_work
from tests.conftest import FIXTURES, deploy_all, make_app
from tests.web.api.helpers import Api

START = {"amount": 1, "project_name": "转报上级"}
RESULT = {"decision": "approve", "doc_no": "苏发改投资〔2026〕8号", "by": {"region": "320000", "level": "province"}}


def _setup(app) -> Api:
    deploy_all(app)
    api = Api(app)
    api.user("alice", "applicant")
    api.user("w1", groups=["window"])
    api.user("chief", groups=["investment_chief"])
    return api


def forwarded(app, api, pid: str = "t_receive") -> tuple[int, int]:
    """(case id, instance id) of a case of ``pid`` whose 转报 step is done: it waits for the upper level."""
    r = api.post("alice", "/api/cases", json={"process_id": pid, "data": START})
    assert r.status_code == 201, r.json
    done = api.complete_first("w1", {"decision": "approve"}, element="forward")
    assert done["instance_status"] == "waiting" and done["current_tasks"] == []
    with app.app_context():
        return r.json["id"], db.session.execute(select(Case.instance_id).where(Case.id == r.json["id"])).scalar_one()


def deliver(app, instance_id, name="result", payload=RESULT, **kw):
    with app.app_context(), unit_of_work():
        return deliver_message(instance_id, name, payload, **kw)


def snapshot(app, instance_id) -> tuple:
    with app.app_context():
        inst = db.session.get(ProcessInstance, instance_id)
        events = db.session.execute(select(func.count()).select_from(CaseEvent)).scalar()
        timers = sorted((t.element_id, t.status) for t in db.session.execute(select(Timer)).scalars())
        return inst.revision, inst.status, inst.state, events, timers


@pytest.fixture
def api(fixture_app):
    return _setup(fixture_app)


def test_a_result_is_one_step_in_the_trail_with_the_limit_cancelled(fixture_app, api):
    case_id, instance_id = forwarded(fixture_app, api)
    with fixture_app.app_context():
        assert [(t.element_id, t.status) for t in db.session.execute(select(Timer)).scalars()] == \
            [("forward_limit", "waiting")]
        revision = db.session.get(ProcessInstance, instance_id).revision
    result = deliver(fixture_app, instance_id, actor="fed:320000")
    assert result.status == "complete" and result.end_event == "end_approved"
    with fixture_app.app_context():
        inst = db.session.get(ProcessInstance, instance_id)
        assert (inst.status, inst.end_event, inst.revision) == ("complete", "end_approved", revision + 1)
        case = db.session.get(Case, case_id)
        assert case.status == "approved" and case.decided_at is not None  # the status hook ran
        assert [(t.element_id, t.status, t.fired_at) for t in db.session.execute(select(Timer)).scalars()] == \
            [("forward_limit", "cancelled", None)]
        trail = list(db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                        .order_by(CaseEvent.id)).scalars())
        message = [e for e in trail if e.action == "message"]
        assert len(message) == 1
        assert (message[0].actor, message[0].element_id, message[0].step_name) == \
            ("fed:320000", "wait_result", "等待上级批复")
        assert message[0].data_change == {"message": "result", "payload": RESULT}
        status = [e for e in trail if e.action == "status"][-1]
        assert (status.to_status, status.element_id, status.actor) == ("approved", "end_approved", "fed:320000")
        assert status.id > message[0].id
    # the applicant's view of the case shows it decided
    r = api.get("alice", f"/api/cases/{case_id}")
    assert r.status_code == 200 and r.json["status"] == "approved"


def test_a_second_delivery_is_refused_and_changes_nothing(fixture_app, api):
    _, instance_id = forwarded(fixture_app, api)
    deliver(fixture_app, instance_id)
    before = snapshot(fixture_app, instance_id)
    with pytest.raises(Conflict) as err:
        deliver(fixture_app, instance_id)
    assert err.value.details["status"] == "complete"
    assert snapshot(fixture_app, instance_id) == before


def test_nothing_waiting_for_that_message_is_refused_and_changes_nothing(fixture_app, api):
    _, instance_id = forwarded(fixture_app, api, "t_receive_gw")
    before = snapshot(fixture_app, instance_id)
    with pytest.raises(Conflict) as err:
        deliver(fixture_app, instance_id, "progress", {"step": "省级已受理"})
    assert err.value.details == {"message": "progress", "waiting": ["recall", "result"]}
    assert snapshot(fixture_app, instance_id) == before
    # the recall wins the event-based gateway; the result that comes after it is refused
    assert deliver(fixture_app, instance_id, "recall", {"reason": "收回"}).end_event == "end_recalled"
    with pytest.raises(Conflict):
        deliver(fixture_app, instance_id)


def test_a_case_not_yet_waiting_is_refused(fixture_app, api):
    r = api.post("alice", "/api/cases", json={"process_id": "t_receive", "data": START})
    with fixture_app.app_context():
        instance_id = db.session.execute(select(Case.instance_id).where(Case.id == r.json["id"])).scalar_one()
    before = snapshot(fixture_app, instance_id)
    assert before[1] == "running"  # at the user task: nothing waits for the result yet
    with pytest.raises(Conflict) as err:
        deliver(fixture_app, instance_id)
    assert err.value.details["waiting"] == []
    assert snapshot(fixture_app, instance_id) == before


def test_a_suspended_or_unknown_instance_is_refused(fixture_app, api):
    _, instance_id = forwarded(fixture_app, api)
    with fixture_app.app_context():
        db.session.get(ProcessInstance, instance_id).status = "suspended"
        db.session.commit()
    with pytest.raises(Conflict) as err:
        deliver(fixture_app, instance_id)
    assert err.value.details["status"] == "suspended"
    for missing in (instance_id + 1000, 0, 2 ** 40, "1"):
        with pytest.raises(NotFound):
            deliver(fixture_app, missing)


def test_the_limit_first_then_the_late_result_is_refused(fixture_app, api):
    case_id, instance_id = forwarded(fixture_app, api)
    fixture_app.extensions["clock"].advance(days=5, minutes=1)
    with fixture_app.app_context():
        assert drain() == 1
        assert [(t.element_id, t.status) for t in db.session.execute(select(Timer)).scalars()] == \
            [("forward_limit", "fired")]
    before = snapshot(fixture_app, instance_id)
    assert before[1] == "running"
    with pytest.raises(Conflict) as err:
        deliver(fixture_app, instance_id)
    assert err.value.details["waiting"] == []
    assert snapshot(fixture_app, instance_id) == before
    assert api.complete_first("chief", {"decision": "approve"}, element="chase")["end_event"] == "end_timeout"


@pytest.mark.parametrize("name, payload", [
    ("result", ["approve"]),
    ("result", {"n": float("nan")}),
    ("result", {1: "int key"}),
    ("result", {"t": ("a", "tuple")}),
    ("result", {"when": timedelta(days=1)}),
    ("result", {"big": "字" * (MAX_PAYLOAD_BYTES // 3 + 1)}),
    ("", {"decision": "approve"}),
    (None, {"decision": "approve"}),
    ("r" * 200, {"decision": "approve"}),
])
def test_bad_input_is_refused_before_anything_changes(fixture_app, api, name, payload):
    _, instance_id = forwarded(fixture_app, api)
    before = snapshot(fixture_app, instance_id)
    with pytest.raises(ValidationError):
        deliver(fixture_app, instance_id, name, payload)
    assert snapshot(fixture_app, instance_id) == before


def test_a_rolled_back_delivery_leaves_no_trace_and_can_come_again(fixture_app, api):
    _, instance_id = forwarded(fixture_app, api)
    before = snapshot(fixture_app, instance_id)
    with fixture_app.app_context():
        deliver_message(instance_id, "result", RESULT)
        db.session.rollback()  # e.g. the inbox could not record its answer
        assert not [k for k in engine()._states if k[0] == instance_id]
    assert snapshot(fixture_app, instance_id) == before
    assert deliver(fixture_app, instance_id).end_event == "end_approved"


def _nodes(db_url):
    apps = [make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"),
                     WORKFLOW_CACHE_SIZE=64) for _ in range(2)]
    return apps


@pytest.mark.parametrize("node, decision", [(0, "approve"), (1, "approve"), (0, "reject"), (1, "reject")])
def test_the_cached_workflow_and_one_loaded_on_another_node_give_the_same_step(db_url, node, decision):
    """Node 0 did the 转报 step and holds the workflow in its cache; the result is delivered on node 0
    (cached) or node 1 (loaded from the database): the same outcome, and the next step on the
    delivering node uses what it kept."""
    apps = _nodes(db_url)
    try:
        api = _setup(apps[0])
        _, instance_id = forwarded(apps[0], api)
        with apps[0].app_context():
            revision = db.session.get(ProcessInstance, instance_id).revision
            assert (instance_id, revision) in engine()._states
        result = deliver(apps[node], instance_id, payload={"decision": decision})
        end = "end_approved" if decision == "approve" else "end_rejected"
        assert (result.status, result.end_event) == ("complete", end)
        with apps[node].app_context():
            assert (instance_id, revision + 1) in engine()._states  # kept after the commit
        for app in apps:  # both nodes (and the database) agree
            with app.app_context():
                inst = db.session.get(ProcessInstance, instance_id)
                assert (inst.status, inst.end_event, inst.revision) == ("complete", end, revision + 1)
                wf = engine().load(spec_pair(db.session.get(ProcessVersion, inst.version_id)), inst.state)
                ends = [t for t in wf.get_tasks() if t.task_spec.bpmn_id == end and t.state == 64]
                assert ends and ends[0].data["result"] == {"decision": decision}
    finally:
        for app in apps:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

