"""The task page in the handler's order of work (issue 19 point 3), on shipped matters driven along
their path tests (processes/*.scenarios.json): what is asked (step, deadline, why it came back), the
applicant's data and materials, the decision form with one opinion field and buttons named as the step
decides, the 补正 panel folded below it, other departments' opinions, the diagram and the trail folded.
企业投资项目核准 xmgl_hezhun ("处长退回重审后核准": the chief's decision 退回 is a flow back to
处室审查; the 退回 operation sends it back too) and 企业投资项目备案 xmgl_beian (a 备案 matter)."""
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.common.clock import FakeClock
from app.services.identity.auth import set_password
from tests.conftest import ROOT, deploy_all, make_app
from tests.web.api.helpers import Api
from tests.web.inbox.test_inbox_pages import PASSWORD, Browser

SCENARIOS = {pid: {sc["name"]: sc for sc in json.loads((ROOT / "processes" / f"{pid}.scenarios.json")
                                                       .read_text("utf-8"))["scenarios"]}
             for pid in ("xmgl_hezhun", "xmgl_beian")}
RETURNED = SCENARIOS["xmgl_hezhun"]["处长退回重审后核准"]


@pytest.fixture
def api(db_url):
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    app = make_app(db_url, CLOCK=clock)
    deploy_all(app)
    a = Api(app)
    a.user("applicant_1", "applicant")
    yield a
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def user_for(api, task):
    """The staff user of the task's (first) group, signed-in-able, display name 「<group> 经办人」."""
    if task["assignee"]:
        return task["assignee"]
    group = task["candidate_groups"][0]
    name = f"u_{group}"
    if name not in api.headers:
        api.user(name, groups=[group])
        with api.app.app_context():
            user = db.session.execute(select(User).where(User.username == name)).scalar_one()
            user.display_name = f"{group} 经办人"
            set_password(user, PASSWORD)
            db.session.commit()
    return name


def drive(api, process_id, scenario, steps):
    """Start the scenario's case and complete its first ``steps`` steps through the API."""
    r = api.post("applicant_1", "/api/cases", json={"process_id": process_id, "data": scenario["start"]})
    assert r.status_code == 201, r.json
    case = r.json
    for i, step in enumerate(scenario["steps"][:steps]):
        task = next(t for t in case["current_tasks"] if t["element_id"] == step["task"])
        r = api.post(user_for(api, task), f"/api/tasks/{task['id']}/complete", json={"data": step["data"]})
        assert r.status_code == 200, (i, step["task"], r.json)
        case = r.json
    return case


def open_page(api, case, element):
    task = next(t for t in case["current_tasks"] if t["element_id"] == element)
    who = user_for(api, task)
    browser = Browser(api.app, who)
    return browser, task, browser.get(f"/inbox/tasks/{task['id']}")


def form_data(page):
    return json.loads(re.search(r'<script type="application/json" id="form-data">(.*?)</script>', page, re.S).group(1))


def positions(page, *markers):
    found = [page.find(m) for m in markers]
    assert all(p >= 0 for p in found), dict(zip(markers, found))
    return found


def test_a_decision_return_shows_why_on_top_and_the_form_as_it_was_completed(api):
    case = drive(api, "xmgl_hezhun", RETURNED, 5)  # … 处长审核 decides 退回: back to 处室审查
    _, task, page = open_page(api, case, "division_review")
    first = RETURNED["steps"][1]["data"]
    # why it came back, at the top: the reason, the step, who (by name) and when (Beijing time)
    banner = re.search(r'<p class="came-back" id="came-back".*?</p>', page, re.S).group(0)
    assert "退回原因" in banner and "请补充征求应急管理厅意见后重新报审。" in banner
    assert "处长审核" in banner and "investment_chief 经办人" in banner and "2026-03-02 09:00" in banner
    assert "u_investment_chief" not in banner and "T" not in re.sub(r"<[^>]+>", "", banner).replace("\n", "")
    # the form comes back with what the step was completed with, the decision-free fields all there
    data = form_data(page)
    assert data["review_opinion"] == first["review_opinion"] and data["cs_depts"] == first["cs_depts"]
    assert data["review_points"] == first["review_points"] and data["entrust_assessment"] == "no"
    assert data["project_name"] == RETURNED["start"]["project_name"]  # the applicant's data still under it
    # the handler's order: asked → applicant's data and materials → decision → 补正 → opinions → trail
    order = positions(page, 'id="asked"', 'id="start-data"', 'id="files"', 'id="work"', 'id="action-bar"',
                      'id="more-ops"', 'id="countersigns"', 'id="diagram-box"', 'id="timeline"')
    assert order == sorted(order), order
    assert page.index('id="came-back"') < page.index('id="start-data"')
    # the diagram and the trail are folded (closed <details>); the opinions of the departments are not
    assert re.search(r'<details class="card fold" id="diagram-box">', page)
    assert re.search(r'<details class="card fold" id="timeline">', page)
    assert '<section class="card" id="countersigns">' in page
    # one opinion field: the form has 审查意见, so the page asks for none of its own
    assert 'id="opinion"' not in page and 'id="btn-approve"' in page


def test_the_banner_leaves_once_the_step_is_done_and_does_not_follow_to_other_steps(api):
    case = drive(api, "xmgl_hezhun", RETURNED, 6)  # 处室审查 completed again → 会签
    for element in ("countersign",):
        _, _, page = open_page(api, case, element)
        assert 'id="came-back"' not in page and "退回原因" not in page
    case = drive(api, "xmgl_hezhun", RETURNED, 4)  # a first visit of 处长审核: nothing came back
    _, _, page = open_page(api, case, "chief_review")
    assert 'id="came-back"' not in page
    assert "chief_decision" not in form_data(page) or form_data(page)["chief_decision"] == "approve"


def test_the_return_operation_shows_its_reason_and_prefills_the_reopened_step(api):
    case = drive(api, "xmgl_hezhun", RETURNED, 4)  # at 处长审核, after both countersigns
    chief, task, page = open_page(api, case, "chief_review")
    target = re.search(r'<select name="target" required><option value="([^"]+)">处室审查', page).group(1)
    r = chief.post(f"/inbox/tasks/{task['id']}/return", {"target": target, "reason": "会签部门不全，请补充征求应急管理厅意见"})
    assert "已退回" in chief.follow(r)
    case = api.get("applicant_1", f"/api/cases/{case['id']}").json
    _, reopened, page = open_page(api, case, "division_review")
    banner = re.search(r'<p class="came-back" id="came-back".*?</p>', page, re.S).group(0)
    assert "会签部门不全，请补充征求应急管理厅意见" in banner and "处长审核" in banner
    assert "investment_chief 经办人" in banner
    data = form_data(page)
    assert data["review_opinion"] == RETURNED["steps"][1]["data"]["review_opinion"]
    assert data["cs_depts"] == ["cs_natural_resources", "cs_ecology"]


def test_every_countersign_form_names_its_department(api):
    case = drive(api, "xmgl_hezhun", RETURNED, 2)  # 处室审查 asked 自然资源厅 and 生态环境厅
    names = set()
    for task in [t for t in case["current_tasks"] if t["element_id"] == "countersign"]:
        who = user_for(api, task)
        page = Browser(api.app, who).get(f"/inbox/tasks/{task['id']}")
        data = form_data(page)
        names.add(data["cs"]["dept_name"])
        assert data["cs"]["dept"] == task["candidate_groups"][0]
        assert "会签部门：{{cs.dept_name}}" in page  # the form's text, filled in by form-js from the data
        assert 'id="opinion"' not in page  # the form's 会签意见 is the one opinion field
    assert names == {"自然资源厅", "生态环境厅"}


def test_a_completed_countersign_page_still_names_its_department(api):
    case = drive(api, "xmgl_hezhun", RETURNED, 3)
    done = [row for row in api.get("applicant_1", f"/api/cases/{case['id']}").json["history"]
            if row["action"] == "complete" and row.get("element_id") == "countersign"]
    assert done, "no countersign completed"
    who = done[0]["actor"]
    page = Browser(api.app, who).get(f"/inbox/tasks/{done[0]['task_id']}")
    data = form_data(page)
    assert data["cs"]["dept_name"] in ("自然资源厅", "生态环境厅") and data["cs"]["agree"] == "yes"


@pytest.mark.parametrize("process_id,scenario,steps,element,label", [
    ("xmgl_hezhun", "处长退回重审后核准", 0, "window_review", "不予受理"),
    ("xmgl_hezhun", "处长退回重审后核准", 10, "leader_decision", "不予许可"),
    ("xmgl_beian", "不予受理", 0, "window_review", "不予受理"),
    ("xmgl_beian", "限制类项目征求意见后不予备案", 3, "filing_decision", "不予备案"),
])
def test_the_reject_button_says_what_the_step_decides(api, process_id, scenario, steps, element, label):
    case = drive(api, process_id, SCENARIOS[process_id][scenario], steps)
    browser, task, page = open_page(api, case, element)
    if 'id="btn-claim"' in page:
        page = browser.follow(browser.post(f"/inbox/tasks/{task['id']}/claim"))
    button = re.search(r'<button class="danger" id="btn-reject"[^>]*>([^<]*)</button>', page).group(1)
    assert button == label
    others = {"不予受理", "不予许可", "不予备案"} - {label}
    meta = re.search(r'<script type="application/json" id="task-meta">(.*?)</script>', page, re.S).group(1)
    assert label in meta and not any(o in meta for o in others)


def test_the_correction_panel_is_folded_below_the_decision_form(api):
    case = drive(api, "xmgl_beian", SCENARIOS["xmgl_beian"]["不予受理"], 0)
    browser, task, page = open_page(api, case, "window_review")
    page = browser.follow(browser.post(f"/inbox/tasks/{task['id']}/claim"))
    panel = re.search(r'<details class="card fold" id="correction-panel"[^>]*>', page).group(0)
    assert " open" not in panel and 'data-mode="window"' in panel
    assert page.index('id="action-bar"') < page.index('id="correction-panel"') < page.index('id="timeline"')
    assert 'id="corr-editor"' in page  # inside the fold, one click away
    # a notice posted with an error comes back with the panel open
    r = browser.c.post(f"/correction/tasks/{task['id']}", data={"csrf_token": browser.csrf, "note": "", "days": ""})
    assert r.status_code == 422, r.status_code
    again = r.get_data(as_text=True)
    assert re.search(r'<details class="card fold" id="correction-panel"[^>]* open>', again)


def test_en_page_names_the_buttons_in_english(api):
    case = drive(api, "xmgl_beian", SCENARIOS["xmgl_beian"]["限制类项目征求意见后不予备案"], 3)
    browser, task, _ = open_page(api, case, "filing_decision")
    page = browser.get(f"/inbox/tasks/{task['id']}?lang=en")
    assert re.search(r'id="btn-reject"[^>]*>Refuse to file</button>', page)


def test_a_step_reached_again_without_a_return_starts_from_the_applicants_data(api):
    # 予以备案（含一次补正）: the window asks for 补正, the applicant answers, the window reviews again
    scenario = SCENARIOS["xmgl_beian"]["予以备案（含一次补正，无需征求意见）"]
    case = drive(api, "xmgl_beian", scenario, 2)
    _, _, page = open_page(api, case, "window_review")
    assert 'id="came-back"' not in page
    data = form_data(page)
    assert "window_opinion" not in data and "missing_items" not in data
    assert data["window_decision"] == "accept"


def test_a_withdrawn_step_shows_what_it_was_completed_with(api):
    case = drive(api, "xmgl_hezhun", RETURNED, 1)  # 窗口收件审查 done, 处室审查 open and untouched
    done = next(row for row in api.get("applicant_1", f"/api/cases/{case['id']}").json["history"]
                if row["action"] == "complete" and row.get("element_id") == "window_review")
    clerk = Browser(api.app, done["actor"])
    clerk.get(f"/inbox/tasks/{done['task_id']}")
    r = clerk.post(f"/inbox/tasks/{done['task_id']}/withdraw", {"reason": "受理意见需修改"})
    assert "已撤回" in clerk.follow(r)
    page = clerk.get(f"/inbox/tasks/{done['task_id']}")
    data = form_data(page)
    assert data["window_opinion"] == RETURNED["steps"][0]["data"]["window_opinion"] and data["paper_received"] is True
    assert 'id="came-back"' not in page  # taken back by oneself: no 退回原因
