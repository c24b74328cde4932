"""The 一张网's calls to /api/ywtb/*: an application of the unified entry becomes a case of a shipped
matter (once per 申办流水号); a rating made there is linked to its case. Every refusal — unsigned,
forged, stale, not configured, a bad payload, an unknown matter or material, a material whose hash
does not match, a form the portal would refuse — is a 4xx with a code, recorded for operators, and
writes nothing else."""
from __future__ import annotations

import copy
import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseFile, User
from app.models.accounts import ApplicantProfile
from app.models.docking_ywtb import YwtbApplication
from app.models.exchange import InboxRefusal, OutboxMessage
from app.services.docking import signing
from app.services.messaging import inbox
from tests.conftest import make_app
from tests.fakes.standin import gateway_headers
from tests.services.docking.ywtb_support import PDF, api, b64, counts, deliver, gateway, scenario  # noqa: F401

PATH = "/api/ywtb/applications"
START = scenario("xmgl_beian", "予以备案（含一次补正")["start"]
CREDIT = START["applicant_code"]


@pytest.fixture(autouse=True)
def fresh_refusal_memory():
    inbox.forget_recorded()  # each test's first unsigned call is recorded


def application(gateway, **changes) -> dict:
    url, sha = gateway.add_file(PDF + b"statement", "statement.pdf")
    body = {"serial_no": "YW2026030200001", "matter_code": "0001720160", "channel": "2",
            "applicant": {"type": "2", "name": START["applicant_name"], "credit_code": CREDIT,
                          "mobile": START["contact_phone"], "contact_person": "沈佳", "legal_representative": "顾振华"},
            "form": dict(START),
            "materials": [{"name": "企业投资项目备案信息表", "filename": "备案信息表.pdf",
                           "sha256": hashlib.sha256(PDF).hexdigest(), "content": b64(PDF)},
                          {"name": "项目符合产业政策的声明", "filename": "声明.pdf", "sha256": sha, "url": url}]}
    body.update(changes)
    return body


def post(api, gateway, body, path=PATH, **kw):
    raw, headers = gateway.signed(path, body, **kw)
    return api.client.post(path, data=raw, headers=headers)


def test_an_application_becomes_a_case_once_and_is_answered_with_our_case_number(api, gateway):
    r = post(api, gateway, application(gateway))
    assert r.status_code == 200, r.json
    assert r.json["serial_no"] == "YW2026030200001" and r.json["duplicate"] is False
    case_no = r.json["case_no"]
    with api.app.app_context():
        case = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
        assert case.process_id == "xmgl_beian" and case.status == "received"  # at the window, as a portal case
        assert case.applicant_code == CREDIT and case.project_code == START["project_code"]
        profile = db.session.execute(select(ApplicantProfile).where(ApplicantProfile.credit_code == CREDIT)).scalar_one()
        assert case.applicant_id == profile.user_id and profile.mobile == START["contact_phone"]
        files = db.session.execute(select(CaseFile).where(CaseFile.case_id == case.id)).scalars().all()
        assert sorted(f.material for f in files) == ["企业投资项目备案信息表", "项目符合产业政策的声明"]
        assert all(f.content_type == "application/pdf" for f in files)
        assert db.session.execute(select(YwtbApplication.serial_no)).scalar() == "YW2026030200001"
    again = post(api, gateway, application(gateway))
    assert again.status_code == 200 and again.json == {**r.json, "duplicate": True}
    assert counts(api)["cases"] == 1
    deliver(api)  # the 申请 stage names the 一张网's own serial number
    assert gateway.stages(case_no) == ["SQ"] and gateway.stage(case_no, "SQ")["SBLSH"] == "YW2026030200001"


def test_an_application_of_a_known_applicant_goes_to_their_account(api, gateway):
    with api.app.app_context():
        user = User(username="ap-known", display_name="锡达", kind="applicant", groups=[], org_code=CREDIT,
                    phone="13900000001")
        db.session.add(user)
        db.session.flush()
        db.session.add(ApplicantProfile(user_id=user.id, kind="enterprise", name="锡达", credit_code=CREDIT,
                                        mobile="13900000001"))
        db.session.commit()
        known = user.id
    r = post(api, gateway, application(gateway, matter_code="11320000014000378400016"))
    assert r.status_code == 200, r.json
    with api.app.app_context():
        assert db.session.execute(select(Case.applicant_id)).scalar() == known
        assert db.session.execute(select(ApplicantProfile)).scalars().all()[0].user_id == known


def refused(api, before, r, status, code, recorded=True):
    assert r.status_code == status, (r.status_code, r.json)
    assert r.json["error"] == code and r.json["message"], r.json
    after = counts(api)
    assert after == dict(before, refusals=before["refusals"] + (1 if recorded else 0)), (before, after)
    if recorded:
        with api.app.app_context():
            row = db.session.execute(select(InboxRefusal).order_by(InboxRefusal.id.desc())).scalars().first()
            assert row.channel == "ywtb" and row.code == code
    return r.json


def test_unsigned_forged_stale_and_unknown_calls_are_refused_and_nothing_is_written(api, gateway):
    body = application(gateway)
    before = counts(api)
    raw, headers = gateway.signed(PATH, body)
    r = api.client.post(PATH, data=raw, headers={"Content-Type": "application/json"})
    refused(api, before, r, 401, "missing")
    before = counts(api)
    refused(api, before, post(api, gateway, body, secret="not-the-secret"), 401, "bad_signature")
    before = counts(api)
    refused(api, before, post(api, gateway, body, key="another-key"), 401, "unknown_key")
    before = counts(api)
    raw, headers = gateway.signed(PATH, body)
    tampered = raw.replace(b"YW2026030200001", b"YW2026030200002")
    refused(api, before, api.client.post(PATH, data=tampered, headers=headers), 401, "bad_signature", recorded=False)
    old = signing.sign_headers(gateway.secret, gateway.access_key, "POST", PATH, "", raw,
                               now=datetime.now(timezone.utc) - timedelta(minutes=10))
    before = counts(api)
    r = api.client.post(PATH, data=raw, headers={**old, "Content-Type": "application/json"})
    refused(api, before, r, 401, "stale")


@pytest.mark.parametrize("change,code,status", [
    (lambda b, g: b.update(serial_no="not a serial!"), "bad_payload", 422),
    (lambda b, g: b["applicant"].update(credit_code="91320200MA1WX6T3LX"), "bad_payload", 422),
    (lambda b, g: b["materials"][0].update(url="http://example.com/x.pdf"), "bad_payload", 422),
    (lambda b, g: b.update(matter_code="9999999999"), "unknown_matter", 422),
    (lambda b, g: b["materials"][0].update(name="营业执照"), "unknown_material", 422),
    (lambda b, g: b["materials"][0].update(sha256="0" * 64), "material_hash_mismatch", 422),
    (lambda b, g: b["materials"][0].update(content=b64(b"plain text"), sha256=hashlib.sha256(
        b"plain text").hexdigest()), "bad_material", 422),
    (lambda b, g: b["form"].pop("project_name"), "bad_form", 422),
    (lambda b, g: b["form"].update(project_code="2511-320200"), "bad_form", 422),
    (lambda b, g: b["materials"].pop(1), "missing_material", 422),
    (lambda b, g: b["form"].update(applicant_code="91320111MA1Y7K3N27"), "applicant_mismatch", 422),
    (lambda b, g: g.fail_next(500, path="/exchange/files"), "material_unavailable", 503),
    (lambda b, g: g.files.clear(), "bad_material", 422),
])
def test_a_bad_application_is_refused_with_its_code_and_nothing_is_written(api, gateway, change, code, status):
    body = copy.deepcopy(application(gateway))
    change(body, gateway)
    before = counts(api)
    out = refused(api, before, post(api, gateway, body), status, code)
    if code in ("bad_payload", "bad_form", "missing_material"):
        assert out["errors"], out


def test_a_mobile_of_another_account_is_not_taken_over(api, gateway):
    with api.app.app_context():
        user = User(username="ap-other", display_name="他人", kind="applicant", groups=[], phone=START["contact_phone"])
        db.session.add(user)
        db.session.flush()
        db.session.add(ApplicantProfile(user_id=user.id, kind="individual", name="他人", id_number="11010519491231002X",
                                        mobile=START["contact_phone"]))
        db.session.commit()
    before = counts(api)
    refused(api, before, post(api, gateway, application(gateway)), 409, "mobile_in_use")


def test_not_configured_is_503_and_records_nothing(db_url, gateway):
    app = make_app(db_url)
    raw, headers = gateway.signed(PATH, {"serial_no": "x"})
    r = app.test_client().post(PATH, data=raw, headers=headers)
    assert r.status_code == 503 and r.json["error"] == "not_configured"
    with app.app_context():
        assert db.session.execute(select(InboxRefusal)).first() is None
        db.session.remove()
        db.engine.dispose()


def test_an_unsigned_flood_is_recorded_once_a_minute(api, gateway):
    before = counts(api)
    for _ in range(5):
        assert api.client.post(PATH, json={"serial_no": "x"}).status_code == 401
    assert counts(api)["refusals"] == before["refusals"] + 1


def test_the_routes_are_in_the_openapi_document_as_signed_public_calls(api):
    doc = api.client.get("/api/openapi.json").json
    for path in (PATH, "/api/ywtb/ratings"):
        op = doc["paths"][path]["post"]
        assert op["security"] == [] and {p["name"] for p in op["parameters"]} >= {"X-Access-Key", "X-Date", "X-Signature"}
        assert {"401", "422", "503"} <= set(op["responses"])


def test_the_gateway_headers_of_the_standin_and_of_the_app_agree(gateway):
    body = b'{"a": 1}'
    theirs = gateway_headers("k", "s", "POST", PATH, "b=2&a=1", body)
    ours = signing.verify(theirs, {"k": "s"}, "POST", PATH, "a=1&b=2", body, datetime.now(timezone.utc))
    assert ours.access_key == "k"


def test_outbox_untouched_by_refusals(api, gateway):
    post(api, gateway, application(gateway, matter_code="nope"))
    with api.app.app_context():
        assert db.session.execute(select(OutboxMessage)).first() is None


def test_the_project_platforms_owner_check_applies_to_the_unified_entry_as_to_the_portal(db_url, gateway):
    """The same checks as the portal: the submission hooks run, e.g. the 项目代码 of another enterprise."""
    from tests.fakes.tzxm_standin import OTHER_OWNER, TzxmStandIn
    from tests.services.docking.ywtb_support import docked
    with TzxmStandIn() as platform:
        platform.add_project(START["project_code"], START["project_name"], OTHER_OWNER)
        api = docked(db_url, gateway, **platform.config())
        try:
            before = counts(api)
            r = post(api, gateway, application(gateway))
            assert r.status_code in (403, 422) and r.json["error"] == "project_owner_mismatch", r.json
            assert counts(api) == dict(before, refusals=before["refusals"] + 1)
            platform.add_project(START["project_code"], START["project_name"], (CREDIT, START["applicant_name"]))
            assert post(api, gateway, application(gateway)).status_code == 200
        finally:
            with api.app.app_context():
                db.session.remove()
                db.engine.dispose()
