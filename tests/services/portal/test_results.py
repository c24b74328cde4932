"""Results: once decided, staff of the case upload the decision scan (the applicant downloads it) and
record the mailed original's tracking number (shown to the applicant, SMS result_sent)."""
import io

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CaseEvent
from app.models.intake import CaseResult
from tests.services.portal.h3_helpers import FORGED, PDF, browser, case_files, notifications, setup, submit, window_task


@pytest.fixture
def api(app):
    return setup(app)


def refuse(api, case):
    """不予受理 at the window: the quickest decided case."""
    task = window_task(api, case["id"])
    r = api.post("w1", f"/api/tasks/{task['id']}/reject", json={"opinion": "不属于本机关职权范围"})
    assert r.status_code == 200 and r.json["case_status"] == "rejected", r.json
    return case


def post_scan(app, case_id, who="w1", blob=PDF):
    return browser(app, who).post(f"/inbox/cases/{case_id}/result",
                                  data={"csrf_token": "tok", "file": (io.BytesIO(blob), "决定书.pdf")},
                                  content_type="multipart/form-data", headers={"Accept": "application/json"})


def post_mail(app, case_id, who="w1", **fields):
    data = {"csrf_token": "tok", "courier": "EMS", "tracking_no": "1151234567890", **fields}
    return browser(app, who).post(f"/inbox/cases/{case_id}/result/mail", data=data,
                                  headers={"Accept": "application/json"})


def test_nothing_before_the_decision(api, app):
    case = submit(api)
    assert post_scan(app, case["id"]).status_code == 409
    assert post_mail(app, case["id"]).status_code == 409
    assert case_files(app, case["id"]) == []


def test_non_staff_and_uninvolved_staff_are_refused(api, app):
    case = refuse(api, submit(api))
    for who in ("alice", "bob", "inv", "insp", "w_nj"):
        assert post_scan(app, case["id"], who).status_code == 403, who
        assert post_mail(app, case["id"], who).status_code == 403, who
    assert post_scan(app, 999999).status_code == 404
    assert case_files(app, case["id"]) == [] and notifications(app, "result_sent") == []


def test_scan_is_uploaded_and_the_applicant_downloads_it(api, app):
    case = refuse(api, submit(api))
    r = post_scan(app, case["id"], blob=FORGED)
    assert r.status_code == 422 and "PDF" in r.json["message"] + str(r.json["errors"])
    assert case_files(app, case["id"]) == []
    assert post_scan(app, case["id"]).status_code == 200
    (f,) = case_files(app, case["id"])
    assert f.kind == "result"
    alice = browser(app, "alice")
    html = alice.get(f"/portal/cases/{case['id']}").get_data(as_text=True)
    url = f"/portal/cases/{case['id']}/files/{f.id}"
    assert url in html and "下载办理结果" in html
    got = alice.get(url)
    assert got.status_code == 200 and got.data == PDF
    assert browser(app, "bob").get(url).status_code == 404
    with app.app_context():
        assert db.session.execute(select(CaseEvent).where(CaseEvent.action == "result_upload")).scalar_one()


def test_tracking_number_is_shown_and_texted(api, app):
    case = refuse(api, submit(api))
    r = post_mail(app, case["id"], tracking_no="12")
    assert r.status_code == 422 and "tracking_no" in r.json["errors"]
    assert post_mail(app, case["id"]).status_code == 200
    assert post_mail(app, case["id"]).status_code == 409  # the same number twice
    with app.app_context():
        row = db.session.get(CaseResult, case["id"])
        assert (row.courier, row.tracking_no, row.recorded_by) == ("EMS", "1151234567890", "w1")
    sms = [n for n in notifications(app, "result_sent") if n.channel == "sms"]
    assert len(sms) == 1 and "1151234567890" in sms[0].text
    html = browser(app, "alice").get(f"/portal/cases/{case['id']}").get_data(as_text=True)
    assert "1151234567890" in html and "结果原件已寄出" in html
    # the staff panel shows it too
    assert "1151234567890" in browser(app, "w1").get(f"/inbox/cases/{case['id']}").get_data(as_text=True)
