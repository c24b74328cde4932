"""The deploy checker: broken models are refused with the exact element ids, nothing deployed."""
import pytest
from sqlalchemy import func, select

from app.domain.errors import InvalidModel
from app.engine.parser import check_model, parse_xml
from app.extensions import db
from app.models import Matter, ProcessVersion
from app.services.cases.registry import deploy
from tests.fixtures.build import HEAD, form, matter

FORMS = {"f_start": form("f_start", [{"type": "textfield", "key": "title"}]),
         "f_task": form("f_task", [{"type": "textfield", "key": "opinion"}])}


def model(body: str, pid: str = "p") -> bytes:
    return (HEAD.format(pid=pid) + f'<bpmn:process id="{pid}" isExecutable="true">'
            + body + "</bpmn:process></bpmn:definitions>").encode()


def chain(*elements: str) -> str:
    """start → elements… → end, each element given as its XML with id e1, e2, …"""
    flows, prev = [], "start"
    for i, _ in enumerate(elements, 1):
        flows.append(f'<bpmn:sequenceFlow id="fl{i}" sourceRef="{prev}" targetRef="e{i}"/>')
        prev = f"e{i}"
    flows.append(f'<bpmn:sequenceFlow id="fl_end" sourceRef="{prev}" targetRef="end"/>')
    return ('<bpmn:startEvent id="start" camunda:formKey="f_start"/>' + "".join(elements)
            + '<bpmn:endEvent id="end"/>' + "".join(flows))


USER = '<bpmn:userTask id="e{n}" camunda:formKey="f_task" camunda:candidateGroups="window"/>'


def errors(data: bytes) -> list[tuple]:
    with pytest.raises(InvalidModel) as err:
        check_model(data, "p.bpmn", FORMS, expected_id="p")
    return [(e["element"], e["message"]) for e in err.value.errors]


def ids(data: bytes) -> set:
    return {element for element, _ in errors(data)}


def test_a_good_model_parses():
    checked = check_model(model(chain(USER.format(n=1))), "p.bpmn", FORMS, expected_id="p")
    assert checked.process_id == "p" and checked.form_keys == ["f_start", "f_task"]


def test_not_xml():
    assert "XML" in errors(b"this is not xml")[0][1]


def test_xxe_external_entity_is_refused():
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>')
    assert "DOCTYPE" in errors(xxe)[0][1]


def test_billion_laughs_is_refused_quickly():
    bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    for i in range(1, 10):
        bomb += f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">'
    bomb += ']><lolz>&lol9;</lolz>'
    msg = errors(bomb.encode())[0][1]
    assert "DOCTYPE" in msg or "XML" in msg


def test_no_executable_process():
    data = model("").replace(b'isExecutable="true"', b'isExecutable="false"')
    assert "executable" in errors(data)[0][1]


def test_unquoted_timer_literal_names_the_event():
    timer = ('<bpmn:intermediateCatchEvent id="e1"><bpmn:timerEventDefinition id="td">'
             '<bpmn:timeDuration>P5D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
    assert ids(model(chain(timer))) == {"e1"}


def test_script_with_import_names_the_task():
    script = '<bpmn:scriptTask id="e1" scriptFormat="python"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>'
    found = errors(model(chain(script)))
    assert [e for e, _ in found] == ["e1"] and "import" in found[0][1]


def test_user_task_without_form_and_with_unknown_group():
    bad = '<bpmn:userTask id="e1" camunda:candidateGroups="window"/>'
    unknown = '<bpmn:userTask id="e2" camunda:formKey="f_task" camunda:candidateGroups="no_such_group"/>'
    missing = '<bpmn:userTask id="e3" camunda:formKey="f_missing" camunda:candidateGroups="window"/>'
    nobody = '<bpmn:userTask id="e4" camunda:formKey="f_task"/>'
    assert ids(model(chain(bad, unknown, missing, nobody))) == {"e1", "e2", "e3", "e4"}


def test_unreachable_element_and_dead_end():
    body = chain(USER.format(n=1)) + ('<bpmn:userTask id="orphan" camunda:formKey="f_task" '
                                       'camunda:candidateGroups="window"/>')
    found = errors(model(body))
    assert ("orphan", "从开始事件无法到达该元素 (unreachable from the start event)") in found
    dead = chain(USER.format(n=1)) + ('<bpmn:userTask id="dead" camunda:formKey="f_task" camunda:candidateGroups="window"/>'
                                       '<bpmn:sequenceFlow id="fx" sourceRef="e1" targetRef="dead"/>')
    assert "dead" in ids(model(dead))


def test_complex_gateway_and_link_events_are_named():
    body = chain('<bpmn:complexGateway id="e1"/>',
                 '<bpmn:intermediateThrowEvent id="e2"><bpmn:linkEventDefinition id="ld" name="L"/>'
                 '</bpmn:intermediateThrowEvent>')
    assert {"e1", "e2"} <= ids(model(body))


def test_bad_condition_and_case_status():
    body = ('<bpmn:startEvent id="start" camunda:formKey="f_start"/><bpmn:exclusiveGateway id="gw"/>'
            '<bpmn:endEvent id="end_a"><bpmn:extensionElements><camunda:properties>'
            '<camunda:property name="caseStatus" value="party"/></camunda:properties></bpmn:extensionElements>'
            '</bpmn:endEvent><bpmn:endEvent id="end_b"/>'
            '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw"/>'
            '<bpmn:sequenceFlow id="fa" sourceRef="gw" targetRef="end_a"><bpmn:conditionExpression>'
            'x.__class__</bpmn:conditionExpression></bpmn:sequenceFlow>'
            '<bpmn:sequenceFlow id="fb" sourceRef="gw" targetRef="end_b"><bpmn:conditionExpression>'
            'x ==</bpmn:conditionExpression></bpmn:sequenceFlow>')
    assert ids(model(body)) == {"fa", "fb", "end_a"}


def test_parse_xml_limits_size():
    with pytest.raises(InvalidModel):
        parse_xml(b"<a/>" * 1000, max_bytes=100)


def test_a_refused_model_deploys_nothing(fixture_app):
    with fixture_app.app_context():
        with pytest.raises(InvalidModel) as err:
            deploy(model(chain('<bpmn:complexGateway id="e1"/>')), matter("p"), FORMS, filename="p.bpmn")
        assert err.value.errors[0]["element"] == "e1"
        db.session.rollback()
        assert db.session.execute(select(func.count()).select_from(ProcessVersion)).scalar() == 0
        assert db.session.execute(select(func.count()).select_from(Matter)).scalar() == 0


def test_bad_matter_metadata_is_refused(fixture_app):
    bad = matter("p")
    bad["matter_type"] = "99"
    bad["implementing_body"]["credit_code"] = "113200000140000000"
    del bad["materials"]
    with fixture_app.app_context():
        with pytest.raises(InvalidModel) as err:
            deploy(model(chain(USER.format(n=1))), bad, FORMS, filename="p.bpmn")
        text = " ".join(e["message"] for e in err.value.errors)
        assert "matter_type" in text and "materials" in text
