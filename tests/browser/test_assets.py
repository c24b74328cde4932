"""The browser assets from npm work in a real browser: /vendor files are served from node_modules,
diagram.js draws a shipped process with the case's path highlighted, taskform.js renders a shipped
form-js form whose submit() validates — on a phone and on a desktop. Screenshots go to
docs/screenshots/assets-<viewport>.png."""
import pytest

from app.web.assets import VENDOR, vendor_path
from tests.browser.conftest import _assets_check


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_diagram_and_form_render_and_validate(live_server, browser_page, screenshot_dir, viewport):
    missing = [name for name in VENDOR if vendor_path(name) is None]
    assert not missing, f"node_modules lacks {missing}: run scripts/setup (npm ci)"
    page = browser_page(viewport)
    page.goto("/assets/check")
    page.wait_for_function("document.body.dataset.diagram && document.body.dataset.form")
    assert page.evaluate("document.body.dataset.diagram") == "ready", page.evaluate("assetsCheck.errors")
    assert page.evaluate("document.body.dataset.form") == "ready", page.evaluate("assetsCheck.errors")

    # the diagram: an SVG with the shapes, the current step strongly marked, the path softly
    assert page.locator("#diagram svg").count() >= 1
    assert page.locator('#diagram [data-element-id="filing_decision"].hl-current').count() == 1
    assert page.locator("#diagram .djs-shape.hl-done").count() == 5
    assert page.locator("#diagram .djs-connection.hl-done").count() == 5
    assert page.evaluate("assetsCheck.diagram.missing") == []
    stroke = page.evaluate("""getComputedStyle(document.querySelector(
        '[data-element-id="filing_decision"] .djs-visual > :first-child')).stroke""")
    assert stroke == "rgb(183, 28, 28)"
    box = page.locator('#diagram [data-element-id="filing_decision"]').bounding_box()
    diagram = page.locator("#diagram").bounding_box()
    assert box and box["width"] > 0 and box["x"] >= diagram["x"] - 1 \
        and box["x"] + box["width"] <= diagram["x"] + diagram["width"] + 1, "fit-viewport keeps the step in view"

    # the form: fields rendered with the initial data; submit validates, then passes once filled
    assert page.locator("#taskform .fjs-form-field").count() >= 15
    name = page.get_by_label("项目名称")
    assert name.input_value() == "示范项目"
    page.click("#submit")
    result = page.evaluate("assetsCheck.lastSubmit")
    assert "Field_project_code" in result["errors"] and "Field_project_name" not in result["errors"]
    page.get_by_label("项目代码").fill("2511-320111-04-01-582316")
    page.get_by_label("建设地点（行政区划代码）").fill("320111")
    page.click("#submit")
    result = page.evaluate("assetsCheck.lastSubmit")
    assert result["data"]["project_code"] == "2511-320111-04-01-582316"
    assert result["data"]["region_code"] == "320111"
    assert "Field_project_code" not in result["errors"] and "Field_region_code" not in result["errors"]
    assert not page.errors, page.errors
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"

    page.screenshot(path=str(screenshot_dir / f"assets-{viewport}.png"), full_page=True)


def test_vendor_whitelist(client):
    r = client.get("/vendor/bpmn-navigated-viewer.js?v=1")
    assert r.status_code == 200 and "max-age=31536000" in r.headers["Cache-Control"]
    assert b"BpmnJS" in r.get_data()[:2000]
    r.close()
    for name in VENDOR:
        r = client.get(f"/vendor/{name}")
        assert r.status_code == 200, name
        r.close()
    for bad in ("/vendor/package.json", "/vendor/..%2Fpackage.json", "/vendor/bpmn-modeler.production.min.js",
                "/vendor/bpmn-js/dist/assets/bpmn-js.css"):
        assert client.get(bad).status_code == 404, bad
    assert client.get("/assets/static/js/diagram.js").status_code == 200


def test_pages_render_without_node_modules(app, monkeypatch, tmp_path):
    from app.web import assets
    monkeypatch.setattr(assets, "NODE_MODULES", tmp_path / "node_modules")
    assets._package_version.cache_clear()
    try:
        app.add_url_rule("/assets/check", "assets_check", _assets_check)
        client = app.test_client()
        page = client.get("/assets/check")
        assert page.status_code == 200
        assert "/vendor/bpmn-navigated-viewer.js?v=missing" in page.get_data(as_text=True)
        assert client.get("/vendor/bpmn-navigated-viewer.js").status_code == 404
        assert client.get("/").status_code == 200
    finally:
        assets._package_version.cache_clear()


def test_staff_signs_in_through_the_login_page(live_server, browser_page):
    live_server.add_user("inspector1", groups=["inspector"], password="correct horse battery")
    page = browser_page("phone")
    live_server.login(page, "inspector1", "correct horse battery")
    page.goto("/supervision")
    assert page.url.endswith("/supervision") and "电子监察" in page.inner_text("header")
    assert not page.errors, page.errors
