"""Deemed steps on the shipped 企业投资项目核准 (xmgl_hezhun): the window step left 5 working days is
accepted by the system with the reason (行政许可法 art. 32), a countersign department silent for 7
working days is recorded as consenting while the one that answered keeps its opinion, and a person
completing first cancels the timer. The scheduler's ``drain`` fires the timers, as in production."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseEvent, HumanTask, ProcessInstance, Timer, User
from app.services.cases.steps import load_workflow
from app.services.cases.timers import drain
from app.services.common.clock import FakeClock
from app.services.portal.progress import timeline
from tests.conftest import deploy_all, make_app
from tests.services.portal.h3_helpers import PHONE, START, browser, confirm, notifications, upload_mail
from tests.web.api.helpers import Api

BJ = ZoneInfo("Asia/Shanghai")
WINDOW_REASON = "收到申请材料之日起5个工作日内未一次性告知补正，自收到材料之日起即为受理（行政许可法第三十二条）"
CS_REASON = "逾期未回复，视为同意"
ACCEPT = {"window_decision": "accept", "paper_received": True, "window_opinion": "材料齐全，予以受理。"}


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))  # Monday


@pytest.fixture
def api(db_url, clock):
    app = make_app(db_url, CLOCK=clock)
    deploy_all(app)
    a = Api(app)
    a.user("alice", "applicant")
    a.user("w1", groups=["window"])
    a.user("inv", groups=["investment"])
    for dept in ("cs_natural_resources", "cs_ecology", "cs_emergency"):
        a.user(f"u_{dept}", groups=[dept])
    with app.app_context():
        db.session.execute(User.__table__.update().where(User.username == "alice").values(phone=PHONE))
        db.session.commit()
    yield a
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def submit(api) -> int:
    r = api.post("alice", "/api/cases", json={"process_id": "xmgl_hezhun", "data": START})
    assert r.status_code == 201, r.json
    return r.json["id"]


def run_scheduler(api, clock, when: datetime) -> int:
    clock.set(when)
    with api.app.app_context():
        return drain()


def tasks(api, case_id, element):
    with api.app.app_context():
        return [(t.state, t.completed_by, t.opinion, t.outcome) for t in db.session.execute(
            select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.element_id == element)
            .order_by(HumanTask.mi_index, HumanTask.created_at)).scalars()]


def events(api, case_id, *actions):
    with api.app.app_context():
        return [(e.actor, e.action, e.element_id, e.opinion, e.to_status) for e in db.session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action.in_(actions))
            .order_by(CaseEvent.id)).scalars()]


def timers(api, case_id, element):
    """The ``timers`` rows of the case's ``element``: status and due time (Beijing, naive)."""
    with api.app.app_context():
        inst = db.session.get(Case, case_id).instance_id
        return [(t.status, t.due_at.astimezone(BJ).replace(tzinfo=None)) for t in db.session.execute(
            select(Timer).where(Timer.instance_id == inst, Timer.element_id == element)).scalars()]


def timer_rows(api, case_id, element):
    return [status for status, _ in timers(api, case_id, element)]


def window_deemed_at(api, clock, case_id, day: datetime) -> None:
    """The window's 视为受理 fires at 17:00 of ``day`` (the hall closes), not a minute before: the step is
    completed by the system with the reason, its timer row ``fired``."""
    assert run_scheduler(api, clock, day.replace(hour=16, minute=59)) == 0
    assert tasks(api, case_id, "window_review")[0][0] == "ready"
    assert run_scheduler(api, clock, day.replace(hour=17, minute=0, second=30)) >= 1
    assert tasks(api, case_id, "window_review") == [("completed", "system", WINDOW_REASON, "deemed")]
    assert timer_rows(api, case_id, "window_deemed") == ["fired"]


def test_window_left_five_working_days_is_accepted_by_the_system_with_the_reason(api, clock):
    case_id = submit(api)
    assert upload_mail(api.app, case_id).status_code == 302
    assert confirm(api.app, case_id).status_code in (200, 302)  # paper in: the 5 days run
    # 5 working days after Monday 2 March (not counted) end on Monday 9 March, 17:00 (hall closes)
    window_deemed_at(api, clock, case_id, datetime(2026, 3, 9, tzinfo=BJ))
    with api.app.app_context():
        case = db.session.get(Case, case_id)
        assert case.status == "accepted" and case.accepted_at is not None and case.statutory_due is not None
        ready = {t.element_id for t in db.session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready")).scalars()}
        assert ready == {"division_review"}  # the process went on as after a person's 受理
        public = timeline(case)
    trail = events(api, case_id, "deemed_accept", "complete", "status")
    assert ("system", "deemed_accept", "window_review", WINDOW_REASON, None) in trail
    assert ("system", "complete", "window_review", WINDOW_REASON, None) in trail
    assert ("system", "status", "ev_accepted", None, "accepted") in trail
    html = browser(api.app, "w1").get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    assert WINDOW_REASON in html and "逾期视为受理" in html
    # the applicant's SMS of 受理 goes out as after a person's acceptance
    sent = notifications(api.app, "accepted")
    assert sent and {n.case_id for n in sent} == {case_id} and "sms" in {n.channel for n in sent}
    # the applicant's timeline tells why the case was accepted
    shown = [r for r in public if r["action"] == "deemed_accept"]
    assert shown and shown[0]["detail"] == WINDOW_REASON and shown[0]["by"] == "系统"
    # exactly once: another scheduler later finds nothing
    assert run_scheduler(api, clock, datetime(2026, 3, 10, 9, 0, tzinfo=BJ)) == 0
    assert len(events(api, case_id, "deemed_accept")) == 1


def test_a_delegated_window_step_deemed_accepted_ends_the_delegation(api, clock):
    """委派 of the window step, then its 5 days run out: the system's completion ends the delegation (the
    task does not stay 'pending' on a step no one can hand back any more), the delegate's inbox drops it
    and the task page shows no 委派 tag."""
    api.user("w2", groups=["window"])
    case_id = submit(api)
    assert upload_mail(api.app, case_id).status_code == 302
    assert confirm(api.app, case_id).status_code in (200, 302)
    task_id = next(t["id"] for t in api.tasks("w1") if t["element_id"] == "window_review")
    r = api.post("w1", f"/api/tasks/{task_id}/delegate", json={"user": "w2", "reason": "请协助核对材料"})
    assert r.status_code == 200 and r.json["task"]["delegation"] == "pending", r.json
    assert [t["id"] for t in api.tasks("w2")] == [task_id]
    window_deemed_at(api, clock, case_id, datetime(2026, 3, 9, tzinfo=BJ))
    with api.app.app_context():
        task = db.session.get(HumanTask, task_id)
        assert (task.state, task.completed_by, task.delegation, task.owner) == ("completed", "system", None, "w1")
    assert task_id not in [t["id"] for t in api.tasks("w2")]
    page = browser(api.app, "w1").get(f"/inbox/tasks/{task_id}")
    assert page.status_code == 200 and "委派 w1" not in page.get_data(as_text=True)


def test_paper_not_in_is_not_deemed_and_the_trail_says_why(api, clock):
    case_id = submit(api)  # 核准 needs paper; none came in: the paper check refuses the 受理
    run_scheduler(api, clock, datetime(2026, 3, 9, 17, 1, tzinfo=BJ))
    assert tasks(api, case_id, "window_review")[0][0] == "ready"
    skipped = events(api, case_id, "deemed_skipped")
    assert len(skipped) == 1 and "纸质材料" in skipped[0][3]
    with api.app.app_context():
        assert db.session.get(Case, case_id).status == "received"


def test_person_first_cancels_the_window_timer(api, clock):
    case_id = submit(api)
    api.complete_first("w1", ACCEPT, element="window_review")
    assert timer_rows(api, case_id, "window_deemed") == ["cancelled"]
    run_scheduler(api, clock, datetime(2026, 3, 20, 9, 0, tzinfo=BJ))
    assert tasks(api, case_id, "window_review") == [("completed", "w1", "材料齐全，予以受理。", "approve")]
    assert events(api, case_id, "deemed_accept", "deemed", "deemed_skipped") == []


def test_silent_countersign_departments_are_recorded_as_consenting(api, clock):
    case_id = submit(api)
    api.complete_first("w1", ACCEPT, element="window_review")
    api.complete_first("inv", {"review_points": ["security", "planning"], "entrust_assessment": "no",
                               "cs_depts": ["cs_natural_resources", "cs_ecology", "cs_emergency"],
                               "review_opinion": "拟征求有关部门意见。"}, element="division_review")
    answer = {"cs": {"agree": "yes", "opinion": "同意，须落实用地预审意见。"}}
    api.complete_first("u_cs_ecology", answer, element="countersign")
    # 7 working days after Monday 2 March end on Wednesday 11 March, 17:00
    run_scheduler(api, clock, datetime(2026, 3, 11, 16, 0, tzinfo=BJ))
    assert sorted(s for s, *_ in tasks(api, case_id, "countersign")) == ["completed", "ready", "ready"]
    run_scheduler(api, clock, datetime(2026, 3, 11, 17, 0, 30, tzinfo=BJ))
    done = tasks(api, case_id, "countersign")
    assert sorted(done) == sorted([("completed", "u_cs_ecology", "同意，须落实用地预审意见。", "approve"),
                                   ("completed", "system", CS_REASON, "deemed"),
                                   ("completed", "system", CS_REASON, "deemed")])
    assert timer_rows(api, case_id, "countersign_deemed") == ["fired"]
    with api.app.app_context():
        ready = {t.element_id for t in db.session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready")).scalars()}
        assert ready == {"chief_review"}  # all agree (two deemed): the case goes on
        inst = db.session.get(ProcessInstance, db.session.get(Case, case_id).instance_id)
        wf = load_workflow(inst)
        items = {i["dept"]: i for i in wf.last_task.data["countersign"]}
        db.session.rollback()
    assert items["cs_ecology"]["opinion"] == "同意，须落实用地预审意见。"
    assert items["cs_natural_resources"]["agree"] == items["cs_emergency"]["agree"] == "yes"
    assert items["cs_natural_resources"]["opinion"] == CS_REASON
    trail = events(api, case_id, "deemed", "complete")
    assert trail.count(("system", "complete", "countersign", CS_REASON, None)) == 2
    assert trail.count(("system", "deemed", "countersign", CS_REASON, None)) == 1
    # the staff case page's opinion panel shows the consent and who gave it
    page = browser(api.app, "inv").get(f"/inbox/cases/{case_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert CS_REASON in html and "逾期视为办结（系统）" in html and "同意，须落实用地预审意见。" in html
    with api.app.app_context():  # internal: the countersign's deemed consent is not on the public timeline
        assert not [r for r in timeline(db.session.get(Case, case_id)) if r["action"].startswith("deemed")]


def test_the_shared_sub_processes_carry_the_deemed_steps_to_every_matter_of_a_family(api, clock):
    """xmgl_hezhun_bg is built from the library (lib_window, lib_countersign): its window is deemed
    accepted and a silent department deemed consenting exactly as on the single-file 核准."""
    import json
    from tests.conftest import ROOT
    start = json.loads((ROOT / "processes" / "xmgl_hezhun_bg.scenarios.json").read_text("utf-8"))["scenarios"][0]["start"]
    r = api.post("alice", "/api/cases", json={"process_id": "xmgl_hezhun_bg", "data": start})
    assert r.status_code == 201, r.json
    case_id = r.json["id"]
    run_scheduler(api, clock, datetime(2026, 3, 9, 17, 0, 30, tzinfo=BJ))  # 5 working days after Monday 2
    assert tasks(api, case_id, "window_review") == [("completed", "system", WINDOW_REASON, "deemed")]
    with api.app.app_context():
        assert db.session.get(Case, case_id).status == "accepted"
    api.complete_first("inv", {"review_points": ["planning"], "entrust_assessment": "no",
                               "cs_depts": ["cs_natural_resources", "cs_ecology"], "review_opinion": "征求意见。"},
                       element="division_review")
    api.complete_first("u_cs_ecology", {"cs": {"agree": "yes", "opinion": "同意。"}}, element="countersign")
    run_scheduler(api, clock, datetime(2026, 3, 18, 17, 0, 30, tzinfo=BJ))  # 7 working days after the 9th
    assert sorted(tasks(api, case_id, "countersign")) == sorted([("completed", "u_cs_ecology", "同意。", "approve"),
                                                                 ("completed", "system", CS_REASON, "deemed")])
    with api.app.app_context():
        ready = {t.element_id for t in db.session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready")).scalars()}
    assert ready == {"chief_review"}


def test_a_deemed_acceptance_dates_from_the_day_the_materials_came_in(api, clock):
    """行政许可法 art. 32: no 补正 notice within 5 working days, the application is accepted from the day
    the materials came in — the day the window step opened, from which its 5 days ran — not the day the
    timer fired: the acceptance time, and the 20 / 10 working days counted from it."""
    from datetime import date
    from app.services.clocks.calendar import current_calendar
    case_id = submit(api)                       # Monday 2 March, 09:00
    assert upload_mail(api.app, case_id).status_code == 302
    assert confirm(api.app, case_id).status_code in (200, 302)
    assert run_scheduler(api, clock, datetime(2026, 3, 9, 17, 0, 30, tzinfo=BJ)) >= 1
    with api.app.app_context():
        case = db.session.get(Case, case_id)
        opened = db.session.execute(select(HumanTask.created_at).where(
            HumanTask.case_id == case_id, HumanTask.element_id == "window_review")).scalar_one()
        cal = current_calendar()
        assert case.status == "accepted" and case.accepted_at == opened
        assert case.accepted_at.astimezone(BJ).date() == date(2026, 3, 2)
        assert case.statutory_due == cal.add_working_days(date(2026, 3, 2), 20)
        assert case.promised_due == cal.add_working_days(date(2026, 3, 2), 10)


def consistent(api, case_id):
    """The stored state, loaded afresh, writes itself again byte for byte and has the ready user tasks
    and the waiting timers the rows say; the trail verifies."""
    from app.models import ProcessVersion
    from app.services.cases.steps import engine, spec_pair
    from app.services.trail.verify import verify
    with api.app.app_context():
        case = db.session.get(Case, case_id)
        inst = db.session.get(ProcessInstance, case.instance_id)
        wf = engine().load(spec_pair(db.session.get(ProcessVersion, inst.version_id)), inst.state)
        from app.engine.serializer import dump_state
        assert dump_state(wf) == inst.state   # written as a workflow loaded from it writes it
        found = engine()._snapshot(wf)
        ready, waiting = set(found.ready), set(found.timers)
        rows_ready = set(db.session.execute(select(HumanTask.id).where(
            HumanTask.instance_id == inst.id, HumanTask.state == "ready", HumanTask.kind == "user")).scalars())
        rows_waiting = set(db.session.execute(select(Timer.id).where(
            Timer.instance_id == inst.id, Timer.status == "waiting")).scalars())
        assert ready == rows_ready and waiting == rows_waiting, (ready, rows_ready, waiting, rows_waiting)
        found = verify(case_id, files=False)
        assert found["ok"], found["problems"]
        db.session.remove()


def test_paper_in_after_the_window_days_ran_out_counts_them_again_from_that_day(api, clock):
    """The 5 working days of the window's 视为受理 run from the day the materials came in (行政许可法
    art. 32). 核准 needs paper: mailed late, it came in after the window's timer fired and the paper
    check refused the deemed 受理 (``deemed_skipped``). Confirming the paper counts the days again from
    that day: the timer waits again, fires 5 working days later, and the case is accepted as of the day
    the paper came in."""
    from datetime import date
    from app.services.clocks.calendar import current_calendar
    case_id = submit(api)                                          # Monday 2 March
    run_scheduler(api, clock, datetime(2026, 3, 9, 17, 1, tzinfo=BJ))
    assert [e[1] for e in events(api, case_id, "deemed_skipped")] == ["deemed_skipped"]
    assert timer_rows(api, case_id, "window_deemed") == ["fired"]

    clock.set(datetime(2026, 3, 11, 10, 0, tzinfo=BJ))             # Wednesday 11 March: the paper is in
    assert upload_mail(api.app, case_id).status_code == 302
    assert confirm(api.app, case_id).status_code in (200, 302)
    assert timers(api, case_id, "window_deemed") == [("waiting", datetime(2026, 3, 18, 17, 0))]   # 5 working days on
    restart = events(api, case_id, "deemed_restart")
    assert len(restart) == 1 and restart[0][:3] == ("w1", "deemed_restart", "window_review")
    consistent(api, case_id)

    window_deemed_at(api, clock, case_id, datetime(2026, 3, 18, tzinfo=BJ))
    with api.app.app_context():
        case = db.session.get(Case, case_id)
        cal = current_calendar()
        assert case.status == "accepted" and case.accepted_at.astimezone(BJ).date() == date(2026, 3, 11)
        assert case.statutory_due == cal.add_working_days(date(2026, 3, 11), 20)
        ready = {t.element_id for t in db.session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready")).scalars()}
        inst = db.session.get(ProcessInstance, case.instance_id)
        assert inst.status == "running" and ready == {"division_review"}
    assert ("system", "deemed_accept", "window_review", WINDOW_REASON, None) in events(api, case_id, "deemed_accept")
    consistent(api, case_id)
    run_scheduler(api, clock, datetime(2026, 3, 25, 9, 0, tzinfo=BJ))   # later timers (催办) fire; not this one
    assert len(events(api, case_id, "deemed_accept")) == 1
    consistent(api, case_id)


def test_paper_in_while_the_window_days_run_moves_them_to_start_that_day(api, clock):
    """Paper confirmed on Thursday 5 March, before the timer due on Monday 9 March: the window has its 5
    working days from the paper (Thursday 12 March), not 2 from the online application."""
    case_id = submit(api)
    clock.set(datetime(2026, 3, 5, 10, 0, tzinfo=BJ))
    assert upload_mail(api.app, case_id).status_code == 302
    assert confirm(api.app, case_id).status_code in (200, 302)
    assert run_scheduler(api, clock, datetime(2026, 3, 9, 17, 1, tzinfo=BJ)) == 0
    assert timers(api, case_id, "window_deemed") == [("waiting", datetime(2026, 3, 12, 17, 0))]
    window_deemed_at(api, clock, case_id, datetime(2026, 3, 12, tzinfo=BJ))
    assert events(api, case_id, "deemed_skipped") == []
