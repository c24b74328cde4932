"""Every firing of a timer is in the case's trail and the ``timers`` projection — also a timer that
was already due when the process reached it and fired inside that same step (a case created after
its due time, a zero waiting time, a second timer due when the first fires), exactly like one the
scheduler fires."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CaseEvent, Timer
from app.services.cases.timers import drain
from app.services.common.clock import FakeClock
from tests.conftest import fixture_api

BJ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))


@pytest.fixture
def api(db_url, clock):
    with fixture_api(db_url, clock, {"alice": "applicant", "w1": ["window"]}) as a:
        yield a


def create(api, process_id, **data):
    r = api.post("alice", "/api/cases", json={"process_id": process_id, "data": {
        "amount": 1, "project_name": "定时器留痕", **data}})
    assert r.status_code == 201, r.json
    return r.json


def trail(app, case_id):
    """(element, status, due, fired) of the case's timer rows and its timer events' (element, data)."""
    with app.app_context():
        from app.models import Case
        inst = db.session.get(Case, case_id).instance_id
        rows = sorted((t.element_id, t.status, t.due_at, t.fired_at) for t in db.session.execute(
            select(Timer).where(Timer.instance_id == inst)).scalars())
        events = [(e.actor, e.element_id, {k: datetime.fromisoformat(v) for k, v in e.data_change.items()})
                  for e in db.session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "timer")
            .order_by(CaseEvent.id)).scalars()]
    return rows, events


def test_a_timer_due_before_the_case_is_created_fires_at_creation_with_row_and_event(api, clock):
    now = clock()
    due = now - timedelta(minutes=5)
    late = create(api, "t_sleep", fire_at=due.isoformat())
    assert [t["element_id"] for t in late["current_tasks"]] == ["after"]  # it fired inside the creation
    rows, events = trail(api.app, late["id"])
    assert rows == [("wait", "fired", due, now)]
    assert events == [("system", "wait", {"due_at": due, "fired_at": now})]

    # the same model fired by the scheduler leaves the same row and the same event
    on_time = create(api, "t_sleep", fire_at=(now + timedelta(minutes=5)).isoformat())
    clock.advance(minutes=10)
    with api.app.app_context():
        assert drain() == 1
    rows2, events2 = trail(api.app, on_time["id"])
    assert rows2 == [("wait", "fired", now + timedelta(minutes=5), clock())]
    assert events2 == [("system", "wait", {"due_at": now + timedelta(minutes=5), "fired_at": clock()})]


def test_a_zero_wait_reached_by_a_task_completion_is_recorded(api, clock):
    case = create(api, "t_timer", wait_seconds=0)
    done = api.complete_first("w1", {"decision": "approve"})
    assert done["instance_status"] == "complete" and done["end_event"] == "end_done"
    rows, events = trail(api.app, case["id"])
    assert ("cooling", "fired", clock(), clock()) in rows
    assert {(r[0], r[1]) for r in rows} == {("cooling", "fired"), ("review_overdue", "cancelled"),
                                            ("review_remind", "cancelled")}
    assert [(a, el) for a, el, _ in events] == [("system", "cooling")]


def test_a_second_timer_already_due_when_the_first_fires_is_recorded_too(api, clock):
    now = clock()
    case = create(api, "t_chain", fire_at=(now + timedelta(hours=1)).isoformat())  # both timers wait for it
    clock.advance(hours=3)  # the second is due when the first fires
    with api.app.app_context():
        drain()
    rows, events = trail(api.app, case["id"])
    assert rows == [("wait_first", "fired", now + timedelta(hours=1), clock()),
                    ("wait_second", "fired", now + timedelta(hours=1), clock())]
    assert [el for _, el, _ in events] == ["wait_first", "wait_second"]
    with api.app.app_context():
        assert drain() == 0
    assert trail(api.app, case["id"]) == (rows, events)  # recorded once
