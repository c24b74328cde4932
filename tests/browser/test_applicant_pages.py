"""Issue 19, applicant pages in chromium at 375×667 and 1280×800: submitting the prefilled draft with
the 承诺 unticked lists every missing field in the page's order with the 承诺 among them, named by
label; 我的办件 says 草稿 once for the draft; after six 暂存 and the submission the case page shows
one row "暂存（N 次）" before 提交申请. No sideways scroll, no script error."""
import json
import re

import pytest

from tests.conftest import deploy_all
from tests.services.portal.helpers import PDF, PNG, last_code, make_applicant
from tests.services.portal.test_apply import DATA

MOBILE = "13900000001"


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


def sign_in(page, app):
    page.goto("/portal/login?next=/portal/apply/xmgl_beian")
    page.fill("input[name=mobile]", MOBILE)
    page.click("button[value=send_code]")
    page.fill("input[name=code]", last_code(app, MOBILE))
    page.click("button[value=login]")
    page.wait_for_url("**/portal/apply/xmgl_beian")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_summary_order_commitment_and_draft_rows(live_server, browser_page, tmp_path, viewport):
    deploy_all(live_server.app)
    make_applicant(live_server.app, MOBILE)
    page = browser_page(viewport)
    sign_in(page, live_server.app)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/portal/drafts/*")
    page.wait_for_selector("#start-form .fjs-form-field")
    case_id = int(page.url.rsplit("/", 1)[1])
    # the prefilled form as it stands: the 承诺 unticked, most fields empty, no material
    page.click("#submit-case")
    page.wait_for_selector("#messages .error li[data-field='commitment']")
    no_sideways_scroll(page)
    shown = page.eval_on_selector_all("#messages .error li", "els => els.map(e => e.dataset.field)")
    order = json.loads(page.eval_on_selector("#field-order", "e => e.textContent"))
    assert shown == sorted(shown, key=order.index), shown  # the page's order, not the alphabet
    assert shown[0] == "project_name" and shown.index("commitment") < shown.index("material.0"), shown
    texts = page.eval_on_selector_all("#messages .error li", "els => els.map(e => e.textContent)")
    assert any(t.startswith("本单位承诺：") and "请勾选确认" in t for t in texts), texts
    assert not [t for t in texts if re.match(r"[a-z_.0-9]+：", t)], texts  # named by label, never by key
    # 我的办件: the draft says 草稿 once, and leads back to the draft
    page.goto("/portal/cases")
    no_sideways_scroll(page)
    row = page.inner_text(f"#my-cases li[data-case='{case_id}']")
    assert row.count("草稿") == 1 and "暂存" not in row, row
    page.click(f"#my-cases li[data-case='{case_id}'] a.title")
    page.wait_for_url(f"**/portal/drafts/{case_id}")
    page.wait_for_selector("#start-form .fjs-form-field")
    # six more saves (the new draft was the first), the materials, the submission
    token = page.eval_on_selector("input[name=csrf_token]", "e => e.value")
    for _ in range(6):
        r = page.request.post(f"/portal/drafts/{case_id}/save", data={"data": DATA},
                              headers={"X-CSRF-Token": token, "Accept": "application/json"})
        assert r.status == 200, r.text()
    page.reload()
    page.wait_for_selector("#start-form .fjs-form-field")
    for index, (blob, name) in enumerate(((PDF, "a.pdf"), (PNG, "b.png"))):
        path = tmp_path / name
        path.write_bytes(blob)
        page.set_input_files(f"#material-{index} input[type=file]", str(path))
        with page.expect_navigation():
            page.click(f"#material-{index} form.upload button[type=submit]")
    page.click("#submit-case")
    page.wait_for_url(f"**/portal/cases/{case_id}")
    no_sideways_scroll(page)
    events = page.eval_on_selector_all("#timeline li.event", "els => els.map(e => [e.dataset.action, e.innerText])")
    actions = [a for a, _ in events]
    assert actions.count("draft") == 1 and actions.index("draft") < actions.index("submit"), events
    # the new draft, six saves, and each upload saves what was typed first: 9
    assert "暂存（9 次）" in events[actions.index("draft")][1], events
    expected = f"HTTP 422: POST {live_server.url}/portal/drafts/{case_id}/submit"  # the refused first submit
    assert [e for e in page.errors if e != expected] == [], page.errors
