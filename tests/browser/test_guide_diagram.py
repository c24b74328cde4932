"""Issue 19 item 5 in chromium: the service guide's diagram is fitted to its box (and again on resize),
zooms with ＋ / － and 适应, opens full screen (the Fullscreen API; the fixed overlay where the API is
missing, closed by Esc), and the guide prints cleanly: with print media the site's header, navigation
and buttons are hidden, the diagram is the exported SVG at the page's width, the address is printed."""
import pytest

from tests.conftest import deploy_all

pytestmark = pytest.mark.browser
PID = "xmgl_beian"


def _zoom(page) -> float:
    return float(page.get_attribute("#diagram-box", "data-zoom"))


def _fits(page) -> bool:
    """The drawn diagram lies inside the visible box (fit-viewport), and fills it one way or the other."""
    return page.evaluate("""() => {
      const box = document.querySelector('#diagram').getBoundingClientRect();
      const g = document.querySelector('#diagram .viewport').getBoundingClientRect();
      const inside = g.left >= box.left - 2 && g.right <= box.right + 2
        && g.top >= box.top - 2 && g.bottom <= box.bottom + 2;
      const fills = g.width >= box.width * 0.7 || g.height >= box.height * 0.7;
      return inside && fills;
    }""")


def _open(page):
    page.goto(f"/portal/matters/{PID}?lang=zh")
    page.wait_for_selector("#diagram-box[data-ready=true] #diagram svg", timeout=30_000)


def test_fit_zoom_and_full_screen(live_server, browser_page, screenshot_dir):
    deploy_all(live_server.app)
    page = browser_page("desktop")
    _open(page)
    assert page.evaluate("document.querySelector('#diagram').getBoundingClientRect().height") >= 360
    assert _fits(page)
    fitted = _zoom(page)
    page.click("[data-zoom=in]")
    assert _zoom(page) == pytest.approx(fitted * 1.25, rel=0.02)
    page.click("[data-zoom=out]")
    page.click("[data-zoom=out]")
    assert _zoom(page) < fitted
    page.click("[data-zoom=fit]")
    assert _zoom(page) == pytest.approx(fitted, rel=0.02) and _fits(page)
    # a narrower window: fitted again
    page.set_viewport_size({"width": 900, "height": 800})
    page.wait_for_function("() => Number(document.querySelector('#diagram-box').dataset.zoom) > 0")
    page.wait_for_timeout(400)
    assert _fits(page)
    # 全屏查看: the Fullscreen API (headless chromium grants it on the click)
    page.click("[data-zoom=full]")
    # the Fullscreen API answers with a promise and an event: wait for the state it sets
    page.wait_for_function("() => ['fullscreen', 'overlay'].includes(document.querySelector('#diagram-box').dataset.full)")
    mode = page.get_attribute("#diagram-box", "data-full")
    assert mode in ("fullscreen", "overlay")
    assert page.inner_text("[data-zoom=full]") == "退出全屏"
    page.wait_for_timeout(400)
    assert page.evaluate("document.querySelector('#diagram').getBoundingClientRect().height") > 600
    assert _fits(page)
    page.screenshot(path=str(screenshot_dir / "guide-diagram-full.png"))
    page.click("[data-zoom=full]")
    page.wait_for_function("() => document.querySelector('#diagram-box').dataset.full === ''")
    assert page.inner_text("[data-zoom=full]") == "全屏查看"
    assert page.errors == []


def test_the_overlay_where_the_fullscreen_api_is_missing(live_server, browser_page):
    deploy_all(live_server.app)
    page = browser_page("phone")
    page.add_init_script("""
      Element.prototype.requestFullscreen = undefined; Element.prototype.webkitRequestFullscreen = undefined;
    """)
    _open(page)
    assert _fits(page)
    page.click("[data-zoom=full]")
    page.wait_for_function("() => document.querySelector('#diagram-box').dataset.full === 'overlay'")
    rect = page.evaluate("(() => { const r = document.querySelector('#diagram-box').getBoundingClientRect();"
                         " return [r.left, r.top, r.width, r.height, innerWidth, innerHeight]; })()")
    assert rect[0] == 0 and rect[1] == 0 and rect[2] == rect[4] and rect[3] == rect[5], rect
    page.wait_for_timeout(300)
    assert _fits(page)
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('#diagram-box').dataset.full === ''")
    assert not page.evaluate("document.querySelector('#diagram-box').classList.contains('is-overlay')")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.errors == []


def test_the_guide_prints_cleanly(live_server, browser_page, screenshot_dir, tmp_path):
    deploy_all(live_server.app)
    page = browser_page("desktop")
    _open(page)
    page.wait_for_selector("#diagram-box[data-print=ready]")
    assert page.is_visible("header") and page.is_visible("#print-guide") and not page.is_visible("#print-meta")
    page.emulate_media(media="print")
    for hidden in ("header", "header nav", "#print-guide", "#apply", ".diagram-tools", ".no-print"):
        assert not page.is_visible(hidden), hidden
    assert page.is_visible("#print-meta")
    # the live canvas is moved off the page (it keeps a size: the viewer refits on print's resize)
    assert page.evaluate("document.querySelector('#diagram').getBoundingClientRect().right") < 0
    meta = page.inner_text("#print-meta")
    assert f"/portal/matters/{PID}" in meta and "打印日期" in meta
    img = page.evaluate("(() => { const i = document.querySelector('img.diagram-print');"
                        " const m = document.querySelector('main').getBoundingClientRect();"
                        " return [i.complete && i.naturalWidth > 0, i.getBoundingClientRect().width, m.width]; })()")
    assert img[0] and img[1] >= img[2] * 0.95, img
    assert page.evaluate("getComputedStyle(document.querySelector('.card')).borderTopStyle") == "none"
    pdf = tmp_path / "guide.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.stat().st_size > 10_000
    page.screenshot(path=str(screenshot_dir / "guide-print.png"), full_page=True)
    page.emulate_media(media="screen")
    assert page.is_visible("header") and page.is_visible(".diagram-tools")
    assert page.errors == []
