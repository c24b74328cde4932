"""Review of the portal's parts where they meet (H8): a 补正 after acceptance tells the applicant once;
a case withdrawn or terminated in the middle of a 补正 leaves nothing open; the applicant then cannot
answer (409, nothing stored)."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import CaseFile, HumanTask, Notification, SpecialProcedure
from app.models.correction import CorrectionRequest
from tests.services.portal.test_correction import PDF, Page, accepted_case, api, case_row, requests  # noqa: F401


def applicant_sms(app, case_id) -> list[str]:
    with app.app_context():
        return [n.template for n in db.session.execute(select(Notification).where(
            Notification.case_id == case_id, Notification.channel == "sms").order_by(Notification.id)).scalars()]


def ask_correction(api, task):
    out = Page(api.app, "inv1").post_json(f"/correction/tasks/{task}", {
        "items": [{"material": "授权委托书", "problem": "未签字"}], "days": 5}, expect=201)
    return out["request"]


def test_a_correction_after_acceptance_sends_one_sms_not_two(api):
    app = api.app
    case_id, task = accepted_case(api)
    before = applicant_sms(app, case_id)
    ask_correction(api, task)
    new = applicant_sms(app, case_id)[len(before):]
    # the one-time notice SMS says it all (count, clock suspended); no second 特别程序 SMS at the same moment
    assert new == ["correction_requested"]
    with app.app_context():  # the special procedure itself is still recorded
        assert db.session.execute(select(SpecialProcedure).where(SpecialProcedure.case_id == case_id)).scalar_one()


def _answer(app, case_id):
    return Page(app, "alice").c.post(f"/portal/cases/{case_id}/correction", data={
        "csrf_token": "csrf-alice", "remark_1": "已补签", "file_1": (__import__("io").BytesIO(PDF), "a.pdf")},
        content_type="multipart/form-data")


def _nothing_left_open(app, case_id, status):
    case = case_row(app, case_id)
    assert case.status == status
    assert case.clock_state != "suspended"  # a finished case's page must not read 已暂停
    [req] = requests(app, case_id)
    assert req.status == "withdrawn"
    with app.app_context():
        procs = db.session.execute(select(SpecialProcedure).where(SpecialProcedure.case_id == case_id)).scalars().all()
        assert procs and all(p.status != "running" and p.ended_at is not None for p in procs)
        assert not db.session.execute(select(HumanTask).where(HumanTask.case_id == case_id,
                                                              HumanTask.state == "ready")).first()
    before = (len(requests(app, case_id)), _files(app, case_id))
    r = _answer(app, case_id)
    assert r.status_code == 409, r.status_code
    assert (len(requests(app, case_id)), _files(app, case_id)) == before
    page = Page(app, "alice").get(f"/portal/cases/{case_id}")
    assert "请按一次性告知书补正材料" not in page and "已暂停" not in page


def _files(app, case_id):
    with app.app_context():
        return len(db.session.execute(select(CaseFile.id).where(CaseFile.case_id == case_id)).all())


def test_withdrawn_in_the_middle_of_a_correction(api):
    app = api.app
    case_id, task = accepted_case(api)
    ask_correction(api, task)
    r = api.post("alice", f"/api/cases/{case_id}/withdraw", json={"reason": "项目取消"})
    assert r.status_code == 200, r.json
    _nothing_left_open(app, case_id, "withdrawn")


def test_terminated_in_the_middle_of_a_correction(api):
    app = api.app
    api.user("boss", groups=["admin"])
    case_id, task = accepted_case(api)
    ask_correction(api, task)
    r = api.post("boss", f"/api/cases/{case_id}/terminate", json={"reason": "申请人注销"})
    assert r.status_code == 200, r.json
    _nothing_left_open(app, case_id, "terminated")
