"""Helpers of tests/browser/test_every_page.py: the demo site (``flask demo seed`` on a fresh database),
the roles' sign-in, the crawl (same-origin links, GET only, breadth first) and the checks of one page:
text in the other language, raw ids, ISO/UTC timestamps, sideways scroll."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseEvent, Department, User
from app.models.accounts import ApplicantProfile
from app.models.instance import HumanTask
from app.models.org import Region
from app.services.identity.actors import actor_from_user
from app.services.identity.auth import set_password
from app.services.identity.org import set_roles_from_groups
from app.services.inbox.operations import complete
from tests import conftest as base
from tests.conftest import add_user
from tests.services.portal.helpers import last_code

# ---------------------------------------------------------------------------------------------
# The roles: who signs in, how, where the crawl starts

DEMO_MOBILE = "13800138000"  # app/cli.py DEMO_APPLICANT_MOBILE: the demo enterprise's SMS sign-in


@dataclass(frozen=True)
class Role:
    name: str
    username: str | None  # None: anonymous; "sms": the demo enterprise on /portal/login
    start: str = "/"      # where the crawl starts (after sign-in: the page the sign-in lands on)


ROLES = [
    Role("anonymous", None, "/"),
    Role("applicant", "sms"),
    Role("window", "window1"),
    Role("handler", "invest1"),
    Role("chief", "invest_chief"),
    Role("leader", "leader1"),
    Role("countersigner", "cs_natural_resources_1"),
    Role("designer", "designer1"),
    Role("inspector", "inspector1"),
    Role("admin", "admin"),
]
#: staff the demo seed does not have on their own (its admin holds designer and inspector too):
#: username, display name, groups — made by the test with the password rule demo-<user>-pass
EXTRA_STAFF = [("designer1", "流程设计 孙悦", ["designer"]), ("inspector1", "电子监察 周宁", ["inspector"])]


def fresh_database(database_url: str, folder) -> str:
    """A database of its own for the module (tests/conftest.py's, as ``db_url`` has one for a test)."""
    return base.fresh_database(database_url, folder, "every_page.sqlite3")


def seed_demo(app) -> None:
    """``flask demo seed`` as the CLI runs it, then the designer and inspector of EXTRA_STAFF."""
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, (result.output, result.exception)
    for username, name, groups in EXTRA_STAFF:
        add_user(app, username, "staff", groups)
        with app.app_context():
            user = db.session.execute(select(User).where(User.username == username)).scalar_one()
            user.display_name = name
            set_password(user, f"demo-{username}-pass")
            db.session.flush()
            set_roles_from_groups(user, groups)
            db.session.commit()


def data_strings(app, extra=()) -> list[str]:
    """The Chinese DATA of the demo (not UI): enterprises, projects, people, departments, regions,
    the agency's configured name, addresses, every string answer of the forms and every opinion
    (``extra``: the answers given by advance_demo) — longest first, to strip from an English page."""
    found: set[str] = {app.config.get("AGENCY_NAME") or ""}

    def walk(value):
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    with app.app_context():
        for case in db.session.execute(select(Case)).scalars():
            walk([case.project_name, case.applicant_name, case.data])
        for user in db.session.execute(select(User)).scalars():
            walk(user.display_name)
            walk(user.display_name.split()[-1:])  # "窗口 王敏": the person's name alone too
        for dept in db.session.execute(select(Department)).scalars():
            walk(dept.name)
        for prof in db.session.execute(select(ApplicantProfile)).scalars():
            walk([prof.name, prof.legal_representative, prof.contact_person])
        walk(list(db.session.execute(select(Region.name)).scalars()))
        walk(list(db.session.execute(select(CaseEvent.opinion)).scalars()))
        walk(list(extra))
    return sorted({s.strip() for s in found if s and len(s.strip()) >= 2 and CJK.search(s)}, key=len, reverse=True)


def sign_in(page, app, role: Role, lang: str) -> None:
    """Sign ``role`` in within ``page``'s context, the language chosen first (it survives sign-in)."""
    page.goto(f"/?lang={lang}")
    if role.username is None:
        return
    if role.username == "sms":
        page.goto("/portal/login")
        page.fill("input[name=mobile]", DEMO_MOBILE)
        with page.expect_navigation():  # the code is stored before the page comes back
            page.click("button[value=send_code]")
        page.fill("input[name=code]", last_code(app, DEMO_MOBILE))
        with page.expect_navigation():
            page.click("button[value=login]")
        assert "/login" not in page.url, page.inner_text("main")
        return
    page.goto("/login")
    page.fill("input[name=username]", role.username)
    page.fill("input[name=password]", f"demo-{role.username}-pass")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/login" not in page.url, f"sign-in of {role.username} failed: {page.inner_text('main')}"


# ---------------------------------------------------------------------------------------------
# The crawl

#: not followed: sign-out, files, scripts' endpoints, the API, the language switch
SKIP_PATH = re.compile(r"(^/(static|api|assets)/)|(/logout\b)|(/(attachments?|download|export|files?|blobs?)(/|$))|"
                       r"\.(csv|pdf|png|jpe?g|zip|xml|json|bpmn|ofd|txt|svg|xlsx?|docx?)$", re.I)
#: query parameters whose value makes another page (a tab), not a filter of the same one
PAGE_PARAMS = {"tab"}
#: a path segment that is an id: a number, a UUID, a case number, a long hex — one page "kind"
ID_SEGMENT = re.compile(r"^(\d+|\d{4}-\d{6}-\d{2}-\d{2}-\d{6}|[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{16,}|"
                        r"\d{6}-\d{8}-\d+|[A-Z0-9]{18})$", re.I)
PER_KIND = 2  # pages of one kind (/inbox/tasks/<id>, /portal/matters/<id>) visited per role and language


def page_key(url: str, process_ids: set[str]) -> tuple[str, str] | None:
    """(kind, variant) of a same-origin URL to follow, or None to skip it. The kind is the path with
    ids generalised and "#filtered" when other parameters than PAGE_PARAMS are set (the first filtered
variant of a page is visited, no other); the second item is the path."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if SKIP_PATH.search(path):
        return None
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == "lang" for k, _ in query):
        return None
    segments = ["{id}" if ID_SEGMENT.match(s) or s in process_ids else s for s in path.split("/")]
    pages = sorted((k, v) for k, v in query if k in PAGE_PARAMS)
    filtered = any(k not in PAGE_PARAMS for k, _ in query)
    kind = "/".join(segments) + (("?" + urlencode(pages)) if pages else "") + ("#filtered" if filtered else "")
    return kind, path


def clean_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path or "/", parts.query, ""))


LINKS_JS = """() => [...document.querySelectorAll('a[href]')]
  .filter(a => !a.hasAttribute('download') && (!a.target || a.target === '_self'))
  .map(a => a.href).filter(h => h.startsWith(location.origin))"""

READY_JS = """() => [['#diagram', '#diagram svg'], ['#taskform', '#taskform .fjs-container'],
  ['#start-form', '#start-form .fjs-container'], ['#startform', '#startform .fjs-container'],
  ['#dsg-properties', '#dsg-properties .bio-properties-panel']]
  .every(([box, done]) => !document.querySelector(box) || document.querySelector(done))"""

#: the visible text: body's innerText (no script/style, nothing hidden) without the bpmn.io
#: watermark, the language switch (it names the other language), elements marked in another lang
#: (data such as a name: <span lang="zh-CN">) and codes shown as codes (<code>, <kbd>, <samp>);
#: with the document title, the placeholders and the button values of visible controls
TEXT_JS = """() => {
  const own = (document.documentElement.lang || 'zh').slice(0, 2);
  const marks = [...document.querySelectorAll('.bjs-powered-by, .djs-powered-by, .fjs-powered-by, a[href*="bpmn.io"], '
      + 'a[href*="?lang="], a[href*="&lang="], body [lang], body code, body kbd, body samp')]
    .filter(e => !e.hasAttribute('lang') || e.getAttribute('lang').slice(0, 2) !== own);
  const saved = marks.map(e => e.style.display);
  marks.forEach(e => e.style.display = 'none');
  const body = document.body ? document.body.innerText : '';
  marks.forEach((e, i) => e.style.display = saved[i]);
  const shown = e => e.checkVisibility ? e.checkVisibility({checkVisibilityCSS: true}) : e.offsetParent !== null;
  const extra = [...document.querySelectorAll('[placeholder]')].filter(shown).map(e => e.getAttribute('placeholder'))
    .concat([...document.querySelectorAll('input[type=submit], input[type=button]')].filter(shown).map(e => e.value));
  return [document.title, body, ...extra].join('\\n');
}"""

SCROLL_JS = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
FRAMES_JS = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


@dataclass
class Finding:
    role: str
    lang: str
    page: str
    kind: str
    snippet: str

    def line(self) -> str:
        return f"{self.page} [{self.role}/{self.lang}] {self.kind}: {self.snippet}"


@dataclass
class Crawl:
    role: str
    lang: str
    visited: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The checks of one page's visible text

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
CJK_RUN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9_@./-])[A-Za-z][A-Za-z'’-]{2,}(?![A-Za-z0-9_@])")
#: Latin words a Chinese page may show: products, standards, codes, units, formats
LATIN_ALLOWED = {w.lower() for w in (
    "BPMN DMN PDF OFD SMS CA API QR URL URI CSV XML JSON HTML HTTP HTTPS PostgreSQL SQLite UKey USB "
    "PNG JPG JPEG ZIP DOC DOCX XLS XLSX TXT OpenID Connect OAuth CAS SSO TOTP OTP SM2 SM3 SM4 RSA SHA "
    "ICP GB ISO PKI LDAP SMTP IMAP Twilio WeChat Alipay iOS Android App PC Email E-mail WiFi Ctrl Shift Alt Esc "
    "bpmn-js form-js bpmnlint Camunda SpiffWorkflow Flask Python Redis Nginx Linux Windows "
    "Chrome Chromium Firefox Edge Safari macOS iPhone iPad PEM DER OpenAPI Swagger "
    "yyyy-mm-dd MW kW kWh GW MWh km mm cm kg kV kVA").split()}
RAW_IDS = [
    ("bpmn-id", re.compile(r"\b(?:Activity|Gateway|Event|StartEvent|EndEvent|Task|UserTask|ServiceTask|Flow|"
                           r"SequenceFlow|Process|Participant|Lane|Collaboration|DataObject|TextAnnotation|"
                           r"Association)_[0-9A-Za-z]+\b")),
    ("upper-snake", re.compile(r"(?<![A-Za-z0-9_])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?![A-Za-z0-9_])")),
    ("snake-case", re.compile(r"(?<![A-Za-z0-9_.@/-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![A-Za-z0-9_@])")),
    ("dotted-name", re.compile(r"(?<![A-Za-z0-9_./@-])[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+(?![A-Za-z0-9_@/-])")),
]
#: a dotted token that is a file name or a host, not a python name
DOTTED_OK = re.compile(r"\.(pdf|png|jpe?g|zip|csv|xml|json|bpmn|ofd|txt|svg|docx?|xlsx?|cn|com|org|net|io|gov)$")
TIMESTAMPS = [
    ("iso-timestamp", re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")),
    ("utc-marker", re.compile(r"\bUTC\b|\bGMT\b|[+-]00:?00\b|\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z\b")),
]


def _snippet(text: str, start: int, end: int, pad: int = 24) -> str:
    return " ".join(text[max(0, start - pad):end + pad].split())


#: Latin phrases of Chinese usage (taken out before the words are checked)
LATIN_PHRASES = re.compile(r"USB ?Key|U ?盾|E-?mail", re.I)
CJK_PUNCT = re.compile(r"^[\u3000-\u303f\uff00-\uffef]+$")


def check_text(text: str, lang: str, data: list[str], process_ids: set[str]) -> list[tuple[str, str]]:
    """(kind, snippet) of what the visible ``text`` of a ``lang`` page should not show."""
    out: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def add(kind, token, snippet):
        if (kind, token) not in seen:
            seen.add((kind, token))
            out.append((kind, f"«{token}» … {snippet}"))

    rest = text
    for kind, pattern in TIMESTAMPS:
        for m in pattern.finditer(text):
            add(kind, m.group(0), _snippet(text, m.start(), m.end()))
        rest = pattern.sub(" ", rest)
    for pid in sorted(process_ids, key=len, reverse=True):
        for m in re.finditer(rf"(?<![A-Za-z0-9_]){re.escape(pid)}(?![A-Za-z0-9_])", rest):
            add("process-id", pid, _snippet(rest, m.start(), m.end()))
        rest = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(pid)}(?![A-Za-z0-9_])", " ", rest)
    for kind, pattern in RAW_IDS:
        for m in pattern.finditer(rest):
            if kind == "dotted-name" and DOTTED_OK.search(m.group(0)):
                continue
            add(kind, m.group(0), _snippet(rest, m.start(), m.end()))
        if kind != "dotted-name":
            rest = pattern.sub(" ", rest)
    if lang == "zh":
        rest = LATIN_PHRASES.sub(" ", rest)
        for m in LATIN_WORD.finditer(rest):
            word = m.group(0)
            if word.lower().strip("'’-") in LATIN_ALLOWED or DOTTED_OK.search(word):
                continue
            add("latin-in-zh", word, _snippet(rest, m.start(), m.end()))
    else:
        stripped = rest
        for value in data:
            if value in stripped:
                stripped = stripped.replace(value, " § ")
        for m in CJK_RUN.finditer(stripped):
            kind = "cjk-punct-in-en" if CJK_PUNCT.match(m.group(0)) else "cjk-in-en"
            add(kind, m.group(0), _snippet(stripped, m.start(), m.end()))
    return out


# ---------------------------------------------------------------------------------------------
# One role's crawl in one language

VIEWPORT_SIZES = {"desktop": (1280, 800), "phone": (375, 667)}
BUDGET = 60  # pages per role and language


def slug(kind: str, index: int) -> str:
    """A file name part for a page kind ("/inbox/tasks/{id}" → "inbox-tasks-id"; the second page of a
    kind gets "-2"): stable from run to run, whatever the ids."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", kind).strip("-")[:80] or "home"
    return name if index == 0 else f"{name}-{index + 1}"


#: pages that look the same to every role (the public portal, the account pages): one screenshot
SHARED_PAGES = re.compile(r"^/(login|progress|disclosure.*|portal/(#filtered)?|portal/(matters|apply)/.*|"
                          r"portal/(login|register).*|account/.*)?$")


@dataclass
class Shots:
    """Where screenshots go (SCREENSHOTS=1) and the pictures taken: a page of SHARED_PAGES is taken
    once for all roles, named after the first role that saw it."""
    folder: object
    taken: set = field(default_factory=set)


class Crawler:
    """Breadth first from ``start`` over same-origin links, GET only, ``BUDGET`` pages, at most
    ``PER_KIND`` of a kind and one variant of a kind's filters; each page checked at both viewports."""

    def __init__(self, page, role: str, lang: str, data: list[str], process_ids: set[str], shots: Shots | None = None):
        self.page, self.data, self.process_ids, self.shots = page, data, process_ids, shots
        self.crawl = Crawl(role, lang)
        self.viewport = "desktop"
        self.errors: list[str] = []
        self.checked: set[tuple[str, str]] = set()
        self.agent = page.evaluate("navigator.userAgent")
        self.shot_paths: dict[str, list[str]] = {}
        page.on("pageerror", lambda exc: self.errors.append(str(exc).splitlines()[0][:160]))

    def add(self, url, kind, snippet):
        self.crawl.findings.append(Finding(self.crawl.role, self.crawl.lang, url, kind, snippet))

    def run(self, start: str) -> Crawl:
        queue, seen_urls, kinds = [start], {start}, {}
        while queue and len(self.crawl.visited) < BUDGET:
            url = queue.pop(0)
            for link in self.visit(url):
                target = clean_url(link)
                key = page_key(link, self.process_ids)
                if key is None or target in seen_urls:
                    continue
                kind, path = key
                paths = kinds.setdefault(kind, [])
                if path in paths or len(paths) >= PER_KIND or (("#" in kind) and paths):
                    continue
                paths.append(path)
                seen_urls.add(target)
                queue.append(target)
        return self.crawl

    def _shot_name(self, key) -> str | None:
        if self.shots is None:
            return None
        kind, path = key
        paths = self.shot_paths.setdefault(kind, [])
        if path not in paths:
            paths.append(path)
        name = f"{slug(kind, paths.index(path))}-{self.crawl.lang}"
        taken = name if SHARED_PAGES.match(kind) else f"{self.crawl.role}-{name}"
        if taken in self.shots.taken:
            return None
        self.shots.taken.add(taken)
        return f"{self.crawl.role}-{name}"

    def visit(self, url: str) -> list[str]:
        page, lang = self.page, self.crawl.lang
        self.errors.clear()
        try:
            response = page.goto(url)
        except Exception as exc:  # noqa: BLE001 — a page that does not load is a finding, not a stop
            self.add(url, "load", str(exc).splitlines()[0][:160])
            return []
        here = clean_url(page.url)
        key = page_key(page.url, self.process_ids) or (here, here)
        if key in self.checked:  # a redirect to a page checked before (the sign-in page)
            return []
        self.checked.add(key)
        self.crawl.visited.append(here)
        if response is not None and response.status >= 400:
            self.add(here, "http-status", f"{response.status} (linked as {url})")
        try:
            page.wait_for_function(READY_JS, timeout=8_000)
        except Exception:  # noqa: BLE001
            self.add(here, "render", "diagram/form did not render within 8 s")
        shown = page.evaluate(TEXT_JS).replace(self.agent, " ")  # /account/devices: this browser (data)
        for kind, snippet in check_text(shown, lang, self.data, self.process_ids):
            self.add(here, kind, snippet)
        links = page.evaluate(LINKS_JS)
        shot_name = self._shot_name(key)
        order = ["desktop", "phone"] if self.viewport == "desktop" else ["phone", "desktop"]
        for index, name in enumerate(order):
            if index:
                width, height = VIEWPORT_SIZES[name]
                page.set_viewport_size({"width": width, "height": height})
                page.evaluate(FRAMES_JS)  # reading scrollWidth lays out anyway; this lets resize handlers run
                self.viewport = name
            scroll, inner = page.evaluate(SCROLL_JS)
            if scroll > inner + 1:
                self.add(here, "sideways-scroll", f"{name} {VIEWPORT_SIZES[name][0]} px: scrollWidth {scroll}")
            if shot_name:
                page.screenshot(path=str(self.shots.folder / f"{shot_name}-{name}.png"))
        for error in dict.fromkeys(self.errors):
            self.add(here, "script-error", error)
        return links


# ---------------------------------------------------------------------------------------------
# The demo cases moved on, so that each role has something in its inbox (the seed leaves every
# case at 窗口收件审查): each follows the first scenario of its matter (processes/<id>.scenarios.json)
# for the first N steps, done by a demo account that may do the step.

ADVANCE = {
    "xmgl_beian": None,      # to its end: the demo enterprise's own case decided (公示, 办结)
    "xmgl_hezhun": 4,        # at 会签: cs_natural_resources_1 and cs_ecology_1
    "xmgl_hezhun_bg": 2,     # at 处长审核: invest_chief
    "xmgl_hezhun_yq": 5,     # at 委领导审定: leader1
    "zftz_jys": 3,           # at 处室审查: invest1 (after a 补正 by its applicant)
}


def advance_demo(app, processes_dir) -> tuple[list[str], list]:
    """Complete the first steps of ADVANCE's cases; returns "case step by user" lines and the data
    typed in (opinions, replies: DATA for the en check)."""
    done, typed = [], []
    with app.app_context():
        users = list(db.session.execute(select(User)).scalars())
        for pid, count in ADVANCE.items():
            case = db.session.execute(select(Case).where(Case.process_id == pid)).scalars().first()
            scenario = json.loads((Path(processes_dir) / f"{pid}.scenarios.json").read_text("utf-8"))["scenarios"][0]
            for step in scenario["steps"][:count]:
                if "task" not in step:
                    break
                task = db.session.execute(select(HumanTask).where(
                    HumanTask.case_id == case.id, HumanTask.element_id == step["task"],
                    HumanTask.state == "ready")).scalars().first()
                assert task is not None, (pid, step["task"])
                user = next(u for u in users if u.username in (task.candidate_users or ())
                            or (u.kind == "staff" and u.region_code == case.region_code
                                and set(u.groups or ()) & set(task.candidate_groups or ()))
                            or (u.id == case.applicant_id and not task.candidate_groups and not task.candidate_users))
                complete(actor_from_user(user), task.id, step["data"])
                typed.append(step["data"])
                db.session.expire_all()
                done.append(f"{case.case_no} {pid}:{step['task']} by {user.username}")
    return done, typed
