"""A case in late December 2026, on the SHIPPED matter 企业投资项目核准 (xmgl_hezhun), while the 2027
calendar is not imported yet (the package data ends with 2026): every place that computes a deadline
either works or refuses loudly (409 naming the year and saying an administrator must import it,
nothing changed, the red system alert raised), never a 500; once the year is imported the same
operation goes through.

The 2027 file imported here is test data with New Year's Day only (1 January is a statutory holiday
by law every year); the real 2027 arrangement comes from the State Council's notice."""
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from chinese_calendar import constants
from sqlalchemy import delete, func, select

from app.domain.errors import ValidationError
from app.extensions import db
from app.models import (
    CalendarDay,
    CalendarYear,
    Case,
    CaseEvent,
    HumanTask,
    Incident,
    Notification,
    SpecialProcedure,
    SupervisionEvent,
    User,
)
from app.models.feedback import Disclosure, FeedbackEvent, Question, Rectification
from app.services.clocks.calendar import current_calendar, parse_year_file
from app.services.clocks.supervision import run_supervision
from app.services.common.clock import FakeClock
from tests.conftest import ROOT, deploy_all, make_app
from tests.services.portal.h3_helpers import confirm, upload_mail
from tests.web.api.helpers import Api

BJ = ZoneInfo("Asia/Shanghai")
PATH = {s["name"]: s for s in json.loads(
    (ROOT / "processes" / "xmgl_hezhun.scenarios.json").read_text(encoding="utf-8"))["scenarios"]}["处长退回重审后核准"]
ACCEPT, REVIEW = PATH["steps"][0]["data"], PATH["steps"][1]["data"]
EXTENSION = {"kind": "extension", "reason": "项目需征求有关单位意见，经主要负责人批准延长", "planned_duration": 10}
YEAR_2027 = "# test data only: the real dates come from the State Council's notice\n2027-01-01,holiday,元旦\n"


def at(*args) -> datetime:
    return datetime(*args, 9, 0, tzinfo=BJ)


def forget_2027(app):
    """The calendar tables are kept between tests (PostgreSQL): no test may leave 2027 behind."""
    with app.app_context():
        db.session.execute(delete(CalendarDay).where(CalendarDay.day >= date(2027, 1, 1)))
        db.session.execute(delete(CalendarYear).where(CalendarYear.year >= 2027))
        db.session.commit()


@pytest.fixture
def api(db_url):
    clock = FakeClock(at(2026, 12, 28))  # Monday 28 December 2026
    app = make_app(db_url, CLOCK=clock)
    forget_2027(app)
    deploy_all(app)
    a = Api(app)
    a.clock = clock
    a.user("applicant_1", "applicant")
    for name, groups in (("win", ["window"]), ("inv", ["investment"]), ("leader", ["leader", "head"])):
        a.user(name, groups=groups)
    yield a
    forget_2027(app)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def accepted_case(api) -> dict:
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_hezhun", "data": PATH["start"]})
    assert r.status_code == 201, r.json
    task = r.json["current_tasks"][0]
    r = api.post("win", f"/api/tasks/{task['id']}/complete", json={"data": ACCEPT})
    assert r.status_code == 200, r.json
    assert r.json["status"] == "accepted"
    return r.json


def case_state(api, case_id) -> tuple:
    """Everything a refused operation must leave as it was."""
    with api.app.app_context():
        case = db.session.get(Case, case_id)
        tasks = db.session.execute(select(HumanTask.id, HumanTask.state, HumanTask.due_date).where(
            HumanTask.case_id == case_id).order_by(HumanTask.id)).all()
        return (case.status, case.clock_state, case.statutory_due, case.promised_due, case.extended_days,
                case.suspended_days, case.clock_error,
                db.session.execute(select(SpecialProcedure.id, SpecialProcedure.status).where(
                    SpecialProcedure.case_id == case_id).order_by(SpecialProcedure.id)).all(),
                db.session.execute(select(func.count()).select_from(CaseEvent).where(
                    CaseEvent.case_id == case_id)).scalar_one(),
                db.session.execute(select(func.count()).select_from(Notification).where(
                    Notification.case_id == case_id)).scalar_one(),
                [tuple(t) for t in tasks])


def calendar_alerts(api) -> list:
    with api.app.app_context():
        return [(e.dedup_key, e.colour, e.content) for e in db.session.execute(
            select(SupervisionEvent).where(SupervisionEvent.rule_id == "CALENDAR-MISSING")).scalars()]


def assert_refused_for_2027(r):
    assert r.status_code == 409, (r.status_code, r.json)
    assert "2027" in r.json["message"] and "管理员导入" in r.json["message"], r.json["message"]
    assert "flask calendar import 2027" in r.json["message"]
    assert r.json["errors"]["calendar_year"] == ["2027"]


def import_2027(api):
    result = api.app.test_cli_runner().invoke(args=["calendar", "import", "2027", str(write_year_file(api))])
    assert result.exit_code == 0, result.output
    assert "2027: 1 days imported" in result.output


def write_year_file(api):
    path = api.app.config["FILES_DIR"] + "/2027.csv"
    with open(path, "w", encoding="utf-8") as f:
        f.write(YEAR_2027)
    return path


# -- the extension whose new deadline falls in 2027 ---------------------------------------------
def test_an_extension_into_2027_is_refused_loudly_and_changes_nothing_until_the_year_is_imported(api):
    api.clock.set(at(2026, 12, 1))  # accepted on Tuesday 1 December: 20 working days end on 29 December
    case = accepted_case(api)
    assert case["statutory_due"] == "2026-12-29" and case["clock_error"] is None
    api.clock.set(at(2026, 12, 28))
    before = case_state(api, case["id"])
    r = api.post("leader", f"/api/cases/{case['id']}/special-procedures", json=EXTENSION)
    assert_refused_for_2027(r)
    assert case_state(api, case["id"]) == before
    alerts = calendar_alerts(api)
    assert [(key, colour) for key, colour, _ in alerts] == [("system:calendar-2027", "red")]
    assert "2027" in alerts[0][2]
    assert_refused_for_2027(api.post("leader", f"/api/cases/{case['id']}/special-procedures", json=EXTENSION))
    assert case_state(api, case["id"]) == before and len(calendar_alerts(api)) == 1  # one alert per year

    import_2027(api)
    r = api.post("leader", f"/api/cases/{case['id']}/special-procedures", json=EXTENSION)
    assert r.status_code == 201, r.json
    detail = api.get("applicant_1", f"/api/cases/{case['id']}").json
    with api.app.app_context():
        expected = current_calendar().add_working_days(date(2026, 12, 29), 10)
    assert detail["statutory_due"] == expected.isoformat() and detail["extended_days"] == 10
    assert expected.year == 2027


def test_a_suspension_whose_resume_reaches_2027_is_refused_and_stays_suspended(api):
    api.clock.set(at(2026, 12, 1))
    case = accepted_case(api)
    api.clock.set(at(2026, 12, 21))
    r = api.post("inv", f"/api/cases/{case['id']}/special-procedures",
                 json={"kind": "expert_review", "reason": "组织专家评审", "planned_duration": 5})
    assert r.status_code == 201, r.json
    proc_id = r.json["id"]
    api.clock.set(at(2026, 12, 28))  # 5 working days suspended: 29 Dec + 5 reaches 2027
    before = case_state(api, case["id"])
    r = api.post("inv", f"/api/cases/special-procedures/{proc_id}/end", json={"result": "专家评审完毕"})
    assert_refused_for_2027(r)
    assert case_state(api, case["id"]) == before
    assert before[0] == "special_procedure" and before[1] == "suspended"
    assert len(calendar_alerts(api)) == 1
    import_2027(api)
    r = api.post("inv", f"/api/cases/special-procedures/{proc_id}/end", json={"result": "专家评审完毕"})
    assert r.status_code == 200 and r.json["counted_days"] == 5, r.json
    detail = api.get("applicant_1", f"/api/cases/{case['id']}").json
    assert detail["clock_state"] == "running" and detail["statutory_due"].startswith("2027-")


# -- a case accepted in late December ------------------------------------------------------------
def test_a_case_accepted_on_28_december_goes_on_with_its_deadlines_missing_and_said_so(api):
    case = accepted_case(api)
    # acceptance: no statutory or promised deadline is guessed; the case says why
    assert case["statutory_due"] is None and case["promised_due"] is None
    assert "2027" in case["clock_error"]
    # the step limit of 处室审查 (2 working days) is still in 2026
    review = next(t for t in case["current_tasks"] if t["element_id"] == "division_review")
    assert review["due_date"] == "2026-12-30"
    # the 催办 timer (4 working days) reaches 2027: an incident that names the year, not a 500
    with api.app.app_context():
        incidents = db.session.execute(select(Incident)).scalars().all()
        assert [i.element_id for i in incidents] == ["division_review_remind"]
        assert "2027" in incidents[0].message
    assert len(calendar_alerts(api)) == 1
    # the applicant's pages and the API answer
    assert api.get("applicant_1", f"/api/cases/{case['id']}").status_code == 200
    # the extension cannot be counted either: refused, nothing changed
    before = case_state(api, case["id"])
    assert_refused_for_2027(api.post("leader", f"/api/cases/{case['id']}/special-procedures", json=EXTENSION))
    assert case_state(api, case["id"]) == before
    # the case goes on: 处室审查 is done, the countersign steps (5 working days) get no guessed due date
    r = api.post("inv", f"/api/tasks/{review['id']}/complete", json={"data": REVIEW})
    assert r.status_code == 200, r.json
    assert {t["element_id"]: t["due_date"] for t in r.json["current_tasks"]} == {"countersign": None}
    # once 2027 is imported, the extension recomputes the deadlines that were missing and extends them
    import_2027(api)
    r = api.post("leader", f"/api/cases/{case['id']}/special-procedures", json=EXTENSION)
    assert r.status_code == 201, r.json
    detail = api.get("applicant_1", f"/api/cases/{case['id']}").json
    with api.app.app_context():
        cal = current_calendar()
        statutory = cal.add_working_days(cal.add_working_days(date(2026, 12, 28), 20), 10)
        promised = cal.add_working_days(date(2026, 12, 28), 10)
    assert detail["statutory_due"] == statutory.isoformat() and detail["promised_due"] == promised.isoformat()
    assert detail["clock_error"] is None and detail["extended_days"] == 10


def test_a_suspension_started_and_ended_in_late_december_works_where_the_days_stay_in_2026(api):
    case = accepted_case(api)
    r = api.post("inv", f"/api/cases/{case['id']}/special-procedures",
                 json={"kind": "expert_review", "reason": "组织专家评审", "planned_duration": 2})
    assert r.status_code == 201, r.json
    api.clock.set(at(2026, 12, 29))
    # one working day suspended; the step due 30 December moves to 31 December (still 2026)
    r = api.post("inv", f"/api/cases/special-procedures/{r.json['id']}/end", json={"result": "评审完毕"})
    assert r.status_code == 200 and r.json["counted_days"] == 1, r.json
    detail = api.get("applicant_1", f"/api/cases/{case['id']}").json
    assert detail["clock_state"] == "running" and detail["suspended_days"] == 1
    review = next(t for t in api.tasks("inv") if t["element_id"] == "division_review")
    assert review["due_date"] == "2026-12-31"


# -- 补正 (one-time notice) after acceptance, with an answer deadline ----------------------------
def staff_browser(api, username):
    c = api.app.test_client()
    with api.app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
    with c.session_transaction() as s:
        s["uid"], s["csrf"] = uid, "t"
    return c


def test_a_correction_request_whose_answer_deadline_reaches_2027(api):
    case = accepted_case(api)
    review = next(t for t in case["current_tasks"] if t["element_id"] == "division_review")
    c = staff_browser(api, "inv")
    before = case_state(api, case["id"])
    body = {"items": [{"material": "项目申请报告", "problem": "缺少节能分析篇章"}], "days": 5}
    r = c.post(f"/correction/tasks/{review['id']}", json=body,
               headers={"X-CSRF-Token": "t", "Accept": "application/json"})
    assert r.status_code == 409, (r.status_code, r.get_data(as_text=True)[:500])
    assert "2027" in r.json["message"] and "管理员导入" in r.json["message"]
    assert case_state(api, case["id"]) == before
    # three working days (31 December) are still in 2026: the notice goes out, the clock is suspended
    r = c.post(f"/correction/tasks/{review['id']}", json={**body, "days": 3},
               headers={"X-CSRF-Token": "t", "Accept": "application/json"})
    assert r.status_code == 201, r.get_data(as_text=True)[:500]
    assert case_state(api, case["id"])[:2] == ("correction", "suspended")
    # the applicant answers on 31 December: the three days suspended move the step's due date
    # (30 December) into 2027: the answer is refused clearly, nothing of it is kept
    api.clock.set(at(2026, 12, 31))
    applicant = staff_browser(api, "applicant_1")
    before = case_state(api, case["id"])
    r = applicant.post(f"/portal/cases/{case['id']}/correction", data={"csrf_token": "t", "remark_1": "已补充节能分析篇章"})
    assert r.status_code == 409, (r.status_code, r.get_data(as_text=True)[:300])
    assert "2027" in r.get_data(as_text=True)
    assert case_state(api, case["id"]) == before
    import_2027(api)
    r = applicant.post(f"/portal/cases/{case['id']}/correction", data={"csrf_token": "t", "remark_1": "已补充节能分析篇章"})
    assert r.status_code == 302, (r.status_code, r.get_data(as_text=True)[:300])
    assert case_state(api, case["id"])[:2] == ("accepted", "running")


# -- consultations (咨询): the answer deadline and its extension ---------------------------------
def test_a_consultation_asked_in_late_december_and_its_extension_into_2027(api):
    applicant = staff_browser(api, "applicant_1")
    r = applicant.post("/portal/matters/xmgl_hezhun/ask",
                       data={"csrf_token": "t", "category": "general", "subject": "跨年受理时限如何计算？",
                             "body": "12 月底提交的核准申请，办理时限从何时起算？"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    with api.app.app_context():
        q = db.session.execute(select(Question)).scalar_one()
        assert q.due_date == date(2026, 12, 31)  # 3 working days, still in 2026
        qid = q.id
    clerk = staff_browser(api, "win")

    def question():
        with api.app.app_context():
            q = db.session.get(Question, qid)
            events = db.session.execute(select(func.count()).select_from(FeedbackEvent)).scalar_one()
            return q.due_date, q.extended_days, q.extension_reason, events

    before = question()
    r = clerk.post(f"/feedback/questions/{qid}/extend", data={"csrf_token": "t", "days": "2", "reason": "需会商"})
    assert r.status_code == 409, (r.status_code, r.get_data(as_text=True)[:300])
    assert "2027" in r.get_data(as_text=True)
    assert question() == before  # the deadline is not erased
    assert len(calendar_alerts(api)) == 1
    import_2027(api)
    r = clerk.post(f"/feedback/questions/{qid}/extend", data={"csrf_token": "t", "days": "2", "reason": "需会商"})
    assert r.status_code == 302
    assert question()[:2] == (date(2027, 1, 5), 2)  # 31 Dec + 2: 1 Jan is a holiday, 2–3 a weekend


# -- the places that must work without the year: receipt, case page, 双公示, 差评 rectification ---
def test_receipt_case_page_disclosure_and_rectification_work_with_their_dates_left_empty(api):
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_hezhun", "data": PATH["start"]})
    assert r.status_code == 201, r.json
    case = r.json
    assert upload_mail(api.app, case["id"], who="applicant_1").status_code == 302
    assert confirm(api.app, case["id"], who="win").status_code == 302  # the receipt: promised date not guessed
    applicant = staff_browser(api, "applicant_1")
    r = applicant.get(f"/portal/cases/{case['id']}/receipt.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert applicant.get(f"/portal/cases/{case['id']}").status_code == 200
    # decided on 28 December: the 双公示 record is published, its due date (7 working days) left empty
    for name, group in (("nr", "cs_natural_resources"), ("eco", "cs_ecology"), ("chief", "investment_chief")):
        api.user(name, groups=[group])
    path = [("win", ACCEPT), ("inv", REVIEW), ("nr", PATH["steps"][2]["data"]), ("eco", PATH["steps"][3]["data"]),
            ("chief", PATH["steps"][9]["data"]), ("leader", {**PATH["steps"][10]["data"],
                                                             "document_no": "苏发改许发〔2026〕9号"})]
    for who, data in path:
        task = next(t for t in api.tasks(who) if t["case_id"] == case["id"])
        r = api.post(who, f"/api/tasks/{task['id']}/complete", json={"data": data})
        assert r.status_code == 200, (who, r.json)
    assert r.json["status"] == "approved"
    with api.app.app_context():
        item = db.session.execute(select(Disclosure)).scalar_one()
        assert item.status == "published" and item.due_date is None
    assert applicant.get(f"/portal/cases/{case['id']}").status_code == 200
    # a 差评 opens a rectification whose 5 working days reach 2027: opened, due date left empty
    r = applicant.post(f"/portal/cases/{case['id']}/evaluate",
                       data={"csrf_token": "t", "level": "5", "efficiency": "5", "guide_accuracy": "4",
                             "convenience": "5", "usability": "4", "comment": "年底办理等待时间长"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    with api.app.app_context():
        assert db.session.execute(select(Rectification)).scalar_one().due_date is None
    assert [key for key, _, _ in calendar_alerts(api)] == ["system:calendar-2027"]


def test_once_2027_is_imported_the_next_supervision_pass_gives_the_case_its_deadlines(api):
    case = accepted_case(api)
    review = next(t for t in case["current_tasks"] if t["element_id"] == "division_review")
    r = api.post("inv", f"/api/tasks/{review['id']}/complete", json={"data": REVIEW})
    countersign = [t["id"] for t in r.json["current_tasks"]]
    with api.app.app_context():
        run_supervision()  # still missing: nothing is guessed
    detail = api.get("applicant_1", f"/api/cases/{case['id']}").json
    assert detail["statutory_due"] is None and "2027" in detail["clock_error"]
    import_2027(api)
    with api.app.app_context():
        run_supervision()
        cal = current_calendar()
        assert {db.session.get(HumanTask, t).due_date for t in countersign} == \
            {cal.add_working_days(date(2026, 12, 28), 5)}
        statutory = cal.add_working_days(date(2026, 12, 28), 20)
        promised = cal.add_working_days(date(2026, 12, 28), 10)
    detail = api.get("applicant_1", f"/api/cases/{case['id']}").json
    assert (detail["statutory_due"], detail["promised_due"]) == (statutory.isoformat(), promised.isoformat())
    assert detail["clock_error"] is None


# -- the documented example year file ------------------------------------------------------------
def test_the_documented_example_file_is_the_2026_arrangement_and_cannot_pass_for_2027():
    text = (ROOT / "docs" / "calendar-year.example.csv").read_text(encoding="utf-8")
    rows = parse_year_file(text, 2026)
    assert {(d, kind) for d, kind, _ in rows} == \
        {(d, "holiday") for d in constants.holidays if d.year == 2026} | \
        {(d, "workday") for d in constants.workdays if d.year == 2026}
    with pytest.raises(ValidationError):
        parse_year_file(text, 2027)
    assert "flask --app wsgi calendar import 2027" in (ROOT / "docs" / "clocks.md").read_text(encoding="utf-8")


def test_the_pass_that_heals_deadlines_takes_a_case_in_the_order_of_a_step(api, db_url):
    """A step locks the case's instance, then the case (cases/locks.py). The supervision pass that heals
    missing deadlines takes the two in the same order, skipping a case whose instance a step holds: it
    never holds the case a step is about to take (PostgreSQL; SQLite holds the database for the
    transaction). The next pass heals it."""
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks: PostgreSQL")
    from sqlalchemy import text
    from app.models import ProcessInstance
    from app.services.clocks.deadlines import heal_missing_clocks
    case = accepted_case(api)
    import_2027(api)
    with api.app.app_context():
        instance_id = db.session.get(Case, case["id"]).instance_id
        db.session.rollback()
        step = db.session   # the step's transaction: the instance locked, the case next
        step.execute(select(ProcessInstance.id).where(ProcessInstance.id == instance_id).with_for_update())
        with api.app.app_context():
            assert heal_missing_clocks() == 0   # skipped, not waited for
            db.session.commit()
            db.session.remove()
        step.execute(text("SET LOCAL lock_timeout = '2s'"))
        step.execute(select(Case.id).where(Case.id == case["id"]).with_for_update())   # not held by the pass
        step.commit()
        with api.app.app_context():
            assert heal_missing_clocks() == 1
            db.session.commit()
            db.session.remove()
    assert api.get("applicant_1", f"/api/cases/{case['id']}").json["clock_error"] is None
