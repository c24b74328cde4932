"""Review of the portal's routes as a whole (H8): every route of the portal blueprints, walked with
every kind of visitor and id, answers without a 500; every POST without the CSRF token is refused
and changes nothing; another applicant never reads alice's case, files or items."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.extensions import db
from tests.services.portal.h3_helpers import PDF, anonymous, browser, case_files, setup, submit, upload_mail

MODULES = ("portal", "portal_cases", "correction", "feedback", "outbox")
HUGE = [2 ** 31, 10 ** 20, 0]
JUNK = {"csrf_token": "tok", "code": "\x00" * 3, "case_no": "A" * 5000, "phone": "１３９\x00", "reason": "x" * 100_000,
        "material": "\x00", "level": "NaN", "comment": "\u202e" * 3, "courier": "\x00", "tracking_no": "-1",
        "data": "{\"a\": [1, 2", "request_id": "-5", "library_item": str(10 ** 20), "days": "-3",
        "document_no": "\x00", "mode": "password", "password": "x" * 10_000, "mobile": "+8613905171234",
        "new_mobile": "0" * 500, "action": "send_code", "items": "[]", "subject": "\x00", "text": "", "kind": "x"}


def table_counts(app) -> dict:
    with app.app_context():
        return {t.name: db.session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in db.metadata.sorted_tables if t.name not in ("rate_buckets", "sms_codes")}


def portal_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in MODULES and rule.endpoint != "outbox.twilio_status":
            yield rule


def fill(rule, ints: dict, text: str = "xmgl_hezhun") -> str:
    url = rule.rule
    for name, conv in rule._converters.items():
        kind = type(conv).__name__
        if kind == "IntegerConverter":
            value = str(ints.get(name, ints.get("*")))
        elif kind == "AnyConverter":
            value = sorted(conv.items)[0] if hasattr(conv, "items") else "rate"
        else:
            value = text
        url = re.sub(rf"<[^>]*:?{name}>", value, url)
    return url


@pytest.fixture
def world(app):
    api = setup(app)
    case = submit(api)
    assert upload_mail(app, case["id"]).status_code == 302
    fid = case_files(app, case["id"])[0].id
    return {"api": api, "case": case, "file": fid}


def test_no_route_answers_500_for_any_visitor_or_id(app, world):
    visitors = {"anon": anonymous(app), "alice": browser(app, "alice"), "bob": browser(app, "bob"),
                "w_nj": browser(app, "w_nj")}
    failures = []
    for rule in portal_rules(app):
        for ints in [{"*": world["case"]["id"], "file_id": world["file"]}] + [{"*": n} for n in HUGE]:
            for text in ("xmgl_hezhun", "x" * 300, "%00"):
                url = fill(rule, ints, text)
                for who, client in visitors.items():
                    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                        r = client.open(url, method=method, data=JUNK if method == "POST" else None)
                        if r.status_code >= 500:
                            failures.append((who, method, url[:80], r.status_code))
    assert failures == []


def test_every_portal_post_needs_the_csrf_token_and_changes_nothing_without_it(app, world):
    before = table_counts(app)
    alice, w1 = browser(app, "alice"), browser(app, "w1")
    for rule in portal_rules(app):
        if "POST" not in rule.methods:
            continue
        url = fill(rule, {"*": world["case"]["id"], "file_id": world["file"]})
        for client in (alice, w1):
            data = {k: v for k, v in JUNK.items() if k != "csrf_token" and "\x00" not in v}
            data.update(slip=(__import__("io").BytesIO(PDF), "a.pdf"))
            r = client.post(url, data=data, content_type="multipart/form-data")
            assert r.status_code == 400, (url, r.status_code)
    assert table_counts(app) == before


def test_another_applicant_and_other_staff_never_read_alices_case(app, world):
    cid, fid = world["case"]["id"], world["file"]
    secret = world["case"]["case_no"]
    bob, w_nj, anon = browser(app, "bob"), browser(app, "w_nj"), anonymous(app)
    for url in [f"/portal/cases/{cid}", f"/portal/cases/{cid}/files/{fid}", f"/portal/cases/{cid}/receipt.pdf",
                f"/portal/cases/{cid}/mail", f"/portal/cases/{cid}/correction",
                f"/portal/cases/{cid}/correction/files/{fid}", f"/portal/cases/{cid}/evaluate",
                f"/progress/cases/{cid}", f"/api/portal/cases/{cid}", f"/portal/drafts/{cid}",
                f"/portal/drafts/{cid}/files/{fid}"]:
        for who, client in (("bob", bob), ("anon", anon), ("w_nj", w_nj)):
            r = client.get(url)
            assert r.status_code in (302, 400, 401, 403, 404, 409), (who, url, r.status_code)
            if r.status_code == 302:
                assert urlsplit(r.headers["Location"]).path != url, (who, url)
            assert secret.encode() not in r.data and PDF not in r.data, (who, url)


BODIES = [[], "x", 1, {"data": []}, {"data": "x"}, {"data": {"project_code": 123, "project_name": ["a"]}},
          {"data": {"project_code": {"$gt": ""}, "contact_phone": 13905171234}}, {"data": {"x" * 300: "\x00"}},
          {"items": "x"}, {"items": [1, None, {"material": ["a"], "problem": {"b": 1}}]}, {"items": [{}] * 500},
          {"days": "1e9", "items": [{"material": "a", "problem": "b"}]}, {"reason": ["x"]}, {"level": [5]}]


def test_json_bodies_of_the_wrong_shape_are_refused_and_change_nothing(app, world):
    alice, w1 = browser(app, "alice"), browser(app, "w1")
    r = alice.post("/portal/apply/xmgl_hezhun", data={"csrf_token": "tok"})
    assert r.status_code == 302
    draft = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    task = [t for t in world["api"].tasks("w1") if t["case_id"] == world["case"]["id"]][0]["id"]
    before = table_counts(app)
    for client, url in [(alice, f"/portal/drafts/{draft}/save"), (alice, f"/portal/drafts/{draft}/submit"),
                        (w1, f"/correction/tasks/{task}"), (w1, "/correction/requests/1/withdraw"),
                        (w1, f"/inbox/cases/{world['case']['id']}/intake/refuse"),
                        (w1, f"/inbox/cases/{world['case']['id']}/result/mail")]:
        for body in BODIES:
            r = client.post(url, json=body, headers={"X-CSRF-Token": "tok", "Accept": "application/json"})
            assert r.status_code in (400, 403, 404, 409, 422), (url, body, r.status_code, r.get_data(as_text=True)[:200])
    after = table_counts(app)
    assert {k: v for k, v in after.items() if k not in ("case_events",)} == \
        {k: v for k, v in before.items() if k not in ("case_events",)}
