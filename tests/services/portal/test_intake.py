"""Paper-mail intake (快递申请): the applicant uploads the courier slip, content list and commitment
letter; the window confirms (receipt, SMS, paper_received pre-set) or refuses with a reason; 受理 of a
matter that needs paper is refused until the paper is in."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CaseEvent, HumanTask
from app.models.intake import MailIntake
from tests.services.portal.h3_helpers import (FORGED, PDF, browser, case_files, confirm, count, notifications, setup,
                                              stored_files, submit, upload_mail, window_task)


@pytest.fixture
def api(app):
    return setup(app)


def test_upload_stores_three_files_and_tells_the_window(api, app):
    case = submit(api)
    r = upload_mail(app, case["id"])
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/portal/cases/{case['id']}")
    with app.app_context():
        intake = db.session.execute(select(MailIntake)).scalar_one()
        assert (intake.status, intake.courier, intake.tracking_no) == ("submitted", "顺丰速运", "SF1402573396841")
        assert intake.materials == ["项目申请报告", "授权委托书"]
    kinds = sorted(f.kind for f in case_files(app, case["id"]))
    assert kinds == ["commitment", "mail_list", "mail_slip"]
    assert [n.recipient for n in notifications(app, "mail_submitted")] == ["g:window"]
    # the window clerk sees it on the task page, with the confirm button
    page = browser(app, "w1").get(f"/inbox/tasks/{window_task(api, case['id'])['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "portal-staff-panel" in html and "btn-intake-confirm" in html and "SF1402573396841" in html
    # a second upload while waiting is refused
    assert upload_mail(app, case["id"]).status_code == 409


@pytest.mark.parametrize("field", ["slip", "content_list", "commitment"])
def test_forged_type_is_refused_and_nothing_is_stored(api, app, field):
    case = submit(api)
    before = stored_files(app)
    r = upload_mail(app, case["id"], **{field: FORGED})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "只接受 PDF、JPG、PNG、OFD" in html and "未保存任何文件" in html
    assert count(app, MailIntake) == 0 and case_files(app, case["id"]) == []
    assert stored_files(app) == before


def test_oversized_file_is_refused_and_nothing_is_stored(api, app):
    case = submit(api)
    app.config["FILE_MAX_BYTES"] = 2048
    r = upload_mail(app, case["id"], slip=PDF + b"0" * 4096)
    assert r.status_code == 422 and "文件超过" in r.get_data(as_text=True)
    assert count(app, MailIntake) == 0 and case_files(app, case["id"]) == [] and stored_files(app) == []


def test_bad_tracking_number_and_missing_file_are_named(api, app):
    case = submit(api)
    r = browser(app, "alice").post(f"/portal/cases/{case['id']}/mail", headers={"Accept": "application/json"},
                                   data={"csrf_token": "tok", "courier": "", "tracking_no": "12"},
                                   content_type="multipart/form-data")
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"courier", "tracking_no", "slip", "content_list", "commitment"}
    assert count(app, MailIntake) == 0


def test_another_applicants_case_is_not_there(api, app):
    case = submit(api)
    bob = browser(app, "bob")
    assert bob.get(f"/portal/cases/{case['id']}/mail").status_code == 404
    assert upload_mail(app, case["id"], who="bob").status_code == 404
    assert count(app, MailIntake) == 0 and case_files(app, case["id"]) == []


def test_a_matter_without_paper_needs_no_intake(api, app):
    case = submit(api, "xmgl_beian")
    r = upload_mail(app, case["id"])
    assert r.status_code == 409 and "无需邮寄" in r.get_data(as_text=True)


def test_refusal_tells_the_applicant_who_uploads_again(api, app):
    case = submit(api)
    upload_mail(app, case["id"])
    w = browser(app, "w1")
    r = w.post(f"/inbox/cases/{case['id']}/intake/refuse", data={"csrf_token": "tok", "reason": " "})
    assert r.status_code == 302  # flashed back: a reason is required
    with app.app_context():
        assert db.session.execute(select(MailIntake.status)).scalar_one() == "submitted"
    r = w.post(f"/inbox/cases/{case['id']}/intake/refuse", data={"csrf_token": "tok", "reason": "快递面单不清晰"})
    assert r.status_code == 302
    sms = [n for n in notifications(app, "mail_refused") if n.channel == "sms"]
    assert len(sms) == 1 and "快递面单不清晰" in sms[0].text
    page = browser(app, "alice").get(f"/portal/cases/{case['id']}").get_data(as_text=True)
    assert "快递面单不清晰" in page and f"/portal/cases/{case['id']}/mail" in page
    assert upload_mail(app, case["id"]).status_code == 302
    assert count(app, MailIntake) == 2


def test_only_window_staff_of_the_case_confirm(api, app):
    case = submit(api)
    upload_mail(app, case["id"])
    for who, status in (("inv", 403), ("w_nj", 403), ("insp", 403), ("alice", 403)):
        assert confirm(app, case["id"], who).status_code == status, who
    assert confirm(app, 999999).status_code == 404
    with app.app_context():
        assert db.session.execute(select(MailIntake.status)).scalar_one() == "submitted"
    assert notifications(app, "received") == []


def test_confirm_presets_paper_received_and_accept_goes_through(api, app):
    case = submit(api)
    upload_mail(app, case["id"])
    assert confirm(app, case["id"]).status_code == 302
    task = window_task(api, case["id"])
    with app.app_context():
        assert db.session.get(HumanTask, task["id"]).draft == {"paper_received": True}
        actions = [e.action for e in db.session.execute(select(CaseEvent).where(
            CaseEvent.case_id == case["id"])).scalars()]
        assert "mail_submit" in actions and "mail_confirm" in actions
    r = api.post("w1", f"/api/tasks/{task['id']}/approve",
                 json={"data": {"window_decision": "accept"}, "opinion": "材料齐全，予以受理"})
    assert r.status_code == 200, r.json
    assert r.json["case_status"] == "accepted"
    with app.app_context():
        ev = db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case["id"],
                                                        CaseEvent.action == "complete")).scalar_one()
        assert ev.data_change["paper_received"] is True


def test_accept_without_the_paper_is_refused(api, app):
    case = submit(api)
    task = window_task(api, case["id"])
    r = api.post("w1", f"/api/tasks/{task['id']}/approve",
                 json={"data": {"window_decision": "accept"}, "opinion": "予以受理"})
    assert r.status_code == 409 and "纸质材料" in r.json["message"]
    upload_mail(app, case["id"])  # uploaded but not yet confirmed: still refused
    r = api.post("w1", f"/api/tasks/{task['id']}/approve",
                 json={"data": {"window_decision": "accept"}, "opinion": "予以受理"})
    assert r.status_code == 409
    assert api.get("alice", f"/api/cases/{case['id']}").json["status"] == "received"
    # a correction request or a refusal needs no paper
    r = api.post("w1", f"/api/tasks/{task['id']}/complete",
                 json={"data": {"window_decision": "correction", "missing_items": "1. 缺少授权委托书",
                                "window_opinion": "一次性告知"}})
    assert r.status_code == 200 and r.json["status"] == "correction"


def test_paper_handed_in_at_the_counter_is_declared_by_the_clerk(api, app):
    case = submit(api)
    task = window_task(api, case["id"])
    r = api.post("w1", f"/api/tasks/{task['id']}/approve",
                 json={"data": {"window_decision": "accept", "paper_received": True}, "opinion": "现场递交，予以受理"})
    assert r.status_code == 200 and r.json["case_status"] == "accepted"


def test_a_matter_without_paper_is_accepted_without_it(api, app):
    case = submit(api, "xmgl_beian")
    tasks = [t for t in api.tasks("w1") if t["case_id"] == case["id"]]
    assert tasks and tasks[0]["action"] == "receive"
    r = api.post("w1", f"/api/tasks/{tasks[0]['id']}/approve", json={"opinion": "予以受理"})
    assert r.status_code == 200, r.json
