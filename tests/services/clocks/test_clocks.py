"""Statutory clocks with an injectable clock: acceptance before the 2026 Spring Festival, a 补正
suspension, the extension, and a year without calendar data."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Notification, SupervisionEvent
from app.services.common.clock import FakeClock
from tests.web.api.helpers import START
from tests.conftest import fixture_api

BJ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 2, 13, 9, 0, tzinfo=BJ))  # Friday before the Spring Festival


@pytest.fixture
def api(db_url, clock):
    with fixture_api(db_url, clock, {"alice": "applicant", "w1": ["window"], "leader": ["leader", "window"],
                                         "eco": ["cs_ecology"], "power": ["power"]}) as a:
        yield a


def accept(api):
    case = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START}).json
    assert case["current_tasks"][0]["due_date"] == "2026-02-24"  # 2 working days: Sat 14th (调休), Tue 24th
    state = api.complete_first("w1", {"decision": "approve"})
    assert state["status"] == "accepted"
    return state


# 20 working days after Friday 13 Feb 2026, counted by hand from the State Council notice:
# Sat 14 (adjusted workday) = 1; 15–23 holiday; 24, 25, 26, 27 = 2–5; Sat 28 (adjusted) = 6;
# 2–6 Mar = 7–11; 9–13 Mar = 12–16; 16, 17, 18, 19 Mar = 17–20.
STATUTORY = "2026-03-19"
PROMISED = "2026-03-05"  # 10 working days: 14, 24–28 (6), 2, 3, 4, 5 Mar


def test_deadlines_across_the_spring_festival(api):
    state = accept(api)
    assert state["clock_state"] == "running"
    assert state["statutory_due"] == STATUTORY and state["promised_due"] == PROMISED


def test_a_three_working_day_suspension_moves_the_deadline_by_three(api, clock):
    case = accept(api)
    clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=BJ))  # Monday
    r = api.post("w1", f"/api/cases/{case['id']}/special-procedures",
                 json={"kind": "correction", "reason": "项目选址意见书需补正", "planned_duration": 3})
    assert r.status_code == 201, r.json
    detail = api.get("alice", f"/api/cases/{case['id']}").json
    assert detail["status"] == "special_procedure" and detail["clock_state"] == "suspended"
    clock.set(datetime(2026, 3, 5, 16, 0, tzinfo=BJ))  # Thursday: Tue, Wed, Thu not counted
    r = api.post("w1", f"/api/cases/special-procedures/{r.json['id']}/end", json={"result": "已补正"})
    assert r.status_code == 200 and r.json["counted_days"] == 3
    detail = api.get("alice", f"/api/cases/{case['id']}").json
    assert detail["status"] == "accepted" and detail["clock_state"] == "running"
    assert detail["statutory_due"] == "2026-03-24"  # 19 Mar + 3 working days (20, 23, 24)
    assert detail["promised_due"] == "2026-03-10"
    assert detail["suspended_days"] == 3
    with api.app.app_context():
        notes = db.session.execute(select(Notification).where(Notification.case_id == case["id"])).scalars().all()
        assert any("特别程序（补正）" in n.text and "3个工作日" in n.text for n in notes)


def test_the_extension_adds_ten_working_days_once_with_a_leader(api):
    case = accept(api)
    body = {"kind": "extension", "reason": "项目涉及跨区域协调", "planned_duration": 10}
    assert api.post("w1", f"/api/cases/{case['id']}/special-procedures", json=body).status_code == 403
    r = api.post("leader", f"/api/cases/{case['id']}/special-procedures", json=body)
    assert r.status_code == 201, r.json
    detail = api.get("alice", f"/api/cases/{case['id']}").json
    assert detail["statutory_due"] == "2026-04-02"  # 19 Mar + 10: 20, 23–27, 30, 31, 1, 2 Apr
    assert detail["promised_due"] == PROMISED and detail["extended_days"] == 10
    assert api.post("leader", f"/api/cases/{case['id']}/special-procedures", json=body).status_code == 409
    too_long = {**body, "planned_duration": 11}
    assert api.post("leader", f"/api/cases/{case['id']}/special-procedures", json=too_long).status_code in (409, 422)


@pytest.mark.parametrize("body,field", [
    ({"kind": "nap", "reason": "x", "planned_duration": 3}, "kind"),
    ({"kind": "hearing", "reason": "", "planned_duration": 3}, "reason"),
    ({"kind": "hearing", "reason": "x", "planned_duration": 0}, "planned_duration"),
    ({"kind": "hearing", "reason": "x", "planned_duration": "3"}, "planned_duration"),
])
def test_bad_special_procedures_change_nothing(api, body, field):
    case = accept(api)
    r = api.post("w1", f"/api/cases/{case['id']}/special-procedures", json=body)
    assert r.status_code == 422 and field in r.json["errors"]["json"]
    detail = api.get("alice", f"/api/cases/{case['id']}").json
    assert detail["clock_state"] == "running" and detail["special_procedures"] == []


def test_only_staff_on_the_case_may_suspend_it(api):
    case = accept(api)
    body = {"kind": "hearing", "reason": "听证", "planned_duration": 5}
    assert api.post("power", f"/api/cases/{case['id']}/special-procedures", json=body).status_code == 403
    assert api.post("alice", f"/api/cases/{case['id']}/special-procedures", json=body).status_code == 403


def test_a_deadline_in_2027_fails_loudly(api, clock):
    clock.set(datetime(2026, 12, 10, 9, 0, tzinfo=BJ))
    case = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START}).json
    state = api.complete_first("w1", {"decision": "approve"})
    assert state["status"] == "accepted" and state["statutory_due"] is None
    assert "2027" in state["clock_error"] and "calendar for 2027 missing" in state["clock_error"]
    with api.app.app_context():
        alerts = db.session.execute(select(SupervisionEvent).where(
            SupervisionEvent.rule_id == "CALENDAR-MISSING")).scalars().all()
        assert len(alerts) == 1 and alerts[0].colour == "red" and "2027" in alerts[0].content
    assert case["id"] == state["id"]
