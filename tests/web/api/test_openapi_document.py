"""The OpenAPI document and the answers agree (issue 12, point 5), for what the review found and what
the contract test (test_openapi_contract.py) found: the error body as documented (``error`` always
there), a 405 with its Allow header, a method a page does not take answered 405 (not the CSRF 400),
the public endpoints without security, every /api route in the document, the pages' JSON endpoints
in it with session + CSRF, and the 500s a JSON body of the wrong shape caused."""
from __future__ import annotations

import json
import re

import jsonschema_rs
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from app.services.identity.auth import set_password
from tests.conftest import ROOT, add_user, deploy_all

PASSWORD = "document-test-password"
START = json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text("utf-8"))["scenarios"][0]["start"]


@pytest.fixture
def world(app):
    """The shipped matters, an applicant with a case waiting at the window, two window clerks."""
    deploy_all(app)
    headers = {name: add_user(app, name, kind, groups) for name, kind, groups in (
        ("alice", "applicant", ()), ("w1", "staff", ("window",)), ("w2", "staff", ("window",)))}
    with app.app_context():
        for user in db.session.execute(select(User)).scalars():
            set_password(user, PASSWORD)
        db.session.commit()
    client = app.test_client()
    r = client.post("/api/cases", json={"process_id": "xmgl_beian", "data": START}, headers=headers["alice"])
    assert r.status_code == 201, r.json
    task = client.get("/api/tasks", headers=headers["w1"]).json[0]["id"]
    return {"headers": headers, "case": r.json["id"], "task": task}


def document(app) -> dict:
    return app.test_client().get("/api/openapi.json").get_json()


def error_validator(app):
    doc = document(app)
    return jsonschema_rs.validator_for(doc["components"]["schemas"]["Error"])


def signed_in(app, username):
    """A client signed in through /login; returns (client, the session's CSRF token)."""
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    return client, token


def concrete(path: str, item: dict, ids: dict) -> str:
    """A URL of a documented path: an enum parameter's first value, else ``ids[name]`` or 1."""
    params = {p["name"]: p for p in item.get("parameters", [])}
    for op in item.values():
        if isinstance(op, dict):
            params.update({p["name"]: p for p in op.get("parameters", []) if p.get("in") == "path"})

    def value(match):
        schema = params.get(match.group(1), {}).get("schema", {})
        return str(schema["enum"][0]) if "enum" in schema else str(ids.get(match.group(1), 1))
    return re.sub(r"\{([a-z_]+)\}", value, path)


def counts(app) -> dict:
    with app.app_context():
        return {t.name: db.session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in db.metadata.sorted_tables
                if t.name not in ("rate_buckets", "sms_codes", "trusted_devices")}  # a sign-in's own row


def test_every_error_body_is_the_documented_error_with_its_code(app, world):
    """The review found ``error`` undocumented (and missing from the HTTP layer's errors): every JSON
    error is now exactly the ``Error`` schema, ``error`` included."""
    valid = error_validator(app)
    c = app.test_client()
    answers = [
        (c.get("/api/no-such-thing"), 404, "not_found"),                                    # routing
        (c.get("/api/cases/424242", headers=world["headers"]["alice"]), 404, "not_found"),  # a DomainError
        (c.get("/api/cases"), 401, "unauthenticated"),
        (c.post("/api/cases", json={"process_id": ""}, headers=world["headers"]["alice"]), 422, "validation_error"),
        (c.post("/inbox/tasks/x/claim", headers={"Accept": "application/json"}), 400, "bad_request"),  # CSRF
        (c.delete("/api/matters"), 405, "method_not_allowed"),
    ]
    for r, status, code in answers:
        assert r.status_code == status, (r.status_code, r.json)
        assert valid.is_valid(r.json), r.json
        assert r.json["error"] == code and r.json["code"] == status


def test_a_405_names_the_methods_the_url_takes(app):
    r = app.test_client().delete("/api/matters")
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) >= {"GET"}


def test_a_method_a_page_url_does_not_take_is_405_not_the_csrf_refusal(app):
    """Before: PUT /healthz was refused by the CSRF check (400) before routing could say 405."""
    for url in ("/healthz", "/portal/cases", "/p/some-token"):
        r = app.test_client().put(url, headers={"Accept": "application/json"})
        assert r.status_code == 405 and "GET" in r.headers["Allow"], (url, r.status_code)
    assert app.test_client().post("/no/such/page", headers={"Accept": "application/json"}).status_code == 404


def test_a_case_key_of_non_ascii_digits_is_not_found_not_a_500(app, world):
    """``"²".isdigit()`` is true but ``int("²")`` fails: GET /api/cases/² was a 500."""
    for key in ("²", "١٢", "99999999999"):
        r = app.test_client().get(f"/api/cases/{key}", headers=world["headers"]["alice"])
        assert r.status_code == 404, (key, r.status_code)


def test_the_public_endpoints_need_no_credentials_and_the_others_say_which(app):
    doc = document(app)
    public = {(path, method) for path, item in doc["paths"].items() for method, op in item.items()
              if isinstance(op, dict) and op.get("security") == []}
    assert {("/api/matters", "get"), ("/api/matters/{process_id}", "get"), ("/p/{token}", "get"),
            ("/healthz", "get"), ("/readyz", "get"), ("/api/twilio/status", "post"),
            # the federation protocol: a message is authenticated by its signature, not a token
            ("/api/federation/messages", "post"), ("/api/federation/ping", "post"),
            ("/api/federation/whoami", "get"), ("/api/federation/files/{sha256}", "get"),
            # the 一张网's calls: authenticated by the gateway signature, not a token
            ("/api/ywtb/applications", "post"), ("/api/ywtb/ratings", "post"),
            ("/api/catalog", "get")} == public  # the matter catalog: the guides are public
    assert doc["security"] == [{"bearer": []}]
    assert app.test_client().get("/api/matters").status_code == 200
    pages = [op for path, item in doc["paths"].items() if not path.startswith("/api/")
             for method, op in item.items() if isinstance(op, dict) and op.get("security") != []]
    assert pages and all(op["security"] in ([{"session": [], "csrf": []}], [{"session": []}]) for op in pages)
    for op in pages:
        if "csrf" in str(op["security"]):
            assert op["security"] == [{"session": [], "csrf": []}]


def test_every_api_route_and_every_json_page_endpoint_is_in_the_document(app):
    """The review found about 40 page endpoints missing, and /api/portal/… and /api/twilio/status."""
    doc = document(app)
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item
                  if method != "parameters"}
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method))
    api = {r for r in routes if r[0].startswith("/api/") and r[0] != "/api/openapi.json"}
    assert api - documented == set()
    fetched = {("/inbox/tasks/{task_id}/approve", "POST"), ("/inbox/tasks/{task_id}/reject", "POST"),
               ("/inbox/tasks/{task_id}/resolve", "POST"), ("/inbox/tasks/{task_id}/draft", "POST"),
               ("/portal/drafts/{case_id}/save", "POST"), ("/portal/drafts/{case_id}/submit", "POST"),
               ("/designer/forms/{form_id}", "GET"), ("/designer/check", "POST"), ("/designer/scenarios", "POST"),
               ("/designer/import", "POST"), ("/designer/deploy", "POST")}
    assert fetched <= documented  # what the pages' scripts call with fetch
    pages = {p for p in documented if not p[0].startswith("/api/")}
    assert len(pages) >= 45
    adapter = app.url_map.bind("localhost")
    for path, method in pages:  # every documented page endpoint is answered by a route of the app
        adapter.match(concrete(path, doc["paths"][path], {}), method)


def test_the_pages_fetch_only_documented_urls():
    """The URLs the templates and scripts fetch are documented (the task page posts to its buttons'
    formaction: approve, reject, resolve, draft; the certificate sign-in's second fetch goes to the local key
    client, outside the app: docs/identity.md)."""
    sources = [p.read_text("utf-8") for p in (ROOT / "app" / "web").rglob("*") if p.suffix in (".html", ".js")]
    calls = sum(s.count("fetch(") for s in sources)
    assert calls == 7, "a new fetch call: document its endpoint in app/web/api/page_endpoints.py"


def test_page_posts_without_a_session_change_nothing(app, world):
    """What schemathesis' ignored_auth check cannot judge (the CSRF check answers 400 before the
    sign-in check): every documented page POST without a session, or with a session but without the
    CSRF token, is refused and changes nothing."""
    doc = document(app)
    posts = [path for path, item in doc["paths"].items() if not path.startswith("/api/") and "post" in item]
    assert len(posts) >= 40
    before = counts(app)
    anonymous = app.test_client()
    w1, _token = signed_in(app, "w1")
    for path in posts:
        url = concrete(path, doc["paths"][path], {"task_id": world["task"], "case_id": world["case"]})
        for client in (anonymous, w1):
            r = client.post(url, json={"reason": "x", "users": ["w2"], "mode": "before"},
                            headers={"Accept": "application/json"})
            assert r.status_code == 400 and r.json["error"] == "bad_request", (url, r.status_code)
    assert counts(app) == before


def test_page_signers_and_cc_refuse_user_lists_that_are_not_names(app, world):
    """Before: ``users: [["x"]]`` reached ``dict.fromkeys`` (unhashable): a 500 on a real task."""
    before = counts(app)
    w1, token = signed_in(app, "w1")
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    for op, body in (("signers", {"users": [["w2"]], "mode": "before"}), ("cc", {"users": [{"name": "w2"}]}),
                     ("signers", {"users": [1], "mode": "before"}), ("cc", {"users": [None]})):
        r = w1.post(f"/inbox/tasks/{world['task']}/{op}", json=body, headers=headers)
        assert r.status_code == 422, (op, r.status_code, r.json)
    assert counts(app) == before


def test_a_feedback_refusal_is_the_error_body(app, world):
    """Before: ``{code, error, message, errors: null}``, not the documented Error (no ``status``)."""
    alice, token = signed_in(app, "alice")
    r = alice.post("/portal/complaints/new", data={"subject": " ", "body": "x", "csrf_token": token},
                   headers={"Accept": "application/json"})
    assert r.status_code == 422 and error_validator(app).is_valid(r.json), r.json
    assert r.json["error"] == "validation_error" and "subject" in r.json["errors"]


def test_staff_get_a_refusal_from_the_applicants_mail_endpoint_as_json(app, world):
    """A JSON client is refused (403, as documented), not redirected to the staff page."""
    w1, token = signed_in(app, "w1")
    r = w1.post(f"/portal/cases/{world['case']}/mail", data={"csrf_token": token},
                headers={"Accept": "application/json"})
    assert r.status_code == 403 and r.json["error"] == "forbidden"
    assert w1.post(f"/portal/cases/{world['case']}/mail", data={"csrf_token": token}).status_code == 302


def test_the_inbox_answer_and_the_operations_answers_are_documented(app, world):
    """The review found the inbox's 200 undocumented; it and an operation's answer validate."""
    doc = document(app)
    schemas = doc["components"]["schemas"]
    resolved = json.loads(json.dumps(schemas).replace("#/components/schemas/", "#/definitions/"))
    c = app.test_client()
    r = c.get("/api/inbox", headers=world["headers"]["w1"])
    assert r.status_code == 200 and r.json["rows"]
    assert jsonschema_rs.validator_for({"$ref": "#/definitions/InboxOut", "definitions": resolved}).is_valid(r.json)
    r = c.post(f"/api/tasks/{world['task']}/claim", json={}, headers=world["headers"]["w1"])
    assert r.status_code == 200
    assert jsonschema_rs.validator_for({"$ref": "#/definitions/TaskResultOut",
                                        "definitions": resolved}).is_valid(r.json), r.json
