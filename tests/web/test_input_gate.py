"""The one input gate (app/web/input_gate.py) on every entry of the app (issue 12, visitors).

``test_every_endpoint_refuses_unstorable_input`` walks ``app.url_map`` — a new endpoint is covered
without touching this file — and sends each one, signed in as an administrator, a staff member and
an applicant (session cookie, CSRF token and API token, and the ids of a real draft, case and task,
so that a request the gate let through would reach its view): NUL characters, lone surrogates, JSON
nested 2,000 deep and a 5,000-digit integer, in JSON bodies, form fields, form fields that carry JSON
(the portal's ``data``), names of uploaded files and query strings. Every answer must be the gate's
422, and no table may have gained or lost a row. Before the gate, lone surrogates gave 500s on the
API, the portal's ``/draft`` stored one (and then answered 500 to everyone), and deep JSON or long
integers gave 500s."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import HumanTask, User
from app.services.identity.actors import hash_token
from app.web.input_gate import MAX_DEPTH, MAX_DIGITS, MESSAGES
from tests.conftest import add_user, deploy_all, make_app
from tests.services.portal.helpers import credit_code, make_applicant

PID = "xmgl_beian"
START = {"project_name": "示范光伏项目", "project_code": "2603-320111-04-01-582316", "region_code": "320111",
         "location_detail": "南京市江北新区某路 1 号", "industry": "energy", "total_investment": 12000.5,
         "construction_content": "建设 20MW 分布式光伏", "planned_start_date": "2026-05-01",
         "construction_period_months": 12, "project_nature": "new", "industry_policy": "encouraged",
         "capacity_replacement": "no", "applicant_name": "江苏示范能源有限公司", "applicant_code": credit_code(),
         "legal_representative": "张三", "contact_person": "李四", "contact_phone": "13900000001",
         "commitment": True}
FIELDS = ("data", "opinion", "reason", "name", "comment", "content", "username", "password", "code", "mobile",
          "q", "display_name", "material", "answer", "note", "title", "bpmn")
DEEP = "[" * 2000 + "]" * 2000
LONG = "9" * 5000


def _json_bodies() -> list[str]:
    """Raw JSON texts (the escapes must reach the server as escapes)."""
    nul = "{%s}" % ", ".join(f'"{k}": "a\\u0000b"' for k in FIELDS)
    surrogate = "{%s}" % ", ".join(f'"{k}": "\\ud800"' for k in FIELDS)
    deep = '{"data": %s, "opinion": %s}' % (DEEP, DEEP)
    digits = '{"data": {"amount": %s}, "amount": %s, "revision": %s}' % (LONG, LONG, LONG)
    key = '{"data": {"\\udc00": 1}}'
    return [nul, surrogate, deep, digits, key]


def _forms() -> list[dict]:
    return [
        {k: "a\x00b" for k in FIELDS},
        dict({k: "x" for k in FIELDS}, data='{"project_name": "\\ud800"}'),
        dict({k: "x" for k in FIELDS}, data='{"project_name": "a\\u0000b"}'),  # NUL inside the JSON text
        dict({k: "x" for k in FIELDS}, data=DEEP),
        dict({k: LONG for k in FIELDS}, data='{"amount": %s}' % LONG),
    ]


def _multipart(disposition: bytes, field: bytes = b"") -> bytes:
    parts = [b"--GATE\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nt\r\n"]
    if field:
        parts.append(b"--GATE\r\nContent-Disposition: form-data; name=\"opinion\"\r\n\r\n" + field + b"\r\n")
    parts.append(b"--GATE\r\n" + disposition + b"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n%%EOF\r\n")
    return b"".join(parts) + b"--GATE--\r\n"


MULTIPART = [
    _multipart(b'Content-Disposition: form-data; name="file"; filename="a\x00b.pdf"'),
    _multipart(b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''evil%00.pdf"),
    _multipart(b'Content-Disposition: form-data; name="file"; filename="ok.pdf"', b"opinion\x00"),
]
QUERIES = [{"q": "a\x00b"}, {"data": '{"x": "\\ud800"}'}, {"data": DEEP}, {"page": LONG}]


@pytest.fixture
def world(db_url):
    """Processes deployed; an administrator, a window clerk and an applicant (with a profile, a
    draft and a submitted case whose first task waits at the window)."""
    app = make_app(db_url)
    deploy_all(app)
    add_user(app, "root", groups=["admin", "inspector", "designer", "window"])
    add_user(app, "w1", groups=["window"])
    uid = make_applicant(app, "13900000001")
    with app.app_context():
        applicant = db.session.get(User, uid)
        applicant.token_hash = hash_token(f"tok-{applicant.username}")
        db.session.commit()
        ids = {"root": db.session.execute(select(User.id).where(User.username == "root")).scalar_one(),
               "w1": db.session.execute(select(User.id).where(User.username == "w1")).scalar_one(),
               applicant.username: uid}
    c = _client(app, uid)
    r = c.post(f"/portal/apply/{PID}", data={"csrf_token": "t"})
    assert r.status_code == 302, r.get_data(as_text=True)
    draft = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    r = app.test_client().post("/api/cases", json={"process_id": PID, "data": START},
                               headers={"Authorization": "Bearer tok-ap-13900000001"})
    assert r.status_code in (200, 201), r.get_data(as_text=True)
    case = r.json.get("id") or r.json.get("case", {}).get("id")
    with app.app_context():
        task = db.session.execute(select(HumanTask.id).where(HumanTask.case_id == case)).scalars().first()
    assert task is not None
    app.world = {"ids": ids, "draft": draft, "case": case, "task": task}
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _client(app, uid):
    c = app.test_client()
    with c.session_transaction() as s:
        s["uid"], s["csrf"] = uid, "t"
    return c


def _row_counts(app) -> dict:
    with app.app_context():
        counts = {name: db.session.execute(select(func.count()).select_from(table)).scalar()
                  for name, table in db.metadata.tables.items()}
        db.session.rollback()
        return counts


def _url(rule, world) -> str:
    """The rule's URL with real ids: the draft for the portal's draft pages, the case, the task."""
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        if hasattr(converter, "items"):
            values[arg] = sorted(converter.items)[0]
        elif arg == "case_id":
            values[arg] = world["draft"] if "/drafts/" in rule.rule else world["case"]
        elif arg in ("task_id",):
            values[arg] = str(world["task"])
        elif arg == "key":
            values[arg] = str(world["case"])
        elif arg == "process_id":
            values[arg] = PID
        elif arg in ("filename",):
            values[arg] = "js/diagram.js"
        elif arg == "name":
            values[arg] = "form-js.css"
        elif type(converter).__name__ == "IntegerConverter":
            values[arg] = 1
        else:
            values[arg] = "x"
    return rule.build(values, append_unknown=False)[1]


def _requests(rule, world):
    """(method, url, kwargs) of every bad request for one rule."""
    url = _url(rule, world)
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    for method in methods:
        for query in QUERIES:
            yield method, url, {"query_string": query}
        if method == "GET":
            continue
        for body in _json_bodies():
            yield method, url, {"data": body.encode("utf-8", "surrogatepass"), "content_type": "application/json"}
        for form in _forms():
            yield method, url, {"data": dict(form, csrf_token="t")}
        for body in MULTIPART:
            yield method, url, {"data": body, "content_type": "multipart/form-data; boundary=GATE"}


def test_every_endpoint_refuses_unstorable_input(world):
    app = world
    before = _row_counts(app)
    rules = [r for r in app.url_map.iter_rules() if r.methods - {"HEAD", "OPTIONS"}]
    assert len(rules) > 100  # the whole app, not a sample
    seen, wrong = 0, []
    for username, uid in app.world["ids"].items():
        client = _client(app, uid)
        headers = {"Authorization": f"Bearer tok-{username}", "X-CSRF-Token": "t"}
        for rule in rules:
            for method, url, kwargs in _requests(rule, app.world):
                seen += 1
                try:
                    r = client.open(url, method=method, headers=headers, **kwargs)
                except Exception as exc:  # an error even the error handler could not answer: a 500
                    wrong.append((username, method, url, kwargs.get("content_type"), 500, repr(exc)[:200]))
                    continue
                body = r.get_data(as_text=True)
                if r.status_code != 422 or not any(m.split(" (")[0] in body for m in MESSAGES.values()):
                    wrong.append((username, method, url, kwargs.get("content_type"), r.status_code, body[:200]))
    assert not wrong, f"{len(wrong)} of {seen} requests passed the gate: {wrong[:10]}"
    assert _row_counts(app) == before


def test_the_portal_draft_refuses_a_nul_and_a_surrogate_in_its_data_field(world):
    app = world
    c = _client(app, app.world["ids"]["ap-13900000001"])
    url = f"/portal/drafts/{app.world['draft']}/save"
    with app.app_context():
        saved = db.session.execute(text("SELECT data FROM cases WHERE id = :i"), {"i": app.world["draft"]}).scalar()
    for raw in ('{"project_name": "a\\u0000b"}', '{"project_name": "\\udbff"}'):
        r = c.post(url, data={"csrf_token": "t", "data": raw})
        body = r.get_data(as_text=True)
        assert r.status_code == 422 and ("代理项" in body or "空字符" in body)
    with app.app_context():
        assert db.session.execute(text("SELECT data FROM cases WHERE id = :i"),
                                  {"i": app.world["draft"]}).scalar() == saved
    assert c.get(f"/portal/drafts/{app.world['draft']}").status_code == 200  # the draft still opens
    r = c.post(url, data={"csrf_token": "t", "data": json.dumps({"project_name": "改过的名称"})})
    assert r.status_code in (200, 302)


@pytest.fixture
def app(db_url):
    app = make_app(db_url)
    app.add_url_rule("/echo", "echo", lambda: "ok", methods=["GET", "POST"])
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_ordinary_input_passes_the_gate(app):
    """What looks a little like the refused things but is ordinary input goes through."""
    c = app.test_client()
    ok = [
        ({"json": {"text": "a\\u0000b", "n": int("9" * MAX_DIGITS), "nested": json.loads("[" * (MAX_DEPTH - 1) +
                                                                                         "]" * (MAX_DEPTH - 1))}}),
        ({"json": {"emoji": "😀 汉字", "float": 1.5e300, "phone": "1" * MAX_DIGITS}}),
        ({"data": {"opinion": "[紧急] 请尽快办理", "data": '{"a": [1, 2, "x"]}', "csrf_token": "t",
                   "serial": "ID" + "1" * 200}}),
        ({"query_string": {"q": "{not json", "page": "12"}}),
        ({"data": {"file": (io.BytesIO(b"%PDF-1.4"), "材料（一）.pdf"), "csrf_token": "t"},
          "content_type": "multipart/form-data"}),
        ({"data": "not json at all {", "content_type": "application/json"}),
    ]
    with c.session_transaction() as s:
        s["csrf"] = "t"
    for kwargs in ok:
        r = c.post("/echo", headers={"X-CSRF-Token": "t"}, **kwargs)
        assert r.status_code == 200, (kwargs, r.get_data(as_text=True))


@pytest.mark.parametrize("kwargs, kind", [
    ({"json": json.loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))}, "depth"),
    ({"data": '{"n": %s}' % ("1" * (MAX_DIGITS + 1)), "content_type": "application/json"}, "digits"),
    ({"data": '{"n": 0.%s}' % ("1" * (MAX_DIGITS + 1)), "content_type": "application/json"}, "digits"),
    ({"data": '{"n": "%s"}' % ("1" * (MAX_DIGITS + 1)), "content_type": "application/json"}, "digits"),
    ({"data": '{"n": "x\\u0000"}', "content_type": "application/vnd.api+json"}, "nul"),
    ({"data": {"amount": "-" + "1" * (MAX_DIGITS + 1), "csrf_token": "t"}}, "digits"),
    ({"query_string": {"k\x00": "v"}}, "nul"),
    ({"data": "[" * 100000, "content_type": "application/json"}, "depth"),
])
def test_the_gate_names_what_it_refuses(app, kwargs, kind):
    c = app.test_client()
    with c.session_transaction() as s:
        s["csrf"] = "t"
    r = c.post("/echo", headers={"Accept": "application/json", "X-CSRF-Token": "t"}, **kwargs)
    assert r.status_code == 422
    assert r.json["message"] == MESSAGES[kind]


def test_an_id_beyond_the_integer_range_is_a_404(app):
    r = app.test_client().get(f"/portal/cases/{2 ** 31}", headers={"Accept": "application/json"})
    assert r.status_code == 404


def test_a_multipart_part_without_a_name_is_no_500(app):
    """A part whose Content-Disposition has no name arrives with the name None (seen by schemathesis
    on the sign-in form): the gate passes it and the request gets its ordinary answer."""
    body = (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n"
            b"--b\r\nContent-Disposition: form-data; filename=\"a.pdf\"\r\n"
            b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--b--\r\n")
    c = app.test_client()
    for path in ("/login", "/echo"):
        r = c.post(path, data=body, content_type="multipart/form-data; boundary=b")
        assert r.status_code < 500, (path, r.status_code)
