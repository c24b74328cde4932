"""Issue 6 "Done when": in Debian's chromium a designer creates a new matter from nothing in the
modeler (start → user task with a form and a candidate group → end), writes and runs a path test on
the page, deploys it; an applicant starts it through the API (bearer token, real HTTP to the live
server) and a window clerk completes it from the inbox; the case ends."""
from __future__ import annotations

import json
import urllib.request

from sqlalchemy import select

from app.extensions import db
from app.models import Case, ProcessInstance
from tests.browser.test_designer import PASSWORD, dirs, live_server, wait_status  # noqa: F401
from tests.conftest import ROOT

PID = "dsg_journey"


def test_new_matter_from_the_modeler_to_a_finished_case(live_server, dirs, browser_page):
    processes, forms = dirs
    server = live_server
    server.add_user("d1", groups=["designer"], password=PASSWORD)
    server.add_user("w1", groups=["window"], password=PASSWORD)
    alice = server.add_user("alice", kind="applicant")

    # -- the designer: a new matter from nothing -------------------------------------------------------
    page = browser_page("desktop")
    server.login(page, "d1", PASSWORD)
    page.goto("/designer/new")
    page.fill("input[name=process_id]", PID)
    page.fill("input[name=name]", "旅程测试事项")
    with page.expect_navigation():
        page.click("#new-form button")
    page.wait_for_function("window.designer && window.modeler")
    page.evaluate("window.designer.ready")
    page.evaluate("""() => {
        const modeling = modeler.get('modeling'), registry = modeler.get('elementRegistry');
        const start = registry.get('start');
        const task = modeling.appendShape(start, {type: 'bpmn:UserTask'}, {x: start.x + 200, y: start.y + 18});
        modeling.updateProperties(task, {id: 'review', name: '窗口审查',
            'camunda:formKey': 'dsg_journey_review', 'camunda:candidateGroups': 'window'});
        const end = modeling.appendShape(task, {type: 'bpmn:EndEvent'}, {x: task.x + 250, y: task.y + 40});
        modeling.updateProperties(end, {id: 'end', name: '办结'});
    }""")
    page.wait_for_selector('#dsg-tabs button[data-tab="form:dsg_journey_review"]')
    page.click('#dsg-tabs button[data-tab="matter"]')
    meta = json.loads((ROOT / "processes" / "xmgl_beian.matter.json").read_text("utf-8"))
    meta.update(process_id=PID, name="旅程测试事项")
    page.fill("#dsg-matter-json", json.dumps(meta, ensure_ascii=False))
    page.click("#dsg-matter-apply")

    # a path test written on the page: first a wrong expectation (FAIL with the path), then right
    page.click('#dsg-tabs button[data-tab="scenarios"]')
    page.click("#dsg-add-scenario")
    card = page.locator(".dsg-scenario").first
    card.locator('[data-f="name"]').fill("受理即办结")
    card.locator('[data-f="start"]').fill('{"opinion": "请求办理"}')
    card.locator('[data-step="task"]').fill("review")
    card.locator('[data-step="data"]').fill('{"opinion": "同意"}')
    card.locator('[data-f="end"]').fill("start")
    page.click("#dsg-run-scenarios")
    page.wait_for_selector(".dsg-scenario-result.fail")
    result = page.inner_text(".dsg-scenario-result")
    assert "FAIL" in result and "start → review → end" in result and "expected end 'start'" in result, result
    page.locator(".dsg-scenario").first.locator('[data-f="end"]').fill("end")
    page.click("#dsg-run-scenarios")
    page.wait_for_selector(".dsg-scenario-result.pass")
    assert "1 通过" in page.inner_text("#dsg-scenario-summary")

    page.click("#dsg-deploy")
    assert "已部署为 v1" in wait_status(page, ["已部署", "未部署", "失败"]), page.inner_text("#dsg-problems")
    assert json.loads((processes / f"{PID}.scenarios.json").read_text("utf-8"))["scenarios"][0]["end"] == "end"
    assert (forms / "dsg_journey_review.form.json").exists() and (forms / "dsg_journey_apply.form.json").exists()
    assert page.errors == []

    # -- the applicant starts it through the API (over HTTP, bearer token) ---------------------------------
    req = urllib.request.Request(f"{server.url}/api/cases", method="POST",
                                 data=json.dumps({"process_id": PID, "data": {"opinion": "请求办理"}}).encode(),
                                 headers=dict(alice, **{"Content-Type": "application/json"}))
    with urllib.request.urlopen(req, timeout=20) as resp:
        assert resp.status == 201
        case = json.loads(resp.read())
    assert [t["element_id"] for t in case["current_tasks"]] == ["review"]

    # -- the window clerk completes it from the inbox --------------------------------------------------------
    w1 = browser_page("desktop")
    server.login(w1, "w1", PASSWORD)
    w1.goto("/inbox")
    assert case["case_no"] in w1.inner_text("main")
    with w1.expect_navigation():
        w1.locator("table.rows a.case-no").first.click()
    w1.wait_for_function("document.body.dataset.form && document.body.dataset.diagram")
    assert w1.evaluate("document.body.dataset.form") == "ready"
    with w1.expect_navigation():
        w1.click("#btn-claim")
    w1.wait_for_function("document.body.dataset.form === 'ready'")
    w1.locator("#taskform textarea").fill("材料齐全，同意办结")
    w1.click("#btn-approve")
    w1.wait_for_url("**/inbox")
    assert "办理完成" in w1.inner_text("main")
    assert w1.errors == []

    with server.app.app_context():
        c = db.session.execute(select(Case).where(Case.case_no == case["case_no"])).scalar_one()
        inst = db.session.get(ProcessInstance, c.instance_id)
        assert (inst.status, inst.end_event) == ("complete", "end")
        assert c.current_step is None


def test_open_a_camunda_modeler_file_and_deploy_it_unchanged(live_server, dirs, browser_page):
    from tests.web.designer.test_designer_import import CAMUNDA_FILE, CM_PID
    processes, _ = dirs
    live_server.add_user("d1", groups=["designer"], password=PASSWORD)
    page = browser_page("desktop")
    live_server.login(page, "d1", PASSWORD)
    page.goto("/designer/xmgl_beian")
    page.wait_for_function("window.designer && window.modeler")
    page.evaluate("window.designer.ready")
    page.set_input_files("#dsg-open-file", files=[{"name": "cm_import.bpmn", "mimeType": "application/xml",
                                                   "buffer": CAMUNDA_FILE.encode("utf-8")}])
    assert "已打开 cm_import.bpmn" in wait_status(page, ["已打开", "无法打开"])
    assert page.inner_text("#dsg-pid") == CM_PID
    assert page.evaluate("!!modeler.get('elementRegistry').get('Activity_sign')")
    page.wait_for_selector('#dsg-tabs button[data-tab="form:cm_import_sign"]')
    assert page.evaluate("designer.collect().then(p => p.bpmn)") == CAMUNDA_FILE  # the file's bytes, as loaded
    page.click('#dsg-tabs button[data-tab="matter"]')
    meta = json.loads((ROOT / "processes" / "xmgl_beian.matter.json").read_text("utf-8"))
    meta.update(process_id=CM_PID, name="外部建模导入测试")
    page.fill("#dsg-matter-json", json.dumps(meta, ensure_ascii=False))
    page.click("#dsg-matter-apply")
    page.click("#dsg-deploy")
    assert "已部署为 v1" in wait_status(page, ["已部署", "未部署", "失败"]), page.inner_text("#dsg-problems")
    assert (processes / f"{CM_PID}.bpmn").read_bytes() == CAMUNDA_FILE.encode("utf-8")
    assert page.errors == []
