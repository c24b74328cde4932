"""An operation on a whole case waits for a step of the same case instead of deadlocking with it
(app/services/cases/locks.py), on a shipped matter (xmgl_hezhun, 处室审查 open).

A step holds its instance's row lock and then writes the case row. The test holds the instance's lock
as a step does, lets the case operation start beside it, then writes the case as the step would and
commits. Had the operation locked the case first, each would now wait for the other: PostgreSQL ends
one of them after its deadlock_timeout (the step's UPDATE fails, or the operation answered 500). With the
instance locked first, the operation waits, then does its work. On SQLite BEGIN IMMEDIATE orders the two
transactions whole; the test runs there too."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Case, ProcessInstance
from app.services.common.db_support import lock_one
from tests.conftest import add_user
from tests.services.cases.lock_race import behind_a_step, in_a_deadlock
from tests.services.trail.helpers import close, trail_api
from tests.services.trail.test_reset_chain import _accepted_case
from tests.web.api.test_shipped_processes import user_for

OPS = {
    "applicant withdraws": ("applicant_1", "/api/cases/{case}/withdraw", {"reason": "申请人撤回"}, 200),
    "admin suspends": ("boss", "/api/cases/{case}/suspend", {"reason": "挂起核查"}, 200),
    "admin terminates": ("boss", "/api/cases/{case}/terminate", {"reason": "终止核查"}, 200),
    "special procedure starts": ("{reviewer}", "/api/cases/{case}/special-procedures",
                                 {"kind": "expert_review", "reason": "专家评审", "planned_duration": 5}, 201),
    "special procedure ends": ("{reviewer}", "/api/cases/special-procedures/{procedure}/end",
                               {"result": "评审完毕"}, 200),
}


@pytest.mark.parametrize("name", list(OPS))
def test_a_case_operation_waits_for_a_step_of_the_case(db_url, name):
    api = trail_api(db_url)
    try:
        api.headers["boss"] = add_user(api.app, "boss", "staff", ["admin"])
        case, _, _ = _accepted_case(api)
        review = [t for t in case["current_tasks"] if t["element_id"] == "division_review"][0]
        reviewer = user_for(api, review)
        procedure = None
        if name == "special procedure ends":
            r = api.post(reviewer, f"/api/cases/{case['id']}/special-procedures", json=OPS["special procedure starts"][2])
            assert r.status_code == 201, r.json
            procedure = r.json["id"]
        who, url, body, expect = OPS[name]
        who = who.format(reviewer=reviewer)
        url = url.format(case=case["id"], procedure=procedure)
        with api.app.app_context():
            inst_id = db.session.get(Case, case["id"]).instance_id
            db.session.remove()

        def operation():
            r = api.post(who, url, json=body)
            return {"status": r.status_code, "body": r.json}

        answer, step_error = behind_a_step(
            api.app, lambda: lock_one(ProcessInstance, ProcessInstance.id == inst_id),   # as a step does first
            operation,
            # then the step writes the case, as record_event's head and the status do
            lambda: db.session.execute(update(Case).where(Case.id == case["id"]).values(trail_seq=Case.trail_seq)),
            settle=0.2)
        assert step_error is None, step_error
        assert "error" not in answer, answer
        assert answer["status"] == expect, answer
    finally:
        close(api)


def test_a_deadlock_all_the_same_is_a_409_and_changes_nothing(db_url):
    """The net under the rule: another transaction that takes the locks the other way round (the case,
    then the instance: no path of the app does since locks.py) deadlocks with a step. PostgreSQL ends the
    step (the first to wait: the other waits with a long deadlock_timeout, so it never looks first); the
    step is answered 409 and nothing of it is written."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a deadlock between row locks: PostgreSQL (SQLite's BEGIN IMMEDIATE orders transactions whole)")
    api = trail_api(db_url)
    try:
        case, _, _ = _accepted_case(api)
        review = [t for t in case["current_tasks"] if t["element_id"] == "division_review"][0]
        reviewer = user_for(api, review)
        with api.app.app_context():
            inst_id = db.session.get(Case, case["id"]).instance_id
            trail_seq = db.session.get(Case, case["id"]).trail_seq
            db.session.remove()

        def step():
            r = api.post(reviewer, f"/api/tasks/{review['id']}/complete",
                         json={"data": {"review_opinion": "同意", "entrust_assessment": "no",
                                        "review_points": ["security"], "cs_depts": ["cs_ecology"]}})
            return {"status": r.status_code, "body": r.json}

        answer = in_a_deadlock(api.app, db_url, case["id"], inst_id, step)
        assert "error" not in answer, answer
        assert answer["status"] == 409, answer
        assert "同时有其他操作" in answer["body"]["message"]
        with api.app.app_context():
            from app.models import HumanTask
            assert db.session.get(HumanTask, review["id"]).state == "ready"
            assert db.session.get(Case, case["id"]).trail_seq == trail_seq
            db.session.remove()
    finally:
        close(api)
