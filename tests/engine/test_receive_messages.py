"""Waiting for a message (接收消息): ``Engine.deliver`` / ``Engine.waiting_messages`` on the fixture
models t_receive (a receive task with a boundary timer: the forwarding limit) and t_receive_gw (an
event-based gateway: the result or a recall), and the deploy checks of message catches."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from app.domain.errors import InvalidModel
from app.engine.parser import check_model
from app.engine.runtime import Engine, NoSuchWaitingMessage
from app.engine.serializer import dump_spec, dump_state, load_spec
from tests.conftest import FIXTURES
from tests.fixtures.build import HEAD, form

FORMS = {p.name.split(".")[0]: json.loads(p.read_text(encoding="utf-8"))
         for p in (FIXTURES / "forms").glob("*.form.json")}
START = {"amount": 1, "project_name": "转报"}


class Clock:
    def __init__(self):
        self.now = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


def spec_of(pid: str):
    """The fixture model as deployed: checked, stored and loaded again."""
    checked = check_model((FIXTURES / "processes" / f"{pid}.bpmn").read_bytes(), f"{pid}.bpmn", FORMS,
                          expected_id=pid)
    return dump_spec(checked.spec, checked.subprocess_specs)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def engine(clock):
    return Engine(isolation="inline", clock=clock)


def forwarded(engine, pid: str):
    """A case of ``pid`` past its 转报 step: waiting for the upper level."""
    pair = engine.spec(1, lambda: spec_of(pid))
    started = engine.start(pair, dict(START))
    assert [t.element_id for t in started.ready] == ["forward"]
    return engine.complete(started.workflow, started.ready[0].id, {"decision": "approve"})


def end_data(wf) -> dict:
    done = [t for t in wf.get_tasks() if t.task_spec.bpmn_id and t.task_spec.bpmn_id.startswith("end_")
            and t.state == 64]
    assert len(done) == 1
    return done[0].data


@pytest.mark.parametrize("decision, end, status", [("approve", "end_approved", "approved"),
                                                    ("reject", "end_rejected", "rejected")])
def test_a_result_before_the_limit_lands_in_the_data_and_takes_its_branch(engine, decision, end, status):
    step = forwarded(engine, "t_receive")
    assert step.status == "waiting" and step.ready == []
    assert [t.element_id for t in step.timers] == ["forward_limit"]
    assert engine.waiting_messages(step.workflow) == ["result"]
    assert engine.message_catchers(step.workflow, "result") == [("wait_result", "等待上级批复")]

    payload = {"decision": decision, "doc_no": "苏发改投资〔2026〕1号", "level": {"region": "320000"}}
    done = engine.deliver(step.workflow, "result", payload)
    assert done.status == "complete" and done.end_event == end and done.incident is None
    assert done.status_changes == [(end, status)]
    # the boundary timer waited before the step and waits no more: the service cancels its row
    assert done.timers == [] and done.previous_timers == {step.timers[0].id}
    assert Engine.timer_outcome(done.workflow, step.timers[0].id) == "cancelled"
    data = end_data(done.workflow)
    assert data["result"] == payload and data["amount"] == 1 and data["decision"] == "approve"
    assert engine.waiting_messages(done.workflow) == []


def test_the_payload_is_a_copy(engine):
    step = forwarded(engine, "t_receive")
    payload = {"decision": "approve", "items": [1]}
    done = engine.deliver(step.workflow, "result", payload)
    payload["items"].append(2)
    assert end_data(done.workflow)["result"] == {"decision": "approve", "items": [1]}


def test_the_limit_first_takes_the_timeout_branch_and_a_late_result_is_refused(engine, clock):
    step = forwarded(engine, "t_receive")
    clock.now += timedelta(days=5, seconds=1)
    fired = engine.fire_due_timers(step.workflow, [step.timers[0].id])
    assert [t.element_id for t in fired.ready] == ["chase"] and fired.status == "running"
    assert Engine.timer_outcome(fired.workflow, step.timers[0].id) == "fired"
    assert engine.waiting_messages(fired.workflow) == []
    before = dump_state(fired.workflow)
    with pytest.raises(NoSuchWaitingMessage) as err:
        engine.deliver(fired.workflow, "result", {"decision": "approve"})
    assert err.value.name == "result" and err.value.waiting == []
    assert dump_state(fired.workflow) == before
    done = engine.complete(fired.workflow, fired.ready[0].id, {"decision": "approve"})
    assert done.end_event == "end_timeout"


def test_before_the_limit_the_timer_does_not_fire(engine, clock):
    step = forwarded(engine, "t_receive")
    clock.now += timedelta(days=4)
    again = engine.fire_timers(step.workflow)
    assert again.status == "waiting" and [t.element_id for t in again.timers] == ["forward_limit"]
    assert engine.waiting_messages(again.workflow) == ["result"]


def test_a_wrong_name_is_refused_and_changes_nothing(engine):
    step = forwarded(engine, "t_receive")
    before = dump_state(step.workflow)
    for name in ("Result", "recall", ""):
        with pytest.raises(NoSuchWaitingMessage) as err:
            engine.deliver(step.workflow, name, {"decision": "approve"})
        assert err.value.waiting == ["result"] and "result" in str(err.value)
    assert dump_state(step.workflow) == before
    assert engine.deliver(step.workflow, "result", {"decision": "approve"}).end_event == "end_approved"


def test_nothing_waits_while_the_case_is_before_the_catch(engine):
    pair = engine.spec(1, lambda: spec_of("t_receive"))
    started = engine.start(pair, dict(START))
    assert engine.waiting_messages(started.workflow) == []
    with pytest.raises(NoSuchWaitingMessage):
        engine.deliver(started.workflow, "result", {"decision": "approve"})
    assert [t.element_id for t in engine.complete(started.workflow, started.ready[0].id, {}).timers] == \
        ["forward_limit"]


def test_a_payload_must_be_a_dict(engine):
    step = forwarded(engine, "t_receive")
    with pytest.raises(TypeError):
        engine.deliver(step.workflow, "result", ["approve"])
    assert engine.waiting_messages(step.workflow) == ["result"]


def test_event_based_gateway_takes_the_branch_of_the_message_that_came(engine):
    step = forwarded(engine, "t_receive_gw")
    assert step.status == "waiting" and step.timers == []
    assert engine.waiting_messages(step.workflow) == ["recall", "result"]
    assert engine.message_catchers(step.workflow, "result") == [("got_result", "收到上级结果")]
    done = engine.deliver(step.workflow, "result", {"decision": "approve"})
    assert done.status == "complete" and done.end_event == "end_approved"
    data = end_data(done.workflow)
    assert data["upper"] == {"decision": "approve"} and "result" not in data  # messageVariable=upper


def test_event_based_gateway_recall_wins_and_the_result_is_refused_after(engine):
    step = forwarded(engine, "t_receive_gw")
    done = engine.deliver(step.workflow, "recall", {"reason": "上级收回"})
    assert done.end_event == "end_recalled" and end_data(done.workflow)["recall"] == {"reason": "上级收回"}
    with pytest.raises(NoSuchWaitingMessage):
        engine.deliver(done.workflow, "result", {"decision": "approve"})


@pytest.mark.parametrize("pid, name, payload, end", [
    ("t_receive", "result", {"decision": "approve"}, "end_approved"),
    ("t_receive", "result", {"decision": "reject"}, "end_rejected"),
    ("t_receive_gw", "result", {"decision": "reject"}, "end_rejected"),
    ("t_receive_gw", "recall", {}, "end_recalled"),
])
def test_the_workflow_in_memory_and_one_reloaded_by_another_engine_give_the_same_step(clock, pid, name,
                                                                                      payload, end):
    first = Engine(isolation="inline", clock=clock)
    step = forwarded(first, pid)
    other = Engine(isolation="inline", clock=clock)  # another node: its own spec and state
    reloaded = other.load(other.spec(1, lambda: spec_of(pid)), step.state)
    assert other.waiting_messages(reloaded) == first.waiting_messages(step.workflow)
    in_memory = first.deliver(step.workflow, name, payload)
    from_db = other.deliver(reloaded, name, payload)
    for result in (in_memory, from_db):
        assert (result.status, result.end_event, result.timers) == ("complete", end, [])
    assert in_memory.status_changes == from_db.status_changes
    assert in_memory.previous_timers == from_db.previous_timers
    assert end_data(in_memory.workflow) == end_data(from_db.workflow)
    # and the stored states of both load the same
    again = Engine(isolation="inline", clock=clock)
    pair = again.spec(1, lambda: spec_of(pid))
    assert end_data(again.load(pair, in_memory.state)) == end_data(again.load(pair, from_db.state))


# -- a message boundary event on a user task ----------------------------------------------------------
def model(body: str, pid: str = "p", messages: str = '<bpmn:message id="Msg_w" name="withdraw"/>') -> bytes:
    return (HEAD.format(pid=pid) + messages + f'<bpmn:process id="{pid}" isExecutable="true">'
            + body + "</bpmn:process></bpmn:definitions>").encode()


MFORMS = {"f_start": form("f_start", [{"type": "textfield", "key": "title"}]),
          "f_task": form("f_task", [{"type": "textfield", "key": "opinion"}])}

BOUNDARY = (
    '<bpmn:startEvent id="start" camunda:formKey="f_start"/>'
    '<bpmn:userTask id="review" camunda:formKey="f_task" camunda:candidateGroups="window"/>'
    '<bpmn:boundaryEvent id="withdrawn" attachedToRef="review" cancelActivity="true">'
    '{props}<bpmn:messageEventDefinition id="md" {ref}/></bpmn:boundaryEvent>'
    '<bpmn:endEvent id="end_done"/><bpmn:endEvent id="end_withdrawn"/>'
    '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>'
    '<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end_done"/>'
    '<bpmn:sequenceFlow id="f3" sourceRef="withdrawn" targetRef="end_withdrawn"/>')


def props(**values) -> str:
    inner = "".join(f'<camunda:property name="{k}" value="{v}"/>' for k, v in values.items())
    return f"<bpmn:extensionElements><camunda:properties>{inner}</camunda:properties></bpmn:extensionElements>"


def test_a_message_boundary_event_cancels_the_open_step(engine):
    checked = check_model(model(BOUNDARY.format(props="", ref='messageRef="Msg_w"')), "p.bpmn", MFORMS,
                          expected_id="p")
    pair = load_spec(dump_spec(checked.spec, checked.subprocess_specs))
    started = engine.start(pair, {"title": "x"})
    assert [t.element_id for t in started.ready] == ["review"]
    assert engine.waiting_messages(started.workflow) == ["withdraw"]
    done = engine.deliver(started.workflow, "withdraw", {"by": "applicant"})
    assert done.ready == [] and done.end_event == "end_withdrawn"
    assert started.ready[0].id in done.previously_ready
    assert end_data(done.workflow)["withdraw"] == {"by": "applicant"}


def test_a_non_interrupting_message_boundary_event_lets_the_step_go_on(engine):
    body = BOUNDARY.format(props="", ref='messageRef="Msg_w"').replace('cancelActivity="true"',
                                                                        'cancelActivity="false"')
    checked = check_model(model(body), "p.bpmn", MFORMS, expected_id="p")
    started = engine.start(load_spec(dump_spec(checked.spec, checked.subprocess_specs)), {})
    caught = engine.deliver(started.workflow, "withdraw", {"note": "x"})
    assert [t.id for t in caught.ready] == [started.ready[0].id] and caught.status == "running"
    assert engine.waiting_messages(caught.workflow) == []  # it catches once
    assert engine.complete(caught.workflow, caught.ready[0].id, {}).end_event == "end_done"


def test_every_element_waiting_for_the_name_catches_it(engine):
    body = ('<bpmn:startEvent id="start" camunda:formKey="f_start"/><bpmn:parallelGateway id="split"/>'
            '<bpmn:parallelGateway id="join"/><bpmn:receiveTask id="r1" messageRef="Msg_w"/>'
            '<bpmn:receiveTask id="r2" messageRef="Msg_w"/><bpmn:endEvent id="end_done"/>'
            '<bpmn:sequenceFlow id="a" sourceRef="start" targetRef="split"/>'
            '<bpmn:sequenceFlow id="b" sourceRef="split" targetRef="r1"/>'
            '<bpmn:sequenceFlow id="c" sourceRef="split" targetRef="r2"/>'
            '<bpmn:sequenceFlow id="d" sourceRef="r1" targetRef="join"/>'
            '<bpmn:sequenceFlow id="e" sourceRef="r2" targetRef="join"/>'
            '<bpmn:sequenceFlow id="f" sourceRef="join" targetRef="end_done"/>')
    checked = check_model(model(body), "p.bpmn", MFORMS, expected_id="p")
    started = engine.start(load_spec(dump_spec(checked.spec, checked.subprocess_specs)), {})
    assert sorted(engine.message_catchers(started.workflow, "withdraw")) == [("r1", "r1"), ("r2", "r2")]
    assert engine.deliver(started.workflow, "withdraw", {}).end_event == "end_done"


# -- deploy checks ----------------------------------------------------------------------------------
def problems(data: bytes) -> list[tuple]:
    with pytest.raises(InvalidModel) as err:
        check_model(data, "p.bpmn", MFORMS, expected_id="p")
    return [(e["element"], e["message"]) for e in err.value.errors]


def test_a_message_without_a_name_is_refused_naming_the_element():
    found = problems(model(BOUNDARY.format(props="", ref='messageRef="Msg_w"'),
                           messages='<bpmn:message id="Msg_w"/>'))
    assert [e for e, _ in found] == ["withdrawn"] and "没有名称" in found[0][1]


def test_a_catch_without_a_message_or_with_an_unknown_one_is_refused():
    found = problems(model(BOUNDARY.format(props="", ref="")))
    assert [e for e, _ in found] == ["withdrawn"] and "messageRef" in found[0][1]
    found = problems(model(BOUNDARY.format(props="", ref='messageRef="Msg_nope"')))
    assert [e for e, _ in found] == ["withdrawn"] and "Msg_nope" in found[0][1]


@pytest.mark.parametrize("variable", ["case_no", "applicant", "2nd", "class", "a-b"])
def test_a_payload_variable_that_is_not_a_plain_free_name_is_refused(variable):
    found = problems(model(BOUNDARY.format(props=props(messageVariable=variable), ref='messageRef="Msg_w"')))
    assert [e for e, _ in found] == ["withdrawn"] and "messageVariable" in found[0][1]


def test_a_message_name_that_is_no_variable_needs_a_message_variable():
    messages = '<bpmn:message id="Msg_w" name="upper-result"/>'
    found = problems(model(BOUNDARY.format(props="", ref='messageRef="Msg_w"'), messages=messages))
    assert [e for e, _ in found] == ["withdrawn"]
    checked = check_model(model(BOUNDARY.format(props=props(messageVariable="upper"), ref='messageRef="Msg_w"'),
                                messages=messages), "p.bpmn", MFORMS, expected_id="p")
    engine = Engine(isolation="inline")
    started = engine.start(load_spec(dump_spec(checked.spec, checked.subprocess_specs)), {})
    assert engine.waiting_messages(started.workflow) == ["upper-result"]
    done = engine.deliver(started.workflow, "upper-result", {"ok": True})
    assert end_data(done.workflow)["upper"] == {"ok": True}


def test_camunda_result_variable_on_a_catch_is_refused():
    body = BOUNDARY.format(props="", ref='messageRef="Msg_w" camunda:resultVariable="x"')
    found = problems(model(body))
    assert [e for e, _ in found] == ["withdrawn"] and "messageVariable" in found[0][1]


def test_a_receive_task_without_a_message_is_refused():
    body = (FIXTURES / "processes" / "t_receive.bpmn").read_text(encoding="utf-8")
    broken = body.replace(' messageRef="Msg_result"', "").encode()
    with pytest.raises(InvalidModel) as err:
        check_model(broken, "t_receive.bpmn", FORMS, expected_id="t_receive")
    assert [e["element"] for e in err.value.errors] == ["wait_result"]


def test_a_timer_after_an_event_based_gateway_is_refused():
    body = (FIXTURES / "processes" / "t_receive_gw.bpmn").read_text(encoding="utf-8")
    broken = body.replace('<bpmn:messageEventDefinition id="med_recall" messageRef="Msg_recall"/>',
                          '<bpmn:timerEventDefinition id="td"><bpmn:timeDuration>"P5D"</bpmn:timeDuration>'
                          '</bpmn:timerEventDefinition>').encode()
    with pytest.raises(InvalidModel) as err:
        check_model(broken, "t_receive_gw.bpmn", FORMS, expected_id="t_receive_gw")
    assert [e["element"] for e in err.value.errors] == ["got_recall"]
    assert "边界定时器" in err.value.errors[0]["message"]


def test_send_tasks_stay_refused():
    body = (FIXTURES / "processes" / "t_receive.bpmn").read_text(encoding="utf-8")
    broken = body.replace("bpmn:receiveTask", "bpmn:sendTask").encode()
    with pytest.raises(InvalidModel) as err:
        check_model(broken, "t_receive.bpmn", FORMS, expected_id="t_receive")
    assert "wait_result" in [e["element"] for e in err.value.errors]
