"""A case through the 工作台 in a real browser, on a phone (375×667) and on a desktop (1280×800): the
window clerk signs in at /login, claims and approves in the form-js form, the first countersigning
department returns it to the window with a reason, the clerk approves again, both countersigning
departments approve in their inboxes, the chief sees it with both opinions together. No sideways
scrolling on the phone, no script errors. Screenshots: docs/screenshots/inbox-{list,task}-{phone,desktop}.png."""
import shutil
import xml.etree.ElementTree as ET

import pytest

from tests.web.api.helpers import START
from tests.conftest import FIXTURES, deploy_all

PASSWORD = "correct horse battery"
USERS = {"w1": ["window"], "eco": ["cs_ecology"], "fin": ["cs_finance"], "chief": ["investment_chief"]}


BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI = {"bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI", "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI"}


def with_layout(source: str) -> str:
    """The fixture BPMN has no diagram interchange (bpmn-js has nothing to draw): lay its flow nodes
    out in a row, in document order, with straight edges."""
    for prefix, uri in {"bpmn": BPMN, **DI}.items():
        ET.register_namespace(prefix, uri)
    ET.register_namespace("camunda", "http://camunda.org/schema/1.0/bpmn")
    root = ET.fromstring(source)
    process = root.find(f"{{{BPMN}}}process")
    diagram = ET.SubElement(root, f"{{{DI['bpmndi']}}}BPMNDiagram", id="diagram")
    plane = ET.SubElement(diagram, f"{{{DI['bpmndi']}}}BPMNPlane", id="plane", bpmnElement=process.get("id"))
    boxes = {}
    for i, el in enumerate(e for e in process if not e.tag.endswith("sequenceFlow")):
        tag = el.tag.split("}")[1]
        w, h = (100, 80) if tag.endswith("Task") else (50, 50) if "Gateway" in tag else (36, 36)
        x, y = 40 + i * 140, 120 - h / 2 + (0 if i % 2 == 0 or not tag.endswith("Event") else 0)
        boxes[el.get("id")] = (x, y, w, h)
        shape = ET.SubElement(plane, f"{{{DI['bpmndi']}}}BPMNShape", id=f"{el.get('id')}_di", bpmnElement=el.get("id"))
        ET.SubElement(shape, f"{{{DI['dc']}}}Bounds", x=str(x), y=str(y), width=str(w), height=str(h))
    for el in process.findall(f"{{{BPMN}}}sequenceFlow"):
        edge = ET.SubElement(plane, f"{{{DI['bpmndi']}}}BPMNEdge", id=f"{el.get('id')}_di", bpmnElement=el.get("id"))
        for ref in (el.get("sourceRef"), el.get("targetRef")):
            x, y, w, h = boxes[ref]
            ET.SubElement(edge, f"{{{DI['di']}}}waypoint", x=str(x + w / 2), y=str(y + h / 2))
    return ET.tostring(root, encoding="unicode")


@pytest.fixture
def live_server(make_live_server, tmp_path):
    """The fixture process t_simple (drawn): review by window → countersign by cs_ecology &
    cs_finance → decision by investment_chief."""
    processes = tmp_path / "processes"
    processes.mkdir()
    source = FIXTURES / "processes" / "t_simple.bpmn"
    (processes / "t_simple.bpmn").write_text(with_layout(source.read_text("utf-8")), "utf-8")
    shutil.copy(FIXTURES / "processes" / "t_simple.matter.json", processes / "t_simple.matter.json")
    server = make_live_server(PROCESSES_DIR=str(processes), FORMS_DIR=str(FIXTURES / "forms"))
    deploy_all(server.app)
    for name, groups in USERS.items():
        server.add_user(name, groups=groups, password=PASSWORD)
    server.alice = server.add_user("alice", kind="applicant")
    return server


def no_sideways_scroll(page, width):
    if width <= 375:
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 375, "sideways scrolling on a phone"


def open_first(page):
    """From the 待办 list to the first task page, with its form and diagram drawn."""
    page.goto("/inbox")
    with page.expect_navigation():
        page.locator("table.rows a.case-no").first.click()
    page.wait_for_function("document.body.dataset.form && document.body.dataset.diagram")
    assert page.evaluate("document.body.dataset.form") == "ready", page.evaluate("inboxPage.errors")
    assert page.evaluate("document.body.dataset.diagram") == "ready", page.evaluate("inboxPage.errors")


def approve(page, opinion=None):
    if opinion is not None:
        page.fill("#opinion", opinion)
    with page.expect_navigation():
        page.click("#btn-approve")
    assert "/inbox" in page.url and "办理完成" in page.inner_text("main"), page.inner_text("main")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_a_case_through_the_inbox(live_server, browser_page, screenshot_dir, viewport):
    width = 375 if viewport == "phone" else 1280
    r = live_server.app.test_client().post("/api/cases", json={"process_id": "t_simple", "data": START},
                                            headers=live_server.alice)
    assert r.status_code == 201, r.json
    case_no = r.json["case_no"]
    pages = {}

    def as_user(name):
        if name not in pages:
            pages[name] = browser_page(viewport)
            live_server.login(pages[name], name, PASSWORD)
        return pages[name]

    # the window clerk: 待办 → claim → fill the form → approve
    w1 = as_user("w1")
    w1.goto("/inbox")
    assert w1.locator("table.rows tr.inbox-row").count() == 1 and case_no in w1.inner_text("main")
    assert w1.locator('.tabs a[data-tab="todo"] .badge').inner_text() == "1"
    assert w1.locator("header .nav-badge").inner_text() == "1"
    assert w1.evaluate("document.querySelector('details.filter-box').open") == (viewport == "desktop")
    no_sideways_scroll(w1, width)
    w1.screenshot(path=str(screenshot_dir / f"inbox-list-{viewport}.png"), full_page=True)
    open_first(w1)
    no_sideways_scroll(w1, width)
    with w1.expect_navigation():
        w1.click("#btn-claim")
    assert "已签收" in w1.inner_text("main")
    w1.wait_for_function("document.body.dataset.form === 'ready'")
    assert w1.locator("#taskform").get_by_role("radio", name="同意", exact=True).is_checked()
    w1.locator("#taskform textarea").fill("材料齐全，予以受理")
    w1.click("#btn-approve")  # no opinion in the box: the form's opinion field counts
    w1.wait_for_url("**/inbox")
    assert "办理完成" in w1.inner_text("main")

    # the first countersigning department returns it to the window with a reason
    eco = as_user("eco")
    open_first(eco)
    assert "会签" in eco.inner_text("main") and eco.locator("#btn-reject").count() == 0
    eco.click("#op-return summary")
    eco.fill("#op-return textarea[name=reason]", "")
    eco.fill("#op-return textarea[name=reason]", "受理意见未写明材料份数，请补充")
    with eco.expect_navigation():
        eco.click("#op-return button")
    assert "已退回" in eco.inner_text("main")

    # back with the clerk: why it came back on top, the form as he completed it, one opinion field
    open_first(w1)
    assert "受理意见未写明材料份数，请补充" in w1.inner_text("#came-back")
    assert w1.locator("#taskform textarea").input_value() == "材料齐全，予以受理"
    assert w1.locator("#opinion").count() == 0
    assert w1.evaluate("document.getElementById('timeline').open") is False  # the trail is folded
    w1.locator("#taskform textarea").fill("")
    w1.click("#btn-approve")  # empty opinion: refused in the page, nothing posted
    assert "请填写办理意见" in w1.inner_text("#op-message")
    w1.locator("#taskform textarea").fill("已补充：材料一式三份，予以受理")
    if viewport == "phone":  # the buttons stay in reach while the form is on the screen
        w1.locator("#taskform").scroll_into_view_if_needed()
        box = w1.locator("#btn-approve").bounding_box()
        assert box and 0 <= box["y"] and box["y"] + box["height"] <= 667, box
    approve(w1)

    # both countersigning departments approve in their inboxes
    open_first(eco)
    eco.locator("#taskform").get_by_role("radio", name="同意", exact=True).check()
    eco.locator("#taskform textarea").fill("生态环境厅：同意")
    approve(eco)
    fin = as_user("fin")
    open_first(fin)
    no_sideways_scroll(fin, width)
    fin.locator("#taskform textarea").fill("财政厅：无意见")
    approve(fin)
    assert fin.locator("table.rows tr.inbox-row").count() == 0

    # the chief sees it, with both departments' opinions together and the diagram at 处长审定
    chief = as_user("chief")
    chief.goto("/inbox")
    assert case_no in chief.inner_text("main") and "处长审定" in chief.inner_text("main")
    open_first(chief)
    opinions = chief.inner_text("#countersigns")
    assert "生态环境厅：同意" in opinions and "财政厅：无意见" in opinions and "财政厅" in opinions
    chief.click("#diagram-box > summary")  # folded below: opened, the diagram is fitted to its box
    assert chief.locator('#diagram [data-element-id="decide"].hl-current').count() == 1
    assert chief.locator('#diagram [data-element-id="decide"].hl-current').is_visible()
    assert chief.locator('#diagram [data-element-id="review"].hl-done').count() == 1
    no_sideways_scroll(chief, width)
    chief.screenshot(path=str(screenshot_dir / f"inbox-task-{viewport}.png"), full_page=True)

    for name, page in pages.items():
        assert not page.errors, (name, page.errors)
