"""The applicant's whole journey (issue 5, "Done when") in Debian's chromium, on a phone (375×667) and
on a desktop (1280×800), on the shipped matter 固定资产投资项目节能审查 (jnsc_jieneng: the 节能报告 must
be mailed on paper; window → energy_saving → countersign cs_industry + cs_ecology → chief → leader):

catalog → service guide → SMS sign-in (the code read from the Twilio stand-in) → the form-js start form
typed in the page → one upload per required material → submit → case page → paper-mail intake →
the window clerk confirms it on the staff panel → receipt PDF (downloaded from the applicant's case
page, read with pypdf) and the 收讫 SMS → the clerk accepts in the form-js task form → the division
handler asks for 补正 after acceptance → the applicant sees it on the case page and answers with a
file → division review → both countersigning departments → chief → leader approves → the 办结 SMS →
in a fresh browser (no session) the progress query by case number + SMS code → 准予许可/办结 →
the applicant rates the service (好差评, level 1 and the four indicators) → stored.

Every SMS goes through the real twilio client to the local stand-in, sent by the sender job
(``deliver_pending``) run in the app context as the scheduler would. No sideways scrolling on the
applicant's pages at 375 px, no script errors or failed responses on any page. Screenshots (with
UPDATE_SCREENSHOTS=1): docs/screenshots/portal-journey-<page>-<phone|desktop>.png."""
from __future__ import annotations

import io
import re
import time

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import Case
from app.models.feedback import Evaluation
from app.services.messaging.sms import deliver_pending
from tests.conftest import deploy_all
from tests.fakes import TwilioStandIn
from tests.services.portal.helpers import PDF, PNG, credit_code, make_applicant

pytestmark = pytest.mark.browser

PROCESS = "jnsc_jieneng"
PASSWORD = "correct horse battery"
STAFF = {"w1": ["window"], "es1": ["energy_saving"], "ind1": ["cs_industry"], "eco1": ["cs_ecology"],
         "chief1": ["energy_saving_chief"], "lead1": ["leader"]}
MOBILE = "13814862275"
COMPANY = "苏州数联智算科技有限公司"
CREDIT = credit_code("91320506MA1QH5B8")
PROJECT = "苏州数联智算中心一期项目"
PROJECT_CODE = "2510-320506-04-01-731945"


@pytest.fixture
def standin():
    twilio = TwilioStandIn().start()
    yield twilio
    twilio.stop()


@pytest.fixture
def live_server(make_live_server, standin):
    """The shipped matters, SMS through the Twilio stand-in, staff of every step with a password, and
    an enterprise applicant with a mobile number."""
    server = make_live_server(**standin.config())
    deploy_all(server.app)
    for name, groups in STAFF.items():
        server.add_user(name, groups=groups, password=PASSWORD)
    make_applicant(server.app, MOBILE, name=COMPANY, code=CREDIT)
    return server


# -- helpers ---------------------------------------------------------------------------------------
def send_sms(server) -> dict:
    """The SMS sender job, once, as the scheduler runs it."""
    with server.app.app_context():
        result = deliver_pending()
        db.session.remove()
    assert result["failed"] == 0 and result["retry"] == 0, result
    return result


def texts_to(standin, mobile=MOBILE) -> list[str]:
    return [m["body"] for m in standin.sent if m["to"] == f"+86{mobile}"]


def code_from(standin, purpose) -> str:
    bodies = [b for b in texts_to(standin) if "您的验证码为" in b and purpose in b]
    assert bodies, texts_to(standin)
    return re.search(r"验证码为(\d{6})", bodies[-1]).group(1)


def no_sideways_scroll(page, viewport):
    if viewport == "phone":
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def field(page, key, scope="#start-form"):
    """A form-js field's input by its key (the shipped forms name their fields Field_<key>)."""
    return page.locator(f"{scope} [id$='-Field_{key}']")


def fill_start_form(page):
    """Type the start form like a person: clear what the profile prefilled, type, choose."""
    texts = {"project_name": PROJECT, "project_code": PROJECT_CODE, "region_code": "320506",
             "location_detail": "苏州市吴中区吴中经济技术开发区旺山路 9 号",
             "construction_content": "新建数据中心机房楼 2 栋，部署标准机柜 6000 架，配套 110kV 变电站及液冷系统。",
             "total_investment": "268000", "construction_period_months": "18", "energy_equivalent": "52800.5",
             "energy_equal_value": "128600.3", "annual_power": "42960", "applicant_name": COMPANY,
             "applicant_code": CREDIT, "legal_representative": "周慧", "contact_person": "李航", "contact_phone": MOBILE}
    for key, value in texts.items():
        box = field(page, key)
        box.fill(value)  # over what the profile prefilled
        box.press("Tab")
    # a person tabs from a number field to the next one and types on: nothing typed is lost when the
    # number field's change lands (form-js's 300 ms debounce used to wipe it; taskform.js turns it off)
    field(page, "renewable_energy").fill("6400")
    field(page, "renewable_energy").press("Tab")
    assert page.evaluate("document.activeElement.id").endswith("-Field_energy_report_org")
    page.keyboard.type("江苏省工程咨询中心有限公司")
    page.wait_for_timeout(500)
    assert field(page, "energy_report_org").input_value() == "江苏省工程咨询中心有限公司"
    texts.update(renewable_energy="6400", energy_report_org="江苏省工程咨询中心有限公司")
    field(page, "industry").locator("xpath=..").locator(".fjs-select-display").click()
    page.locator("#start-form .fjs-dropdownlist-item", has_text="电子信息").click()
    date = page.locator("#start-form [id$='-Field_planned_start_date-date']")
    date.press_sequentially("2026/01/15")
    date.press("Enter")
    page.locator("#start-form").get_by_role("radio", name="备案", exact=True).check()
    field(page, "commitment").check()
    for key, value in texts.items():
        assert field(page, key).input_value() == value, key


def open_task(page, case_no, step_name):
    """From the 待办 list to the task ``step_name`` of the case, its form drawn; claimed if needed."""
    page.goto("/inbox")
    row = page.locator("table.rows tr.inbox-row", has_text=case_no).filter(has_text=step_name)
    with page.expect_navigation():
        row.locator("a.case-no").first.click()
    page.wait_for_function("document.body.dataset.form")
    assert page.evaluate("document.body.dataset.form") == "ready", page.evaluate("inboxPage.errors")
    if page.locator("#btn-claim").count():
        with page.expect_navigation():
            page.click("#btn-claim")
        page.wait_for_function("document.body.dataset.form === 'ready'")


def approve(page, opinion=None):
    if opinion is not None:
        page.fill("#opinion", opinion)
    page.click("#btn-approve")
    page.wait_for_url("**/inbox")
    assert "办理完成" in page.inner_text("main"), page.inner_text("main")


def radio(page, label):
    page.locator("#taskform").get_by_role("radio", name=label, exact=True).check()


def upload_file(tmp_path, name, blob) -> str:
    path = tmp_path / name
    path.write_bytes(blob)
    return str(path)


# -- the journey -----------------------------------------------------------------------------------
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_applicant_journey(live_server, standin, browser_page, screenshot_dir, tmp_path, viewport):
    started = time.monotonic()
    app, clock = live_server.app, live_server.app.config["CLOCK"]
    shots = {}

    def shot(page, name, full_page=True):
        path = screenshot_dir / f"portal-journey-{name}-{viewport}.png"
        page.screenshot(path=str(path), full_page=full_page)
        shots[name] = path

    pages = {}

    def staff(name):
        if name not in pages:
            pages[name] = browser_page(viewport)
            live_server.login(pages[name], name, PASSWORD)
        return pages[name]

    # catalog → guide of a matter that needs paper
    me = pages["applicant"] = browser_page(viewport)
    me.goto("/portal/")
    no_sideways_scroll(me, viewport)
    me.fill("main input[name=q]", "节能审查")
    with me.expect_navigation():
        me.press("main input[name=q]", "Enter")
    with me.expect_navigation():
        me.click(f'[data-process-id="{PROCESS}"] h3 a')
    me.wait_for_selector("#diagram svg")
    guide = me.inner_text("main")
    assert "固定资产投资项目节能审查" in guide and "固定资产投资项目节能报告" in guide and "需邮寄纸质原件" in guide
    no_sideways_scroll(me, viewport)
    shot(me, "guide", full_page=False)  # the long guide: its top (codes, limits, 在线申请)

    # sign in by SMS code: the code reaches the Twilio stand-in through the sender job
    with me.expect_navigation():
        me.click("#apply")
    assert "/portal/login" in me.url
    me.fill("input[name=mobile]", MOBILE)
    with me.expect_navigation():
        me.click("button[value=send_code]")
    assert "验证码已发送" in me.inner_text("main")
    send_sms(live_server)
    me.fill("input[name=code]", code_from(standin, "登录"))
    with me.expect_navigation():
        me.click("button[value=login]")
    me.wait_for_url(f"**/portal/apply/{PROCESS}")

    # apply: a draft, the form typed in, one upload per required material
    with me.expect_navigation():
        me.click("main form button[type=submit]")
    me.wait_for_url("**/portal/drafts/*")
    case_id = int(me.url.rsplit("/", 1)[1])
    me.wait_for_selector("#start-form .fjs-form-field")
    fill_start_form(me)
    me.click("#save-draft")
    me.wait_for_function("document.getElementById('save-status').textContent.indexOf('已暂存') >= 0")
    with app.app_context():
        saved = db.session.get(Case, case_id).data
        db.session.remove()
    assert saved["industry"] == "electronics" and saved["planned_start_date"] == "2026-01-15", saved
    assert saved["management_type"] == "filing" and saved["commitment"] is True and saved["total_investment"] == 268000
    slots = me.locator("#materials .slot")
    required = [i for i in range(slots.count()) if slots.nth(i).locator(".tag.req").count()]
    assert len(required) == 5, required
    for n, index in enumerate(required):
        blob, name = (PDF, f"m{index}.pdf") if n % 2 == 0 else (PNG, f"m{index}.png")
        me.set_input_files(f"#material-{index} form.upload input[type=file]", upload_file(tmp_path, name, blob))
        with me.expect_navigation():
            me.click(f"#material-{index} form.upload button[type=submit]")
        assert "已上传" in me.inner_text(f"#material-{index}")
    me.wait_for_selector("#start-form .fjs-form-field")
    assert field(me, "project_name").input_value() == PROJECT  # what was typed survived the uploads
    no_sideways_scroll(me, viewport)
    shot(me, "draft")

    # submit → the case page, which asks for the paper
    me.click("#submit-case")
    me.wait_for_url(f"**/portal/cases/{case_id}")
    case_no = me.inner_text("#progress-card .case-no").replace("办件编号", "").strip()
    assert re.fullmatch(r"320000-20260302-\d{6}", case_no), case_no
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.case_no == case_no and case.status in ("submitted", "received")
        assert case.data["project_code"] == PROJECT_CODE and case.data["industry"] == "electronics"
        db.session.remove()
    assert me.locator('#todo li[data-key="mail"]').count() == 1
    no_sideways_scroll(me, viewport)

    # paper-mail intake: courier, tracking number, slip, content list, commitment letter
    with me.expect_navigation():
        me.click('#todo li[data-key="mail"] a')
    assert "固定资产投资项目节能报告" in me.inner_text("#paper-list")
    me.fill("#mail-form input[name=courier]", "顺丰速运")
    me.fill("#mail-form input[name=tracking_no]", "SF1402573396841")
    for name, blob in (("slip", PDF), ("content_list", PNG), ("commitment", PDF)):
        me.set_input_files(f"#mail-form input[name={name}]", upload_file(tmp_path, f"{name}.bin", blob))
    no_sideways_scroll(me, viewport)
    with me.expect_navigation():
        me.click("#mail-form button.primary")
    assert me.url.endswith(f"/portal/cases/{case_id}")
    assert "待核对" in me.inner_text("#intake-status")
    assert me.locator('#todo li[data-key="mail_wait"]').count() == 1

    # the window clerk confirms the intake on the staff panel: receipt + SMS
    clock.advance(hours=2)
    w1 = staff("w1")
    open_task(w1, case_no, "窗口收件审查")
    assert "SF1402573396841" in w1.inner_text("#intake-state")
    no_sideways_scroll(w1, viewport)
    with w1.expect_navigation():
        w1.click("#btn-intake-confirm")
    assert "已确认收件" in w1.inner_text("main")
    w1.wait_for_function("document.body.dataset.form === 'ready'")
    assert w1.locator("#receipt-link").count() == 1
    send_sms(live_server)

    me.reload()
    assert "已确认" in me.inner_text("#intake-status")
    href = me.get_attribute('#todo li[data-key="receipt"] a', "href")
    assert href == f"/portal/cases/{case_id}/receipt.pdf"
    r = me.request.get(href)  # the browser's own session
    assert r.status == 200 and r.headers["content-type"] == "application/pdf"
    receipt_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.body())).pages)
    assert case_no in receipt_text and "回执" in receipt_text, receipt_text[:500]

    # the clerk accepts in the form-js task form (paper_received pre-set by the confirmed intake)
    assert field(w1, "paper_received", "#taskform").is_checked()
    radio(w1, "受理")
    field(w1, "window_opinion", "#taskform").fill("申请材料齐全，符合法定形式，纸质材料已收讫，予以受理。")
    approve(w1)
    send_sms(live_server)

    # the division handler asks for 补正 after acceptance (two items, one list)
    clock.advance(hours=3)
    es1 = staff("es1")
    open_task(es1, case_no, "处室审查")
    es1.click("#correction-panel > summary")  # folded below the decision form
    es1.check("#corr-editor input[name=mat][value='0']")
    es1.fill("#corr-editor input[name=problem_0]", "节能报告缺少能效水平对标分析")
    es1.fill("#corr-editor input[name=free_material_0]", "主要用能设备清单")
    es1.fill("#corr-editor input[name=free_problem_0]", "未区分当量值与等价值")
    no_sideways_scroll(es1, viewport)
    with es1.expect_navigation():
        es1.click("#btn-correction")
    assert "已发出一次性告知（2 项）" in es1.inner_text("main"), es1.inner_text("main")
    assert es1.locator("#corr-waiting").count() == 1
    send_sms(live_server)

    # the next day the applicant sees it on the case page and answers with a file
    clock.advance(days=1)
    me.reload()
    assert me.locator('#todo li[data-key="correction"]').count() == 1
    assert me.locator("#progress-card .paused").count() >= 1  # the clock is suspended meanwhile
    no_sideways_scroll(me, viewport)
    shot(me, "case")
    with me.expect_navigation():
        me.click('#todo li[data-key="correction"] a')
    notice = me.inner_text("#corr-open")
    assert "节能报告缺少能效水平对标分析" in notice and "未区分当量值与等价值" in notice
    me.set_input_files("#corr-answer input[name=file_1]", upload_file(tmp_path, "report-v2.pdf", PDF))
    me.fill("#corr-answer input[name=remark_1]", "已补充能效对标分析章节")
    me.fill("#corr-answer input[name=remark_2]", "已在清单中分列当量值与等价值")
    me.fill("#corr-answer textarea[name=reply]", "已按一次性告知书逐项补正。")
    no_sideways_scroll(me, viewport)
    shot(me, "correction")
    with me.expect_navigation():
        me.click("#btn-submit-correction")
    assert "补正已提交" in me.inner_text("main")
    assert me.locator("#corr-none").count() == 1

    # the handler completes the division review
    clock.advance(hours=2)
    open_task(es1, case_no, "处室审查")
    radio(es1, "是")
    field(es1, "approved_energy_equivalent", "#taskform").fill("51200")
    field(es1, "approved_energy_equal_value", "#taskform").fill("125400")
    radio(es1, "国内先进水平")
    field(es1, "review_opinion", "#taskform").fill("经专家评审，项目用能基本合理，补正材料齐全，拟出具审查意见。")
    approve(es1)

    # both countersigning departments approve
    for name, dept in (("ind1", "工业和信息化厅"), ("eco1", "生态环境厅")):
        page = staff(name)
        open_task(page, case_no, "相关部门会签")
        radio(page, "同意")
        page.locator("#taskform textarea").fill(f"{dept}：经研究，同意该项目。")
        approve(page)

    # the chief, then the leader decides
    chief = staff("chief1")
    open_task(chief, case_no, "处长审核")
    radio(chief, "同意，报委领导审定")
    field(chief, "chief_opinion", "#taskform").fill("同意出具节能审查意见，报委领导审定。")
    approve(chief)
    clock.advance(hours=1)
    lead = staff("lead1")
    open_task(lead, case_no, "委领导审定")
    radio(lead, "通过节能审查，出具审查意见")
    field(lead, "decision_opinion", "#taskform").fill("同意。")
    field(lead, "document_no", "#taskform").fill("苏发改能审〔2026〕12号")
    approve(lead)
    send_sms(live_server)
    with app.app_context():
        assert db.session.get(Case, case_id).status == "approved"
        db.session.remove()

    # the SMS of every moment reached the stand-in, in Chinese, with the case number
    sms = {}
    moments = {"submitted": "已提交", "received": "材料已收讫", "accepted": "已受理", "correction": "需补正材料",
               "decided": "已办结，结果：准予许可"}
    bodies = [b for b in texts_to(standin) if "您的验证码为" not in b]
    for moment, words in moments.items():
        hits = [b for b in bodies if words in b and case_no in b]
        assert len(hits) == 1 and hits[0].startswith("【阳光发改】"), (moment, bodies)
        sms[moment] = hits[0]
    # the promised date reads the same (and in Chinese) at receipt and at acceptance
    promised = re.search(r"承诺于(\d{4}年\d{1,2}月\d{1,2}日)前办结", sms["accepted"]).group(1)
    assert f"承诺办结日期{promised}" in sms["received"], sms["received"]
    assert len(bodies) == len(moments), bodies  # one SMS a moment: no second notice of the 补正's suspension
    assert all(m["sid"].startswith("SM") for m in standin.sent)

    # a fresh browser, no session: the progress query by case number + SMS code
    clock.advance(minutes=5)
    anon = pages["anon"] = browser_page(viewport)
    anon.goto("/progress")
    anon.fill("#progress-form input[name=case_no]", case_no)
    anon.fill("#progress-form input[name=phone]", MOBILE)
    with anon.expect_navigation():
        anon.click("#progress-form button")
    assert anon.locator("#code-sent").count() == 1
    send_sms(live_server)
    anon.fill("#code-form input[name=code]", code_from(standin, "查询办件进度"))
    with anon.expect_navigation():
        anon.click("#code-form button")
    assert f"/progress/cases/{case_id}" in anon.url
    assert anon.inner_text("#status-label") == "准予许可/办结"
    assert case_no in anon.inner_text("#progress-card")
    no_sideways_scroll(anon, viewport)
    shot(anon, "progress")

    # the applicant rates the service: level 1, the four indicators
    me.goto(f"/portal/cases/{case_id}")
    assert me.inner_text("#status-label") == "准予许可/办结"
    with me.expect_navigation():
        me.click('#todo li[data-key="evaluate"] a')
    me.check("#evaluate-form input[name=level][value='1']")
    for key in ("efficiency", "guide_accuracy", "convenience", "usability"):
        me.check(f"#evaluate-form input[name={key}][value='1']")
    me.fill("#evaluate-form textarea[name=comment]", "全程网上办理，无需跑腿。")
    with me.expect_navigation():
        me.click("#evaluate-form button[type=submit]")
    assert "感谢您的评价" in me.inner_text("main") and me.locator(".evaluation-done").count() == 1
    no_sideways_scroll(me, viewport)
    shot(me, "evaluation")
    with app.app_context():
        ev = db.session.execute(select(Evaluation).where(Evaluation.case_id == case_id)).scalar_one()
        assert ev.level == 1 and ev.comment == "全程网上办理，无需跑腿。"
        assert ev.indicators == {"efficiency": 1, "guide_accuracy": 1, "convenience": 1, "usability": 1}
        db.session.remove()

    for name, page in pages.items():
        assert not page.errors, (name, page.errors)
    assert len(shots) == 6
    print(f"\njourney on {viewport}: {time.monotonic() - started:.1f}s")

