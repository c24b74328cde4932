"""Issue 18 point 5 in Debian's chromium: 打开文件 with a Camunda-style file the platform cannot run as
it is (hyphenated process id, a user task in a lane without people, a JUEL condition, a flow without
id, a service task) opens the diagram unchanged and the 导入助手 panel lists what is missing, each
finding with its element and its fix; the 默认办理组 presets every group fix; 采用所选修改 renames the
process in the canvas, creates the forms, sets the chosen group; the service task (not a default fix)
stays listed with the check error naming it; converting it too makes the matter deploy. On a phone
the panel fits the width and works from the keyboard."""
from __future__ import annotations

import json

from tests.browser.test_designer import PASSWORD, dirs, live_server, wait_status  # noqa: F401

FILE_PID = "WFP-6-demo"
NEW_PID = "WFP_6_demo"
DEMO_FILE = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_wfp6" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.20.0">
  <bpmn:collaboration id="Collab_wfp6">
    <bpmn:participant id="Participant_office" name="审批办公室" processRef="{FILE_PID}" />
  </bpmn:collaboration>
  <bpmn:process id="{FILE_PID}" name="演示审批" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_office" name="经办">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>review</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>gw_amount</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>notify</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_big</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end_small</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="申请">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="review" name="审查">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="gw_amount" name="金额?" default="Flow_small">
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_big</bpmn:outgoing>
      <bpmn:outgoing>Flow_small</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:serviceTask id="notify" name="通知财务" camunda:class="com.example.NotifyFinance">
      <bpmn:incoming>Flow_big</bpmn:incoming>
    </bpmn:serviceTask>
    <bpmn:endEvent id="end_big" name="大额办结" />
    <bpmn:endEvent id="end_small" name="办结">
      <bpmn:incoming>Flow_small</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="review" targetRef="gw_amount" />
    <bpmn:sequenceFlow id="Flow_big" name="大额" sourceRef="gw_amount" targetRef="notify">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${{amount gt 5}}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_small" sourceRef="gw_amount" targetRef="end_small" />
    <bpmn:sequenceFlow sourceRef="notify" targetRef="end_big" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Collab_wfp6">
      <bpmndi:BPMNShape id="Participant_office_di" bpmnElement="Participant_office" isHorizontal="true">
        <dc:Bounds x="120" y="60" width="760" height="300" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_office_di" bpmnElement="Lane_office" isHorizontal="true">
        <dc:Bounds x="150" y="60" width="730" height="300" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="192" y="142" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="review_di" bpmnElement="review"><dc:Bounds x="280" y="120" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="gw_amount_di" bpmnElement="gw_amount" isMarkerVisible="true"><dc:Bounds x="435" y="135" width="50" height="50" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="notify_di" bpmnElement="notify"><dc:Bounds x="540" y="120" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_big_di" bpmnElement="end_big"><dc:Bounds x="702" y="142" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_small_di" bpmnElement="end_small"><dc:Bounds x="702" y="262" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1"><di:waypoint x="228" y="160" /><di:waypoint x="280" y="160" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2_di" bpmnElement="Flow_2"><di:waypoint x="380" y="160" /><di:waypoint x="435" y="160" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_big_di" bpmnElement="Flow_big"><di:waypoint x="485" y="160" /><di:waypoint x="540" y="160" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_small_di" bpmnElement="Flow_small"><di:waypoint x="460" y="185" /><di:waypoint x="460" y="280" /><di:waypoint x="702" y="280" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""

PROCESS_IDS = "modeler.getDefinitions().rootElements.filter(e => e.$type === 'bpmn:Process').map(e => e.id)"
LANE_GROUPS = """() => {
    const lane = modeler.get('elementRegistry').get('Lane_office').businessObject;
    const ext = (lane.extensionElements && lane.extensionElements.values) || [];
    return ext.flatMap(v => v.values || []).filter(p => p.name === 'candidateGroups').map(p => p.value);
}"""


def open_designer(server, page):
    server.login(page, "d1", PASSWORD)
    page.goto("/designer/xmgl_beian")
    page.wait_for_function("window.designer && window.modeler")
    page.evaluate("window.designer.ready")


def open_demo_file(page):
    page.set_input_files("#dsg-open-file", files=[{"name": "wfp6.bpmn", "mimeType": "application/xml",
                                                   "buffer": DEMO_FILE.encode("utf-8")}])
    assert "已打开 wfp6.bpmn" in wait_status(page, ["已打开", "无法打开"])
    page.wait_for_selector("#dsg-assistant:not([hidden]) li.dsg-finding")


def finding(page, kind):
    return page.locator(f"#dsg-assistant li.dsg-finding[data-kind={kind}]")


def wait_applied(page):
    try:
        page.wait_for_function("document.querySelector('#dsg-assistant-status').textContent.includes('已采用')"
                               " || document.querySelector('#dsg-status').textContent.includes('未能采用')",
                               timeout=20_000)
    except Exception:
        raise AssertionError(f"{page.inner_text('#dsg-status')!r}; {page.errors}") from None
    assert "已采用修改" in page.inner_text("#dsg-status"), page.inner_text("#dsg-status")


def test_the_import_assistant_fixes_a_camunda_file_until_it_deploys(live_server, dirs, browser_page, screenshot_dir):
    processes, forms = dirs
    server = live_server
    server.add_user("d1", groups=["designer"], password=PASSWORD)
    page = browser_page("desktop")
    open_designer(server, page)
    open_demo_file(page)

    # the diagram opens as it is: nothing changes before 采用
    assert page.evaluate(PROCESS_IDS) == [FILE_PID]
    assert page.evaluate("designer.collect().then(p => p.bpmn)") == DEMO_FILE
    assert page.inner_text("#dsg-pid") == NEW_PID  # the document of the proposed id
    assert page.inner_text("#dsg-assistant-file") == "wfp6.bpmn"

    # the findings, grouped; the defaults checked, the service task's conversion not
    fixable = page.locator("#dsg-assistant [data-section=fix]")
    assert fixable.locator("h4").inner_text().startswith("需要修改")
    for kind in ("process_id", "juel", "flow_id", "unsupported"):
        assert fixable.locator(f"li[data-kind={kind}]").count() >= 1, (kind, page.inner_text("#dsg-assistant"))
    assert finding(page, "process_id").locator("input[type=checkbox]").is_checked()
    assert finding(page, "process_id").locator("input[type=text]").input_value() == NEW_PID
    assert finding(page, "flow_id").locator("input[type=checkbox]").is_checked()
    assert finding(page, "juel").locator("input[type=checkbox]").is_checked()
    service = page.locator("#dsg-assistant li.dsg-finding[data-element=notify]")
    assert service.count() == 1 and "notify" in service.inner_text()
    assert not service.locator("input[type=checkbox]").is_checked()
    assert page.locator("#dsg-assistant li.dsg-finding[data-element=review]").count() >= 1
    # every checkbox and select has a label
    for control in page.locator("#dsg-assistant input, #dsg-assistant select").all():
        cid = control.get_attribute("id")
        assert cid and page.locator(f"#dsg-assistant label[for='{cid}']").count() == 1, cid

    # a finding's element selects it on the canvas (as the check list does); the process: its pool
    finding(page, "process_id").locator("button.dsg-link").click()
    assert page.evaluate("modeler.get('selection').get().map(e => e.id)") == ["Participant_office"]
    service.locator("button.dsg-link").click()
    assert page.evaluate("modeler.get('selection').get().map(e => e.id)") == ["notify"]

    # 默认办理组: every group fix follows it
    group_fixes = page.locator("#dsg-assistant select[data-group-fix]")
    assert group_fixes.count() >= 1, page.inner_text("#dsg-assistant")
    default = page.locator("#dsg-assistant-group").input_value()
    choice = "investment" if default != "investment" else "window"
    assert choice in page.locator("#dsg-assistant-group option").evaluate_all("os => os.map(o => o.value)")
    page.select_option("#dsg-assistant-group", choice)
    assert set(group_fixes.evaluate_all("ss => ss.map(s => s.value)")) == {choice}
    assert page.evaluate(PROCESS_IDS) == [FILE_PID]  # still nothing changed
    page.screenshot(path=str(screenshot_dir / "designer-import-assistant-desktop.png"), full_page=True)

    page.click("#dsg-assistant-apply")
    wait_applied(page)
    # the canvas shows the renamed process, the lane carries the chosen group, the forms are new forms
    assert page.evaluate(PROCESS_IDS) == [NEW_PID]
    assert page.inner_text("#dsg-pid") == NEW_PID
    assert choice in ",".join(page.evaluate(LANE_GROUPS)), page.evaluate(LANE_GROUPS)
    review_form = page.evaluate("modeler.get('elementRegistry').get('review').businessObject.get('camunda:formKey')")
    assert review_form and page.evaluate(f"!!designer.state.forms['{review_form}']")
    assert page.evaluate(f"!!designer.state.created['{review_form}']")
    page.wait_for_selector(f'#dsg-tabs button[data-tab="form:{review_form}"]')
    flows = page.evaluate("modeler.getDefinitions().rootElements.find(e => e.$type === 'bpmn:Process')"
                          ".flowElements.filter(e => e.$type === 'bpmn:SequenceFlow').map(f => f.id)")
    assert all(flows) and len(flows) == 5, flows
    named = [f for f in flows if f not in ("Flow_1", "Flow_2", "Flow_big", "Flow_small")]
    assert len(named) == 1 and page.evaluate(f"!!modeler.get('elementRegistry').get('{named[0]}')")  # now drawn
    condition = page.evaluate("modeler.get('elementRegistry').get('Flow_big').businessObject.conditionExpression.body")
    assert "${" not in condition and ">" in condition, condition
    # the service task stays (its fix is not a default), listed with the check error naming it
    service = page.locator("#dsg-assistant li.dsg-finding[data-element=notify]")
    assert service.count() == 1 and not service.locator("input[type=checkbox]").is_checked()
    assert finding(page, "process_id").count() == 0
    page.wait_for_selector("#dsg-errors li[data-element=notify]")
    page.locator("#dsg-errors li[data-element=notify]").first.click()
    assert page.evaluate("modeler.get('selection').get().map(e => e.id)") == ["notify"]
    assert page.locator('.djs-shape.dsg-error[data-element-id="notify"]').count() == 1

    # convert it too: the result checks clean and deploys
    service.locator("input[type=checkbox]").check()
    page.click("#dsg-assistant-apply")
    wait_applied(page)
    assert page.evaluate("modeler.get('elementRegistry').get('notify').type") == "bpmn:ManualTask"
    assert page.locator("#dsg-errors li[data-element=notify]").count() == 0
    errors = page.locator("#dsg-errors li.server-error").all_inner_texts()
    if errors:  # only the metadata skeleton may still want filling in (it is the new matter's)
        assert all(f"{NEW_PID}.matter.json" in e for e in errors), errors
        meta = page.evaluate("designer.state.matter")
        base = json.loads((processes / "xmgl_beian.matter.json").read_text("utf-8"))
        page.click('#dsg-tabs button[data-tab="matter"]')
        page.fill("#dsg-matter-json", json.dumps(dict(base, process_id=NEW_PID, name=meta.get("name") or "演示审批"),
                                                 ensure_ascii=False))
        page.click("#dsg-matter-apply")
    page.click("#dsg-deploy")
    assert "已部署为 v1" in wait_status(page, ["已部署", "未部署", "失败"]), page.inner_text("#dsg-problems")
    written = (processes / f"{NEW_PID}.bpmn").read_text("utf-8")
    assert f'id="{NEW_PID}"' in written and "serviceTask" not in written and "${amount" not in written
    assert f'bpmnElement="{named[0]}"' in written
    assert (forms / f"{review_form}.form.json").exists()
    assert page.errors == []


def test_the_panel_on_a_phone_and_from_the_keyboard(live_server, dirs, browser_page, screenshot_dir):
    server = live_server
    server.add_user("d1", groups=["designer"], password=PASSWORD)
    phone = browser_page("phone")
    open_designer(server, phone)
    open_demo_file(phone)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = phone.locator("#dsg-assistant").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    apply_box = phone.locator("#dsg-assistant-apply").bounding_box()
    dismiss_box = phone.locator("#dsg-assistant-dismiss").bounding_box()
    assert dismiss_box["y"] > apply_box["y"]  # the buttons stack
    phone.screenshot(path=str(screenshot_dir / "designer-import-assistant-phone.png"), full_page=True)

    # from the keyboard: an element link, a checkbox, 暂不修改 and the bar's button that reopens it
    phone.focus("#dsg-assistant li.dsg-finding[data-element=notify] button.dsg-link")
    phone.keyboard.press("Enter")
    assert phone.evaluate("modeler.get('selection').get().map(e => e.id)") == ["notify"]
    check = phone.locator("#dsg-assistant li.dsg-finding[data-element=notify] input[type=checkbox]")
    check.focus()
    phone.keyboard.press("Space")
    assert check.is_checked()
    phone.focus("#dsg-assistant-dismiss")
    phone.keyboard.press("Enter")
    assert phone.locator("#dsg-assistant").is_hidden()
    assert phone.evaluate(PROCESS_IDS) == [FILE_PID]  # 暂不修改 changes nothing
    reopen = phone.locator("#dsg-assistant-open")
    assert reopen.is_visible() and "导入助手" in reopen.inner_text()
    assert phone.evaluate("document.activeElement.id") == "dsg-assistant-open"
    phone.keyboard.press("Enter")
    assert phone.locator("#dsg-assistant").is_visible()
    assert phone.errors == []
