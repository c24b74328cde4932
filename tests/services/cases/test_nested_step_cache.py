"""A step that stores the state twice keeps the workflow it stored last (steps.remember_written).

An excluded phase (技术评估) ends while another branch waits on a timer
(tests/fixtures/phase_timer/processes/t_phase2.bpmn): the step's apply_step follows the phase, and
special_procedures.shift_case moves the waiting timer by the working days the phase took — on a second
workflow it loads from the state just stored, stored again under the next revision. The worker must keep
that second workflow, not the one the operation stepped: a kept workflow is what the next step on this
worker goes on from, and with the first one the next step stored the timer back where it was. No shipped
matter has a timer waiting beside a phase step today; the rule is the cache's, whatever the model."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.engine.serializer import dump_state
from app.extensions import db
from app.models import Case, ProcessInstance, Timer
from app.services.cases.steps import engine
from app.services.common.clock import FakeClock
from tests.conftest import ROOT, deploy_all, make_app
from tests.web.api.helpers import Api

FIXTURES = ROOT / "tests" / "fixtures"
START = {"amount": 5, "project_name": "示范项目"}
DONE = {"decision": "approve", "opinion": "同意"}


def _timers(app, case_id):
    with app.app_context():
        inst_id = db.session.get(Case, case_id).instance_id
        out = sorted((t.element_id, t.status, t.due_at) for t in db.session.execute(
            select(Timer).where(Timer.instance_id == inst_id)).scalars())
        db.session.remove()
        return out


def _step(api, case_id, element):
    task = [t for t in api.tasks("inv") if t["case_id"] == case_id and t["element_id"] == element][0]
    r = api.post("inv", f"/api/tasks/{task['id']}/complete", json={"data": DONE})
    assert r.status_code == 200, r.json
    return r.json


@pytest.mark.parametrize("cache", [0, 256])
def test_the_timer_moved_by_a_phase_stays_moved(db_url, cache):
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    app = make_app(db_url, CLOCK=clock, WORKFLOW_CACHE_SIZE=cache,
                   PROCESSES_DIR=str(FIXTURES / "phase_timer" / "processes"), FORMS_DIR=str(FIXTURES / "forms"))
    try:
        deploy_all(app)
        api = Api(app)
        api.user("alice", "applicant")
        api.user("inv", groups=["investment"])
        r = api.post("alice", "/api/cases", json={"process_id": "t_phase2", "data": START})
        assert r.status_code == 201, r.json
        case_id = r.json["id"]
        before = _timers(app, case_id)
        clock.advance(days=14)                       # the evaluation takes 10 working days
        answer = _step(api, case_id, "evaluation")
        moved = _timers(app, case_id)
        assert [t[2] for t in moved] != [t[2] for t in before] and moved[0][2] > before[0][2]
        with app.app_context():
            inst = db.session.get(ProcessInstance, db.session.get(Case, case_id).instance_id)
            assert answer["revision"] == inst.revision
            if cache:
                # what the worker keeps is what it stored, at the revision it stored it as
                assert engine().holds(inst.id, inst.revision)
                kept = engine().take_cached(inst.id, inst.revision)
                assert json.loads(dump_state(kept)) == json.loads(inst.state)
                engine().remember(inst.id, inst.revision, kept)
            db.session.remove()
        _step(api, case_id, "review")
        assert [t[2] for t in _timers(app, case_id)] == [t[2] for t in moved]
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
