"""The OpenAPI document is the API's contract (issue 12, point 5): schemathesis reads
``/api/openapi.json`` from the LIVE app (a werkzeug server on 127.0.0.1, real HTTP) and sends what
the document allows — and what it forbids — to every operation in it, as an administrator, a staff
member and an applicant, with every check schemathesis has (no 500, status codes, content types,
headers and bodies as documented, valid data accepted, invalid data refused, authentication
enforced …).

Each operation is called with the credentials its ``security`` names: the bearer token of the role
for the JSON API, the role's session cookie plus its ``X-CSRF-Token`` for the page endpoints
(app/web/api/page_endpoints.py), nothing for the public ones. The database holds the shipped
matters and a few cases and tasks of each, so that ids the generator draws (small integers) hit
real rows and the endpoints do real work."""
from __future__ import annotations

import re
import shutil
import threading

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import select
from werkzeug.serving import make_server

from app.extensions import db
from tests.conftest import ROOT, add_user, deploy_all, fresh_database, make_app

ROLES = {"admin": ("staff", ["admin"]), "staff": ("staff", ["window", "investment"]),
         "applicant": ("applicant", [])}
PASSWORD = "contract-test-password"
JSON = {"Accept": "application/json"}  # what the pages' fetch sends: the JSON answer, not the HTML one
MAX_EXAMPLES = 5


def _fresh_database(database_url: str, folder) -> str:
    """A database of its own for this module (the per-test ``db_url`` is function-scoped)."""
    return fresh_database(database_url, folder, "contract.sqlite3")


class Live:
    """The app on a real HTTP port (werkzeug, a thread), with the three users."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="contract-server", daemon=True)
        self.bearer: dict[str, dict] = {}
        self.sessions: dict[str, tuple[str, str]] = {}  # role -> (session cookie, its CSRF token)

    def add(self, role: str) -> None:
        """The user of ``role`` with its API token (``tok-<role>``) and a sign-in password."""
        from app.models import User
        from app.services.identity.auth import set_password
        kind, groups = ROLES[role]
        self.bearer[role] = add_user(self.app, role, kind, groups)
        with self.app.app_context():
            set_password(db.session.execute(select(User).where(User.username == role)).scalar_one(), PASSWORD)
            db.session.commit()

    def sign_in(self, role: str) -> tuple[str, str]:
        """Sign in through the real form at /login (its CSRF token, the session cookie), then read the
        signed-in session's CSRF token off a page: (session cookie, CSRF token)."""
        import requests
        browser = requests.Session()
        page = browser.get(f"{self.url}/login", timeout=10).text
        r = browser.post(f"{self.url}/login", data={"username": role, "password": PASSWORD,
                                                    "csrf_token": _csrf_field(page)}, allow_redirects=False, timeout=10)
        assert r.status_code == 302, f"{role} could not sign in: {r.status_code}"
        csrf = _csrf_field(browser.get(f"{self.url}/", timeout=10).text)
        return browser.cookies[self.app.config["SESSION_COOKIE_NAME"]], csrf


def _csrf_field(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has a CSRF token field"
    return found.group(1)


def _seed(live: Live) -> None:
    """Cases of the shipped matters in several states, so that drawn ids meet real rows."""
    import json
    client = live.app.test_client()
    sc = json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text("utf-8"))["scenarios"][0]
    for submit in (True, True, True, False):
        r = client.post("/api/cases", json={"process_id": "xmgl_beian", "data": sc["start"], "submit": submit},
                        headers=live.bearer["applicant"])
        assert r.status_code == 201, r.json
    tasks = client.get("/api/tasks", headers=live.bearer["staff"]).json
    assert tasks, "the window has tasks"
    r = client.post(f"/api/tasks/{tasks[0]['id']}/claim", json={}, headers=live.bearer["staff"])
    assert r.status_code == 200, r.json


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract")
    for name in ("processes", "forms"):  # the designer's deploy writes files: never into the repository
        shutil.copytree(ROOT / name, folder / name)
    app = make_app(_fresh_database(database_url, folder), PROCESSES_DIR=str(folder / "processes"),
                   FORMS_DIR=str(folder / "forms"))
    deploy_all(app)
    server = Live(app)
    for role in ROLES:
        server.add(role)
    _seed(server)
    server.thread.start()
    for role in ROLES:  # the real browser session of each role
        server.sessions[role] = server.sign_in(role)
    yield server
    server.server.shutdown()
    server.server.server_close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# the document, read at collection (one test per operation) from an app that needs no database; the
# live server must serve the same one (test_the_live_server_serves_the_document)
DOCUMENT = make_app("sqlite://").test_client().get("/api/openapi.json").get_json()


def _operations(document: dict, keep) -> list[str]:
    return [f"{method.upper()} {path}" for path, item in document["paths"].items()
            for method, operation in item.items() if isinstance(operation, dict) and keep(operation)]


APPLICANT_PATHS = ("/api/cases", "/api/cases/{key}", "/api/cases/{case_id}/submit", "/api/cases/{case_id}/withdraw",
                   "/api/portal/", "/portal/", "/p/")
STAFF_PATHS = ("/api/tasks", "/api/inbox", "/inbox/tasks/", "/inbox/cases/{case_id}/intake",
               "/inbox/cases/{case_id}/result", "/correction/", "/feedback/", "/api/cases/{case_id}/special-procedures",
               "/api/cases/special-procedures/")


def _coverage_role(name: str) -> str:
    """Who runs an operation's coverage phase (every boundary and every broken value of every
    parameter, the bulk of the requests): the role that can do real work there. Examples and
    fuzzing (valid and invalid data) run as all three."""
    path = name.split(" ", 1)[1]
    if path in APPLICANT_PATHS[:4] or path.startswith(APPLICANT_PATHS[4:]):
        return "applicant"
    if path.startswith(STAFF_PATHS):
        return "staff"
    return "admin"


SESSION_SLOT, CSRF_SLOT = "live-session-cookie", "live-csrf-token"


def _credentials(role: str) -> dict:
    """schemathesis' own auth for each security scheme of the document, so that it knows what to leave
    out when it tests that an operation refuses a request without them: the role's API token, and
    slots for the role's browser session and its CSRF token. schemathesis builds some cases when it
    collects the tests, before the live server exists: the slots are filled just before each call
    (``_signed_in``) with the session the ``live`` fixture signed in through /login."""
    return {"bearer": {"bearer": f"tok-{role}"}, "session": {"api_key": SESSION_SLOT},
            "csrf": {"api_key": CSRF_SLOT}}


def _signed_in(case, role: str, live) -> None:
    """Fill the session slots a case carries (a case testing a missing credential carries none)."""
    cookie, csrf = live.sessions[role]
    if case.cookies and case.cookies.get("session") == SESSION_SLOT:
        case.cookies["session"] = cookie
    if case.headers and case.headers.get("X-CSRF-Token") == CSRF_SLOT:
        case.headers["X-CSRF-Token"] = csrf


def _config(role: str) -> schemathesis.Config:
    """Every check, as ``role``, the coverage phase on the role's share of the operations, with three
    allowances the document itself states:

    - an operation marked ``x-semantic-422`` checks more than a schema can say (a matter's form, a
      file's content, a BPMN model): valid-looking data may be refused with 422 there;
    - a POST of a page endpoint (security session + csrf) without its credentials is refused by the
      CSRF check with 400 before anything else (app/web/auth.py), where schemathesis' ``ignored_auth``
      expects 401/403: that check is off for them, and test_page_posts_without_a_session_change_nothing
      checks the refusal instead;
    - a page read (GET, security session) without a session is sent to the sign-in page (302, as
      documented): for those, 302 counts as refusing the request;
    - an operation that documents a 503 answers it as its result, not as a server error: /readyz is
      503 while no scheduler beats (the test server runs none); any other 5xx still fails."""
    semantic = _operations(DOCUMENT, lambda op: op.get("x-semantic-422"))
    csrf = _operations(DOCUMENT, lambda op: any("csrf" in requirement for requirement in op.get("security", [])))
    pages = _operations(DOCUMENT, lambda op: op.get("security") == [{"session": []}] and "302" in op["responses"])
    accepted = ["2xx", "3xx", "401", "403", "404", "409", "429", "422"]
    refused = ["302", "400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
    unavailable = set(_operations(DOCUMENT, lambda op: "503" in op.get("responses", {})))
    operations = [{"include-name": name, "checks": {"positive_data_acceptance": {
                   "expected-statuses": accepted + (["503"] if name in unavailable else [])}}} for name in semantic]
    operations += [{"include-name": name, "checks": {"ignored_auth": {"enabled": False}}} for name in csrf]
    operations += [{"include-name": name, "checks": {"negative_data_rejection": {"expected-statuses": refused}}}
                   for name in pages]
    operations += [{"include-name": name, "checks": {"not_a_server_error": {"expected-statuses": ["1xx", "2xx", "3xx", "4xx", "503"]}}}
                   for name in _operations(DOCUMENT, lambda op: "503" in op.get("responses", {}))]
    operations += [{"include-name": name, "phases": {"coverage": {"enabled": False}}}
                   for name in _operations(DOCUMENT, lambda op: True) if _coverage_role(name) != role]
    return schemathesis.Config.from_dict({
        "generation": {"max-examples": MAX_EXAMPLES},
        "auth": {"openapi": _credentials(role), "auto-signup": False},
        "operations": operations})


def _gate_refuses(value) -> bool:
    """Whether ``value`` holds input the app's one input gate refuses on every endpoint, as the
    document's ``info.description`` states once for all (the schemas do not repeat it): a NUL or a
    lone surrogate in a text, a number of more than 100 digits (a JSON number, or a text that is
    nothing but one), JSON nested deeper than 64 levels."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            number = item.strip().lstrip("+-").replace(".", "", 1)
            if "\x00" in item or re.search("[\ud800-\udfff]", item) or \
                    (number.isdigit() and re.search(r"\d{101,}", item)):
                return True
        elif isinstance(item, int) and not isinstance(item, bool):
            if len(str(abs(item))) > 100:
                return True
        elif isinstance(item, (dict, list)):
            if depth > 64:
                return True
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for key, child in children:
                stack.append((key, depth + 1))
                stack.append((child, depth + 1))
    return False


def _not_the_gate(context, failure, case, response) -> bool:
    """filter_failure: keep every failure but one — valid-by-schema data refused with 422 by the input
    gate for exactly the global rules above. A 500 is always kept."""
    from schemathesis.openapi.checks import RejectedPositiveData
    if isinstance(failure, RejectedPositiveData) and response.status_code == 422:
        sent = [case.body, case.query, case.path_parameters, case.headers, case.cookies]
        return not _gate_refuses(sent)
    return True


SCHEMAS = {role: schemathesis.openapi.from_dict(DOCUMENT, config=_config(role)) for role in ROLES}
for _schema in SCHEMAS.values():
    _schema.hook("filter_failure")(_not_the_gate)


def test_the_live_server_serves_the_document(live):
    import requests
    r = requests.get(f"{live.url}/api/openapi.json", timeout=10)
    assert r.status_code == 200 and r.json() == DOCUMENT


def test_the_credentials_reach_the_protected_endpoints(live):
    """Not a vacuous run: each role's token and signed-in session work on protected endpoints."""
    import requests
    for role in ROLES:
        cookie, csrf = live.sessions[role]
        jar = {live.app.config["SESSION_COOKIE_NAME"]: cookie}
        r = requests.get(f"{live.url}/api/tasks", headers=live.bearer[role], timeout=10)
        assert r.status_code == 200, (role, r.status_code)
        r = requests.get(f"{live.url}/portal/cases", cookies=jar, headers=JSON, allow_redirects=False, timeout=10)
        assert r.status_code == (200 if role == "applicant" else 302), (role, r.status_code)
        r = requests.post(f"{live.url}/inbox/tasks/nope/claim", cookies=jar, headers={**JSON, "X-CSRF-Token": csrf},
                          timeout=10)
        assert r.status_code == (404 if role != "applicant" else 403), (role, r.status_code, r.text)


SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=True)


def _call(case, role: str, live) -> None:
    """One case over HTTP as ``role``, every check on its answer."""
    _signed_in(case, role, live)
    case.call_and_validate(base_url=live.url, headers=JSON, timeout=30)


@SCHEMAS["admin"].parametrize()
@SETTINGS
def test_as_admin(case, live):
    _call(case, "admin", live)


@SCHEMAS["staff"].parametrize()
@SETTINGS
def test_as_staff(case, live):
    _call(case, "staff", live)


@SCHEMAS["applicant"].parametrize()
@SETTINGS
def test_as_applicant(case, live):
    _call(case, "applicant", live)
