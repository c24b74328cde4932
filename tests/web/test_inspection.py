"""/inspection/trail and /inspection/trail/<case_no>: the inspectors' verification of the trail on a
shipped matter, the case's chain and proof; applicants and other staff refused (checked on the server)."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import User
from tests.services.trail.helpers import close, drive_beian, trail_api


@pytest.fixture
def run(db_url):
    api = trail_api(db_url)
    case = drive_beian(api)
    api.clock.advance(days=1)
    assert api.app.test_cli_runner().invoke(args=["trail", "seal-day"]).exit_code == 0
    for name, groups in (("insp", ["inspector"]), ("adm", ["admin"])):
        api.user(name, groups=groups)
    yield api, case
    close(api)


def page_client(api, username):
    with api.app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
    c = api.app.test_client()
    with c.session_transaction() as s:
        s["uid"] = uid
        s["csrf"] = "t"
    return c


def test_applicants_and_other_staff_are_refused(run):
    api, case = run
    assert api.app.test_client().get("/inspection/trail").status_code == 302  # not signed in: to the login
    for who in ("applicant_1", "u_window"):
        c = page_client(api, who)
        assert c.get("/inspection/trail?run=1").status_code == 403
        assert c.get(f"/inspection/trail/{case['case_no']}").status_code == 403


def test_inspector_runs_the_verification_and_sees_the_proof(run):
    api, case = run
    c = page_client(api, "insp")
    page = c.get("/inspection/trail?run=1").get_data(as_text=True)
    assert 'id="trail-ok"' in page and "全部一致" in page and "2026-03-02" in page
    page = c.get(f"/inspection/trail/{case['case_no']}").get_data(as_text=True)
    assert 'id="trail-proof"' in page and "证明有效" in page and "ed25519:" in page
    assert "叶子序号 0 / 树大小 1" in page
    # a forged opinion: named on both pages
    with api.app.app_context():
        db.session.execute(text("UPDATE case_events SET opinion = '伪造' WHERE case_id = :c AND seq = 2"),
                           {"c": case["id"]})
        db.session.commit()
    page = page_client(api, "adm").get(f"/inspection/trail?run=1&case={case['case_no']}").get_data(as_text=True)
    assert "第 2 条记录内容被修改" in page and 'id="trail-ok"' not in page
    page = c.get(f"/inspection/trail/{case['case_no']}").get_data(as_text=True)
    assert "内容与哈希不符" in page and "第 2 条记录内容被修改" in page
    en = c.get(f"/inspection/trail/{case['case_no']}", headers={"Accept-Language": "en"})
    assert en.status_code == 200


def test_unknown_case_is_a_clear_message_not_a_500(run):
    api, _ = run
    c = page_client(api, "insp")
    r = c.get("/inspection/trail?run=1&case=NO-SUCH")
    assert r.status_code == 200 and "办件不存在" in r.get_data(as_text=True)
    assert c.get("/inspection/trail/NO-SUCH").status_code == 404
    assert c.get("/inspection/trail/" + "9" * 60).status_code == 404


def test_a_gap_a_changed_number_and_a_stale_root_are_shown(run):
    """A root moved to another day (its signature breaks), a changed case number (both failures) and a
    last signed day long past (a warning) are shown on the page, in Chinese and in English, never a 500."""
    api, case = run
    api.clock.advance(days=5)
    with api.app.app_context():
        db.session.execute(text("UPDATE trail_roots SET day = '2026-02-27'"))  # 28 Feb – 1 Mar unsigned
        db.session.execute(text("UPDATE cases SET case_no = 'FAKE-1' WHERE id = :c"), {"c": case["id"]})
        db.session.commit()
    c = page_client(api, "insp")
    page = c.get("/inspection/trail?run=1&files=0").get_data(as_text=True)
    assert "日根的签名无效" in page and "办件编号与 2026-02-27 签署的日根" in page, page
    assert 'id="trail-warnings"' in page and "最近的签名日根是 2026-02-27，之后未签署" in page
    en = c.get("/inspection/trail?run=1&files=0&lang=en")
    assert en.status_code == 200 and "Notes" in en.get_data(as_text=True)
