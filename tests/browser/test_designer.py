"""The designer in a real browser: a new matter from nothing in the Camunda 7 modeler (start → user
task with a form and a candidate group → end), checked (errors listed and marked on the diagram,
bpmnlint included), deployed, and listed as a version."""
from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ROOT, deploy_all

PASSWORD = "correct horse battery"
PID = "dsg_browser"


@pytest.fixture
def dirs(tmp_path):
    processes, forms = tmp_path / "processes", tmp_path / "forms"
    processes.mkdir()
    shutil.copytree(ROOT / "forms", forms)
    for suffix in (".bpmn", ".matter.json"):
        shutil.copy(ROOT / "processes" / f"xmgl_beian{suffix}", processes)
    return processes, forms


@pytest.fixture
def live_server(make_live_server, dirs):
    """The server browser_page talks to: its PROCESSES_DIR / FORMS_DIR are copies (a deploy writes there)."""
    server = make_live_server(PROCESSES_DIR=str(dirs[0]), FORMS_DIR=str(dirs[1]))
    deploy_all(server.app)
    return server


def wait_status(page, words):
    try:
        page.wait_for_function("w => w.some(x => document.querySelector('#dsg-status').textContent.includes(x))",
                               arg=words, timeout=20_000)
    except Exception:
        raise AssertionError(f"status: {page.inner_text('#dsg-status')!r}; {page.inner_text('#dsg-problems')}; "
                             f"{page.errors}") from None
    return page.inner_text("#dsg-status")


def test_create_check_and_deploy_a_matter_in_the_modeler(live_server, dirs, browser_page, screenshot_dir):
    processes, forms = dirs
    server = live_server
    server.add_user("d1", groups=["designer"], password=PASSWORD)

    page = browser_page("desktop")
    server.login(page, "d1", PASSWORD)
    page.goto("/designer")
    page.click("#new-process")
    page.fill("input[name=process_id]", PID)
    page.fill("input[name=name]", "浏览器建模测试")
    with page.expect_navigation():
        page.click("#new-form button")
    page.wait_for_function("window.designer && window.modeler")
    page.evaluate("window.designer.ready")
    # the Camunda 7 properties panel renders (the process is selected when nothing else is)
    page.wait_for_selector("#dsg-properties .bio-properties-panel")
    assert page.locator("#dsg-canvas .djs-container").count() == 1

    # start → user task → end through the modeler's API
    page.evaluate("""() => {
        const modeling = modeler.get('modeling'), registry = modeler.get('elementRegistry');
        const start = registry.get('start');
        const task = modeling.appendShape(start, {type: 'bpmn:UserTask'}, {x: start.x + 200, y: start.y + 18});
        modeling.updateProperties(task, {id: 'review', name: '审查'});
        const end = modeling.appendShape(task, {type: 'bpmn:EndEvent'}, {x: task.x + 250, y: task.y + 40});
        modeling.updateProperties(end, {id: 'end', name: '办结'});
    }""")
    # the user task has neither form nor group yet: 检查 lists it and marks it on the diagram
    page.click("#dsg-check")
    page.wait_for_selector("#dsg-errors li[data-element=review]")
    assert page.locator('.djs-shape.dsg-error[data-element-id="review"]').count() == 1
    assert page.locator(".djs-overlay .dsg-badge").count() >= 1
    page.locator("#dsg-errors li[data-element=review]").first.click()
    assert page.evaluate("modeler.get('selection').get().map(e => e.id)") == ["review"]
    # the properties panel shows the selected task's Camunda 7 groups (forms, user assignment)
    page.wait_for_selector("#dsg-properties .bio-properties-panel-group-header-title >> text=/办理人分配|表单/")
    group_titles = page.locator("#dsg-properties .bio-properties-panel-group-header-title").all_inner_texts()
    assert any("办理人分配" in t for t in group_titles) and any("表单" in t for t in group_titles), group_titles

    # form and candidate group (camunda:formKey / camunda:candidateGroups) and our properties
    page.evaluate("""() => {
        const task = modeler.get('elementRegistry').get('review');
        modeler.get('modeling').updateProperties(task, {
            'camunda:formKey': 'dsg_browser_review', 'camunda:candidateGroups': 'window'});
    }""")
    # a tab per formKey; a form nobody has yet is created, and opens in the form-js editor
    page.wait_for_selector('#dsg-tabs button[data-tab="form:dsg_browser_review"]')
    assert "新建" in page.inner_text('#dsg-tabs button[data-tab="form:dsg_browser_review"]')
    page.click('#dsg-tabs button[data-tab="form:dsg_browser_review"]')
    page.wait_for_selector("#tab-form-dsg_browser_review .fjs-editor-container")

    # the matter's metadata: fields of the side form and the JSON of the rest
    page.click('#dsg-tabs button[data-tab="matter"]')
    meta = json.loads((ROOT / "processes" / "xmgl_beian.matter.json").read_text("utf-8"))
    meta.update(process_id=PID, name="浏览器建模测试")
    page.fill("#dsg-matter-json", json.dumps(meta, ensure_ascii=False))
    page.click("#dsg-matter-apply")
    page.fill('input[data-path="promised_limit.value"]', "1")
    page.click("#dsg-add-material")
    page.locator('#dsg-materials tr:last-child input[data-material="name"]').fill("补充说明")
    state = page.evaluate("designer.state.matter")
    assert state["promised_limit"]["value"] == 1 and state["materials"][-1]["name"] == "补充说明"

    page.click('#dsg-tabs button[data-tab="diagram"]')
    page.click("#dsg-check")
    assert "检查通过" in wait_status(page, ["检查通过", "检查发现", "失败"]), page.inner_text("#dsg-problems")
    assert page.locator(".djs-shape.dsg-error").count() == 0

    page.click("#dsg-deploy")
    assert "已部署为 v1" in wait_status(page, ["已部署", "未部署", "失败"])
    page.screenshot(path=str(screenshot_dir / "designer-modeler-desktop.png"))
    written = (processes / f"{PID}.bpmn").read_text("utf-8")
    assert 'camunda:formKey="dsg_browser_review"' in written and 'isExecutable="true"' in written
    assert json.loads((forms / "dsg_browser_review.form.json").read_text("utf-8"))["id"] == "dsg_browser_review"

    page.goto("/designer")
    section = page.locator(f"#matter-{PID}")
    assert "v1" in section.inner_text() and "d1" in section.locator(".deployed-by").first.inner_text()
    page.screenshot(path=str(screenshot_dir / "designer-list-desktop.png"), full_page=True)
    assert page.errors == []

    # on a phone: the list and the editor fit the width (the panel goes under the canvas)
    phone = browser_page("phone")
    server.login(phone, "d1", PASSWORD)
    for url in ("/designer", f"/designer/{PID}"):
        phone.goto(url)
        if url != "/designer":
            phone.wait_for_selector("#dsg-properties .bio-properties-panel")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), url
    phone.screenshot(path=str(screenshot_dir / "designer-modeler-phone.png"))
    assert phone.errors == []
