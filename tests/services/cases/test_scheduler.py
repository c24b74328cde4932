"""Timers fire at their due time, once; missed ones fire on the next run; finished tasks' timers never."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CaseEvent, SupervisionEvent, Timer
from app.services.common.clock import FakeClock
from app.services.clocks.supervision import run_supervision
from app.services.cases.timers import drain, next_due
from tests.conftest import fixture_api

BJ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))


@pytest.fixture
def api(db_url, clock):
    with fixture_api(db_url, clock, {"alice": "applicant", "w1": ["window"], "chief": ["investment_chief"]}) as a:
        yield a


def timer_rows(app):
    with app.app_context():
        return {(t.element_id, t.status) for t in db.session.execute(select(Timer)).scalars()}


def start(api, wait_seconds=600):
    return api.post("alice", "/api/cases", json={"process_id": "t_timer", "data": {
        "amount": 1, "project_name": "定时器", "wait_seconds": wait_seconds}}).json


def test_a_catch_timer_fires_once_when_due_and_not_before(api, clock):
    start(api, wait_seconds=600)
    api.complete_first("w1", {"decision": "approve"})
    with api.app.app_context():
        assert next_due() == clock() + timedelta(seconds=600)
        assert drain() == 0
        clock.advance(seconds=599)
        assert drain() == 0
        clock.advance(seconds=1)
        assert drain() == 1
        assert drain() == 0
        events = db.session.execute(select(CaseEvent).where(CaseEvent.action == "timer")).scalars().all()
        assert [e.element_id for e in events] == ["cooling"]
    assert ("cooling", "fired") in timer_rows(api.app)
    case = api.get("alice", "/api/cases/1").json
    assert case["instance_status"] == "complete" and case["end_event"] == "end_done"


def test_timers_missed_while_down_fire_on_the_next_run(api, clock):
    for _ in range(3):
        start(api, wait_seconds=60)
    for _ in range(3):
        api.complete_first("w1", {"decision": "approve"})
    clock.advance(days=3)  # the scheduler was down for three days
    with api.app.app_context():
        assert drain() == 3
    assert timer_rows(api.app) >= {("cooling", "fired")}


def test_a_boundary_timer_escalates_and_its_finished_task_never_fires(api, clock):
    first, second = start(api), start(api)
    task = next(t for t in api.tasks("w1") if t["case_id"] == first["id"])
    r = api.post("w1", f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    assert r.status_code == 200  # case 1's review done: its 5-day boundary timer is cancelled
    clock.advance(days=6)
    with api.app.app_context():
        fired = drain()
    assert fired == 3  # case 1: cooling; case 2: reminder and overdue boundary timers
    escalated = api.tasks("chief")
    assert [t["element_id"] for t in escalated] == ["escalated"] and escalated[0]["case_id"] == second["id"]
    with api.app.app_context():
        rows = db.session.execute(select(Timer.element_id, Timer.status)).all()
        assert ("review_overdue", "cancelled") in rows and ("review_overdue", "fired") in rows


def test_supervision_warns_yellow_then_red_once_each(api, clock):
    start(api)  # review has no step limit in t_timer; use t_simple's 2-day review
    case = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": {
        "amount": 1, "project_name": "监察", "depts": ["cs_ecology"]}}).json
    due = case["current_tasks"][0]["due_date"]
    assert due == "2026-03-04"
    with api.app.app_context():
        assert run_supervision() == {"yellow": 0, "red": 0}
        clock.set(datetime(2026, 3, 3, 9, 0, tzinfo=BJ))
        assert run_supervision() == {"yellow": 1, "red": 0}
        assert run_supervision() == {"yellow": 0, "red": 0}
        clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=BJ))
        assert run_supervision() == {"yellow": 0, "red": 1}
        events = db.session.execute(select(SupervisionEvent).order_by(SupervisionEvent.id)).scalars().all()
        assert [(e.colour, e.rule_id, e.department, e.case_no) for e in events] == [
            ("yellow", "YELLOW-STEP", "window", case["case_no"]), ("red", "RED-STEP", "window", case["case_no"])]
    task = next(t for t in api.tasks("w1") if t["case_id"] == case["id"])
    assert api.post("w1", f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}}).status_code == 200
    with api.app.app_context():
        run_supervision()
        events = db.session.execute(select(SupervisionEvent)).scalars().all()
        assert {e.status for e in events} == {"resolved"} and all("超期" in e.result for e in events)


def test_a_reminder_timer_urges_the_handlers_and_the_step_stays_open(api, clock):
    from app.models import Notification
    case = start(api)
    clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=BJ))  # 2 working days after Monday 2 March
    with api.app.app_context():
        assert drain() == 1
        notes = db.session.execute(select(Notification).where(Notification.template == "urge")).scalars().all()
        assert {n.recipient for n in notes} == {"g:window"} and "催办" in notes[0].text
        assert [e.action for e in db.session.execute(select(CaseEvent).where(
            CaseEvent.action == "urge")).scalars()] == ["urge"]
    state = api.get("alice", f"/api/cases/{case['id']}").json
    assert [t["element_id"] for t in state["current_tasks"]] == ["review"]
