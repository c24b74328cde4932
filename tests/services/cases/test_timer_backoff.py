"""A timer whose firing fails backs off (exponentially, capped) with one incident for its case;
the other timers fire; an administrator's retry makes it due again, and once the cause is fixed the
firing succeeds and resolves the incident."""
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, CaseEvent, Incident, ProcessInstance, Timer
from app.services.cases.timers import drain, next_due
from app.services.common.clock import FakeClock
from tests.conftest import fixture_api
from tests.services.cases.lock_race import at_once

BJ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))


@pytest.fixture
def api(db_url, clock):
    with fixture_api(db_url, clock, {"alice": "applicant", "admin": ["admin"], "inspector": ["inspector"]}) as a:
        a.app.config.update(TIMER_RETRY_BASE_SECONDS=10, TIMER_RETRY_CAP_SECONDS=30)
        yield a


def set_format(app, case_id, fmt):
    """The instance's state as a release writing platform format ``fmt`` saved it (2: a newer one)."""
    with app.app_context():
        inst = db.session.get(ProcessInstance, db.session.get(Case, case_id).instance_id)
        state = json.loads(inst.state)
        state["platform_format"] = fmt
        inst.state = json.dumps(state, ensure_ascii=False)
        db.session.commit()
    app.extensions["engine"].forget(inst.id)


def timer_of(app, case_id):
    with app.app_context():
        inst = db.session.get(Case, case_id).instance_id
        t = db.session.execute(select(Timer).where(Timer.instance_id == inst)).scalar_one()
        return t.status, t.attempts, t.next_attempt_at


def incidents(app):
    with app.app_context():
        return [(i.case_id, i.status, i.details.get("attempts"), i.retries)
                for i in db.session.execute(select(Incident).order_by(Incident.id)).scalars()]


def events(app, case_id, action):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action == action)).scalar()


def test_a_failing_timer_backs_off_with_one_incident_and_fires_once_fixed(api, clock):
    due = (clock() + timedelta(minutes=1)).isoformat()
    bad, good = (api.post("alice", "/api/cases", json={"process_id": "t_sleep", "data": {
        "amount": 1, "project_name": name, "fire_at": due}}).json["id"] for name in ("坏状态", "正常"))
    set_format(api.app, bad, 2)
    clock.advance(minutes=2)
    start = clock()

    with api.app.app_context():
        assert drain() == 1  # the good one fires; the bad one does not stop the drain
    assert timer_of(api.app, good)[0] == "fired"
    assert timer_of(api.app, bad) == ("waiting", 1, start + timedelta(seconds=10))
    assert incidents(api.app) == [(bad, "open", 1, 0)]
    assert events(api.app, bad, "incident") == 1
    with api.app.app_context():
        assert drain() == 0  # backing off: not taken again at once,
        assert next_due() == start + timedelta(seconds=10)  # and the scheduler sleeps until then
    assert timer_of(api.app, bad)[1] == 1

    for attempts, wait in ((2, 20), (3, 30), (4, 30)):  # 10 s, 20 s, then the 30 s cap
        clock.set(timer_of(api.app, bad)[2])
        with api.app.app_context():
            assert drain() == 0
        assert timer_of(api.app, bad) == ("waiting", attempts, clock() + timedelta(seconds=wait))
    assert incidents(api.app) == [(bad, "open", 4, 0)]  # one incident, brought up to date
    assert events(api.app, bad, "incident") == 1

    [incident] = api.get("inspector", "/api/incidents").json
    assert incident["details"]["source"] == "timer" and incident["error_type"] == "StateFormatError"
    assert incident["element_id"] == "wait" and "platform state format 2" in incident["message"]
    url = f"/api/incidents/{incident['id']}/retry"
    r = api.post("admin", url, json={"data": {"x": 1}})
    assert r.status_code == 422 and timer_of(api.app, bad)[2] is not None  # nothing changed

    # retried before the cause is fixed: due again at once, fails again, still one open incident
    r = api.post("admin", url, json={})
    assert r.status_code == 200 and r.json["status"] == "open" and r.json["retries"] == 1
    assert timer_of(api.app, bad)[2] is None
    with api.app.app_context():
        assert drain() == 0
    assert timer_of(api.app, bad)[:2] == ("waiting", 5) and incidents(api.app) == [(bad, "open", 5, 1)]

    # the upgrade completed: the state is readable again; retried, the next run fires it
    set_format(api.app, bad, 1)
    assert api.post("admin", url, json={}).status_code == 200
    with api.app.app_context():
        assert drain() == 1
    assert timer_of(api.app, bad) == ("fired", 5, None)
    assert incidents(api.app) == [(bad, "resolved", 5, 2)]
    assert events(api.app, bad, "timer") == 1 and events(api.app, bad, "retry") == 2
    detail = api.get("alice", f"/api/cases/{bad}").json
    assert [t["element_id"] for t in detail["current_tasks"]] == ["after"]
    assert api.post("admin", url, json={}).status_code == 409



def failed_timer_case(api, clock) -> int:
    """A case whose timer came due and could not fire (its stored state made unreadable): one open incident."""
    due = (clock() + timedelta(minutes=1)).isoformat()
    bad = api.post("alice", "/api/cases", json={"process_id": "t_sleep", "data": {
        "amount": 1, "project_name": "坏状态", "fire_at": due}}).json["id"]
    set_format(api.app, bad, 2)
    clock.advance(minutes=2)
    with api.app.app_context():
        assert drain() == 0
    return bad


def test_two_retries_of_a_timer_incident_at_once_answer_one_200_and_one_409(api, clock):
    bad = failed_timer_case(api, clock)
    [incident] = api.get("inspector", "/api/incidents").json
    url = f"/api/incidents/{incident['id']}/retry"
    assert sorted(at_once(lambda: api.post("admin", url, json={}).status_code)) == [200, 409]
    assert incidents(api.app) == [(bad, "open", 1, 1)] and events(api.app, bad, "retry") == 1
    assert timer_of(api.app, bad)[2] is None   # due again: the scheduler's next run tries it
    with api.app.app_context():
        assert drain() == 0   # fails again: backing off, and retried again after that
    assert api.post("admin", url, json={}).status_code == 200
    assert incidents(api.app) == [(bad, "open", 2, 2)]


def test_a_resumed_case_whose_only_incident_is_a_timers_goes_on_as_it_was(api, clock):
    """A timer incident says the scheduler could not fire the timers, not that the process stopped: the
    instance stays waiting (messages, 撤回 go on); suspended and resumed, it is waiting again, not ``error``."""
    bad = failed_timer_case(api, clock)
    assert incidents(api.app) == [(bad, "open", 1, 0)]

    def status():
        with api.app.app_context():
            return db.session.get(ProcessInstance, db.session.get(Case, bad).instance_id).status
    assert status() == "waiting"
    assert api.post("admin", f"/api/cases/{bad}/suspend", json={"reason": "核查"}).status_code == 200
    assert api.post("admin", f"/api/cases/{bad}/resume", json={"reason": "核查完毕"}).status_code == 200
    assert status() == "waiting"
