"""The applicant's pages: my cases (own only, newest first) and the case page (status in Chinese,
steps, deadlines with remaining working days, the paused clock, the safe timeline, what to do)."""
import pytest

from app.extensions import db
from app.models import User
from app.services.identity.actors import actor_from_user
from app.services.cases.special_procedures import start_special_procedure
from tests.services.portal.h3_helpers import anonymous, browser, setup, submit, upload_mail, window_task


@pytest.fixture
def api(app):
    return setup(app)


def test_my_cases_lists_only_mine_newest_first(api, app):
    first = submit(api)
    second = submit(api, "xmgl_beian")
    other = submit(api, who="bob")
    r = browser(app, "alice").get("/portal/cases", headers={"Accept": "application/json"})
    assert [c["id"] for c in r.json["cases"]] == [second["id"], first["id"]]
    html = browser(app, "alice").get("/portal/cases").get_data(as_text=True)
    assert first["case_no"] in html and second["case_no"] in html and other["case_no"] not in html
    assert "已收件" in html
    assert api.get("alice", "/api/portal/cases").json["cases"][0]["id"] == second["id"]


def test_someone_elses_case_is_404_staff_go_to_the_inbox_strangers_sign_in(api, app):
    case = submit(api)
    assert browser(app, "bob").get(f"/portal/cases/{case['id']}").status_code == 404
    assert api.get("bob", f"/api/portal/cases/{case['id']}").status_code == 404
    assert browser(app, "bob").get(f"/portal/cases/{case['id']}/files/1").status_code == 404
    r = browser(app, "w1").get(f"/portal/cases/{case['id']}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/inbox/cases/{case['id']}")
    r = anonymous(app).get(f"/portal/cases/{case['id']}")  # applicants sign in on the portal, by SMS code
    assert r.status_code == 302 and f"/portal/login?next=/portal/cases/{case['id']}" in r.headers["Location"]
    r = anonymous(app).get(f"/portal/cases/{case['id']}/receipt.pdf")
    assert r.status_code == 302 and "/portal/login?next=" in r.headers["Location"]
    r = anonymous(app).get("/inbox")  # staff pages keep the staff sign-in
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"] and "/portal/" not in r.headers["Location"]
    assert browser(app, "alice").get("/portal/cases/999999").status_code == 404


def test_case_page_before_acceptance_asks_for_the_paper(api, app):
    case = submit(api)
    html = browser(app, "alice").get(f"/portal/cases/{case['id']}").get_data(as_text=True)
    assert "已收件" in html and "窗口收件审查" in html and "受理后开始计算" in html
    assert f"/portal/cases/{case['id']}/mail" in html and "项目申请报告" in html
    upload_mail(app, case["id"])
    html = browser(app, "alice").get(f"/portal/cases/{case['id']}").get_data(as_text=True)
    assert "等待窗口核对" in html and "上传快递收件材料" in html
    j = api.get("alice", f"/api/portal/cases/{case['id']}").json
    assert j["status_label"] == "已收件" and j["intake"]["status"] == "submitted"
    assert [t["key"] for t in j["todo"]] == ["mail_wait"]


def test_accepted_case_shows_deadlines_then_paused_clock_and_no_staff_opinions(api, app):
    case = submit(api)
    task = window_task(api, case["id"])
    r = api.post("w1", f"/api/tasks/{task['id']}/approve",
                 json={"data": {"window_decision": "accept", "paper_received": True},
                       "opinion": "内部意见：材料基本齐全XYZ"})
    assert r.status_code == 200
    alice = browser(app, "alice")
    html = alice.get(f"/portal/cases/{case['id']}").get_data(as_text=True)
    # accepted Monday 2 March 2026: promised 10 / statutory 20 working days, counted from today
    assert "已受理" in html and "处室审查" in html
    assert "2026-03-16" in html and "剩余 10 个工作日" in html and "2026-03-30" in html and "剩余 20 个工作日" in html
    assert "内部意见" not in html and "XYZ" not in html and "w1" not in html
    with app.app_context():
        staff = actor_from_user(db.session.execute(db.select(User).where(User.username == "w1")).scalar_one())
        start_special_procedure(staff, case["id"], kind="expert_review", reason="组织专家评审", planned_duration=10)
    html = alice.get(f"/portal/cases/{case['id']}").get_data(as_text=True)
    assert "已暂停" in html and "专家评审" in html and "组织专家评审" in html and "特别程序开始" in html
    j = api.get("alice", f"/api/portal/cases/{case['id']}").json
    assert j["suspended"] is True and j["promised"]["state"] == "suspended"


def test_a_refusal_shows_its_reason(api, app):
    case = submit(api)
    task = window_task(api, case["id"])
    api.post("w1", f"/api/tasks/{task['id']}/reject", json={"opinion": "不属于本机关职权范围"})
    html = browser(app, "alice").get(f"/portal/cases/{case['id']}").get_data(as_text=True)
    assert "不予受理/不予许可" in html and "不属于本机关职权范围" in html
    assert "/evaluate" in html  # finished: the evaluation is offered


def test_pages_fit_a_phone(api, app):
    case = submit(api)
    for url in ("/portal/cases", f"/portal/cases/{case['id']}", f"/portal/cases/{case['id']}/mail", "/progress"):
        html = browser(app, "alice").get(url).get_data(as_text=True)
        assert 'name="viewport"' in html and "<table" not in html, url
