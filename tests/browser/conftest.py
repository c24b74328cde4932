"""Browser tests: the app in a real werkzeug server (``live_server``) driven by Debian's chromium
through Python Playwright (``browser_page``). One browser per session, a fresh context per page.

Without /usr/bin/chromium (or the playwright package) the tests are skipped — except in CI
(``CI=true``), where that is a failure. Every test using the browser carries the ``browser`` marker
(``pytest -m browser`` / ``-m 'not browser'``).

    def test_x(live_server, browser_page):
        live_server.add_user("w1", groups=["window"], password="correct horse battery")
        page = browser_page("phone")                      # or "desktop", or (width, height)
        live_server.login(page, "w1", "correct horse battery")
        page.goto("/supervision")                         # relative to live_server.url
"""
from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest
from flask import abort, render_template, request
from werkzeug.serving import make_server

from app.extensions import db
from tests.conftest import ROOT, add_user, make_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"phone": (375, 667), "desktop": (1280, 800)}
SCREENSHOTS = ROOT / "docs" / "screenshots"


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real chromium against a live server (tests/browser)")


def pytest_collection_modifyitems(config, items):
    for item in items:  # every test that drives the browser, wherever it is
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _unavailable(reason: str):
    if _in_ci():
        pytest.fail(f"{reason} — required in CI (CI=true); scripts/setup installs it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the session (Playwright gives each launch a fresh temporary
    profile directory and removes it on close)."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium, or run scripts/setup as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing (pip install -e '.[test]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# ---------------------------------------------------------------------------------------------
# The live server


class LiveServer:
    """An app served on 127.0.0.1:<free port> from a background thread (threaded=True)."""

    def __init__(self, app):
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def add_user(self, username, kind="staff", groups=(), org_code=None, password=None):
        """A user with API token ``tok-<username>`` and, given ``password`` (≥ 10 characters), a
        sign-in password. Returns the Authorization header."""
        headers = add_user(self.app, username, kind, groups, org_code)
        if password:
            from sqlalchemy import select
            from app.models import User
            from app.services.identity.auth import set_password
            with self.app.app_context():
                user = db.session.execute(select(User).where(User.username == username)).scalar_one()
                set_password(user, password)
                db.session.commit()
        return headers

    def login(self, page, username, password, code=None):
        """Sign in through the real form at /login (CSRF token and session cookie included); for a
        user with two-step verification, ``code`` is typed into the code page that follows."""
        page.goto(f"{self.url}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.click("main form button[type=submit]")
        if code is not None and "/login/code" in page.url:
            page.fill("input[name=code]", code)
            with page.expect_navigation():
                page.click("main form button[type=submit]")
        if "/login" in page.url:
            raise AssertionError(f"sign-in of {username} failed: {page.inner_text('main')}")


# the check page of tests/browser/test_assets.py: a shipped diagram with a case's path, a shipped form
CHECK_PROCESS = "xmgl_beian"
CHECK_FORM = "xmgl_beian_apply"
CHECK_HIGHLIGHT = {
    "current": ["filing_decision"],
    "done": ["start", "window_review", "gw_window", "ev_accepted", "gw_need_countersign"],
    "flows": ["flow_start_to_window_review", "flow_window_review_to_gw_window", "flow_gw_window_to_ev_accepted",
              "flow_ev_accepted_to_gw_need_countersign", "flow_gw_need_countersign_to_filing_decision"],
}


def _assets_check():
    """GET /assets/check[?process=<id>&form=<id>]: diagram.js and taskform.js on shipped files."""
    process = request.args.get("process", CHECK_PROCESS)
    form = request.args.get("form", CHECK_FORM)
    if not re.fullmatch(r"[a-z0-9_]+", process) or not re.fullmatch(r"[a-z0-9_]+", form):
        abort(404)
    bpmn, schema = ROOT / "processes" / f"{process}.bpmn", ROOT / "forms" / f"{form}.form.json"
    if not bpmn.is_file() or not schema.is_file():
        abort(404)
    return render_template("assets/check.html", title=process, process_file=bpmn.name, form_file=schema.name,
                           bpmn_xml=bpmn.read_text("utf-8"), schema=json.loads(schema.read_text("utf-8")),
                           data={"project_name": "示范项目"},
                           highlight=CHECK_HIGHLIGHT if process == CHECK_PROCESS else {"current": []})


@pytest.fixture
def make_live_server(db_url):
    """Factory: ``make_live_server(**config)`` → a started LiveServer on the test's database, the app
    made by tests.conftest.make_app (fake clock, shipped processes unless PROCESSES_DIR / FORMS_DIR
    are given), with the test-only page /assets/check. Stopped after the test."""
    servers = []

    def make(**config):
        app = make_app(db_url, **config)
        app.add_url_rule("/assets/check", "assets_check", _assets_check)
        server = LiveServer(app).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
        with server.app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def live_server(make_live_server):
    return make_live_server()


def _watch_errors(page) -> None:
    """``page.errors``: script errors, console errors and failed responses (4xx/5xx, the browser's
    own /favicon.ico request aside), for a test to assert it is empty."""
    page.errors = []

    def console(msg):
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):  # see response
            page.errors.append(f"console: {msg.text}")

    def response(resp):
        if resp.status >= 400 and not resp.url.endswith("/favicon.ico"):
            page.errors.append(f"HTTP {resp.status}: {resp.request.method} {resp.url}")

    page.on("console", console)
    page.on("pageerror", lambda exc: page.errors.append(f"script: {exc}"))
    page.on("response", response)


_FUNCTION_TEXT = re.compile(r"\s*(?:async\s+)?(?:function\b|\(|[\w$]+\s*=>)")


def _csp_safe_waits(page) -> None:
    """The app's Content-Security-Policy forbids eval ('unsafe-eval' is not allowed), and Playwright
    polls a *string expression* of ``wait_for_function`` with eval in the page — refused — but calls a
    *function* directly. So an expression is sent as ``() => (expression)``."""
    wait = page.wait_for_function

    def wait_for_function(expression, *args, **kwargs):
        if not _FUNCTION_TEXT.match(expression):
            expression = f"() => ({expression})"
        return wait(expression, *args, **kwargs)

    page.wait_for_function = wait_for_function


@pytest.fixture
def browser_page(browser, live_server):
    """Factory: ``browser_page("phone" | "desktop" | (width, height))`` → a Playwright page in a fresh
    context (own cookies) whose relative URLs go to ``live_server``; ``page.errors`` collects script
    errors and failed responses. Closed after the test."""
    contexts = []

    def make(viewport="desktop", **context_options):
        width, height = VIEWPORTS[viewport] if isinstance(viewport, str) else viewport
        phone = width < 600
        context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height},
                                      is_mobile=phone, has_touch=phone, device_scale_factor=2 if phone else 1,
                                      locale="zh-CN", **context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        _watch_errors(page)
        _csp_safe_waits(page)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory):
    """docs/screenshots with UPDATE_SCREENSHOTS=1 (to refresh the committed pictures), else a
    temporary folder: a test run leaves the working tree as it found it."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")
