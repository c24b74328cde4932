"""POST /designer/import and /designer/import/apply (issue 18): a file with a hyphenated process id
opens with the assistant's findings; its defaults make it deployable; deployed through POST
/designer/deploy, a case of it starts and runs a step through the API. Designers only; a bad payload
is a 422 with a clear message, never a 500; nothing is stored by either endpoint."""
from __future__ import annotations

import copy

from tests.web.api.helpers import Api
from tests.web.designer.test_designer import app, dirs, post, signed_in, snapshot, versions  # noqa: F401

# a Camunda Modeler 7 file: process id with hyphens, a generated start form (camunda:formData), an
# embedded task form, a group this agency does not have, JUEL, a flow without id, a bare ISO timer
FILE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.20.0">
  <bpmn:process id="WFP-6-Leave" name="请假审批" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" name="提出申请">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="days" label="天数" type="long">
            <camunda:validation><camunda:constraint name="required" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="reason" label="事由" type="string" />
        </camunda:formData>
      </bpmn:extensionElements>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_approve" />
    <bpmn:userTask id="Task_approve" name="审批" camunda:formKey="embedded:app:forms/approve.html" camunda:candidateGroups="management">
      <bpmn:incoming>Flow_1</bpmn:incoming>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="Timer_late" name="超时" attachedToRef="Task_approve">
      <bpmn:timerEventDefinition id="TimerDef_1"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P5D</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="Flow_late" sourceRef="Timer_late" targetRef="Event_late" />
    <bpmn:endEvent id="Event_late" name="超时办结" />
    <bpmn:sequenceFlow sourceRef="Task_approve" targetRef="Gateway_1" />
    <bpmn:exclusiveGateway id="Gateway_1" default="Flow_short" />
    <bpmn:sequenceFlow id="Flow_long" sourceRef="Gateway_1" targetRef="Event_long">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${days gt 3}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_short" sourceRef="Gateway_1" targetRef="Event_short" />
    <bpmn:endEvent id="Event_long" name="长假" />
    <bpmn:endEvent id="Event_short" name="短假" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="WFP-6-Leave">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1"><dc:Bounds x="179" y="99" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Task_approve_di" bpmnElement="Task_approve"><dc:Bounds x="270" y="77" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1"><di:waypoint x="215" y="117" /><di:waypoint x="270" y="117" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""
PID = "WFP_6_Leave"


def test_only_designers_may_use_the_assistant(app, dirs):
    for name in ("w1", "alice"):
        c = signed_in(app, name)
        assert post(c, "/designer/import", {"bpmn": FILE}).status_code == 403
        assert post(c, "/designer/import/apply", {"bpmn": FILE, "defaults": True}).status_code == 403
    assert app.test_client().post("/designer/import/apply", json={"bpmn": FILE}).status_code in (400, 401, 403)  # no session: CSRF or login refuses


def test_a_hyphenated_process_id_opens_with_its_findings(app, dirs):
    c = signed_in(app, "d1")
    before = snapshot(dirs)
    r = post(c, "/designer/import", {"bpmn": FILE, "filename": "C:\\models\\leave.bpmn"})
    assert r.status_code == 200, r.json
    doc = r.json
    assert doc["process_id"] == PID and doc["new"] is True and doc["bpmn"] == FILE  # nothing changed yet
    assert doc["matter"]["process_id"] == PID and doc["matter"]["name"] == "请假审批"
    assistant = doc["assistant"]
    assert assistant["defaults"] == {"group": "window"}
    assert {"code": "window", "name": "政务服务大厅窗口"} in assistant["groups"]
    assert not {"admin", "designer", "inspector"} & {g["code"] for g in assistant["groups"]}
    findings = {f["id"]: f for f in assistant["findings"]}
    assert set(findings) == {"process_id:WFP-6-Leave", "start_form:StartEvent_1", "form:Task_approve",
                             "people:Task_approve", "juel:Flow_long:condition", "juel:Timer_late:timeDuration",
                             "flow_id:Task_approve→Gateway_1"}
    f = findings["process_id:WFP-6-Leave"]
    assert f["element"] == "WFP-6-Leave" and f["file"] == "leave.bpmn" and f["fix"] == {
        "type": "process_id", "label": "修改流程标识", "default": PID, "options": None, "by_default": True}
    assert "WFP-6-Leave" in f["message"] and "(" in f["message"]
    assert findings["people:Task_approve"]["fix"]["options"][0] == "window"
    assert snapshot(dirs) == before and versions(app, PID) == []


def test_defaults_make_it_deployable_and_a_case_runs(app, dirs):
    c = signed_in(app, "d1")
    before = snapshot(dirs)
    r = post(c, "/designer/import/apply", {"bpmn": FILE, "filename": "leave.bpmn", "accept": {}, "defaults": True})
    assert r.status_code == 200, r.json
    out = r.json
    assert out["errors"] == [] and out["ok"] is True, out["errors"]
    assert out["process_id"] == PID and f'<bpmn:process id="{PID}"' in out["bpmn"]
    assert 'bpmnElement="WFP_6_Leave"' in out["bpmn"]  # the diagram follows the rename
    assert set(out["forms"]) == {f"{PID}_StartEvent_1", f"{PID}_Task_approve"}
    assert [c_["key"] for c_ in out["forms"][f"{PID}_StartEvent_1"]["components"]] == ["days", "reason"]
    assert len(out["applied"]) == 7 and out["matter"]["process_id"] == PID
    assert [f["id"] for f in out["findings"]] == ["note:matter"]  # placeholder metadata, said so
    assert snapshot(dirs) == before  # nothing stored
    body = {"process_id": PID, "bpmn": out["bpmn"], "matter": out["matter"], "forms": out["forms"]}
    r = post(c, "/designer/deploy", body)
    assert r.status_code == 200 and r.json["ok"] and r.json["version"] == 1, r.json
    api = Api(app)
    api.headers.update({u: {"Authorization": f"Bearer tok-{u}"} for u in ("alice", "w1")})
    r = api.post("alice", "/api/cases", json={"process_id": PID, "data": {"days": 5, "reason": "探亲"}})
    assert r.status_code == 201, r.json
    api.complete_first("w1", {"opinion": "同意"}, element="Task_approve")
    case = api.get("alice", f"/api/cases/{r.json['id']}")
    assert case.status_code == 200 and not [t for t in api.tasks("w1") if t["element_id"] == "Task_approve"]


def test_chosen_values_and_the_group_override(app, dirs):
    c = signed_in(app, "d1")
    r = post(c, "/designer/import/apply", {"bpmn": FILE, "defaults": True, "group": "price",
                                           "accept": {"process_id:WFP-6-Leave": "leave_request",
                                                      "juel:Flow_long:condition": False}})
    assert r.status_code == 200, r.json
    out = r.json
    assert out["process_id"] == "leave_request" and 'camunda:candidateGroups="price"' in out["bpmn"]
    assert "juel:Flow_long:condition" not in out["applied"]
    left = {f["id"] for f in out["findings"]}
    assert "juel:Flow_long:condition" in left and not out["ok"]
    assert any(e["element"] == "Flow_long" for e in out["errors"]), out["errors"]


def test_bad_payloads_are_422_with_a_clear_message(app, dirs):
    c = signed_in(app, "d1")
    bad = [{}, [1], {"bpmn": 5}, {"bpmn": "  "}, {"bpmn": "hello"}, {"bpmn": FILE, "accept": []},
           {"bpmn": FILE, "accept": {"x": 5}}, {"bpmn": FILE, "defaults": "yes"}, {"bpmn": FILE, "group": "nobody"},
           {"bpmn": FILE, "accept": {"process_id:WFP-6-Leave": "9 bad"}}, {"bpmn": FILE, "accept": {"no:such": True}},
           {"bpmn": FILE, "filename": "a\x00b"}, {"bpmn": "x" * (1024 * 1024 + 1)},
           {"bpmn": '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"/>'}]
    for body in bad:
        r = post(c, "/designer/import/apply", body)
        assert r.status_code == 422, (body if len(str(body)) < 200 else str(body)[:200], r.status_code)
        assert r.json.get("message"), r.json
    r = post(c, "/designer/import/apply", {"bpmn": FILE, "accept": {"process_id:WFP-6-Leave": "9 bad"}})
    assert "process_id:WFP-6-Leave" in str(r.json)
    deep = copy.deepcopy({"bpmn": FILE, "accept": {}})
    node = deep["accept"]
    for _ in range(80):
        node["x"] = {}
        node = node["x"]
    assert post(c, "/designer/import/apply", deep).status_code == 422


# rules.md 1 and 3: a pool with lanes and no people on its tasks, a manual task, a second (called)
# process; the defaults give the lanes and the process a group, and the result deploys and runs
LANES = FILE.replace('camunda:candidateGroups="management"', "").replace(
    '<bpmn:process id="WFP-6-Leave" name="请假审批" isExecutable="true">',
    '<bpmn:process id="WFP-6-Leave" name="请假审批" isExecutable="false">'
    '<bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" name="窗口"><bpmn:flowNodeRef>Task_approve</bpmn:flowNodeRef>'
    '</bpmn:lane></bpmn:laneSet>').replace(
    '<bpmn:endEvent id="Event_long" name="长假" />',
    '<bpmn:manualTask id="Task_file" name="归档" /><bpmn:sequenceFlow id="Flow_file" sourceRef="Task_file" '
    'targetRef="Event_long" /><bpmn:endEvent id="Event_long" name="长假" />').replace(
    'targetRef="Event_long">', 'targetRef="Task_file">')


def test_lanes_default_group_and_manual_tasks_deploy_and_run(app, dirs):
    c = signed_in(app, "d1")
    doc = post(c, "/designer/import", {"bpmn": LANES, "filename": "lanes.bpmn"}).json
    ids = {f["id"] for f in doc["assistant"]["findings"]}
    assert {"executable:WFP-6-Leave", "lane_group:Lane_1", "default_group:WFP-6-Leave", "people:Task_file"} <= ids
    out = post(c, "/designer/import/apply", {"bpmn": LANES, "filename": "lanes.bpmn", "defaults": True}).json
    assert out["ok"], out["errors"]
    assert '<camunda:property name="candidateGroups" value="window"/>' in out["bpmn"]
    assert '<camunda:property name="defaultGroup" value="window"/>' in out["bpmn"]
    body = {"process_id": PID, "bpmn": out["bpmn"], "matter": out["matter"], "forms": out["forms"]}
    r = post(c, "/designer/deploy", body)
    assert r.status_code == 200, r.json
    api = Api(app)
    api.headers.update({u: {"Authorization": f"Bearer tok-{u}"} for u in ("alice", "w1")})
    assert api.post("alice", "/api/cases", json={"process_id": PID, "data": {"days": 5}}).status_code == 201
    api.complete_first("w1", {"opinion": "同意"}, element="Task_approve")   # the lane's group
    api.complete_first("w1", {}, element="Task_file")                      # the manual task: the default group
