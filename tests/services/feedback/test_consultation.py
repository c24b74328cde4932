"""Consultations (咨询) and complaints (投诉): routing (general → service hall; specific → the
division's liaison, who gets an SMS), answer deadlines in working days, extension with a reason,
overdue days, the asker's rating and follow-up; permissions and bad input."""
from datetime import date

from app.models import Notification
from app.models.feedback import FeedbackEvent, Question
from tests.services.feedback.feedback_support import api, browser, clock, count, decided_case, post, rows, start  # noqa: F401

ASK = "/portal/matters/t_simple/ask"


def ask(api, who="alice", category="general", subject="需要哪些材料？", body="请问申请表是否需要盖章？", expect=302):
    r = post(browser(api.app, who), ASK, {"category": category, "subject": subject, "body": body})
    assert r.status_code == expect, r.get_data(as_text=True)[:300]
    return rows(api.app, Question)[-1] if expect == 302 else None


def staff(api, who, question, action, expect, **data):
    r = post(browser(api.app, who), f"/feedback/questions/{question.id}/{action}", data)
    assert r.status_code == expect, (who, action, r.status_code, r.get_data(as_text=True)[:300])
    return rows(api.app, Question, Question.id == question.id)[0]


def test_a_general_question_goes_to_the_service_hall_due_in_three_working_days(api):
    assert "咨询类型" in browser(api.app, "alice").get(ASK).get_data(as_text=True)
    q = ask(api)
    assert (q.kind, q.category, q.route_group, q.region_code) == ("consultation", "general", "window", "320000")
    assert q.due_date == date(2026, 3, 5) and q.status == "open"  # Monday 2 March + 3 working days
    notes = rows(api.app, Notification, Notification.template == "question_new")
    assert [(n.channel, n.recipient) for n in notes] == [("internal", "g:window")]
    assert f'data-id="{q.id}"' in browser(api.app, "w1").get("/feedback/questions").get_data(as_text=True)
    assert f'data-id="{q.id}"' not in browser(api.app, "w_nj").get("/feedback/questions").get_data(as_text=True)


def test_a_specific_question_goes_to_the_division_liaison_who_gets_an_sms(api):
    q = ask(api, category="specific")
    assert q.route_group == "investment_liaison"
    sms = rows(api.app, Notification, Notification.template == "question_new", Notification.channel == "sms")
    assert [n.recipient for n in sms] == ["13800000001"]  # not the liaison of another region
    assert sms[0].text.startswith("【阳光发改】") and "2026-03-05" in sms[0].text
    assert f'data-id="{q.id}"' in browser(api.app, "liaison").get("/feedback/questions").get_data(as_text=True)
    assert f'data-id="{q.id}"' not in browser(api.app, "w1").get("/feedback/questions").get_data(as_text=True)


def test_bad_questions_are_refused_and_nothing_is_stored(api):
    for data in ({"category": "general", "subject": "", "body": "x"},
                 {"category": "general", "subject": "x", "body": "  "},
                 {"category": "other", "subject": "x", "body": "y"},
                 {"category": "general", "subject": "长" * 201, "body": "y"}):
        assert post(browser(api.app, "alice"), ASK, data).status_code == 422, data
    assert post(browser(api.app, "alice"), "/portal/matters/nope/ask",
                {"category": "general", "subject": "x", "body": "y"}).status_code == 404
    assert post(browser(api.app, "w1"), ASK, {"category": "general", "subject": "x", "body": "y"}).status_code == 403
    assert api.app.test_client().get(ASK).status_code == 302  # sign in first
    assert post(browser(api.app, "alice"), ASK, {"category": "general", "subject": "x", "body": "y"},
                csrf=False).status_code == 400
    assert count(api.app, Question) == 0 and count(api.app, Notification) == 0


def test_answer_records_overdue_working_days_and_the_asker_rates_it(api):
    q = ask(api, category="specific")
    staff(api, "w1", q, "answer", 403, answer="窗口不能代答")
    staff(api, "liaison_nj", q, "answer", 403, answer="另一地区")
    staff(api, "liaison", q, "answer", 422, answer=" ")
    # answered on Wednesday 11 March: due Thursday 5 March, so 4 working days late (6, 9, 10, 11)
    clock(api.app).advance(days=9)
    page = browser(api.app, "liaison").get(f"/feedback/questions/{q.id}").get_data(as_text=True)
    assert "超期" in page
    got = staff(api, "liaison", q, "answer", 302, answer="申请表需加盖单位公章。")
    assert (got.status, got.overdue_days, got.answered_by) == ("answered", 4, "liaison")
    staff(api, "liaison", q, "answer", 409, answer="again")
    told = rows(api.app, Notification, Notification.template == "question_answered")
    assert {(n.channel, n.recipient) for n in told} == {("internal", "alice"), ("sms", "13900000009")}
    # the asker rates it, once; nobody else can
    rate = f"/portal/questions/{q.id}/rate"
    assert post(browser(api.app, "bob"), rate, {"rating": "satisfied"}).status_code == 404
    assert post(browser(api.app, "alice"), rate, {"rating": "great"}).status_code == 422
    assert post(browser(api.app, "alice"), rate, {"rating": "unsatisfied"}).status_code == 302
    assert post(browser(api.app, "alice"), rate, {"rating": "satisfied"}).status_code == 409
    assert rows(api.app, Question, Question.id == q.id)[0].rating == "unsatisfied"
    # a follow-up question goes the same way
    r = post(browser(api.app, "alice"), f"/portal/questions/{q.id}/follow-up", {"body": "电子签章可以吗？"})
    assert r.status_code == 302
    follow = rows(api.app, Question)[-1]
    assert (follow.parent_id, follow.route_group, follow.status) == (q.id, "investment_liaison", "open")
    mine = browser(api.app, "alice").get("/portal/questions").get_data(as_text=True)
    assert "申请表需加盖单位公章。" in mine and "电子签章可以吗？" in mine


def test_rating_before_the_answer_is_refused(api):
    q = ask(api)
    assert post(browser(api.app, "alice"), f"/portal/questions/{q.id}/rate", {"rating": "satisfied"}).status_code == 409
    assert post(browser(api.app, "alice"), f"/portal/questions/{q.id}/follow-up", {"body": "x"}).status_code == 409


def test_extension_needs_a_reason_and_happens_once(api):
    q = ask(api)
    staff(api, "w1", q, "extend", 422, days="2", reason="")
    staff(api, "w1", q, "extend", 422, days="0", reason="需要会商")
    staff(api, "w1", q, "extend", 422, days="abc", reason="需要会商")
    staff(api, "w_nj", q, "extend", 403, days="2", reason="需要会商")
    got = staff(api, "w1", q, "extend", 302, days="2", reason="需征求业务处室意见")
    assert (got.due_date, got.extended_days, got.extension_reason) == (date(2026, 3, 9), 2, "需征求业务处室意见")
    staff(api, "w1", q, "extend", 409, days="1", reason="again")
    trail = [e.action for e in rows(api.app, FeedbackEvent, FeedbackEvent.item_kind == "question")]
    assert trail == ["ask", "extend"]


def test_a_complaint_about_my_case_goes_to_the_service_hall_and_inspectors_may_answer(api):
    case = start(api)
    other = start(api, "bob")
    c = browser(api.app, "alice")
    page = c.get("/portal/complaints/new").get_data(as_text=True)
    assert case["case_no"] in page and other["case_no"] not in page
    assert post(c, "/portal/complaints/new", {"subject": "x", "body": "y", "case_id": str(other["id"])}).status_code == 404
    assert post(c, "/portal/complaints/new", {"subject": "x", "body": "y", "case_id": "abc"}).status_code == 404
    assert post(c, "/portal/complaints/new", {"subject": "", "body": "y"}).status_code == 422
    assert count(api.app, Question) == 0
    r = post(c, "/portal/complaints/new", {"subject": "窗口态度差", "body": "电话无人接听", "case_id": str(case["id"])})
    assert r.status_code == 302
    (q,) = rows(api.app, Question)
    assert (q.kind, q.route_group, q.case_id, q.due_date) == ("complaint", "window", case["id"], date(2026, 3, 9))
    assert f'data-id="{q.id}"' in browser(api.app, "w1").get("/feedback/questions?kind=complaint").get_data(as_text=True)
    assert f'data-id="{q.id}"' not in browser(api.app, "w1").get("/feedback/questions").get_data(as_text=True)
    got = staff(api, "insp", q, "answer", 302, answer="已核实并督促整改")
    assert got.status == "answered"


def test_inspectors_read_consultations_but_do_not_answer_them(api):
    q = ask(api)
    assert browser(api.app, "insp").get(f"/feedback/questions/{q.id}").status_code == 200
    staff(api, "insp", q, "answer", 403, answer="x")
    assert browser(api.app, "energy").get(f"/feedback/questions/{q.id}").status_code == 403
    assert browser(api.app, "bob").get("/portal/questions").status_code == 200
    assert f'data-id="{q.id}"' not in browser(api.app, "bob").get("/portal/questions").get_data(as_text=True)
