"""A special procedure started by a person (专家评审, 听证, 补正 …) holds the case's clock, and its timers
with it: on the shipped 企业投资项目核准 (xmgl_hezhun) the 处室审查 reminder (到期前催办, 4 working days)
due while the procedure runs does not fire then; when the procedure ends it moves by the working days the
procedure lasted, as the step's own deadline does, and fires at that time. The countersign's 视为同意 is
held alike: no department is deemed consenting while the clock stands."""
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseEvent, HumanTask, ProcessInstance
from app.services.cases.timers import next_due
from tests.services.portal.h3_helpers import START
from tests.services.cases.test_deemed_steps import ACCEPT, BJ, api, clock, run_scheduler, timers  # noqa: F401 (fixtures)

REVIEW = {"review_points": ["planning"], "entrust_assessment": "no", "cs_depts": ["cs_ecology", "cs_emergency"],
          "review_opinion": "拟征求有关部门意见。"}


def accepted_case(api) -> int:
    r = api.post("alice", "/api/cases", json={"process_id": "xmgl_hezhun", "data": START})
    assert r.status_code == 201, r.json
    api.complete_first("w1", ACCEPT, element="window_review")
    return r.json["id"]


def actions(api, case_id, *names):
    with api.app.app_context():
        return [e.action for e in db.session.execute(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action.in_(names)).order_by(CaseEvent.id)).scalars()]


def special(api, clock, case_id, when: datetime, who="inv") -> int:
    clock.set(when)
    r = api.post(who, f"/api/cases/{case_id}/special-procedures",
                 json={"kind": "expert_review", "reason": "组织专家评审", "planned_duration": 10})
    assert r.status_code == 201, r.json
    return r.json["id"]


def end_special(api, clock, proc_id: int, when: datetime, who="inv"):
    clock.set(when)
    r = api.post(who, f"/api/cases/special-procedures/{proc_id}/end", json={"result": "专家评审完成"})
    assert r.status_code == 200, r.json
    return r.json


def test_a_reminder_due_during_a_special_procedure_waits_and_moves_with_the_clock(api, clock):
    case_id = accepted_case(api)
    # 4 working days after Monday 2 March: Friday 6 March, 09:00
    assert timers(api, case_id, "division_review_remind") == [("waiting", datetime(2026, 3, 6, 9, 0))]
    proc = special(api, clock, case_id, datetime(2026, 3, 3, 10, 0, tzinfo=BJ))
    assert run_scheduler(api, clock, datetime(2026, 3, 6, 9, 30, tzinfo=BJ)) == 0
    assert actions(api, case_id, "timer", "urge") == []
    with api.app.app_context():
        due = next_due()   # the scheduler does not spin on a timer it may not fire
    assert due is None or due > clock()
    # ended on Tuesday 17 March: 10 working days (4–6, 9–13, 16, 17 March) not counted
    assert end_special(api, clock, proc, datetime(2026, 3, 17, 10, 0, tzinfo=BJ))["counted_days"] == 10
    assert timers(api, case_id, "division_review_remind") == [("waiting", datetime(2026, 3, 20, 9, 0))]
    assert run_scheduler(api, clock, datetime(2026, 3, 19, 9, 0, tzinfo=BJ)) == 0
    assert run_scheduler(api, clock, datetime(2026, 3, 20, 9, 1, tzinfo=BJ)) == 1
    assert actions(api, case_id, "timer", "urge") == ["timer", "urge"]


def test_no_department_is_deemed_consenting_while_the_clock_stands(api, clock):
    case_id = accepted_case(api)
    api.complete_first("inv", REVIEW, element="division_review")
    # 7 working days after Monday 2 March: Wednesday 11 March, 17:00
    assert timers(api, case_id, "countersign_deemed") == [("waiting", datetime(2026, 3, 11, 17, 0))]
    proc = special(api, clock, case_id, datetime(2026, 3, 4, 10, 0, tzinfo=BJ), who="u_cs_ecology")
    assert run_scheduler(api, clock, datetime(2026, 3, 12, 9, 0, tzinfo=BJ)) == 0
    with api.app.app_context():
        states = sorted(t.state for t in db.session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.element_id == "countersign")).scalars())
        assert db.session.get(Case, case_id).status == "special_procedure"
    assert states == ["ready", "ready"] and actions(api, case_id, "deemed") == []
    # ended Friday 13 March: 7 working days (5, 6, 9–13 March) not counted
    assert end_special(api, clock, proc, datetime(2026, 3, 13, 10, 0, tzinfo=BJ), who="u_cs_ecology")["counted_days"] == 7
    assert timers(api, case_id, "countersign_deemed") == [("waiting", datetime(2026, 3, 20, 17, 0))]
    assert run_scheduler(api, clock, datetime(2026, 3, 20, 17, 1, tzinfo=BJ)) == 1
    assert actions(api, case_id, "deemed") == ["deemed"]


def test_a_procedure_ended_while_an_administrator_holds_the_case_moves_its_frozen_timers(api, clock):
    """挂起 by an administrator freezes the case's timers (status ``suspended``). A special procedure ended
    meanwhile moves the case's deadlines and those timers alike (special_procedures.shift_case), and the
    case stays suspended; resumed, the timers wait at their moved time and fire then, not at the old one."""
    api.user("admin", groups=["admin"])
    case_id = accepted_case(api)
    proc = special(api, clock, case_id, datetime(2026, 3, 3, 10, 0, tzinfo=BJ))
    clock.set(datetime(2026, 3, 4, 10, 0, tzinfo=BJ))
    assert api.post("admin", f"/api/cases/{case_id}/suspend", json={"reason": "核查"}).status_code == 200
    assert end_special(api, clock, proc, datetime(2026, 3, 17, 10, 0, tzinfo=BJ))["counted_days"] == 10
    assert timers(api, case_id, "division_review_remind") == [("suspended", datetime(2026, 3, 20, 9, 0))]
    with api.app.app_context():
        assert db.session.get(ProcessInstance, db.session.get(Case, case_id).instance_id).status == "suspended"
        db.session.remove()
    assert api.post("admin", f"/api/cases/{case_id}/resume", json={"reason": "核查完毕"}).status_code == 200
    assert timers(api, case_id, "division_review_remind") == [("waiting", datetime(2026, 3, 20, 9, 0))]
    assert run_scheduler(api, clock, datetime(2026, 3, 18, 10, 0, tzinfo=BJ)) == 0   # the old time has passed
    assert run_scheduler(api, clock, datetime(2026, 3, 20, 9, 1, tzinfo=BJ)) == 1


def test_a_step_during_the_procedure_does_not_fire_the_held_timers(api, clock):
    """Every engine step refreshes the workflow's timers (SpiffWorkflow's ``do_engine_steps``): a department
    answering its 会签 while another's 专家评审 holds the clock must not fire the countersign's 视为同意,
    due during the hold, for the department still silent. The engine holds the timers at the procedure's
    start; at its end they move with the clock and fire at their moved time."""
    case_id = accepted_case(api)
    api.complete_first("inv", REVIEW, element="division_review")
    proc = special(api, clock, case_id, datetime(2026, 3, 4, 10, 0, tzinfo=BJ), who="u_cs_ecology")
    clock.set(datetime(2026, 3, 12, 9, 0, tzinfo=BJ))   # the deemed consent was due 11 March 17:00
    api.complete_first("u_cs_emergency", {"cs": {"agree": "yes", "opinion": "同意。"}}, element="countersign")
    with api.app.app_context():
        states = sorted(t.state for t in db.session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.element_id == "countersign")).scalars())
    assert states == ["completed", "ready"] and actions(api, case_id, "deemed") == []
    assert timers(api, case_id, "countersign_deemed") == [("waiting", datetime(2026, 3, 11, 17, 0))]
    assert end_special(api, clock, proc, datetime(2026, 3, 13, 10, 0, tzinfo=BJ), who="u_cs_ecology")["counted_days"] == 7
    assert timers(api, case_id, "countersign_deemed") == [("waiting", datetime(2026, 3, 20, 17, 0))]
    assert run_scheduler(api, clock, datetime(2026, 3, 20, 9, 0, tzinfo=BJ)) == 0
    assert run_scheduler(api, clock, datetime(2026, 3, 20, 17, 1, tzinfo=BJ)) == 1
    assert actions(api, case_id, "deemed") == ["deemed"]
