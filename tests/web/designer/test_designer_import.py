"""Files made elsewhere: a Camunda Modeler 7 file opens in the designer (POST /designer/import), an
unknown process gets a new metadata skeleton, it checks and deploys, and is written back byte for
byte (camunda:* extensions and bpmndi layout kept); unsupported elements are refused by element id;
bad files never give a 500."""
from __future__ import annotations

import json

from tests.web.designer.test_designer import (REVIEW_FORM, START_FORM, app, dirs, matter, post, signed_in, snapshot,
                                              versions)

CM_PID = "cm_import"
SIGN_FORM = "cm_import_sign"
CAMUNDA_FILE = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_0x7k2p1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.31.0" modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.22.0">
  <bpmn:process id="{CM_PID}" name="外部建模导入测试" isExecutable="true" camunda:historyTimeToLive="180">
    <bpmn:startEvent id="StartEvent_1" name="提交申请" camunda:formKey="{START_FORM}">
      <bpmn:outgoing>Flow_0a1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Activity_review" name="窗口审查" camunda:formKey="{REVIEW_FORM}" camunda:candidateGroups="window">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="caseStatus" value="received" />
          <camunda:property name="action" value="receive" />
          <camunda:property name="limitDays" value="2" />
        </camunda:properties>
        <camunda:inputOutput>
          <camunda:inputParameter name="reviewer_hint">窗口受理</camunda:inputParameter>
        </camunda:inputOutput>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_0a1</bpmn:incoming>
      <bpmn:outgoing>Flow_0a2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:scriptTask id="Activity_prepare" name="准备会签" scriptFormat="python">
      <bpmn:incoming>Flow_0a2</bpmn:incoming>
      <bpmn:outgoing>Flow_0a3</bpmn:outgoing>
      <bpmn:script>signers = [{{'dept': 'window'}}, {{'dept': 'window'}}]</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="Activity_sign" name="会签" camunda:formKey="{SIGN_FORM}" camunda:candidateGroups="${{cs['dept']}}">
      <bpmn:incoming>Flow_0a3</bpmn:incoming>
      <bpmn:outgoing>Flow_0a4</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics camunda:collection="signers" camunda:elementVariable="cs" />
    </bpmn:userTask>
    <bpmn:endEvent id="Event_end" name="办结">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="caseStatus" value="approved" />
        </camunda:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_0a4</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_0a1" sourceRef="StartEvent_1" targetRef="Activity_review" />
    <bpmn:sequenceFlow id="Flow_0a2" sourceRef="Activity_review" targetRef="Activity_prepare" />
    <bpmn:sequenceFlow id="Flow_0a3" sourceRef="Activity_prepare" targetRef="Activity_sign" />
    <bpmn:sequenceFlow id="Flow_0a4" sourceRef="Activity_sign" targetRef="Event_end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="{CM_PID}">
      <bpmndi:BPMNShape id="_BPMNShape_StartEvent_2" bpmnElement="StartEvent_1">
        <dc:Bounds x="179" y="99" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="175" y="142" width="44" height="14" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_review_di" bpmnElement="Activity_review"><dc:Bounds x="270" y="77" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_prepare_di" bpmnElement="Activity_prepare"><dc:Bounds x="430" y="77" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_sign_di" bpmnElement="Activity_sign"><dc:Bounds x="590" y="77" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_end_di" bpmnElement="Event_end"><dc:Bounds x="752" y="99" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_0a1_di" bpmnElement="Flow_0a1"><di:waypoint x="215" y="117" /><di:waypoint x="270" y="117" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_0a2_di" bpmnElement="Flow_0a2"><di:waypoint x="370" y="117" /><di:waypoint x="430" y="117" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_0a3_di" bpmnElement="Flow_0a3"><di:waypoint x="530" y="117" /><di:waypoint x="590" y="117" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_0a4_di" bpmnElement="Flow_0a4"><di:waypoint x="690" y="117" /><di:waypoint x="752" y="117" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""
SIGN = {"id": SIGN_FORM, "type": "default", "schemaVersion": 16,
        "components": [{"type": "textarea", "key": "sign_opinion", "label": "会签意见", "id": "Field_sign"}]}
UNSUPPORTED = CAMUNDA_FILE.replace(
    '<bpmn:sequenceFlow id="Flow_0a4" sourceRef="Activity_sign" targetRef="Event_end" />',
    '<bpmn:sequenceFlow id="Flow_0a4" sourceRef="Activity_sign" targetRef="Gateway_complex" />'
    '<bpmn:complexGateway id="Gateway_complex" />'
    '<bpmn:sequenceFlow id="Flow_0a5" sourceRef="Gateway_complex" targetRef="Event_end" />'
    '<bpmn:intermediateThrowEvent id="Event_link"><bpmn:linkEventDefinition id="Link_1" name="go" />'
    '</bpmn:intermediateThrowEvent>')


def test_camunda_modeler_file_opens_checks_deploys_and_keeps_its_extensions(app, dirs):
    c = signed_in(app, "d1")
    r = post(c, "/designer/import", {"bpmn": CAMUNDA_FILE, "filename": "C:\\models\\cm_import.bpmn"})
    assert r.status_code == 200, r.json
    doc = r.json
    assert doc["process_id"] == CM_PID and doc["new"] is True and doc["imported"] == "cm_import.bpmn"
    assert doc["bpmn"] == CAMUNDA_FILE and doc["name"] == "外部建模导入测试"
    assert doc["matter"]["process_id"] == CM_PID and doc["matter"]["name"] == "外部建模导入测试"
    assert doc["scenarios"] == [] and versions(app, CM_PID) == []
    # the skeleton still needs the designer's metadata: check says so, names no element
    body = {"process_id": CM_PID, "bpmn": doc["bpmn"], "matter": doc["matter"], "forms": {SIGN_FORM: SIGN}}
    errors = post(c, "/designer/check", body).json["errors"]
    assert errors and all(e["file"] == f"{CM_PID}.matter.json" for e in errors), errors
    body["matter"] = matter(CM_PID)
    assert post(c, "/designer/check", body).json == {"ok": True, "errors": []}
    r = post(c, "/designer/deploy", body)
    assert r.status_code == 200 and r.json["ok"] and r.json["version"] == 1, r.json
    written = (dirs[0] / f"{CM_PID}.bpmn").read_bytes()
    assert written == CAMUNDA_FILE.encode("utf-8")
    for kept in ('camunda:inputOutput', 'camunda:inputParameter name="reviewer_hint"', 'camunda:historyTimeToLive',
                 'camunda:collection="signers" camunda:elementVariable="cs"', 'exporter="Camunda Modeler"',
                 '<camunda:property name="limitDays" value="2" />', 'bpmndi:BPMNEdge id="Flow_0a4_di"'):
        assert kept.encode() in written, kept
    assert json.loads((dirs[1] / f"{SIGN_FORM}.form.json").read_text("utf-8")) == SIGN
    # opened again: now the deployed matter, its metadata, version 1
    again = post(c, "/designer/import", {"bpmn": CAMUNDA_FILE}).json
    assert again["new"] is False and again["version"] == 1 and again["matter"]["name"] == matter(CM_PID)["name"]
    assert again["bpmn"] == CAMUNDA_FILE


def test_unsupported_elements_are_refused_by_element_id(app, dirs):
    c = signed_in(app, "d1")
    doc = post(c, "/designer/import", {"bpmn": UNSUPPORTED}).json
    assert doc["bpmn"] == UNSUPPORTED  # it opens, so the designer can fix it
    body = {"process_id": CM_PID, "bpmn": UNSUPPORTED, "matter": matter(CM_PID), "forms": {SIGN_FORM: SIGN}}
    before = snapshot(dirs)
    errors = post(c, "/designer/check", body).json["errors"]
    assert {"Gateway_complex", "Event_link"} <= {e["element"] for e in errors}, errors
    r = post(c, "/designer/deploy", body)
    assert r.status_code == 422 and {"Gateway_complex", "Event_link"} <= {e["element"] for e in r.json["errors"]}
    assert snapshot(dirs) == before and versions(app, CM_PID) == []


def test_files_that_cannot_open_are_answered_without_a_500(app):
    c = signed_in(app, "d1")
    bad = {
        "not xml": "hello",
        "not bpmn": "<html><body/></html>",
        "doctype": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                   '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&e;</bpmn:definitions>',
        "no process": '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"/>',
    }
    for name, text in bad.items():
        r = post(c, "/designer/import", {"bpmn": text})
        assert r.status_code == 422 and r.json["errors"], (name, r.json)
    # a process id that is not a matter id opens (the import assistant proposes the fix)
    r = post(c, "/designer/import", {"bpmn": CAMUNDA_FILE.replace(f'id="{CM_PID}"', 'id="Process-1"')})
    assert r.status_code == 200 and r.json["process_id"] == "Process_1"
    assert "process_id:Process-1" in {f["id"] for f in r.json["assistant"]["findings"]}
    for body in ({}, {"bpmn": 5}, [1], {"bpmn": "x" * (1024 * 1024 + 1)}):
        assert post(c, "/designer/import", body).status_code == 422
    w = signed_in(app, "w1")
    assert post(w, "/designer/import", {"bpmn": CAMUNDA_FILE}).status_code == 403
