"""The applicant's way in, in chromium at 375×667: catalog → guide (diagram) → sign-in by SMS code →
apply → the form-js start form and the materials slots → submit refused with the list → uploads →
submit → the case page. No horizontal scroll on any page."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case
from tests.conftest import deploy_all
from tests.services.portal.helpers import PDF, PNG, last_code, make_applicant
from tests.services.portal.test_apply import DATA

pytestmark = pytest.mark.browser
MOBILE = "13900000001"


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def test_apply_on_a_phone(live_server, browser_page, screenshot_dir, tmp_path):
    deploy_all(live_server.app)
    make_applicant(live_server.app, MOBILE)
    page = browser_page("phone")
    page.goto("/portal/")
    no_sideways_scroll(page)
    page.click('[data-process-id="xmgl_beian"] h3 a')
    page.wait_for_selector("#diagram svg")
    no_sideways_scroll(page)
    page.screenshot(path=str(screenshot_dir / "portal-guide-phone.png"))
    page.click("#apply")
    assert "/portal/login" in page.url
    page.fill("input[name=mobile]", MOBILE)
    page.click("button[value=send_code]")
    page.fill("input[name=code]", last_code(live_server.app, MOBILE))
    page.click("button[value=login]")
    page.wait_for_url("**/portal/apply/xmgl_beian")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/portal/drafts/*")
    page.wait_for_selector("#start-form .fjs-form-field")
    no_sideways_scroll(page)
    assert "江苏示范能源有限公司" in page.eval_on_selector_all(
        "#start-form input", "els => els.map(e => e.value).join('|')")  # prefilled from the profile
    # the saved data (as 暂存 would send it) comes back into the form
    case_id = int(page.url.rsplit("/", 1)[1])
    token = page.eval_on_selector("input[name=csrf_token]", "e => e.value")
    r = page.request.post(f"/portal/drafts/{case_id}/save", data={"data": DATA},
                          headers={"X-CSRF-Token": token, "Accept": "application/json"})
    assert r.status == 200, r.text()
    page.reload()
    page.wait_for_selector("#start-form .fjs-form-field")
    page.click("#submit-case")
    page.wait_for_selector("#messages .error li[data-field='material.0']")
    assert "项目符合产业政策的声明" in page.inner_text("#messages")
    for index, (blob, name) in enumerate(((PDF, "a.pdf"), (PNG, "b.png"))):
        path = tmp_path / name
        path.write_bytes(blob)
        page.set_input_files(f"#material-{index} input[type=file]", str(path))
        with page.expect_navigation():
            page.click(f"#material-{index} form.upload button[type=submit]")
    page.screenshot(path=str(screenshot_dir / "portal-draft-phone.png"), full_page=True)
    page.click("#submit-case")
    page.wait_for_url(f"**/portal/cases/{case_id}")
    with live_server.app.app_context():
        case = db.session.execute(select(Case).where(Case.id == case_id)).scalar_one()
        assert case.case_no and case.status != "draft"
        assert case.data["project_code"] == DATA["project_code"]
    expected = f"HTTP 422: POST {live_server.url}/portal/drafts/{case_id}/submit"  # the refused first submit
    assert [e for e in page.errors if e != expected] == [], page.errors
