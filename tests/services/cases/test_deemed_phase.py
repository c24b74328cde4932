"""A deemed completion (视为同意) in the step that ends an excluded phase while another timer waits
(tests/fixtures/phase_deemed/processes/t_phase_deemed.bpmn): the phase's end moves the waiting reminder by
the working days the phase took (special_procedures.shift_case loads the state just stored and stores a
second workflow); the deemed completions that follow in the same step go on from that stored workflow, so
the reminder stays moved in the stored state and in its row, and the instance's revision counts each
store. No shipped matter has a deemed step beside a phase step today; the rule is the step's.

A sequential 会签 (t_seq_deemed.bpmn) opens its next department only when the one before answers: the
deemed timer belongs to the whole step, so every department that has not answered is deemed to consent,
those the step reaches while it completes them included."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import select

from app.engine.scan import scan
from app.extensions import db
from app.models import Case, CaseEvent, HumanTask, ProcessInstance, ProcessVersion, Timer
from app.services.cases.steps import engine, spec_pair
from app.services.cases.timers import drain
from app.services.clocks.calendar import current_calendar
from app.services.common.clock import BEIJING, FakeClock
from app.services.trail.verify import verify
from tests.conftest import FIXTURES, deploy_all, make_app
from tests.web.api.helpers import Api

START = {"amount": 5, "project_name": "示范项目"}
DONE = {"decision": "approve", "opinion": "评估完成"}
REASON = "逾期未回复，视为同意"


@contextmanager
def fixture_case(db_url, process_id: str, *users: tuple[str, str], **config):
    """A case of ``process_id`` (tests/fixtures/phase_deemed) started on Monday 2 March 09:00, with the
    applicant and ``users`` ((name, group), …): yields (app, api, clock, case id)."""
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BEIJING))   # Monday
    app = make_app(db_url, CLOCK=clock, **config,
                   PROCESSES_DIR=str(FIXTURES / "phase_deemed" / "processes"), FORMS_DIR=str(FIXTURES / "forms"))
    try:
        deploy_all(app)
        api = Api(app)
        api.user("alice", "applicant")
        for name, group in users:
            api.user(name, groups=[group])
        r = api.post("alice", "/api/cases", json={"process_id": process_id, "data": START})
        assert r.status_code == 201, r.json
        yield app, api, clock, r.json["id"]
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _stored(app, case_id):
    """(revision, {timer element: due} of the stored state, {element: due} of the waiting rows, ready ids
    of the stored state, ready human_tasks ids)"""
    with app.app_context():
        case = db.session.get(Case, case_id)
        inst = db.session.get(ProcessInstance, case.instance_id)
        wf = engine().load(spec_pair(db.session.get(ProcessVersion, inst.version_id)), inst.state)
        found = scan(wf)
        state_timers = {}
        for t in found.waiting:
            due = t._get_internal_data("event_value")
            if due:
                state_timers[t.task_spec.bpmn_id] = datetime.fromisoformat(due if isinstance(due, str) else due["next"])
        rows = {t.element_id: t.due_at for t in db.session.execute(select(Timer).where(
            Timer.instance_id == inst.id, Timer.status == "waiting")).scalars()}
        ready = {str(t.id) for t in found.ready if getattr(t.task_spec, "manual", False)}
        tasks = {t.id for t in db.session.execute(select(HumanTask).where(
            HumanTask.instance_id == inst.id, HumanTask.state == "ready", HumanTask.kind == "user")).scalars()}
        out = (inst.revision, state_timers, rows, ready, tasks)
        db.session.remove()
        return out


@pytest.mark.parametrize("cache", [0, 256])
def test_a_deemed_completion_after_a_phase_end_keeps_the_moved_timer(db_url, cache):
    with fixture_case(db_url, "t_phase_deemed", ("inv", "investment"),
                      WORKFLOW_CACHE_SIZE=cache) as (app, api, clock, case_id):
        revision, _, rows, *_ = _stored(app, case_id)
        reminder = rows["reminder"]
        # the 会签's 5 working days end on Monday 9 March 17:00; nobody ran the scheduler since. The 技术评估
        # is done on Monday 16 March: its step finds the deemed timer due and fires it
        clock.set(datetime(2026, 3, 16, 9, 0, tzinfo=BEIJING))
        answer = api.complete_first("inv", DONE, element="evaluation")
        with app.app_context():
            lasted = current_calendar().working_days_between(datetime(2026, 3, 2).date(), datetime(2026, 3, 16).date())
            moved = datetime.combine(current_calendar().add_working_days(reminder.astimezone(BEIJING).date(), lasted),
                                     reminder.astimezone(BEIJING).timetz())
            consult = [(t.state, t.completed_by, t.outcome) for t in db.session.execute(select(HumanTask).where(
                HumanTask.case_id == case_id, HumanTask.element_id == "consult")).scalars()]
            deemed = db.session.execute(select(CaseEvent.action).where(
                CaseEvent.case_id == case_id, CaseEvent.action == "deemed")).scalars().all()
            assert verify(case_id)["ok"]
            db.session.remove()
        assert lasted == 10
        assert consult == [("completed", "system", "deemed")] * 2 and deemed == ["deemed"]
        now_revision, state_timers, rows, ready, tasks = _stored(app, case_id)
        # the step, the phase's end moving the reminder, and the two deemed completions: four stores
        assert now_revision == revision + 4 == answer["revision"]
        assert rows["reminder"] == moved, "the reminder's row lost the phase's days"
        assert state_timers["reminder"] == moved, "the stored state lost the phase's days"
        assert ready == tasks and len(tasks) == 1   # 审查


def test_a_sequential_countersign_is_deemed_to_its_last_department(db_url):
    with fixture_case(db_url, "t_seq_deemed", ("eco", "cs_ecology")) as (app, api, clock, case_id):
        api.complete_first("eco", {"cs": {"agree": "yes", "opinion": "同意。"}}, element="consult")
        clock.set(datetime(2026, 3, 9, 17, 0, 30, tzinfo=BEIJING))   # 5 working days after Monday 2 March
        with app.app_context():
            assert drain() == 1
            consult = [(t.mi_index, t.state, t.completed_by, t.outcome) for t in db.session.execute(
                select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.element_id == "consult")
                .order_by(HumanTask.mi_index)).scalars()]
            assert verify(case_id)["ok"]
            db.session.remove()
        assert consult == [(0, "completed", "eco", "approve"), (1, "completed", "system", "deemed"),
                           (2, "completed", "system", "deemed")]
        _, _, _, ready, tasks = _stored(app, case_id)
        assert ready == tasks and len(tasks) == 1   # 审查


def test_an_instance_the_step_cancels_meanwhile_is_not_reported_as_not_deemed(db_url):
    """t_cc_deemed.bpmn: the 会签 ends when two departments have answered. Deemed, the first two complete it
    and the third is cancelled by the step; the trail has no ``deemed_skipped`` for it (it was not left
    open, nothing failed)."""
    with fixture_case(db_url, "t_cc_deemed") as (app, api, clock, case_id):
        clock.set(datetime(2026, 3, 9, 17, 0, 30, tzinfo=BEIJING))
        with app.app_context():
            assert drain() == 1
            consult = [(t.mi_index, t.state, t.completed_by) for t in db.session.execute(
                select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.element_id == "consult")
                .order_by(HumanTask.mi_index)).scalars()]
            trail = db.session.execute(select(CaseEvent.action).where(
                CaseEvent.case_id == case_id, CaseEvent.action.in_(("deemed", "deemed_skipped", "complete")))
                .order_by(CaseEvent.id)).scalars().all()
            assert verify(case_id)["ok"]
            db.session.remove()
        assert consult == [(0, "completed", "system"), (1, "completed", "system"), (2, "cancelled", None)]
        assert trail == ["deemed", "complete", "complete"]