"""The waiting timers of a case an administrator has suspended (挂起: their rows wait as ``suspended``) move
like the others when a special procedure ends meanwhile: on the shipped 企业投资项目核准 (xmgl_hezhun) the
countersign's deemed timer (逾期7个工作日视为同意) keeps the 3 working days of an expert review that ended
while the case was suspended, so the silent departments are not deemed to consent 3 working days early.
The state and the rows agree, and the case stays suspended until the administrator resumes it.

A timer that comes due while a person's special procedure (here the 补正) holds the clock is not fired by
the scheduler then (cases/timers.py ``_held``); it moves with the clock when the procedure ends."""
from datetime import datetime

from sqlalchemy import select

from app.engine.scan import scan
from app.extensions import db
from app.models import Case, HumanTask, ProcessInstance, ProcessVersion, Timer
from app.services.cases.steps import engine, spec_pair
from app.services.trail.verify import verify
from tests.services.cases.test_deemed_steps import ACCEPT, BJ, api, clock, run_scheduler, submit, tasks  # noqa: F401

DEEMED_AT = datetime(2026, 3, 11, 17, 0, tzinfo=BJ)   # 7 working days after Monday 2 March
MOVED_AT = datetime(2026, 3, 16, 17, 0, tzinfo=BJ)    # 3 working days later


def _deemed_timer(api, case_id):
    """(the instance's status, the deemed timer's due in the stored state, its row's status and due)"""
    with api.app.app_context():
        inst = db.session.get(ProcessInstance, db.session.get(Case, case_id).instance_id)
        wf = engine().load(spec_pair(db.session.get(ProcessVersion, inst.version_id)), inst.state)
        [due] = [t._get_internal_data("event_value") for t in scan(wf).waiting
                 if t.task_spec.bpmn_id == "countersign_deemed"]
        row = db.session.execute(select(Timer).where(Timer.instance_id == inst.id,
                                                     Timer.element_id == "countersign_deemed")).scalar_one()
        out = inst.status, datetime.fromisoformat(due), row.status, row.due_at
        db.session.remove()
        return out


def test_a_special_procedure_ending_while_the_case_is_suspended_moves_its_timers(api, clock):
    api.user("boss", groups=["admin"])
    case_id = submit(api)
    api.complete_first("w1", ACCEPT, element="window_review")
    api.complete_first("inv", {"review_points": ["security"], "entrust_assessment": "no",
                               "cs_depts": ["cs_natural_resources", "cs_ecology"],
                               "review_opinion": "拟征求有关部门意见。"}, element="division_review")
    assert _deemed_timer(api, case_id)[1:] == (DEEMED_AT, "waiting", DEEMED_AT)
    r = api.post("inv", f"/api/cases/{case_id}/special-procedures",
                 json={"kind": "expert_review", "reason": "专家评审", "planned_duration": 5})
    assert r.status_code == 201, r.json
    procedure = r.json["id"]
    assert api.post("boss", f"/api/cases/{case_id}/suspend", json={"reason": "挂起核查"}).status_code == 200
    clock.set(datetime(2026, 3, 5, 10, 0, tzinfo=BJ))   # Monday to Thursday: 3 working days
    r = api.post("inv", f"/api/cases/special-procedures/{procedure}/end", json={"result": "评审完毕"})
    assert r.status_code == 200 and r.json["counted_days"] == 3, r.json
    assert _deemed_timer(api, case_id) == ("suspended", MOVED_AT, "suspended", MOVED_AT)
    assert api.post("boss", f"/api/cases/{case_id}/resume", json={"reason": "核查完毕"}).status_code == 200
    assert _deemed_timer(api, case_id) == ("running", MOVED_AT, "waiting", MOVED_AT)
    assert run_scheduler(api, clock, DEEMED_AT.replace(second=30)) == 0
    assert sorted(s for s, *_ in tasks(api, case_id, "countersign")) == ["ready", "ready"]
    assert run_scheduler(api, clock, MOVED_AT.replace(second=30)) == 1
    assert [by for _, by, *_ in tasks(api, case_id, "countersign")] == ["system", "system"]
    with api.app.app_context():
        assert verify(case_id)["ok"]


def test_a_countersign_is_not_deemed_while_a_correction_suspends_the_clock(api, clock):
    """A department asks the applicant for a 补正 from its countersign step (the clock stops, its task waits
    for the answer); the silent departments' 7 working days run on the case's clock, so they are not
    deemed to consent at the unmoved time while the clock stands still."""
    from app.models import User
    from app.services.identity.actors import actor_from_user
    from app.services.portal.corrections import request_correction
    case_id = submit(api)
    api.complete_first("w1", ACCEPT, element="window_review")
    api.complete_first("inv", {"review_points": ["security"], "entrust_assessment": "no",
                               "cs_depts": ["cs_natural_resources", "cs_ecology", "cs_emergency"],
                               "review_opinion": "拟征求有关部门意见。"}, element="division_review")
    clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=BJ))
    with api.app.app_context():
        [eco] = [t for t in db.session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.element_id == "countersign")).scalars()
            if "cs_ecology" in (t.candidate_groups or ())]
        user = db.session.execute(select(User).where(User.username == "u_cs_ecology")).scalar_one()
        request_correction(actor_from_user(user), eco.id, [{"material": "环评批复", "problem": "缺少"}], days=10)
        assert db.session.get(Case, case_id).clock_state == "suspended"
        db.session.remove()
    run_scheduler(api, clock, DEEMED_AT.replace(second=30))
    assert [s for s, *_ in tasks(api, case_id, "countersign")] == ["ready"] * 3
