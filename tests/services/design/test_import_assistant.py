"""The import assistant on small files written for these tests from the BPMN 2.0 spec and the
Camunda 7 docs (collaboration with lanes, camunda:formData, embedded form keys, JUEL, bare ISO timers,
flows without ids, service and JavaScript script tasks, several processes): each finding names its
element, nothing changes until a fix is accepted, each fix is made on the XML with the rest kept."""
from __future__ import annotations

import json

import pytest
from lxml import etree

from app.domain.errors import ValidationError
from app.domain.groups import GROUPS
from app.engine.parser import parse_xml
from app.services.design import import_fixes as fx
from app.services.design.import_assistant import Context, apply_fixes, review

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.20.0">
"""
# a leave request as Camunda Modeler 7 draws it: a pool with two lanes, a generated start form,
# an embedded task form, JUEL, a flow without id, a service task, a JavaScript script, a bare timer
LEAVE = HEAD + """  <bpmn:collaboration id="Collaboration_1">
    <bpmn:participant id="Participant_1" name="请假" processRef="Process-Leave-1" />
  </bpmn:collaboration>
  <bpmn:process id="Process-Leave-1" name="请假申请" isExecutable="false" camunda:candidateStarterGroups="staff">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_window" name="窗口">
        <bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Task_approve</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_archive" name="Archive">
        <bpmn:flowNodeRef>Task_archive</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1" name="提出申请" camunda:initiator="starter">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="days" label="天数" type="long">
            <camunda:validation><camunda:constraint name="required" /><camunda:constraint name="max" config="30" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="reason" label="事由" type="string" />
          <camunda:formField id="first-day" label="开始日期" type="date" />
          <camunda:formField id="kind" label="类型" type="enum">
            <camunda:value id="annual" name="年假" />
            <camunda:value id="sick" name="病假" />
          </camunda:formField>
          <camunda:formField id="urgent" label="加急" type="boolean" defaultValue="false" />
          <camunda:formField id="applicant" label="申请人" type="string">
            <camunda:validation><camunda:constraint name="readonly" /></camunda:validation>
          </camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_approve" />
    <bpmn:userTask id="Task_approve" name="审批" camunda:formKey="embedded:app:forms/approve.html">
      <bpmn:incoming>Flow_1</bpmn:incoming>
    </bpmn:userTask>
    <bpmn:sequenceFlow sourceRef="Task_approve" targetRef="Gateway_1" />
    <bpmn:exclusiveGateway id="Gateway_1" default="Flow_no" />
    <bpmn:sequenceFlow id="Flow_yes" sourceRef="Gateway_1" targetRef="Task_archive">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${approved &amp;&amp; days gt 3}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_no" sourceRef="Gateway_1" targetRef="Event_end" />
    <bpmn:manualTask id="Task_archive" name="归档" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_archive" targetRef="Task_notify" />
    <bpmn:serviceTask id="Task_notify" name="通知" camunda:class="org.example.Notify" camunda:asyncBefore="true" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Task_notify" targetRef="Timer_wait" />
    <bpmn:intermediateCatchEvent id="Timer_wait" name="等一小时">
      <bpmn:timerEventDefinition id="TimerDef_1"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_5" sourceRef="Timer_wait" targetRef="Script_js" />
    <bpmn:scriptTask id="Script_js" name="计算" scriptFormat="javascript"><bpmn:script>var x = 1;</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_6" sourceRef="Script_js" targetRef="Event_end" />
    <bpmn:endEvent id="Event_end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Collaboration_1">
      <bpmndi:BPMNShape id="Participant_1_di" bpmnElement="Participant_1" isHorizontal="true"><dc:Bounds x="120" y="60" width="900" height="300" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Task_approve_di" bpmnElement="Task_approve"><dc:Bounds x="270" y="77" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1"><di:waypoint x="215" y="117" /><di:waypoint x="270" y="117" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def ctx(forms=(), known=None) -> Context:
    known = set(GROUPS) if known is None else set(known)
    groups = [{"code": c, "name": GROUPS.get(c, c)} for c in GROUPS if c in known]
    return Context("leave.bpmn", set(forms), known, groups, "window")


def by_id(findings):
    return {f["id"]: f for f in findings}


def test_every_finding_names_its_element_and_offers_its_fix():
    findings = by_id(review(parse_xml(LEAVE.encode()), ctx()).findings)
    assert set(findings) == {
        "executable:Process-Leave-1", "process_id:Process-Leave-1", "flow_id:Task_approve→Gateway_1",
        "unsupported:Task_notify", "juel:Flow_yes:condition", "juel:Timer_wait:timeDuration",
        "lane_group:Lane_window", "lane_group:Lane_archive", "form:Task_approve", "start_form:StartEvent_1", "script_format:Script_js",
        "note:StartEvent_1:initiator", "note:Process-Leave-1:candidateStarterGroups"}
    for f in findings.values():
        assert f["file"] == "leave.bpmn" and f["kind"] == f["id"].split(":")[0]
        assert f["element"] is None or f["element"] in f["message"], f
        assert f["fix"] is None or f["fix"]["type"] == f["kind"]
    assert findings["process_id:Process-Leave-1"]["fix"]["default"] == "Process_Leave_1"
    assert findings["executable:Process-Leave-1"]["fix"]["by_default"] is True  # the only process
    assert findings["flow_id:Task_approve→Gateway_1"]["element"] is None
    assert findings["flow_id:Task_approve→Gateway_1"]["fix"]["default"] == "Flow_2"  # Flow_1 is taken
    assert findings["juel:Flow_yes:condition"]["fix"]["default"] == "approved and (days > 3)"
    assert findings["juel:Timer_wait:timeDuration"]["fix"]["default"] == '"PT1H"'
    assert findings["unsupported:Task_notify"]["fix"]["by_default"] is False  # semantics change: the designer decides
    assert findings["script_format:Script_js"]["fix"] is None
    assert "applicant" in findings["note:StartEvent_1:initiator"]["message"]
    # the lane named 窗口 is the window's (政务服务大厅窗口); "Archive" names no group: the default group
    assert findings["lane_group:Lane_window"]["fix"]["default"] == "window"
    assert findings["lane_group:Lane_archive"]["fix"]["default"] == "window"
    assert "window" in findings["lane_group:Lane_archive"]["fix"]["options"]
    assert findings["start_form:StartEvent_1"]["fix"]["default"] == "Process_Leave_1_StartEvent_1"
    assert findings["form:Task_approve"]["fix"]["default"] == "Process_Leave_1_Task_approve"


def test_a_lane_named_after_a_group_proposes_that_group():
    text = LEAVE.replace('name="窗口"', 'name="价格认定中心"')
    findings = by_id(review(parse_xml(text.encode()), ctx()).findings)
    assert findings["lane_group:Lane_window"]["fix"]["default"] == "price"
    text = LEAVE.replace('name="窗口"', 'name="处长"')  # several groups' names hold it: the default
    findings = by_id(review(parse_xml(text.encode()), ctx()).findings)
    assert findings["lane_group:Lane_window"]["fix"]["default"] == "window"


def test_nothing_changes_until_a_fix_is_accepted():
    assert apply_fixes(LEAVE, ctx(), {}, False) == (LEAVE, [], {})


def test_the_defaults_fix_the_file_and_keep_the_rest():
    text, applied, forms = apply_fixes(LEAVE, ctx(), {}, True)
    assert set(applied) == {"executable:Process-Leave-1", "process_id:Process-Leave-1",
                            "flow_id:Task_approve→Gateway_1", "juel:Flow_yes:condition",
                            "juel:Timer_wait:timeDuration", "lane_group:Lane_window", "lane_group:Lane_archive",
                            "form:Task_approve", "start_form:StartEvent_1"}
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions')
    root = parse_xml(text.encode())
    proc = root.find("bpmn:process", fx.NS)
    assert proc.get("id") == "Process_Leave_1" and proc.get("isExecutable") == "true"
    assert 'processRef="Process_Leave_1"' in text and "Process-Leave-1" not in text
    assert 'camunda:candidateStarterGroups="staff"' in text  # a note changes nothing
    flows = root.findall(".//bpmn:sequenceFlow", fx.NS)
    assert all(f.get("id") for f in flows)
    assert root.find(".//bpmn:conditionExpression", fx.NS).text == "approved and (days > 3)"
    assert root.find(".//bpmn:timeDuration", fx.NS).text == '"PT1H"'
    assert fx.get_property(root.find(".//bpmn:lane[@id='Lane_archive']", fx.NS), "candidateGroups") == "window"
    approve = root.find(".//bpmn:userTask", fx.NS)
    assert approve.get(fx.C + "formKey") == "Process_Leave_1_Task_approve"
    start = root.find(".//bpmn:startEvent", fx.NS)
    assert start.get(fx.C + "formKey") == "Process_Leave_1_StartEvent_1"
    assert start.find(".//camunda:formData", fx.NS) is None and "camunda:formData" not in text
    assert root.find(".//bpmn:serviceTask", fx.NS) is not None  # not a default
    # everything else kept: the diagram, the script, the other camunda attributes, in order
    for kept in ('<bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1">',
                 '<bpmndi:BPMNShape id="Task_approve_di" bpmnElement="Task_approve">',
                 'camunda:class="org.example.Notify" camunda:asyncBefore="true"',
                 '<bpmn:script>var x = 1;</bpmn:script>', 'exporter="Camunda Modeler"'):
        assert kept in text, kept
    assert forms["Process_Leave_1_Task_approve"]["components"] == [
        {"type": "textarea", "key": "opinion", "label": "意见", "id": "Field_opinion"}]
    start_form = forms["Process_Leave_1_StartEvent_1"]
    assert start_form["id"] == "Process_Leave_1_StartEvent_1" and start_form["schemaVersion"] == 16
    assert start_form["components"] == [
        {"type": "number", "key": "days", "label": "天数", "id": "Field_days", "validate": {"required": True, "max": 30}},
        {"type": "textfield", "key": "reason", "label": "事由", "id": "Field_reason"},
        {"type": "datetime", "key": "first_day", "id": "Field_first_day", "subtype": "date", "dateLabel": "开始日期"},
        {"type": "select", "key": "kind", "label": "类型", "id": "Field_kind",
         "values": [{"label": "年假", "value": "annual"}, {"label": "病假", "value": "sick"}]},
        {"type": "checkbox", "key": "urgent", "label": "加急", "id": "Field_urgent", "defaultValue": False},
        {"type": "textfield", "key": "f_applicant", "label": "申请人", "id": "Field_f_applicant", "disabled": True}]
    # what is left for the designer: the service task, the JavaScript, the notes
    left = {f["id"] for f in review(root, ctx(forms=forms)).findings}
    assert left == {"unsupported:Task_notify", "script_format:Script_js", "note:StartEvent_1:initiator",
                    "note:Process_Leave_1:candidateStarterGroups"}


def test_accepted_values_and_the_manual_task_conversion():
    accept = {"process_id:Process-Leave-1": "leave_request", "lane_group:Lane_archive": "price",
              "unsupported:Task_notify": True, "form:Task_approve": "xmgl_beian_window_review",
              "start_form:StartEvent_1": False}
    text, applied, forms = apply_fixes(LEAVE, ctx(forms={"xmgl_beian_window_review"}), accept, True)
    root = parse_xml(text.encode())
    assert root.find("bpmn:process", fx.NS).get("id") == "leave_request" and 'processRef="leave_request"' in text
    assert fx.get_property(root.find(".//bpmn:lane[@id='Lane_archive']", fx.NS), "candidateGroups") == "price"
    assert root.find(".//bpmn:userTask", fx.NS).get(fx.C + "formKey") == "xmgl_beian_window_review"
    assert forms == {}  # an existing form is used as it is; the start form was declined
    manual = root.find(".//bpmn:manualTask[@id='Task_notify']", fx.NS)
    assert manual is not None and manual.get("name") == "通知" and root.find(".//bpmn:serviceTask", fx.NS) is None
    assert manual.get(fx.C + "class") is None and manual.get(fx.C + "asyncBefore") == "true"
    assert "start_form:StartEvent_1" not in applied and "unsupported:Task_notify" in applied
    # the converted task has nobody yet: the result's findings say so (lane / default group)
    left = {f["id"] for f in review(root, ctx(forms={"xmgl_beian_window_review"})).findings}
    assert "default_group:leave_request" in left and "people:Task_notify" in left


@pytest.mark.parametrize("accept, key", [
    ({"process_id:Process-Leave-1": "1-bad"}, "process_id:Process-Leave-1"),
    ({"process_id:Process-Leave-1": "Task_approve"}, "process_id:Process-Leave-1"),  # taken
    ({"lane_group:Lane_archive": "no_such_group"}, "lane_group:Lane_archive"),
    ({"executable:Process-Leave-1": "other"}, "executable:Process-Leave-1"),
    ({"script_format:Script_js": True}, "script_format:Script_js"),   # no fix to make
    ({"no_such:finding": True}, "no_such:finding"),
])
def test_a_value_that_cannot_be_used_is_refused_by_finding(accept, key):
    with pytest.raises(ValidationError) as exc:
        apply_fixes(LEAVE, ctx(), accept, False)
    assert key in exc.value.details


def test_unknown_groups_of_a_task_and_juel_people_fields():
    body = """  <bpmn:process id="people_test" isExecutable="true">
    <bpmn:startEvent id="s" camunda:formKey="f_apply" />
    <bpmn:userTask id="t1" camunda:formKey="f_task" camunda:candidateGroups="management,window" />
    <bpmn:userTask id="t2" camunda:formKey="f_task" camunda:assignee="${initiator}" />
    <bpmn:userTask id="t3" camunda:formKey="f_task" camunda:candidateGroups="${cs['dept']}" />
    <bpmn:userTask id="t4" camunda:formKey="f_task" camunda:candidateUsers="#{userList}" />
    <bpmn:userTask id="t5" camunda:formKey="f_task" camunda:assignee="${bean.pick(x)}" />
    <bpmn:endEvent id="e" />
  </bpmn:process>
</bpmn:definitions>
"""
    text = HEAD + body
    c = ctx(forms={"f_apply", "f_task"})
    findings = by_id(review(parse_xml(text.encode()), c).findings)
    assert set(findings) == {"people:t1", "juel:t2:assignee", "juel:t4:candidateUsers", "juel:t5:assignee"}
    assert "management" in findings["people:t1"]["message"] and findings["people:t1"]["fix"]["by_default"]
    assert findings["juel:t2:assignee"]["fix"]["default"] == "${applicant}"
    assert findings["juel:t4:candidateUsers"]["fix"]["default"] == "${userList}"
    assert findings["juel:t5:assignee"]["fix"] is None and "bean.pick" in findings["juel:t5:assignee"]["message"]
    c.default_group = "price"
    out, applied, _ = apply_fixes(text, c, {}, True)
    root = parse_xml(out.encode())
    assert root.find(".//bpmn:userTask[@id='t1']", fx.NS).get(fx.C + "candidateGroups") == "window,price"
    assert root.find(".//bpmn:userTask[@id='t2']", fx.NS).get(fx.C + "assignee") == "${applicant}"
    assert root.find(".//bpmn:userTask[@id='t3']", fx.NS).get(fx.C + "candidateGroups") == "${cs['dept']}"
    assert "juel:t5:assignee" not in applied


def test_tasks_without_people_get_the_default_group_of_their_process():
    body = """  <bpmn:process id="dg" isExecutable="true">
    <bpmn:startEvent id="s" camunda:formKey="f_apply" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t1" />
    <bpmn:userTask id="t1" camunda:formKey="f_task" />
    <bpmn:sequenceFlow id="f2" sourceRef="t1" targetRef="t2" />
    <bpmn:task id="t2" name="核对" />
    <bpmn:sequenceFlow id="f3" sourceRef="t2" targetRef="e" />
    <bpmn:endEvent id="e" />
  </bpmn:process>
</bpmn:definitions>
"""
    c = ctx(forms={"f_apply", "f_task"})
    findings = by_id(review(parse_xml((HEAD + body).encode()), c).findings)
    assert set(findings) == {"people:t1", "people:t2", "default_group:dg"}
    assert not findings["people:t1"]["fix"]["by_default"] and findings["default_group:dg"]["fix"]["by_default"]
    out, applied, _ = apply_fixes(HEAD + body, c, {"people:t2": "price"}, True)
    root = parse_xml(out.encode())
    assert fx.get_property(root.find("bpmn:process", fx.NS), "defaultGroup") == "window"
    assert root.find(".//bpmn:task", fx.NS).get(fx.C + "candidateGroups") == "price"
    ext = root.find("bpmn:process/bpmn:extensionElements", fx.NS)
    assert root.find("bpmn:process", fx.NS).index(ext) == 0  # extensionElements first, as the schema wants
    assert review(root, c).findings == []


CALLS = HEAD + """  <bpmn:process id="main-proc" isExecutable="{a}">
    <bpmn:startEvent id="s" camunda:formKey="f_apply" />
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="call" />
    <bpmn:callActivity id="call" calledElement="sub-proc" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="e" />
    <bpmn:endEvent id="e" />
  </bpmn:process>
  <bpmn:process id="sub-proc" isExecutable="{b}">
    <bpmn:startEvent id="s2" />
    <bpmn:sequenceFlow id="f3" sourceRef="s2" targetRef="e2" />
    <bpmn:endEvent id="e2" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize("a, b", [("false", "false"), ("true", "true")])
def test_the_process_no_call_activity_calls_is_the_executable_one(a, b):
    text = CALLS.replace("{a}", a).replace("{b}", b)
    c = ctx(forms={"f_apply"})
    findings = by_id(review(parse_xml(text.encode()), c).findings)
    f = findings["executable:main-proc"]
    assert f["fix"]["default"] == "main-proc" and f["fix"]["by_default"] and set(f["fix"]["options"]) == {
        "main-proc", "sub-proc"}
    # both ids are proposed for renaming, and the call activity follows the called process
    assert {"process_id:main-proc", "process_id:sub-proc"} <= set(findings)
    out, applied, _ = apply_fixes(text, c, {}, True)
    root = parse_xml(out.encode())
    procs = {p.get("id"): p.get("isExecutable") for p in root.findall("bpmn:process", fx.NS)}
    assert procs == {"main_proc": "true", "sub_proc": "false"}
    assert root.find(".//bpmn:callActivity", fx.NS).get("calledElement") == "sub_proc"


def test_two_uncalled_processes_need_the_designer_to_choose():
    text = CALLS.replace("{a}", "false").replace("{b}", "false").replace('calledElement="sub-proc"', 'calledElement="x"')
    f = by_id(review(parse_xml(text.encode()), ctx()).findings)["executable:main-proc"]
    assert f["fix"]["by_default"] is False
    out, applied, _ = apply_fixes(text, ctx(), {"executable:main-proc": "sub-proc"}, False)
    procs = {p.get("id"): p.get("isExecutable") for p in parse_xml(out.encode()).findall("bpmn:process", fx.NS)}
    assert procs == {"main-proc": "false", "sub-proc": "true"} and applied == ["executable:main-proc"]


def test_ids_are_sanitised():
    assert fx.proposed_id("WFP-6-1") == "WFP_6_1"
    assert fx.proposed_id("6abc") == "p_6abc"
    assert fx.proposed_id("sid-" + "x" * 100) == ("sid_" + "x" * 100)[:64]
    assert fx.proposed_id("审批流程") == "____"
    tree = etree.fromstring(b'<a xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><b id="x"/><c id="x_2"/></a>')
    assert fx.unique_id("x", fx.all_ids(tree)) == "x_3"


def test_a_file_without_a_declaration_or_with_comments_keeps_them():
    text = LEAVE.split("\n", 1)[1].replace("<bpmn:collaboration", "<!-- drawn by hand -->\n  <bpmn:collaboration")
    out, _, _ = apply_fixes(text, ctx(), {"process_id:Process-Leave-1": True}, False)
    assert not out.startswith("<?xml") and "<!-- drawn by hand -->" in out
    assert json.dumps(out).count("Process_Leave_1") == 2  # the process and the participant's processRef


FLOWABLE = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flowable="http://flowable.org/bpmn" id="d" targetNamespace="http://www.flowable.org/processdef">
  <process id="leaveFlow" name="请假" isExecutable="true">
    <startEvent id="start" flowable:initiator="initiator">
      <extensionElements>
        <flowable:formProperty id="days" name="天数" type="long" required="true"/>
      </extensionElements>
    </startEvent>
    <userTask id="approve" name="审批" flowable:candidateGroups="window"/>
    <userTask id="back" name="申请人确认" flowable:assignee="${initiator}"/>
    <endEvent id="end"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="approve"/>
    <sequenceFlow id="f2" sourceRef="approve" targetRef="back"/>
    <sequenceFlow id="f3" sourceRef="back" targetRef="end"/>
  </process>
</definitions>
"""


def test_flowable_attributes_are_read_as_their_camunda_twins():
    """A Flowable (Activiti) export keeps its people and forms: flowable:candidateGroups / assignee /
    formProperty become camunda:candidateGroups / assignee (its JUEL translated) and a form."""
    root = parse_xml(FLOWABLE.encode(), "leave.bpmn")
    found = {f["id"]: f for f in review(root, ctx()).findings}
    assert "dialect:flowable" in found and "candidateGroups" in found["dialect:flowable"]["message"]
    assert not any(f["kind"] == "people" and f["element"] == "approve" for f in found.values())
    text, applied, created = apply_fixes(FLOWABLE, ctx(), {}, True)
    out = parse_xml(text.encode(), "leave.bpmn")
    tasks = {t.get("id"): t for t in out.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}userTask")}
    assert tasks["approve"].get(fx.C + "candidateGroups") == "window"
    assert tasks["back"].get(fx.C + "assignee") == "${applicant}"
    start_form = next(f for f in created.values() if any(c.get("key") == "days" for c in f["components"]))
    assert start_form["components"][0]["validate"] == {"required": True}
