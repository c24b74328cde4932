"""element_diff / forms_diff / matter_diff: what a new version changes, layout and whitespace aside."""
from app.engine.diff import diff_counts, element_diff, forms_diff, matter_diff, version_diff

BASE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="p" name="测试" isExecutable="true">
    <bpmn:startEvent id="start" camunda:formKey="f_start"/>
    <bpmn:userTask id="review" name="窗口审查" camunda:formKey="f_review" camunda:candidateGroups="window">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="limitDays" value="2"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="gw" default="f_ok"/>
    <bpmn:scriptTask id="calc" name="计算" scriptFormat="python">
      <bpmn:script>if amount &gt; 10:
    score = 2
else:
    score = 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="sign" name="会签" camunda:formKey="f_review" camunda:candidateGroups="${cs}">
      <bpmn:multiInstanceLoopCharacteristics camunda:collection="depts" camunda:elementVariable="cs"/>
    </bpmn:userTask>
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition id="TimerEventDefinition_1"><bpmn:timeDuration>P2D</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end_ok" name="准予"/>
    <bpmn:endEvent id="end_no" name="不予"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="gw"/>
    <bpmn:sequenceFlow id="f_ok" sourceRef="gw" targetRef="calc"/>
    <bpmn:sequenceFlow id="f_no" sourceRef="gw" targetRef="end_no">
      <bpmn:conditionExpression>decision == 'reject'</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="calc" targetRef="sign"/>
    <bpmn:sequenceFlow id="f4" sourceRef="sign" targetRef="wait"/>
    <bpmn:sequenceFlow id="f5" sourceRef="wait" targetRef="end_ok"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane id="pl" bpmnElement="p">
    <bpmndi:BPMNShape id="s_review" bpmnElement="review"><dc:Bounds x="100" y="80" width="100" height="80"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def changed(diff):
    return {c["id"]: c["fields"] for c in diff["changed"]}


def test_first_version_is_all_added():
    d = element_diff(None, BASE.encode())
    ids = {e["id"] for e in d["added"]}
    assert {"start", "review", "gw", "calc", "sign", "wait", "end_ok", "f_no"} <= ids
    assert d["removed"] == [] and d["changed"] == []
    assert {"id": "review", "type": "userTask", "name": "窗口审查"} in d["added"]


def test_identical_and_layout_or_whitespace_only_changes_are_no_diff():
    assert element_diff(BASE, BASE) == {"added": [], "removed": [], "changed": []}
    moved = (BASE.replace('x="100" y="80"', 'x="340" y="260"')
             .replace("<bpmn:conditionExpression>decision == 'reject'",
                      "<bpmn:conditionExpression>\n        decision   ==  'reject'\n      ")
             .replace('camunda:formKey="f_review" camunda:candidateGroups="window"',
                      'camunda:candidateGroups="window"\n        camunda:formKey="f_review"')
             .replace("    score = 2", "    score = 2   \n"))
    assert moved != BASE
    assert element_diff(BASE.encode(), moved.encode()) == {"added": [], "removed": [], "changed": []}


def test_renamed_task_changed_condition_and_candidate_groups():
    new = (BASE.replace('name="窗口审查"', 'name="窗口受理审查"')
           .replace("decision == 'reject'", "decision in ('reject', 'refuse')")
           .replace('camunda:candidateGroups="window"', 'camunda:candidateGroups="window,investment"'))
    d = element_diff(BASE.encode(), new.encode())
    assert d["added"] == [] and d["removed"] == []
    assert changed(d) == {"review": ["camunda:candidateGroups", "name"], "f_no": ["condition"]}
    review = next(c for c in d["changed"] if c["id"] == "review")
    assert review["name"] == "窗口受理审查" and review["type"] == "userTask"
    assert review["changes"]["name"] == ["窗口审查", "窗口受理审查"]
    assert review["changes"]["camunda:candidateGroups"] == ["window", "window,investment"]
    f_no = next(c for c in d["changed"] if c["id"] == "f_no")
    assert f_no["changes"]["condition"] == ["decision == 'reject'", "decision in ('reject', 'refuse')"]


def test_script_timer_multi_instance_properties_and_form_key():
    new = (BASE.replace("    score = 1", "    score = 0")
           .replace("<bpmn:timeDuration>P2D", "<bpmn:timeDuration>P5D")
           .replace('camunda:collection="depts"', 'camunda:collection="departments"')
           .replace('value="2"', 'value="3"')
           .replace('id="sign" name="会签" camunda:formKey="f_review"', 'id="sign" name="会签" camunda:formKey="f_sign"'))
    d = element_diff(BASE, new)
    assert changed(d) == {"calc": ["script"], "wait": ["timer"], "sign": ["camunda:formKey", "multiInstance"],
                          "review": ["camunda:properties"]}
    wait = next(c for c in d["changed"] if c["id"] == "wait")
    assert wait["changes"]["timer"] == [{"timeDuration": "P2D"}, {"timeDuration": "P5D"}]


def test_added_and_removed_elements_change_the_flows_of_their_neighbours():
    new = (BASE.replace('<bpmn:sequenceFlow id="f5" sourceRef="wait" targetRef="end_ok"/>',
                        '<bpmn:sequenceFlow id="f5" sourceRef="wait" targetRef="notify"/>\n'
                        '<bpmn:manualTask id="notify" name="通知"/>\n'
                        '<bpmn:sequenceFlow id="f6" sourceRef="notify" targetRef="end_ok"/>')
           .replace('<bpmn:endEvent id="end_no" name="不予"/>', '')
           .replace('targetRef="end_no"', 'targetRef="end_ok"'))
    d = element_diff(BASE, new)
    assert d["added"] == [{"id": "f6", "type": "sequenceFlow", "name": None},
                          {"id": "notify", "type": "manualTask", "name": "通知"}]
    assert d["removed"] == [{"id": "end_no", "type": "endEvent", "name": "不予"}]
    assert changed(d) == {"end_ok": ["incoming"], "f5": ["targetRef"], "f_no": ["targetRef"]}
    end_ok = next(c for c in d["changed"] if c["id"] == "end_ok")
    assert end_ok["changes"]["incoming"] == [["f5"], ["f6", "f_no"]]


def test_forms_and_matter():
    old = {"a": {"components": [{"key": "x", "label": "X"}, {"key": "y", "label": "Y"}]}, "b": {"components": []}}
    new = {"a": {"components": [{"key": "x", "label": "X2"}, {"key": "z", "label": "Z"}]}, "c": {"components": []}}
    assert forms_diff(old, new) == {"added": ["c"], "removed": ["b"], "changed": [
        {"id": "a", "fields_added": ["z"], "fields_removed": ["y"], "fields_changed": ["x"]}]}
    assert forms_diff(None, new)["added"] == ["a", "c"]
    assert matter_diff({"name": "甲", "a": 1, "gone": 2}, {"name": "乙", "a": 1, "new": 3}) == {
        "changed": ["gone", "name", "new"]}
    full = version_diff({"bpmn": BASE, "forms": old, "matter": {"name": "甲"}},
                        {"bpmn": BASE, "forms": new, "matter": {"name": "乙"}})
    assert diff_counts(full) == {"elements": {"added": 0, "removed": 0, "changed": 0},
                                 "forms": {"added": 1, "removed": 1, "changed": 1}, "matter": 1}
