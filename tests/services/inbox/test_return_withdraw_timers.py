"""退回 and 撤回 to and from a step with a 催办 timer, on the SHIPPED matter 企业投资项目核准
(processes/xmgl_hezhun.bpmn: 处室审查 ``division_review`` carries the non-interrupting boundary timer
``division_review_remind``), through the HTTP API.

Both used to answer 500: the engine's reset left the timer of the step that was left in its event
manager (the next timer refresh met a task without a parent), the timers projection then asked the
engine about a task the reset had dropped, and a step entered again reuses its timer's id. Each test
checks the ``timers`` rows (the timer of a step that is left is cancelled, the timer of a step that
is entered again waits again, due from the moment it is entered), the trail, that the scheduler then
fires only the live timer, and that the case runs on to its end."""
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CaseEvent, ProcessInstance, Timer
from app.services.cases.timers import drain
from app.services.common.clock import FakeClock
from tests.conftest import ROOT, deploy_all, make_app
from tests.web.api.helpers import Api

BJ = ZoneInfo("Asia/Shanghai")
SCENARIO = {s["name"]: s for s in json.loads(
    (ROOT / "processes" / "xmgl_hezhun.scenarios.json").read_text(encoding="utf-8"))["scenarios"]}
PATH = SCENARIO["处长退回重审后核准"]
START = PATH["start"]
ACCEPT, REVIEW, AGREE = PATH["steps"][0]["data"], PATH["steps"][1]["data"], PATH["steps"][2]["data"]
CHIEF_OK, LEADER_OK = PATH["steps"][9]["data"], PATH["steps"][10]["data"]
REMIND = "division_review_remind"


@pytest.fixture(params=[0, 256], ids=["reloaded", "cached"])
def api(db_url, request):
    """The engine's workflow cache off (every step reloads the stored state) and on (the reset
    workflow is kept in memory for the next step)."""
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))  # Monday, a working day
    app = make_app(db_url, CLOCK=clock, WORKFLOW_CACHE_SIZE=request.param)
    deploy_all(app)
    a = Api(app)
    a.clock = clock
    a.user("applicant_1", "applicant")
    for name, group in (("win", "window"), ("inv", "investment"), ("nr", "cs_natural_resources"),
                        ("eco", "cs_ecology"), ("chief", "investment_chief"), ("leader", "leader")):
        a.user(name, groups=[group])
    yield a
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def open_task(api, who, element):
    rows = [t for t in api.tasks(who) if t["element_id"] == element]
    assert rows, f"{who} has no open {element}: {[t['element_id'] for t in api.tasks(who)]}"
    return rows[0]


def complete(api, who, element, data):
    task = open_task(api, who, element)
    r = api.post(who, f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    assert not r.json["incidents"], r.json["incidents"]
    return task


def post_op(api, who, task_id, name, **body):
    r = api.post(who, f"/api/tasks/{task_id}/{name}", json=body)
    assert r.status_code == 200, (name, r.status_code, r.json)
    return r.json["task"]


#: the deemed steps' timers (视为受理 / 视为同意, tests/services/cases/test_deemed_steps.py): not these tests' subject
DEEMED = ("window_deemed", "countersign_deemed")


def timer_rows(api):
    with api.app.app_context():
        return [(t.id, t.element_id, t.status, t.due_at) for t in
                db.session.execute(select(Timer).where(Timer.element_id.not_in(DEEMED))
                                   .order_by(Timer.due_at, Timer.id)).scalars()]


def waiting(api):
    return [row for row in timer_rows(api) if row[2] == "waiting"]


def trail(api, *actions):
    with api.app.app_context():
        return [(e.action, e.element_id) for e in db.session.execute(
            select(CaseEvent).where(CaseEvent.action.in_(actions)).order_by(CaseEvent.id)).scalars()]


def due_of_remind(entered: datetime) -> datetime:
    """working_days_after(4, "09:00") from a Monday in March 2026 (no holiday): Friday 09:00."""
    day = entered.astimezone(BJ).date()
    days, n = day, 0
    while n < 4:
        days += timedelta(days=1)
        if days.weekday() < 5:
            n += 1
    return datetime(days.year, days.month, days.day, 9, 0, tzinfo=BJ)


def start_case(api):
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_hezhun", "data": START})
    assert r.status_code == 201, r.json
    return r.json


def accept(api):
    task = complete(api, "win", "window_review", ACCEPT)
    assert [row[1] for row in waiting(api)] == [REMIND]
    return task


def run_to_end(api, case_id, *, from_review=True):
    """From an open 处室审查 (or countersign) on to 准予核准."""
    if from_review:
        complete(api, "inv", "division_review", REVIEW)
    complete(api, "nr", "countersign", AGREE)
    complete(api, "eco", "countersign", AGREE)
    complete(api, "chief", "chief_review", CHIEF_OK)
    complete(api, "leader", "leader_decision", LEADER_OK)
    case = api.get("applicant_1", f"/api/cases/{case_id}").json
    assert case["status"] == "approved" and case["instance_status"] == "complete", case
    # reached through 准予核准, also when a 催办 branch ended before it
    with api.app.app_context():
        assert db.session.execute(select(CaseEvent.element_id).where(
            CaseEvent.action == "status", CaseEvent.to_status == "approved")).scalar_one() == "end_approved"
        assert db.session.execute(select(ProcessInstance.end_event)).scalar_one() == "end_approved"
    assert waiting(api) == []


def assert_only_live_timer_fires(api, live_id):
    """Past every due time the scheduler fires the live timer once (one 催办) and nothing else."""
    api.clock.advance(days=10)
    with api.app.app_context():
        assert drain() == 1
    rows = {row[0]: row[2] for row in timer_rows(api)}
    assert rows[live_id] == "fired"
    assert [s for tid, s in rows.items() if tid != live_id and s == "fired"] == []
    assert trail(api, "timer") == [("timer", REMIND)]
    assert trail(api, "urge") == [("urge", "division_review")]


# -- leaving 处室审查 -------------------------------------------------------------------------------
def test_withdraw_window_review_while_division_review_waits_cancels_its_timer(api):
    case = start_case(api)
    window = accept(api)
    (old_id, _, _, old_due), = waiting(api)
    api.clock.advance(hours=2)
    reopened = post_op(api, "win", window["id"], "withdraw", reason="受理意见需修改")
    assert reopened["element_id"] == "window_review" and reopened["assignee"] == "win"
    assert api.tasks("inv") == []
    assert waiting(api) == [] and timer_rows(api) == [(old_id, REMIND, "cancelled", old_due)]
    assert trail(api, "withdraw") == [("withdraw", "window_review")]
    # accepted again: 处室审查 is entered again with a new timer, due from now
    api.clock.advance(days=1)  # Tuesday
    complete(api, "win", "window_review", ACCEPT)
    (new_id, _, _, new_due), = waiting(api)
    assert new_id != old_id and new_due == due_of_remind(api.clock())
    assert new_due > old_due
    assert_only_live_timer_fires(api, new_id)
    run_to_end(api, case["id"])


def test_return_from_division_review_to_window_review_cancels_its_timer(api):
    case = start_case(api)
    window = accept(api)
    (old_id, _, _, old_due), = waiting(api)
    review = open_task(api, "inv", "division_review")
    targets = api.get("inv", f"/api/tasks/{review['id']}/return-targets").json["targets"]
    assert [t["element_id"] for t in targets] == ["window_review"]
    back = post_op(api, "inv", review["id"], "return", target=targets[0]["task_id"], reason="受理意见不完整")
    assert back["element_id"] == "window_review" and back["assignee"] == "win" and back["id"] == window["id"]
    assert api.tasks("inv") == []
    assert waiting(api) == [] and timer_rows(api) == [(old_id, REMIND, "cancelled", old_due)]
    assert trail(api, "return") == [("return", "division_review")]
    api.clock.advance(days=1)
    complete(api, "win", "window_review", ACCEPT)
    (new_id, _, _, new_due), = waiting(api)
    assert new_id != old_id and new_due == due_of_remind(api.clock())
    assert_only_live_timer_fires(api, new_id)
    run_to_end(api, case["id"])


def test_withdraw_after_the_reminder_fell_due_but_before_the_scheduler_ran(api):
    """The 催办 is due (the scheduler is late) when the step is left: it is cancelled, not sent."""
    case = start_case(api)
    window = accept(api)
    (old_id, _, _, old_due), = waiting(api)
    api.clock.set(old_due + timedelta(hours=1))
    post_op(api, "win", window["id"], "withdraw", reason="受理意见需修改")
    assert timer_rows(api) == [(old_id, REMIND, "cancelled", old_due)]
    assert trail(api, "urge") == []
    with api.app.app_context():
        assert drain() == 0
    complete(api, "win", "window_review", ACCEPT)
    (new_id, _, _, _), = waiting(api)
    assert_only_live_timer_fires(api, new_id)
    run_to_end(api, case["id"])


# -- entering 处室审查 again ------------------------------------------------------------------------
def test_return_from_chief_review_to_division_review_schedules_its_timer_again(api):
    case = start_case(api)
    accept(api)
    complete(api, "inv", "division_review", REVIEW)
    assert waiting(api) == [] and timer_rows(api)[0][2] == "cancelled"
    complete(api, "nr", "countersign", AGREE)
    complete(api, "eco", "countersign", AGREE)
    chief = open_task(api, "chief", "chief_review")
    targets = api.get("chief", f"/api/tasks/{chief['id']}/return-targets").json["targets"]
    target = next(t for t in targets if t["element_id"] == "division_review")
    api.clock.set(datetime(2026, 3, 9, 10, 0, tzinfo=BJ))  # the next Monday
    back = post_op(api, "chief", chief["id"], "return", target=target["task_id"], reason="请补充征求意见")
    assert back["element_id"] == "division_review" and back["assignee"] == "inv"
    (live_id, _, _, due), = waiting(api)
    assert due == due_of_remind(api.clock())  # Friday 13 March, 09:00: counted from the return
    assert [row[2] for row in timer_rows(api)].count("cancelled") == 1  # the first one, kept as history
    assert trail(api, "return") == [("return", "chief_review")]
    assert_only_live_timer_fires(api, live_id)
    run_to_end(api, case["id"])


def test_withdraw_division_review_schedules_its_timer_again(api):
    case = start_case(api)
    accept(api)
    api.clock.advance(hours=1)
    review = complete(api, "inv", "division_review", REVIEW)
    assert waiting(api) == []
    api.clock.advance(days=1)  # Tuesday
    reopened = post_op(api, "inv", review["id"], "withdraw", reason="会签部门选错")
    assert reopened["element_id"] == "division_review" and reopened["state"] == "ready"
    assert api.tasks("nr") == [] and api.tasks("eco") == []
    (live_id, _, _, due), = waiting(api)
    assert due == due_of_remind(api.clock())
    assert len(timer_rows(api)) == 2
    assert trail(api, "withdraw") == [("withdraw", "division_review")]
    assert_only_live_timer_fires(api, live_id)
    run_to_end(api, case["id"])


def test_a_reminder_that_fired_stays_in_the_history_when_the_step_is_entered_again(api):
    case = start_case(api)
    accept(api)
    (first_id, _, _, first_due), = waiting(api)
    api.clock.set(first_due + timedelta(minutes=1))
    with api.app.app_context():
        assert drain() == 1  # the 催办 of the first 处室审查
    complete(api, "inv", "division_review", REVIEW)
    complete(api, "nr", "countersign", AGREE)
    complete(api, "eco", "countersign", AGREE)
    chief = open_task(api, "chief", "chief_review")
    target = next(t for t in api.get("chief", f"/api/tasks/{chief['id']}/return-targets").json["targets"]
                  if t["element_id"] == "division_review")
    post_op(api, "chief", chief["id"], "return", target=target["task_id"], reason="请补充征求意见")
    rows = timer_rows(api)
    assert sorted(row[2] for row in rows) == ["fired", "waiting"]
    fired = next(row for row in rows if row[2] == "fired")
    assert fired[3] == first_due  # the first reminder, kept as it was
    (live_id, _, _, due), = waiting(api)
    assert due == due_of_remind(api.clock()) and due > first_due
    assert trail(api, "timer") == [("timer", REMIND)]  # the first firing only
    api.clock.advance(days=10)
    with api.app.app_context():
        assert drain() == 1
    assert {row[0]: row[2] for row in timer_rows(api)}[live_id] == "fired"
    assert trail(api, "urge") == [("urge", "division_review")] * 2
    run_to_end(api, case["id"])
