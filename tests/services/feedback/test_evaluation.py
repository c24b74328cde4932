"""好差评: once per decided case by its applicant; a 差评 opens a rectification work item for the
department that handled the case, due in RECTIFICATION_DAYS working days; its state machine and
appeal (申诉复核); permissions and CSRF."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.models import Notification
from app.models.feedback import Evaluation, FeedbackEvent, Rectification
from app.services.feedback import evaluations as esvc
from tests.services.feedback.feedback_support import api, browser, clock, count, decided_case, post, rows, start

GOOD = {"level": "2", "efficiency": "1", "guide_accuracy": "2", "convenience": "2", "usability": "3",
        "comment": "办理很快"}
BAD = {"level": "5", "efficiency": "5", "guide_accuracy": "4", "convenience": "5", "usability": "4",
       "comment": "材料被反复要求补充，等了很久"}


def url(case):
    return f"/portal/cases/{case['id']}/evaluate"


def snapshot(app):
    return (count(app, Evaluation), count(app, Rectification),
            count(app, FeedbackEvent, FeedbackEvent.item_kind == "rectification"))


def test_an_undecided_case_cannot_be_evaluated(api):
    case = start(api)
    c = browser(api.app, "alice")
    assert c.get(url(case)).status_code == 409
    r = post(c, url(case), GOOD)
    assert r.status_code == 409 and snapshot(api.app) == (0, 0, 0)


def test_a_good_review_is_stored_once_and_opens_no_work_item(api):
    case = decided_case(api)
    c = browser(api.app, "alice")
    page = c.get(url(case))
    assert page.status_code == 200 and "提交评价" in page.get_data(as_text=True)
    r = post(c, url(case), GOOD, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120"})
    assert r.status_code == 302
    (ev,) = rows(api.app, Evaluation)
    assert (ev.level, ev.channel, ev.named) == (2, "1", True)
    assert ev.indicators == {"efficiency": 1, "guide_accuracy": 2, "convenience": 2, "usability": 3}
    with api.app.app_context():
        assert esvc.evaluated(case["id"]) is True
    assert count(api.app, Rectification) == 0
    again = post(c, url(case), BAD)
    assert again.status_code == 409 and "只能评价一次" in again.get_data(as_text=True)
    assert snapshot(api.app) == (1, 0, 0)
    assert "已评价" in c.get(url(case)).get_data(as_text=True)


def test_another_applicant_gets_404_and_staff_403(api):
    case = decided_case(api)
    assert post(browser(api.app, "bob"), url(case), GOOD).status_code == 404
    assert browser(api.app, "w1").get(url(case)).status_code == 403
    assert api.app.test_client().get(url(case)).status_code == 302  # to the sign-in page
    assert snapshot(api.app) == (0, 0, 0)


def test_bad_input_answers_422_and_changes_nothing(api):
    case = decided_case(api)
    c = browser(api.app, "alice")
    for bad in ({**GOOD, "level": "6"}, {**GOOD, "level": "0"}, {**GOOD, "level": "abc"},
                {k: v for k, v in GOOD.items() if k != "usability"}, {**GOOD, "efficiency": "9"},
                {**BAD, "comment": "  "}, {**GOOD, "comment": "长" * 1001}):
        r = post(c, url(case), bad)
        assert r.status_code == 422, bad
    assert snapshot(api.app) == (0, 0, 0)
    assert post(c, url(case), GOOD, csrf=False).status_code == 400
    assert snapshot(api.app) == (0, 0, 0)


def test_channel_from_the_user_agent_or_the_link(api):
    assert esvc.detect_channel("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148") == "2"
    assert esvc.detect_channel("Mozilla/5.0 (Windows NT 10.0; Win64; x64)") == "1"
    assert esvc.detect_channel("Mozilla/5.0 (Windows NT 10.0)", "qr") == "3"
    assert esvc.detect_channel("iPhone Mobile", "sms") == "4"
    assert esvc.detect_channel("Mozilla/5.0 (Windows NT 10.0)", "5") == "1"  # not a link channel: ignored
    case = decided_case(api)
    c = browser(api.app, "alice")
    assert 'value="qr"' in c.get(url(case) + "?channel=qr").get_data(as_text=True)
    post(c, url(case), {**GOOD, "channel": "qr"})
    assert rows(api.app, Evaluation)[0].channel == "3"


def test_a_bad_review_opens_a_work_item_for_the_deciding_division_due_in_working_days(api):
    # Wednesday 29 April 2026: Labour Day holidays 1–5 May, Saturday 9 May is an adjusted workday
    clock(api.app).set(datetime(2026, 4, 29, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    case = decided_case(api)
    r = post(browser(api.app, "alice"), url(case), {**BAD, "anonymous": "1"})
    assert r.status_code == 302
    (item,) = rows(api.app, Rectification)
    assert item.department == "investment" and item.region_code == "320000"
    assert item.status == "verifying" and item.due_date == date(2026, 5, 9)
    assert rows(api.app, Evaluation)[0].named is False
    notes = {n.recipient for n in rows(api.app, Notification, Notification.template == "rectification_new")}
    assert notes == {"g:investment", "g:investment_chief"}


def test_the_deadline_setting_is_honoured(fixture_app):
    from tests.conftest import make_app
    from tests.services.feedback import feedback_support as fs
    app = make_app(fixture_app.config["DATABASE_URL"], PROCESSES_DIR=fixture_app.config["PROCESSES_DIR"],
                   FORMS_DIR=fixture_app.config["FORMS_DIR"], RECTIFICATION_DAYS=15)
    a = fs.api.__wrapped__(app)
    case = decided_case(a)
    post(browser(app, "alice"), url(case), BAD)
    assert rows(app, Rectification)[0].due_date == date(2026, 3, 23)  # 15 working days after Mon 2 March


def _bad_review(api):
    case = decided_case(api)
    assert post(browser(api.app, "alice"), url(case), BAD).status_code == 302
    return rows(api.app, Rectification)[-1]


def act(app, who, item, action, expect, **data):
    r = post(browser(app, who), f"/feedback/rectifications/{item.id}/{action}", data)
    assert r.status_code == expect, (action, who, r.status_code, r.get_data(as_text=True)[:300])
    return r


def status(app, item):
    return rows(app, Rectification, Rectification.id == item.id)[0].status


def test_work_item_goes_verify_rectify_reply_call_back(api):
    item = _bad_review(api)
    app = api.app
    # the wrong steps for the state: 409, nothing changes
    act(app, "inv", item, "reply", 409, note="已整改")
    act(app, "inv", item, "callback", 409, note="x", result="satisfied")
    act(app, "inv", item, "verify", 422, note=" ")
    act(app, "inv", item, "verify", 302, note="经核实，补正要求确有重复")
    assert status(app, item) == "rectifying"
    act(app, "inv", item, "verify", 409, note="again")
    act(app, "chief", item, "reply", 302, note="已优化一次性告知清单，并向申请人致歉")
    assert status(app, item) == "replied"
    act(app, "inv", item, "callback", 422, note="电话回访", result="maybe")
    act(app, "w1", item, "callback", 302, note="电话回访，申请人认可整改", result="satisfied")
    got = rows(app, Rectification, Rectification.id == item.id)[0]
    assert (got.status, got.callback_result, got.closed_at is not None) == ("closed", "satisfied", True)
    trail = [(e.action, e.from_status, e.to_status) for e in rows(app, FeedbackEvent, FeedbackEvent.item_id == item.id,
                                                                   FeedbackEvent.item_kind == "rectification")]
    assert trail == [("open", None, "verifying"), ("verify", "verifying", "rectifying"),
                     ("reply", "rectifying", "replied"), ("callback", "replied", "closed")]
    act(app, "inv", item, "appeal", 409, note="too late")


def test_permissions_on_work_items(api):
    item = _bad_review(api)
    app = api.app
    before = snapshot(app)
    act(app, "energy", item, "verify", 403, note="不是我们处")      # another department
    act(app, "w_nj", item, "verify", 403, note="另一地区")           # service hall of another region
    act(app, "w1", item, "verify", 403, note="窗口不能代为核实")      # the hall does not rectify for the division
    act(app, "insp", item, "verify", 403, note="监察只读")
    act(app, "alice", item, "verify", 403, note="申请人")
    assert browser(app, "insp").get(f"/feedback/rectifications/{item.id}").status_code == 200
    assert browser(app, "energy").get(f"/feedback/rectifications/{item.id}").status_code == 403
    assert post(browser(app, "inv"), f"/feedback/rectifications/{item.id}/verify", {"note": "x"},
                csrf=False).status_code == 400
    assert snapshot(app) == before and status(app, item) == "verifying"
    lst = browser(app, "energy").get("/feedback/rectifications").get_data(as_text=True)
    assert f'data-id="{item.id}"' not in lst
    assert f'data-id="{item.id}"' in browser(app, "inv").get("/feedback/rectifications").get_data(as_text=True)


def test_appeal_rejected_goes_back_to_rectification_and_only_once(api):
    item = _bad_review(api)
    app = api.app
    act(app, "inv", item, "appeal", 422, note="")
    act(app, "inv", item, "appeal", 302, note="申请人因个人原因逾期补正，评价与事实不符")
    assert status(app, item) == "appeal"
    act(app, "inv", item, "dismiss", 403, note="自己不能裁决")
    act(app, "inv", item, "reply", 409, note="申诉期间不能反馈")
    act(app, "w1", item, "dismiss", 302, note="经复核，评价属实")
    got = rows(app, Rectification, Rectification.id == item.id)[0]
    assert (got.status, got.appeal_decision) == ("rectifying", "rejected")
    act(app, "inv", item, "appeal", 409, note="再次申诉")


def test_appeal_upheld_closes_the_item_as_invalid(api):
    item = _bad_review(api)
    app = api.app
    act(app, "inv", item, "verify", 302, note="核实中发现评价内容与本办件无关")
    act(app, "inv", item, "appeal", 302, note="恶意差评")
    act(app, "boss", item, "uphold", 302, note="申诉成立")
    got = rows(app, Rectification, Rectification.id == item.id)[0]
    assert (got.status, got.appeal_decision, got.appeal_from) == ("invalid", "upheld", "rectifying")
    act(app, "inv", item, "reply", 409, note="x")


def test_overdue_work_items_are_red(api):
    item = _bad_review(api)
    clock(api.app).advance(days=14)
    page = browser(api.app, "inv").get("/feedback/rectifications").get_data(as_text=True)
    assert 'class="rectification overdue"' in page and "超期" in page
    assert "超期" in browser(api.app, "inv").get(f"/feedback/rectifications/{item.id}").get_data(as_text=True)
