"""Issue 16 in Debian's chromium (desktop): the new matters built from the shared sub-processes
(processes/lib/*.bpmn, docs/bpmn-dialect.md "Families") work end to end.

An applicant applies from the portal (catalog → guide → SMS sign-in → form-js start form typed in the
page → one upload per required material → submit) for three new matters: 企业投资项目核准变更
(xmgl_hezhun_bg), 外商投资项目核准 (wstz_hezhun) and 政府投资项目建议书审批 (zftz_jys), none of which
needs a 前置事项. Each gets a case number, on the page and in the database.

The 核准变更 case then goes the whole way in the staff 工作台: the window clerk accepts (lib_window);
the investment handler's 处室审查 asks for a technical evaluation and two departments' opinions; the
assessment centre completes 技术评估 five working days later — a phase that does not count, so the
statutory due date moves by those working days (app/services/cases/phases.py); 自然资源厅 answers,
生态环境厅 stays silent: past 7 working days the scheduler's ``drain`` fires the boundary timer and its
task is completed as "逾期未回复，视为同意" (lib_countersign), shown in the 会签意见 panel and the trail;
the chief and the leader approve (lib_decision) → the applicant's case page reads 准予许可/办结.

No script errors and no failed responses on any page."""
from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseEvent, HumanTask
from app.services.cases.timers import drain
from app.services.clocks.calendar import current_calendar
from tests.conftest import deploy_all
from tests.services.portal.helpers import PDF, PNG, credit_code, last_code, make_applicant

pytestmark = pytest.mark.browser

BJ = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct horse battery"
STAFF = {"w1": ["window"], "inv1": ["investment"], "ac1": ["assess_center"], "nr1": ["cs_natural_resources"],
         "eco1": ["cs_ecology"], "chief1": ["investment_chief"], "lead1": ["leader"]}
MOBILE = "13912345678"
COMPANY = "江苏长江智造科技有限公司"
CREDIT = credit_code("91320115MA27LQ3C")
DEEMED = "逾期未回复，视为同意"

COMMON = {"project_name": "长江智造南京江宁高端装备产业园项目", "project_code": "2603-320115-04-01-518273",
          "region_code": "320115", "location_detail": "南京市江宁区秣陵街道蓝霞路 88 号",
          "total_investment": "186000", "construction_content": "新建联合厂房 6 栋及研发中心，形成年产工业机器人 5000 台套能力。",
          "applicant_name": COMPANY, "applicant_code": CREDIT, "legal_representative": "王立新",
          "contact_person": "陈思远", "contact_phone": MOBILE}

#: the three matters: catalog search words, the form's own fields (typed / radios / checklists)
MATTERS = {
    "xmgl_hezhun_bg": {
        "search": "核准变更", "name": "企业投资项目核准变更",
        "texts": {"original_approval_no": "苏发改许发〔2025〕318号",
                  "change_description": "因园区规划调整，建设地点由蓝霞路 66 号调整至 88 号，建设规模不变。"},
        "radios": [], "checks": ["建设地点"]},
    "wstz_hezhun": {
        "search": "外商投资项目核准", "name": "外商投资项目核准",
        "texts": {"foreign_investors": "新加坡远航控股有限公司（新加坡），出资 9000 万美元，占 60%",
                  "chinese_investors": "江苏长江智造科技有限公司，出资 6000 万美元，占 40%",
                  "total_investment_usd": "15000", "foreign_share": "60"},
        "radios": ["新设外商投资企业", "不属于负面清单所列领域", "不属于外商投资安全审查范围"], "checks": []},
    "zftz_jys": {
        "search": "项目建议书", "name": "政府投资项目建议书审批",
        "texts": {"necessity": "补齐区域公共实训基础设施短板，服务高端装备产业工人技能提升。",
                  "plan_basis": "列入《江苏省“十四五”职业教育发展规划》及省级三年滚动投资计划。",
                  "funding_plan": "总投资 18.6 亿元，其中省级财政资金 6 亿元，其余由市级财政安排。",
                  "fiscal_funds": "60000", "construction_period_months": "24",
                  "compiler_unit": "江苏省工程咨询中心有限公司"},
        "radios": ["直接投资"], "checks": []},
}
REFERENCE = "xmgl_hezhun_bg"


@pytest.fixture
def live_server(make_live_server):
    """The shipped matters and sub-processes, staff of every step with a password, an enterprise
    applicant with a mobile number."""
    server = make_live_server()
    deploy_all(server.app)
    for name, groups in STAFF.items():
        server.add_user(name, groups=groups, password=PASSWORD)
    make_applicant(server.app, MOBILE, name=COMPANY, code=CREDIT)
    return server


# -- helpers ---------------------------------------------------------------------------------------
def field(page, key, scope="#start-form"):
    """A form-js field's input by its key: the shipped forms name their fields Field_<key> or
    Field_<form>_<key>, so the id ends with ``_<key>`` either way."""
    return page.locator(f"{scope} [id$='_{key}']:is(input, textarea)").first


def radio(page, label, scope="#taskform"):
    page.locator(scope).get_by_role("radio", name=label, exact=True).check()


def check(page, label, scope="#taskform"):
    page.locator(scope).get_by_role("checkbox", name=label, exact=True).check()


def fill_start_form(page, matter):
    texts = {**COMMON, **matter["texts"]}
    for key, value in texts.items():
        box = field(page, key)
        box.fill(value)  # over what the profile prefilled
        box.press("Tab")
    page.locator("#start-form [id$='-Field_industry']").locator("xpath=..").locator(".fjs-select-display").click()
    page.locator("#start-form .fjs-dropdownlist-item", has_text="装备制造").click()
    for label in matter["radios"]:
        radio(page, label, "#start-form")
    for label in matter["checks"]:
        check(page, label, "#start-form")
    field(page, "commitment").check()
    page.wait_for_timeout(100)
    for key, value in texts.items():
        assert field(page, key).input_value() == value, key


def apply(page, app, process_id, matter, tmp_path, signed_in) -> tuple[int, str]:
    """catalog → guide → (sign-in) → draft → form and uploads → submit; the case id and number."""
    page.goto("/portal/")
    page.fill("main input[name=q]", matter["search"])
    with page.expect_navigation():
        page.press("main input[name=q]", "Enter")
    with page.expect_navigation():
        page.click(f'[data-process-id="{process_id}"] h3 a')
    try:  # bpmn-js draws the whole diagram: on a loaded 2-CPU runner it once took over 10 s
        page.wait_for_selector("#diagram svg", timeout=30_000)
    except PlaywrightTimeout:
        raise AssertionError(f"the guide of {process_id} drew no diagram: {page.errors}") from None
    assert matter["name"] in page.inner_text("main")
    with page.expect_navigation():
        page.click("#apply")
    if not signed_in:
        assert "/portal/login" in page.url
        page.fill("input[name=mobile]", MOBILE)
        with page.expect_navigation():
            page.click("button[value=send_code]")
        page.fill("input[name=code]", last_code(app, MOBILE))
        with page.expect_navigation():
            page.click("button[value=login]")
    page.wait_for_url(f"**/portal/apply/{process_id}")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.wait_for_url("**/portal/drafts/*")
    case_id = int(page.url.rsplit("/", 1)[1])
    page.wait_for_selector("#start-form .fjs-form-field")
    fill_start_form(page, matter)
    page.click("#save-draft")
    page.wait_for_function("document.getElementById('save-status').textContent.indexOf('已暂存') >= 0")
    slots = page.locator("#materials .slot")
    required = [i for i in range(slots.count()) if slots.nth(i).locator(".tag.req").count()]
    assert required, process_id
    for n, index in enumerate(required):
        blob, name = (PDF, f"{process_id}-{index}.pdf") if n % 2 == 0 else (PNG, f"{process_id}-{index}.png")
        path = tmp_path / name
        path.write_bytes(blob)
        page.set_input_files(f"#material-{index} form.upload input[type=file]", str(path))
        with page.expect_navigation():
            page.click(f"#material-{index} form.upload button[type=submit]")
        assert "已上传" in page.inner_text(f"#material-{index}")
    page.wait_for_selector("#start-form .fjs-form-field")
    page.click("#submit-case")
    page.wait_for_url(f"**/portal/cases/{case_id}")
    case_no = page.inner_text("#progress-card .case-no").replace("办件编号", "").strip()
    assert re.fullmatch(r"320000-20260302-\d{6}", case_no), case_no
    return case_id, case_no


def sign_in(page, username):
    """The staff sign-in form at /login, straight on to the 待办 list (?next=) rather than the home page."""
    page.goto("/login?next=/inbox")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url.endswith("/inbox"), (username, page.url, page.inner_text("main"))


def open_task(page, case_no, step_name, fresh=False):
    """From the 待办 list to the task ``step_name`` of the case, its form drawn; claimed if needed.
    ``fresh``: the page shows the list just loaded (after signing in)."""
    if not fresh:
        page.goto("/inbox")
    row = page.locator("table.rows tr.inbox-row", has_text=case_no).filter(has_text=step_name)
    assert row.count() == 1, page.inner_text("main")
    with page.expect_navigation():
        row.locator("a.case-no").first.click()
    page.wait_for_function("document.body.dataset.form")
    assert page.evaluate("document.body.dataset.form") == "ready", page.evaluate("inboxPage.errors")
    if page.locator("#btn-claim").count():
        with page.expect_navigation():
            page.click("#btn-claim")
        page.wait_for_function("document.body.dataset.form === 'ready'")


def approve(page):
    page.click("#btn-approve")
    page.wait_for_url("**/inbox")
    assert "办理完成" in page.inner_text("main"), page.inner_text("main")


def in_app(server, fn):
    with server.app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def case_row(case_id):
    return db.session.get(Case, case_id)


# -- the journey -----------------------------------------------------------------------------------
def test_three_new_matters_and_one_to_the_decision(live_server, browser_page, tmp_path):
    started = time.monotonic()
    clock = live_server.app.config["CLOCK"]
    pages, fresh = {}, set()

    def staff(name):
        """The staff member's page, signed in (on the 待办 list) the first time."""
        if name not in pages:
            pages[name] = browser_page("desktop")
            sign_in(pages[name], name)
            fresh.add(name)
        return pages[name]

    def task(name, step_name):
        page = staff(name)
        open_task(page, case_no, step_name, fresh=name in fresh)
        fresh.discard(name)
        return page

    # 1. the applicant applies for the three matters
    me = pages["applicant"] = browser_page("desktop")
    cases = {}
    for n, (process_id, matter) in enumerate(MATTERS.items()):
        cases[process_id] = apply(me, live_server.app, process_id, matter, tmp_path, signed_in=n > 0)
        clock.advance(minutes=10)

    def submitted():
        rows = {pid: case_row(cid) for pid, (cid, _) in cases.items()}
        return {pid: (c.process_id, c.case_no, c.status, c.data.get("project_code")) for pid, c in rows.items()}
    for pid, (process_id, number, status, code) in in_app(live_server, submitted).items():
        assert process_id == pid and number == cases[pid][1] and code == COMMON["project_code"]
        assert status in ("submitted", "received"), (pid, status)
    assert len({no for _, no in cases.values()}) == 3
    me.goto("/portal/cases")
    listing = me.inner_text("main")
    assert all(no in listing for _, no in cases.values()), listing
    case_id, case_no = cases[REFERENCE]

    # 2. the window clerk accepts the 核准变更 (lib_window)
    clock.advance(minutes=30)
    w1 = task("w1", "窗口收件审查")
    radio(w1, "受理")
    field(w1, "window_opinion", "#taskform").fill("申请材料齐全，符合法定形式，予以受理。")
    approve(w1)
    due_accepted = in_app(live_server, lambda: case_row(case_id).statutory_due)
    assert due_accepted is not None

    # 3. 处室审查: technical evaluation, two departments' opinions
    clock.advance(hours=1)
    inv1 = task("inv1", "处室审查")
    check(inv1, "变更后仍符合发展规划和产业政策")
    radio(inv1, "是")
    check(inv1, "自然资源厅")
    check(inv1, "生态环境厅")
    field(inv1, "review_opinion", "#taskform").fill("变更理由充分，拟委托技术评估并征求自然资源、生态环境部门意见。")
    approve(inv1)
    eval_start = clock()

    def on_evaluation():
        case = case_row(case_id)
        return case.status, case.clock_state, case.statutory_due
    status, clock_state, due = in_app(live_server, on_evaluation)
    assert (status, clock_state, due) == ("special_procedure", "suspended", due_accepted)

    # 4. 技术评估 by the assessment centre a week later: the phase does not count
    clock.set(datetime(2026, 3, 9, 10, 0, tzinfo=BJ))  # Monday, one week on
    ac1 = task("ac1", "技术评估")
    radio(ac1, "建议批准")
    field(ac1, "evaluation_opinion", "#taskform").fill("变更后项目选址符合国土空间规划，建议同意变更。")
    field(ac1, "evaluation_report_no", "#taskform").fill("苏咨评〔2026〕41号")
    approve(ac1)

    def after_evaluation():
        case = case_row(case_id)
        cal = current_calendar()
        lasted = cal.working_days_between(eval_start.astimezone(BJ).date(), clock().astimezone(BJ).date())
        resumed = db.session.execute(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action == "resume")).scalars().all()
        return (case.status, case.clock_state, case.statutory_due, case.suspended_days, lasted,
                cal.add_working_days(due_accepted, lasted), [e.data_change for e in resumed])
    status, clock_state, due, suspended, lasted, expected_due, resumed = in_app(live_server, after_evaluation)
    assert lasted == 5, lasted
    assert (status, clock_state, suspended) == ("accepted", "running", lasted)
    assert due == expected_due and due > due_accepted, (due_accepted, due, expected_due)
    assert len(resumed) == 1 and resumed[0]["suspended_days"] == lasted and resumed[0]["phase"] == "technical_evaluation"

    # 5. 会签: 自然资源厅 answers in the browser, 生态环境厅 stays silent
    clock.advance(hours=2)
    nr1 = task("nr1", "相关部门会签")
    radio(nr1, "同意")
    nr1.locator("#taskform textarea").fill("自然资源厅：变更后选址符合国土空间规划，同意。")
    approve(nr1)
    eco1 = staff("eco1")
    eco1.goto("/inbox")
    assert eco1.locator("table.rows tr.inbox-row", has_text=case_no).count() == 1

    # past 7 working days the scheduler fires the boundary timer: deemed consent
    clock.set(datetime(2026, 3, 19, 9, 0, tzinfo=BJ))  # 8 working days after the countersign opened
    fired = in_app(live_server, drain)
    assert fired >= 1, fired

    def after_deemed():
        tasks = db.session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.element_id == "countersign")).scalars().all()
        open_steps = db.session.execute(select(HumanTask.name).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready")).scalars().all()
        deemed = db.session.execute(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action == "deemed")).scalars().all()
        return (sorted((t.candidate_groups[0], t.state, t.completed_by, t.outcome, t.opinion) for t in tasks),
                open_steps, [(e.actor, e.element_id, e.opinion) for e in deemed])
    cs_tasks, open_steps, deemed = in_app(live_server, after_deemed)
    assert [row[:4] for row in cs_tasks] == [("cs_ecology", "completed", "system", "deemed"),
                                             ("cs_natural_resources", "completed", "nr1", "approve")], cs_tasks
    assert cs_tasks[0][4] == DEEMED, cs_tasks
    assert deemed == [("system", "countersign", DEEMED)], deemed
    assert open_steps == ["处长审核"], open_steps
    eco1.goto("/inbox")
    assert eco1.locator("table.rows tr.inbox-row", has_text=case_no).count() == 0

    # the same drain accepted the other two matters' cases, left 5 working days at the window (视为受理)
    def others():
        return {pid: (case_row(cid).status, db.session.execute(select(CaseEvent.actor).where(
            CaseEvent.case_id == cid, CaseEvent.action == "deemed_accept")).scalars().all())
            for pid, (cid, _) in cases.items() if pid != REFERENCE}
    assert in_app(live_server, others) == {pid: ("accepted", ["system"]) for pid in MATTERS if pid != REFERENCE}

    # 6. the chief sees both opinions, the deemed one with its reason, and approves; the leader approves
    chief = task("chief1", "处长审核")
    opinions = chief.inner_text("#countersigns")
    assert "自然资源厅：变更后选址符合国土空间规划，同意。" in opinions, opinions
    deemed_row = chief.locator("#countersigns tr", has_text="生态环境厅")
    assert DEEMED in deemed_row.inner_text(), opinions
    chief.click("#timeline > summary")  # the trail is folded below the decision (issue 19)
    assert DEEMED in chief.inner_text("#timeline")
    assert "技术评估" in chief.inner_text("#timeline")
    radio(chief, "同意，报委领导审定")
    field(chief, "chief_opinion", "#taskform").fill("同意变更，报委领导审定。")
    approve(chief)
    clock.advance(hours=1)
    lead = task("lead1", "委领导审定")
    radio(lead, "同意（准予许可 / 予以确认）")
    field(lead, "decision_opinion", "#taskform").fill("同意。")
    field(lead, "document_no", "#taskform").fill("苏发改许发〔2026〕77号")
    approve(lead)

    def decided():
        case = case_row(case_id)
        return case.status, case.clock_state
    status, clock_state = in_app(live_server, decided)
    assert (status, clock_state) == ("approved", "stopped"), (status, clock_state)

    # the applicant's case page: 准予许可/办结
    me.goto(f"/portal/cases/{case_id}")
    assert me.inner_text("#status-label") == "准予许可/办结"
    assert case_no in me.inner_text("#progress-card")

    for name, page in pages.items():
        assert not page.errors, (name, page.errors)
    print(f"\nnew matters journey: {time.monotonic() - started:.1f}s")
