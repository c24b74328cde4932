"""Issue 15, "Done when" (first bullet), in Debian's chromium at 1280×800, against the stand-ins of
the outside systems as real servers: the unified identity provider (OpenID Connect), the national
investment project platform and the provincial 一张网's exchange gateway.

The applicant signs in through the identity provider (the demo enterprise 91320000MA1XY0000C; its
account here is linked by code and mobile) and the portal shows that identity → applies for the
shipped 企业投资项目备案 (xmgl_beian) → types a 项目代码 the platform knows for that enterprise → the
start form is prefilled from the platform → fills the rest, uploads the required materials, submits →
the window accepts and the investment division approves with a 备案证 number (through the API, as
staff) → the outbox is sent as the scheduler sends it → the 一张网 holds 申请, 受理, 办结 (准予许可, 6)
once each and in order, the investment platform holds the decision with the number, and the
applicant's case page shows 准予许可/办结.

A second, shorter check: a 项目代码 owned by another enterprise is refused under the form, and
submitting is refused with the same message; nothing is written (no case number, no outbox message,
no stored project, nothing at either stand-in)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case
from app.models.docking_identity import DockingIdentity
from app.models.docking_projects import DockingProject
from app.models.exchange import OutboxMessage
from app.services.messaging.outbox import deliver_due
from tests.conftest import add_user, deploy_all
from tests.fakes.idp_standin import IdpStandIn
from tests.fakes.tzxm_standin import DEMO_OWNER, OTHER_OWNER, TzxmStandIn
from tests.fakes.ywtb_standin import YwtbStandIn
from tests.services.portal.helpers import PDF, PNG, make_applicant

pytestmark = pytest.mark.browser

PROCESS = "xmgl_beian"
MOBILE = "13800138000"            # the demo enterprise's mobile at the identity provider (idp-ent-0001)
COMPANY = "江苏示范能源科技有限公司"
OWN_CODE = "2603-320111-04-01-900001"     # the platform's project of the demo enterprise
OTHER_CODE = "2603-320100-04-01-900009"   # a project of 南京他方实业有限公司
FILING_NO = "苏发改备〔2026〕0302号"
OWN_PROJECT = {"project_name": "江苏示范能源 20MW 分布式光伏发电项目", "region_code": "320111",
               "location_detail": "南京市江北新区示范路 8 号",
               "construction_content": "利用厂房屋顶建设 20MW 分布式光伏电站及配套升压设施。",
               "applicant_name": COMPANY, "applicant_code": DEMO_OWNER[0]}
#: the staff steps of the shipped 备案 matter on its shortest approving path
STEPS = [("window_review", {"window_decision": "accept", "paper_received": True,
                            "window_opinion": "申请材料齐全，符合法定形式，予以受理。"}),
         ("filing_decision", {"policy_check_points": ["not_prohibited", "not_ratification", "info_complete"],
                              "decision": "approve", "decision_opinion": "项目不属于禁止类和核准类项目，备案信息完整，予以备案。",
                              "filing_no": FILING_NO})]


@pytest.fixture
def standins():
    idp = IdpStandIn().start()
    tzxm = TzxmStandIn().seed_demo().start()
    ywtb = YwtbStandIn().start()
    yield {"idp": idp, "tzxm": tzxm, "ywtb": ywtb}
    for s in (idp, tzxm, ywtb):
        s.stop()


@pytest.fixture
def live_server(make_live_server, standins):
    """The app pointed at all three stand-ins, the shipped matters deployed, and the demo
    enterprise's account (same credit code and mobile as at the identity provider)."""
    server = make_live_server(**standins["idp"].config(), **standins["tzxm"].config(), **standins["ywtb"].config())
    standins["ywtb"].app_url = server.url  # where the 一张网 would send its applications and ratings
    deploy_all(server.app)
    make_applicant(server.app, MOBILE, name=COMPANY, code=DEMO_OWNER[0])
    return server


# -- helpers ---------------------------------------------------------------------------------------
def field(page, key, scope="#start-form"):
    """A form-js field's input by its key (the shipped forms name their fields Field_<key>)."""
    return page.locator(f"{scope} [id$='-Field_{key}']")


def lookup_says(page, words):
    page.wait_for_function(f"document.getElementById('project-lookup').textContent.indexOf({words!r}) >= 0")
    return page.inner_text("#project-lookup")


def sign_in_through_idp(page):
    page.goto("/portal/login")
    with page.expect_navigation():
        page.click("#sso-login-oidc")
    with page.expect_navigation(url="**/portal/**"):
        page.click("#pick-idp-ent-0001")  # at the provider: its picking page
    page.wait_for_selector("#sso-badge")
    return page.inner_text("#sso-badge")


def new_draft(page):
    page.goto(f"/portal/apply/{PROCESS}")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.wait_for_url("**/portal/drafts/*")
    page.wait_for_selector("#start-form .fjs-form-field")
    return int(page.url.rsplit("/", 1)[1])


def upload_materials(page, tmp_path):
    slots = page.locator("#materials .slot")
    required = [i for i in range(slots.count()) if slots.nth(i).locator(".tag.req").count()]
    assert required == [0, 1], required
    for index, (blob, name) in zip(required, ((PDF, "备案信息表.pdf"), (PNG, "产业政策声明.png"))):
        path = tmp_path / name
        path.write_bytes(blob)
        page.set_input_files(f"#material-{index} form.upload input[type=file]", str(path))
        with page.expect_navigation():
            page.click(f"#material-{index} form.upload button[type=submit]")
        assert "已上传" in page.inner_text(f"#material-{index}")
    page.wait_for_selector("#start-form .fjs-form-field")


def staff_steps(server, case_id):
    """The shipped matter's staff steps through the API, each by a member of the task's group."""
    client, headers = server.app.test_client(), {}
    reader = add_user(server.app, "u_leader", "staff", ["leader"])  # reads every case of the region
    case = None
    for element, data in STEPS:
        case = client.get(f"/api/cases/{case_id}", headers=reader).json
        task = next(t for t in case["current_tasks"] if t["element_id"] == element)
        group = task["candidate_groups"][0]
        if group not in headers:
            headers[group] = add_user(server.app, f"u_{group}", "staff", [group])
        r = client.post(f"/api/tasks/{task['id']}/complete", headers=headers[group], json={"data": data})
        assert r.status_code == 200, (element, r.json)
        case = r.json
        assert not case["incidents"], case["incidents"]
    return case


def send_outbox(server) -> dict:
    """The scheduler's outbox job (``deliver_due``), run until it claims nothing more."""
    totals = {"delivered": 0, "retry": 0, "dead": 0, "lost": 0}
    with server.app.app_context():
        while True:
            counts = deliver_due()
            for k in totals:
                totals[k] += counts[k]
            if counts["claimed"] == 0:
                break
        db.session.remove()
    return totals


# -- the journey -----------------------------------------------------------------------------------
def test_sign_in_prefill_apply_and_the_decision_reaches_both_platforms(live_server, browser_page, standins,
                                                                      tmp_path):
    app, ywtb, tzxm = live_server.app, standins["ywtb"], standins["tzxm"]
    page = browser_page("desktop")

    # sign in through the unified identity provider; the portal shows the identity
    badge = sign_in_through_idp(page)
    assert "经统一身份认证登录" in badge and "法人" in badge and COMPANY in badge, badge
    with app.app_context():
        link = db.session.execute(select(DockingIdentity)).scalar_one()
        assert (link.subject, link.origin) == ("idp-ent-0001", "matched")
        db.session.remove()

    # apply: the 项目代码 typed in, the start form prefilled from the investment project platform
    case_id = new_draft(page)
    assert COMPANY in page.inner_text("#sso-badge")  # the draft page shows the identity too
    field(page, "project_code").fill(OWN_CODE)
    assert OWN_PROJECT["project_name"] in lookup_says(page, "已从投资项目在线审批监管平台带出项目信息")
    for key, value in OWN_PROJECT.items():
        assert field(page, key).input_value() == value, key
    assert float(field(page, "total_investment").input_value()) == 9600
    assert field(page, "industry").locator("xpath=..").locator(".fjs-select-display").inner_text() == "能源"

    # the rest typed and chosen by the applicant
    for key, value in {"construction_period_months": "10", "legal_representative": "张明",
                       "contact_person": "李航", "contact_phone": MOBILE}.items():
        field(page, key).fill(value)
        field(page, key).press("Tab")
    date = page.locator("#start-form [id$='-Field_planned_start_date-date']")
    date.press_sequentially("2026/04/01")
    date.press("Enter")
    form = page.locator("#start-form")
    for label in ("新建", "鼓励类", "否"):
        form.get_by_role("radio", name=label, exact=True).check()
    field(page, "commitment").check()
    upload_materials(page, tmp_path)  # each upload keeps what was typed (saved first)
    assert field(page, "project_name").input_value() == OWN_PROJECT["project_name"]

    page.click("#submit-case")
    page.wait_for_url(f"**/portal/cases/{case_id}")
    with app.app_context():
        case = db.session.get(Case, case_id)
        case_no = case.case_no
        assert case.status == "received" and case.project_name == OWN_PROJECT["project_name"]
        assert case.data["project_code"] == OWN_CODE and case.data["industry"] == "energy"
        assert case.data["total_investment"] == 9600 and case.data["planned_start_date"] == "2026-04-01"
        db.session.remove()

    # the staff steps up to 办结, then the outbox job
    decided = staff_steps(live_server, case_id)
    assert decided["status"] == "approved" and decided["instance_status"] == "complete", decided
    assert send_outbox(live_server) == {"delivered": 4, "retry": 0, "dead": 0, "lost": 0}

    # the 一张网 has every stage once, in order; 办结 with result 6 (准予许可) and the 备案证 number
    assert ywtb.stages(case_no) == ["SQ", "SL", "BJ"], ywtb.cases.get(case_no)
    assert ywtb.repeats == [] and ywtb.flags == [], (ywtb.repeats, ywtb.flags)
    done = ywtb.stage(case_no, "BJ")["fields"]
    assert done["BJJGDM"] == "6" and done["ZZBH"] == FILING_NO, done
    assert ywtb.stage(case_no, "SQ")["fields"]["XMDM"] == OWN_CODE
    # the investment project platform has the decision for that project code, with the number
    [result] = tzxm.received(OWN_CODE)
    assert (result["case_no"], result["result"], result["doc_no"]) == (case_no, "approved", FILING_NO), result
    assert result["matter"]["process_id"] == PROCESS and tzxm.received() == [result]

    # the applicant's case page shows it approved
    page.goto(f"/portal/cases/{case_id}")
    assert page.inner_text("#status-label") == "准予许可/办结"
    assert case_no in page.inner_text("main")
    assert page.errors == [], page.errors


def test_a_project_of_another_enterprise_is_refused_and_nothing_is_written(live_server, browser_page, standins,
                                                                           tmp_path):
    app, ywtb, tzxm = live_server.app, standins["ywtb"], standins["tzxm"]
    page = browser_page("desktop")
    sign_in_through_idp(page)
    case_id = new_draft(page)
    upload_materials(page, tmp_path)

    # the rest of the form is complete (saved as 暂存 sends it), only the 项目代码 is typed in the page
    data = dict(OWN_PROJECT, project_code="", industry="energy", total_investment=9600,
                planned_start_date="2026-04-01", construction_period_months=10, project_nature="new",
                industry_policy="encouraged", capacity_replacement="no", legal_representative="张明",
                contact_person="李航", contact_phone=MOBILE, commitment=True)
    token = page.eval_on_selector("input[name=csrf_token]", "e => e.value")
    r = page.request.post(f"/portal/drafts/{case_id}/save", data={"data": data},
                          headers={"X-CSRF-Token": token, "Accept": "application/json"})
    assert r.status == 200, r.text()
    page.reload()
    page.wait_for_selector("#start-form .fjs-form-field")

    field(page, "project_code").fill(OTHER_CODE)
    refusal = "项目单位与申请人不一致：该项目代码不属于您的单位，不能以此项目申报"
    assert refusal in lookup_says(page, "项目单位与申请人不一致")
    assert page.get_attribute("#project-lookup", "class") == "error"
    assert field(page, "project_name").input_value() == OWN_PROJECT["project_name"]  # nothing filled from it

    with page.expect_response(f"**/portal/drafts/{case_id}/submit") as answer:
        page.click("#submit-case")
    refused = answer.value
    assert refused.status == 422 and refused.json()["errors"]["project_code"] == [refusal], refused.text()
    page.wait_for_selector("#messages .error li[data-field='project_code']")
    assert refusal in page.inner_text("#messages")
    assert "/portal/drafts/" in page.url

    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.status == "draft" and case.case_no is None and case.instance_id is None
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert db.session.get(DockingProject, OTHER_CODE) is None
        db.session.remove()
    assert send_outbox(live_server) == {"delivered": 0, "retry": 0, "dead": 0, "lost": 0}
    assert ywtb.cases == {} and tzxm.received() == []
    expected = {f"HTTP 403: GET {live_server.url}/portal/projects/lookup?code={OTHER_CODE}",
                f"HTTP 422: POST {live_server.url}/portal/drafts/{case_id}/submit"}
    assert sorted(page.errors) == sorted(expected), page.errors  # the two refusals, nothing else
