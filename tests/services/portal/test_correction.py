"""一次性告知 / 补正 (app/services/portal/corrections.py, app/web/portal/correction.py) on the shipped matter
企业投资项目备案 (xmgl_beian), through the pages and the API like a browser and a client would:
(a) at the window, through the process's own correction step; (b) after acceptance, from the
division's step, with the case clock suspended meanwhile."""
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, CaseFile, HumanTask, Notification, SpecialProcedure, User
from app.models.correction import CorrectionRequest
from app.services.clocks.calendar import current_calendar
from tests.web.api.helpers import Api
from tests.conftest import ROOT, deploy_all

PROCESS = "xmgl_beian"
SCENARIO = json.loads((ROOT / "processes" / f"{PROCESS}.scenarios.json").read_text(encoding="utf-8"))["scenarios"][0]
START = SCENARIO["start"]
ACCEPT = {"window_decision": "accept", "paper_received": True, "window_opinion": "申请材料齐全，符合法定形式，予以受理。"}
FILING = [s for s in SCENARIO["steps"] if s["task"] == "filing_decision"][0]["data"]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
FORGED = b"MZ\x90\x00 this is an executable renamed to .pdf"


def ofd() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
    return buf.getvalue()


@pytest.fixture
def api(app):
    deploy_all(app)
    a = Api(app)
    a.user("alice", "applicant")
    a.user("bob", "applicant")
    a.user("w1", groups=["window"])
    a.user("inv1", groups=["investment"])
    a.user("inv2", groups=["investment"])
    a.user("eco", groups=["cs_ecology"])
    return a


class Page:
    """A signed-in browser session (test client) that posts the session's CSRF token."""

    def __init__(self, app, username):
        self.c = app.test_client()
        with app.app_context():
            uid = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
        with self.c.session_transaction() as s:
            s["uid"], s["csrf"] = uid, f"csrf-{username}"
        self.csrf = f"csrf-{username}"

    def get(self, url, expect=200):
        r = self.c.get(url)
        assert r.status_code == expect, (url, r.status_code, r.get_data(as_text=True)[:500])
        return r.get_data(as_text=True)

    def post(self, url, data=None, expect=302, csrf=True, **kw):
        body = {**({"csrf_token": self.csrf} if csrf else {}), **(data or {})}
        r = self.c.post(url, data=body, **kw)
        assert r.status_code == expect, (url, r.status_code, r.get_data(as_text=True)[:600])
        return r

    def post_json(self, url, body, expect=200):
        r = self.c.post(url, json=body, headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"})
        assert r.status_code == expect, (url, r.status_code, r.get_data(as_text=True)[:600])
        return r.get_json()


def start(api, who="alice"):
    r = api.post(who, "/api/cases", json={"process_id": PROCESS, "data": START})
    assert r.status_code == 201, r.json
    return r.json["id"]


def ready(app, case_id, element):
    with app.app_context():
        rows = db.session.execute(select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.state == "ready",
                                                          HumanTask.element_id == element)).scalars().all()
        return [t.id for t in rows]


def complete(api, who, task_id, data, expect=200):
    r = api.post(who, f"/api/tasks/{task_id}/complete", json={"data": data})
    assert r.status_code == expect, (r.status_code, r.json)
    return r.json


def case_row(app, case_id) -> Case:
    with app.app_context():
        case = db.session.get(Case, case_id)
        db.session.expunge(case)
        return case


def requests(app, case_id):
    with app.app_context():
        rows = db.session.execute(select(CorrectionRequest).where(CorrectionRequest.case_id == case_id)
                                  .order_by(CorrectionRequest.id)).scalars().all()
        for r in rows:
            db.session.expunge(r)
        return rows


def count(app, model, *where):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def editor_form(problem0="缺少法定代表人签字及单位公章", free=("项目联系人信息", "与授权委托书所载联系人不一致")):
    """The notice editor as the panel posts it: the matter's 4 materials, the first ticked, one free row."""
    names = ["企业投资项目备案信息表", "项目符合产业政策的声明", "产能置换方案及公告", "授权委托书"]
    data = {"mat_name": names, "mat": ["0"], "problem_0": problem0, "note": "请补正后重新提交。"}
    if free:
        data.update(free_material_0=free[0], free_problem_0=free[1])
    return data


# -- (a) at the window ---------------------------------------------------------------------------
def test_window_notice_then_applicant_answers_item_by_item_and_the_case_goes_back_to_the_window(api):
    app = api.app
    case_id = start(api)
    [window_task] = ready(app, case_id, "window_review")
    clerk = Page(app, "w1")
    page = clerk.get(f"/inbox/tasks/{window_task}")
    assert 'id="corr-editor"' in page and "授权委托书" in page and "发出一次性告知" in page

    clerk.post(f"/correction/tasks/{window_task}", editor_form())

    [req] = requests(app, case_id)
    assert req.mode == "window" and req.status == "open" and req.requested_by == "w1"
    assert [i["material"] for i in req.items] == ["企业投资项目备案信息表", "项目联系人信息"]
    assert case_row(app, case_id).status == "correction"
    with app.app_context():  # the window step was completed through the inbox service, with the notice
        done = db.session.get(HumanTask, window_task)
        assert done.state == "completed" and done.completed_by == "w1"
        sms = db.session.execute(select(Notification).where(Notification.case_id == case_id,
                                                            Notification.template == "correction_requested",
                                                            Notification.channel == "sms")).scalars().all()
        assert len(sms) == 1 and "2项" in sms[0].text and sms[0].recipient.endswith(START["contact_phone"])
    [applicant_task] = ready(app, case_id, "correction")
    assert req.applicant_task_id == applicant_task
    history = api.get("w1", f"/api/cases/{case_id}").json["history"]
    submitted = [e for e in history if e["action"] == "complete"][-1]["data_change"]
    assert submitted["window_decision"] == "correction"
    assert submitted["missing_items"] == "1. 企业投资项目备案信息表：缺少法定代表人签字及单位公章\n" \
        "2. 项目联系人信息：与授权委托书所载联系人不一致"

    alice = Page(app, "alice")
    page = alice.get(f"/portal/cases/{case_id}/correction")
    assert "企业投资项目备案信息表" in page and "与授权委托书所载联系人不一致" in page and "请补正后重新提交。" in page
    assert 'name="file_1"' in page and 'name="file_2"' in page

    def snapshot():
        return (requests(app, case_id)[0].status, count(app, CaseFile, CaseFile.case_id == case_id),
                ready(app, case_id, "correction"), case_row(app, case_id).status)
    before = snapshot()

    # item 2 has neither a file nor a remark: refused, per-item message, nothing changed
    r = alice.post(f"/portal/cases/{case_id}/correction",
                   {"request_id": str(req.id), "file_1": (io.BytesIO(PDF), "备案信息表.pdf"), "remark_1": ""},
                   expect=422, content_type="multipart/form-data")
    text = r.get_data(as_text=True)
    assert "第 2 项「项目联系人信息」：请上传补正材料或填写说明" in text
    assert snapshot() == before

    # a forged type (an executable named .pdf) is refused by content, nothing changed
    r = alice.post(f"/portal/cases/{case_id}/correction",
                   {"request_id": str(req.id), "file_1": (io.BytesIO(FORGED), "备案信息表.pdf"),
                    "remark_2": "联系人已更正为刘强"}, expect=422, content_type="multipart/form-data")
    assert "只接受 PDF、JPG、PNG、OFD" in r.get_data(as_text=True)
    assert snapshot() == before

    # a bad courier number is refused too
    alice.post(f"/portal/cases/{case_id}/correction",
               {"request_id": str(req.id), "file_1": (io.BytesIO(PDF), "a.pdf"), "remark_2": "x",
                "express_no": "<script>"}, expect=422, content_type="multipart/form-data")
    assert snapshot() == before

    alice.post(f"/portal/cases/{case_id}/correction",
               {"request_id": str(req.id), "file_1": (io.BytesIO(PDF), "备案信息表（盖章）.pdf"),
                "remark_1": "已加盖公章", "file_2": (io.BytesIO(ofd()), "授权委托书.ofd"),
                "remark_2": "联系人已更正为刘强", "reply": "已逐项补正。", "express_no": "SF1402573396841"},
               content_type="multipart/form-data")

    [req] = requests(app, case_id)
    assert req.status == "answered" and req.answered_by == "alice" and req.express_no == "SF1402573396841"
    assert [a["remark"] for a in req.answers] == ["已加盖公章", "联系人已更正为刘强"]
    assert [f["filename"] for a in req.answers for f in a["files"]] == ["备案信息表（盖章）.pdf", "授权委托书.ofd"]
    assert ready(app, case_id, "correction") == []
    [again] = ready(app, case_id, "window_review")
    assert again != window_task and case_row(app, case_id).status == "received"
    with app.app_context():
        files = db.session.execute(select(CaseFile).where(CaseFile.case_id == case_id)).scalars().all()
        assert {f.kind for f in files} == {"correction"} and {f.content_type for f in files} == \
            {"application/pdf", "application/ofd"}
        answered = db.session.get(HumanTask, applicant_task)
        assert answered.state == "completed" and answered.completed_by == "alice"
        file_id = files[0].id

    page = clerk.get(f"/inbox/tasks/{again}")  # the window sees the notice and the answers
    assert "已补正" in page and "备案信息表（盖章）.pdf" in page and "联系人已更正为刘强" in page
    assert clerk.c.get(f"/inbox/cases/{case_id}/files/{file_id}").data == PDF
    assert alice.c.get(f"/portal/cases/{case_id}/correction/files/{file_id}").data == PDF
    page = alice.get(f"/portal/cases/{case_id}/correction")  # past notices stay visible
    assert 'id="corr-none"' in page and "已加盖公章" in page
    # answering again: nothing open any more
    alice.post(f"/portal/cases/{case_id}/correction", {"remark_1": "x"}, expect=409,
               content_type="multipart/form-data")


def test_a_clerk_deciding_correction_in_the_form_still_makes_a_structured_notice(api):
    app = api.app
    case_id = start(api)
    [window_task] = ready(app, case_id, "window_review")
    complete(api, "w1", window_task, {"window_decision": "correction",
                                      "missing_items": "1. 建设规模未注明新增生产能力；2. 授权委托书：未签字",
                                      "window_opinion": "申请材料不齐全，已一次性告知。"})
    [req] = requests(app, case_id)
    assert req.items == [{"material": "建设规模未注明新增生产能力", "problem": ""},
                         {"material": "授权委托书", "problem": "未签字"}]
    assert req.requested_by == "w1" and req.task_id == window_task
    assert count(app, Notification, Notification.case_id == case_id,
                 Notification.template == "correction_requested") == 2  # in-app + SMS
    # the applicant completes the step through the API instead of the page: the request is answered
    [applicant_task] = ready(app, case_id, "correction")
    complete(api, "alice", applicant_task, {"correction_reply": "已补正", "correction_confirmed": True})
    [req] = requests(app, case_id)
    assert req.status == "answered" and req.reply == "已补正"


def test_the_window_notice_needs_at_least_one_complete_item_and_only_the_window_may_send_it(api):
    app = api.app
    case_id = start(api)
    [window_task] = ready(app, case_id, "window_review")
    clerk = Page(app, "w1")
    r = clerk.post(f"/correction/tasks/{window_task}", {"mat_name": ["授权委托书"], "mat": ["0"]}, expect=422)
    assert "请填写第 1 项「授权委托书」需补正的内容" in r.get_data(as_text=True)
    assert 'id="corr-editor"' in r.get_data(as_text=True)  # the task page again, with the editor
    Page(app, "inv1").post(f"/correction/tasks/{window_task}", editor_form(), expect=403)
    Page(app, "alice").post(f"/correction/tasks/{window_task}", editor_form(), expect=403)
    assert requests(app, case_id) == [] and ready(app, case_id, "window_review") == [window_task]
    # a window notice goes to the applicant's own step: it cannot be withdrawn
    clerk.post(f"/correction/tasks/{window_task}", editor_form())
    [req] = requests(app, case_id)
    assert clerk.post_json(f"/correction/requests/{req.id}/withdraw", {}, expect=409)["message"]


# -- (b) after acceptance ------------------------------------------------------------------------
def accepted_case(api):
    case_id = start(api)
    [window_task] = ready(api.app, case_id, "window_review")
    complete(api, "w1", window_task, ACCEPT)
    [task] = ready(api.app, case_id, "filing_decision")
    return case_id, task


def test_a_division_asks_for_corrections_the_clock_stops_and_the_answer_moves_the_deadlines(api):
    app = api.app
    case_id, task = accepted_case(api)
    before = case_row(app, case_id)
    assert before.status == "accepted" and before.clock_state == "running"
    handler = Page(app, "inv1")
    page = handler.get(f"/inbox/tasks/{task}")
    assert 'id="corr-editor"' in page and "要求补正" in page

    # refusals first: nothing changes
    assert handler.post_json(f"/correction/tasks/{task}", {"items": []}, expect=422)["message"]
    handler.post(f"/correction/tasks/{task}", editor_form(), csrf=False, expect=400)
    Page(app, "eco").post(f"/correction/tasks/{task}", editor_form(), expect=403)
    handler.post_json(f"/correction/tasks/{task}", {"items": [{"material": "x", "problem": "y"}], "days": 0},
                      expect=422)
    assert requests(app, case_id) == [] and case_row(app, case_id).clock_state == "running"

    handler.post(f"/correction/tasks/{task}", {**editor_form(), "days": "5"})

    [req] = requests(app, case_id)
    case = case_row(app, case_id)
    assert req.mode == "handling" and req.task_id == task and len(req.items) == 2
    assert case.status == "correction" and case.clock_state == "suspended"
    with app.app_context():
        proc = db.session.get(SpecialProcedure, req.procedure_id)
        assert proc.kind == "correction" and proc.kind_code == "2" and proc.status == "running"
        held = db.session.get(HumanTask, task)
        assert held.blocked == 1 and held.assignee == "inv1"
        assert req.due_date == current_calendar().add_working_days(proc.started_at.date(), 5)
        assert db.session.execute(select(Notification).where(
            Notification.case_id == case_id, Notification.template == "correction_requested",
            Notification.channel == "sms")).scalar_one()
    page = handler.get(f"/inbox/tasks/{task}")
    assert "等待申请人补正" in page and 'id="corr-editor"' not in page
    r = api.post("inv1", f"/api/tasks/{task}/complete", json={"data": FILING})
    assert r.status_code == 409 and "等待申请人补正" in r.json["message"]
    # a second notice while one is open: refused
    assert handler.post_json(f"/correction/tasks/{task}", {"items": [{"material": "x", "problem": "y"}]},
                             expect=409)
    # someone else's case: 404 on the page and on submit
    bob = Page(app, "bob")
    bob.get(f"/portal/cases/{case_id}/correction", expect=404)
    bob.post(f"/portal/cases/{case_id}/correction", {"remark_1": "x", "remark_2": "y"}, expect=404,
             content_type="multipart/form-data")
    Page(app, "inv1").get(f"/portal/cases/{case_id}/correction", expect=403)

    app.extensions["clock"].advance(days=3)  # Monday -> Thursday: 3 working days suspended
    alice = Page(app, "alice")
    assert "缺少法定代表人签字及单位公章" in alice.get(f"/portal/cases/{case_id}/correction")
    alice.post(f"/portal/cases/{case_id}/correction",
               {"request_id": str(req.id), "file_1": (io.BytesIO(PNG), "信息表.png"), "remark_2": "已更正"},
               content_type="multipart/form-data")

    case = case_row(app, case_id)
    with app.app_context():
        cal = current_calendar()
        proc = db.session.get(SpecialProcedure, req.procedure_id)
        assert proc.status == "ended" and proc.counted_days == 3
        held = db.session.get(HumanTask, task)
        assert held.blocked == 0 and held.state == "ready"
        assert db.session.execute(select(Notification).where(
            Notification.case_id == case_id, Notification.template == "correction_answered",
            Notification.recipient == "inv1")).scalar_one()
    assert case.status == "accepted" and case.clock_state == "running" and case.suspended_days == 3
    assert case.statutory_due == cal.add_working_days(before.statutory_due, 3)
    assert case.promised_due == cal.add_working_days(before.promised_due, 3)
    [req] = requests(app, case_id)
    assert req.status == "answered" and req.answers[0]["files"][0]["filename"] == "信息表.png"
    page = handler.get(f"/inbox/tasks/{task}")
    assert "信息表.png" in page and "已更正" in page
    complete(api, "inv1", task, FILING)
    assert case_row(app, case_id).status == "approved"


def test_the_handler_may_withdraw_an_unanswered_request_and_the_clock_resumes(api):
    app = api.app
    case_id, task = accepted_case(api)
    before = case_row(app, case_id)
    handler = Page(app, "inv1")
    out = handler.post_json(f"/correction/tasks/{task}", {"items": [{"material": "授权委托书", "problem": "未签字"}],
                                                          "note": "请补签"}, expect=201)
    req_id = out["request"]
    assert 'id="corr-withdraw"' in handler.get(f"/inbox/tasks/{task}")
    assert Page(app, "eco").post_json(f"/correction/requests/{req_id}/withdraw", {}, expect=403)
    assert Page(app, "alice").post(f"/correction/requests/{req_id}/withdraw", {}, expect=403)
    app.extensions["clock"].advance(days=1)
    handler.post(f"/correction/requests/{req_id}/withdraw", {"reason": "材料已在其他渠道收到"})
    [req] = requests(app, case_id)
    case = case_row(app, case_id)
    assert req.status == "withdrawn" and req.closed_by == "inv1" and req.close_reason == "材料已在其他渠道收到"
    assert case.status == "accepted" and case.clock_state == "running" and case.suspended_days == 1
    with app.app_context():
        assert case.statutory_due == current_calendar().add_working_days(before.statutory_due, 1)
        assert db.session.get(SpecialProcedure, req.procedure_id).status == "ended"
        assert db.session.get(HumanTask, task).blocked == 0
        assert db.session.execute(select(Notification).where(
            Notification.case_id == case_id, Notification.template == "correction_withdrawn",
            Notification.channel == "internal")).scalar_one()
    assert handler.post_json(f"/correction/requests/{req_id}/withdraw", {}, expect=409)
    Page(app, "alice").post(f"/portal/cases/{case_id}/correction", {"remark_1": "x"}, expect=409,
                            content_type="multipart/form-data")
    complete(api, "inv1", task, FILING)


def test_items_are_read_from_a_clerks_numbered_text():
    from app.services.portal.correction_views import items_from_text, notice_text
    items = [{"material": "授权委托书", "problem": "未签字"}, {"material": "营业执照", "problem": "已过期"}]
    assert items_from_text(notice_text(items)) == items
    assert items_from_text("（1）缺少A；（2）B：不清晰\n\n3、C") == [
        {"material": "缺少A", "problem": ""}, {"material": "B", "problem": "不清晰"}, {"material": "C", "problem": ""}]


def test_the_fixture_process_without_a_missing_items_field_carries_the_notice_in_the_opinion(fixture_app):
    from tests.web.api.helpers import START as T_START
    deploy_all(fixture_app)
    api = Api(fixture_app)
    api.user("alice", "applicant")
    api.user("w1", groups=["window"])
    r = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": T_START})
    case_id = r.json["id"]
    [review] = ready(fixture_app, case_id, "review")
    out = Page(fixture_app, "w1").post_json(f"/correction/tasks/{review}",
                                            {"items": [{"material": "申请表", "problem": "未盖章"}]}, expect=201)
    with fixture_app.app_context():
        assert "1. 申请表：未盖章" in db.session.get(HumanTask, review).opinion
    [req] = requests(fixture_app, case_id)
    assert req.id == out["request"] and req.applicant_task_id == ready(fixture_app, case_id, "correction")[0]
    Page(fixture_app, "alice").post(f"/portal/cases/{case_id}/correction", {"remark_1": "已盖章重新上传"},
                                    content_type="multipart/form-data")
    assert requests(fixture_app, case_id)[0].status == "answered"
    assert len(ready(fixture_app, case_id, "review")) == 1 and ready(fixture_app, case_id, "correction") == []


def test_an_answer_while_an_administrator_holds_the_case_leaves_the_task_out_of_the_inboxes(api):
    """挂起 takes the case's open tasks out of every inbox until it is resumed. The applicant may still
    answer an open 补正 meanwhile (the clock's special procedure ends); the staff task it releases stays
    out of the inboxes until the administrator resumes the case, and is back in them then."""
    from app.models import TaskCandidate
    app = api.app
    api.user("admin", groups=["admin"])
    case_id, task = accepted_case(api)
    listed = count(app, TaskCandidate, TaskCandidate.task_id == task)
    assert listed > 0
    handler = Page(app, "inv1")
    out = handler.post_json(f"/correction/tasks/{task}", {"items": [{"material": "授权委托书", "problem": "未签字"}]},
                            expect=201)
    assert api.post("admin", f"/api/cases/{case_id}/suspend", json={"reason": "核查"}).status_code == 200
    assert count(app, TaskCandidate, TaskCandidate.task_id == task) == 0
    app.extensions["clock"].advance(days=1)
    Page(app, "alice").post(f"/portal/cases/{case_id}/correction",
                            {"request_id": str(out["request"]), "remark_1": "已补签"}, content_type="multipart/form-data")
    assert requests(app, case_id)[0].status == "answered"
    with app.app_context():
        assert db.session.get(HumanTask, task).blocked == 0
    assert count(app, TaskCandidate, TaskCandidate.task_id == task) == 0
    assert task not in [t["id"] for t in api.get("inv1", "/api/tasks").json]
    assert api.post("admin", f"/api/cases/{case_id}/resume", json={"reason": "核查完毕"}).status_code == 200
    assert count(app, TaskCandidate, TaskCandidate.task_id == task) == listed
    complete(api, "inv1", task, FILING)
