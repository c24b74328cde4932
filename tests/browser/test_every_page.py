"""Issue 19, "Done when": every page each role may see, in zh and in en, at 1280×800 and 375×667.

The demo site: ``flask demo seed`` on a database of this module, plus a designer and an inspector
of their own (the seed's admin holds both roles), and a few demo cases moved on along their matter's
first scenario (every_page_support.ADVANCE) so that the handler, chief, leader and countersigner
have a task, and the demo enterprise a decided case. Each role (anonymous, the demo enterprise signed in
by SMS code, window clerk, handler, chief, leader, countersigner, designer, inspector, admin) signs in
and crawls breadth first from the page it lands on: same-origin links, GET only (no sign-out, files,
API, language switch), at most two pages of a kind (/inbox/tasks/<id>) and one variant of a page's
filters, 60 pages per language. Each page loads once per language and is checked at both viewports for

- visible text in the other language: Latin words on a zh page beyond an allow-list of products,
  codes and units; CJK on an en page once the demo's data (enterprises, projects, people,
  departments, form answers) is taken out;
- raw ids (process ids, BPMN element ids, snake_case, UPPER_SNAKE, dotted names), ISO timestamps
  and UTC markers; script errors and error statuses;
- sideways scroll (``scrollWidth > innerWidth + 1``).

Every finding of a role is listed in one failure. SCREENSHOTS=1 (scripts/screenshots) saves each page
to docs/screenshots/<role>-<page>-<lang>-<viewport>.png (a page the roles share, such as the public
portal, once: under the first role that saw it); EVERY_PAGE_REPORT=<file> appends the
findings as JSON lines (for a list of everything across roles)."""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.registry import Matter
from tests.browser.conftest import SCREENSHOTS, LiveServer
from tests.browser.every_page_support import (ROLES, Crawler, Shots, advance_demo, clean_url, data_strings,
                                              fresh_database, seed_demo, sign_in)
from tests.conftest import make_app

pytestmark = pytest.mark.browser


class DemoSite:
    def __init__(self, server, data, process_ids):
        self.server, self.app, self.url = server, server.app, server.url
        self.data, self.process_ids = data, process_ids


@pytest.fixture(scope="module")
def demo_site(database_url, tmp_path_factory):
    if not database_url.startswith("sqlite") and os.environ.get("EVERY_PAGE_ALL_DATABASES") != "1":
        # what a page says does not depend on the database, and the crawl takes about ten minutes: it runs
        # with the SQLite suite only (EVERY_PAGE_ALL_DATABASES=1 runs it on PostgreSQL too)
        pytest.skip("every page: on SQLite only (EVERY_PAGE_ALL_DATABASES=1 for PostgreSQL)")
    app = make_app(fresh_database(database_url, tmp_path_factory.mktemp("every_page")))
    seed_demo(app)
    _, typed = advance_demo(app, app.config["PROCESSES_DIR"])
    with app.app_context():
        process_ids = set(db.session.execute(select(Matter.process_id)).scalars())
    server = LiveServer(app).start()
    yield DemoSite(server, data_strings(app, typed), process_ids)
    server.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def summary(findings) -> list[str]:
    """One line per page, language and kind: how many, and the first few tokens."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for f in findings:
        grouped.setdefault((f.page, f.lang, f.kind), []).append(f.snippet)
    lines = []
    for (page, lang, kind), snippets in grouped.items():
        shown = snippets if kind in ("sideways-scroll", "http-status", "script-error", "render", "load") \
            else [s.split(" … ")[0] for s in snippets]
        more = f" … (+{len(shown) - 8})" if len(shown) > 8 else ""
        lines.append(f"{page} [{lang}] {kind} ×{len(snippets)}: {' '.join(shown[:8])}{more}")
    return lines


@pytest.fixture(scope="module")
def shots():
    """SCREENSHOTS=1: docs/screenshots, one picture per page, language and viewport across the roles."""
    if os.environ.get("SCREENSHOTS") != "1":
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return Shots(SCREENSHOTS)


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_every_page_in_zh_and_en_at_both_viewports(demo_site, browser, shots, role):
    began = time.monotonic()
    findings, visited = [], {}
    context = browser.new_context(base_url=demo_site.url, viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, demo_site.app, role, "zh")  # once: the demo enterprise's SMS code is good once
        start = role.start if role.username is None else clean_url(page.url)
        for lang in ("zh", "en"):
            page.goto(f"{start}{'&' if '?' in start else '?'}lang={lang}")  # the session keeps it
            crawl = Crawler(page, role.name, lang, demo_site.data, demo_site.process_ids, shots).run(start)
            findings += crawl.findings
            visited[lang] = crawl.visited
    finally:
        context.close()
    seconds = time.monotonic() - began
    report = os.environ.get("EVERY_PAGE_REPORT")
    if report:
        with Path(report).open("a", encoding="utf-8") as out:
            out.write(json.dumps({"role": role.name, "seconds": round(seconds, 1), "visited": visited,
                                  "findings": [f.__dict__ for f in findings]}, ensure_ascii=False) + "\n")
    assert visited["zh"] and visited["en"], visited
    if findings:
        counts = Counter(f.kind for f in findings)
        lines = "\n".join(summary(findings))
        pytest.fail(f"{role.name}: {len(findings)} findings on {len(set(visited['zh']) | set(visited['en']))} "
                    f"pages ({dict(counts)}) in {seconds:.0f} s\n{lines}", pytrace=False)
