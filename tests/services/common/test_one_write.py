"""The writes of a step as one statement (app/services/common/one_write.py, issue 20).

On PostgreSQL a completion is: the lock, the read, one ``WITH … SELECT`` that writes everything, and
the response's read. What it writes must be exactly what the ORM's flush wrote: every path of three
shipped matters (timers, 补正, countersign, 退回, deemed steps, rejection) is driven once with the one
statement and once with the flush (``STEP_ONE_STATEMENT=False``), and every row the cases left behind is
compared. The kept statements run before anything that could read them, and a changed row that is
gone makes the step fail as the flush does."""
from __future__ import annotations

import itertools
import json
import os
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import SpiffWorkflow.task
from sqlalchemy import event, select, text

from app.extensions import db
from app.models import Case, CaseEvent, CaseParticipant, HumanTask, ProcessInstance, TaskCandidate, Timer
from app.services.common.clock import FakeClock
from app.services.cases.task_index import NO_DUE, drop_candidates
from app.services.common.one_write import step_writes, write_as_one
from app.services.trail.verify import verify
from tests.conftest import ROOT, make_app, deploy_all
from tests.web.api.helpers import Api
from tests.web.api.test_shipped_processes import drive, satisfy_requirements

MATTERS = ("xmgl_beian", "xmgl_hezhun", "jnsc_jieneng")
SCENARIOS = [(pid, sc) for pid in MATTERS
             for sc in json.loads((ROOT / "processes" / f"{pid}.scenarios.json").read_text(encoding="utf-8"))["scenarios"]]

def _on_postgres() -> bool:
    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


postgres_only = pytest.mark.skipif(not _on_postgres(), reason="DML in a CTE is PostgreSQL's")


def _api(db_url, one: bool) -> Api:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    app = make_app(db_url, WORKFLOW_CACHE_SIZE=0, CLOCK=clock, STEP_ONE_STATEMENT=one)
    deploy_all(app)
    api = Api(app)
    api.user("applicant_1", "applicant")
    return api


def _rows(app, case_id: int) -> dict:
    """Everything a case left in the database, without what differs between two runs by nature (ids,
    the engine's task ids, hashes that cover them)."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        names = {t.id: (t.element_id, t.mi_index, t.kind) for t in db.session.execute(
            select(HumanTask).where(HumanTask.case_id == case_id)).scalars()}

        def task_row(t):
            return (t.element_id, t.name, t.kind, t.state, t.outcome, t.opinion, t.assignee, t.completed_by,
                    t.candidate_groups, t.candidate_users, t.limit_days, str(t.due_date), t.blocked, t.mi_index,
                    t.sign_mode, t.delegation, str(t.created_at), str(t.completed_at), t.region_code, t.action)
        tasks = sorted(map(repr, map(task_row, db.session.execute(
            select(HumanTask).where(HumanTask.case_id == case_id)).scalars())))
        keys = sorted(repr((names.get(c.task_id), c.key, str(c.due_sort), c.process_id)) for c in db.session.execute(
            select(TaskCandidate).where(TaskCandidate.task_id.in_(list(names)))).scalars())
        events = [(e.seq, e.actor, e.action, e.element_id, e.step_name, e.opinion, e.from_status, e.to_status,
                   str(e.at)) for e in db.session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)).scalars()]
        inst = db.session.get(ProcessInstance, case.instance_id)
        timers = sorted(repr((t.element_id, t.status, str(t.due_at), str(t.fired_at))) for t in db.session.execute(
            select(Timer).where(Timer.instance_id == inst.id)).scalars())
        touched = sorted(repr((p.username, p.last_action, str(p.last_at))) for p in db.session.execute(
            select(CaseParticipant).where(CaseParticipant.case_id == case_id)).scalars())
        fields = {c.key: str(getattr(case, c.key)) for c in Case.__table__.columns
                  if c.key not in ("id", "case_no", "instance_id", "trail_head", "applicant_id")}
        checked = verify(case_id)
        assert checked["ok"], checked
        return {"case": fields, "tasks": tasks, "keys": keys, "events": events, "timers": timers,
                "participants": touched, "instance": (inst.status, inst.revision, inst.end_event)}


@pytest.mark.parametrize("process_id,scenario", SCENARIOS, ids=[f"{p}:{s['name']}" for p, s in SCENARIOS])
def test_one_statement_writes_what_the_flush_wrote(db_url, process_id, scenario, monkeypatch):
    api = _api(db_url, True)
    runs = []
    try:
        for run, one in enumerate((True, False)):
            api.app.config["STEP_ONE_STATEMENT"] = one
            # the engine's task ids in creation order in both runs: the path takes the first open task
            # of a countersign, and which countersigner decides what must not depend on random ids
            counter = itertools.count()
            monkeypatch.setattr(SpiffWorkflow.task, "uuid4",
                                lambda run=run: uuid.UUID(int=((run + 1) << 96) | next(counter)))
            statements = []

            def seen(conn, cursor, statement, *args):
                statements.append(statement)
            with api.app.app_context():
                event.listen(db.engine, "before_cursor_execute", seen)
            try:
                satisfy_requirements(api, process_id, scenario["start"].get("project_code"))
                case = drive(api, process_id, scenario)
            finally:
                with api.app.app_context():
                    event.remove(db.engine, "before_cursor_execute", seen)
            runs.append((_rows(api.app, case["id"]), statements))
    finally:
        with api.app.app_context():
            db.session.remove()
            db.engine.dispose()
    (one_rows, one_sql), (flush_rows, flush_sql) = runs
    assert one_rows == flush_rows
    if not _on_postgres():
        return                       # SQLite: the same statements, built once per shape (one_write._single)
    combined = [s for s in one_sql if s.lstrip().startswith("WITH w0 AS")]
    # a shipped matter's status hooks read tables and so flush the session before the end: the steps
    # whose writes wait to the end (always those without a status change) went as one statement
    assert combined, "no step was written as one statement"


def _first_task(api):
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_beian", "data": SCENARIOS[0][1]["start"]})
    assert r.status_code == 201, r.json
    return r.json


def test_a_changed_row_that_is_gone_fails_the_step_and_writes_nothing(db_url):
    api = _api(db_url, True)
    case = _first_task(api)
    with api.app.app_context():
        task = db.session.get(HumanTask, case["current_tasks"][0]["id"])
        before = db.session.execute(select(CaseParticipant)).all()
        with step_writes():
            drop_candidates(task.id)
            db.session.add(CaseParticipant(case_id=case["id"], username="someone", last_action="claim"))
            task.opinion = "改了"
            # the row goes away behind the session's back: the UPDATE matches nothing
            conn = db.session.connection()
            conn.execute(text("DELETE FROM task_candidates WHERE task_id = :i"), {"i": task.id})
            conn.execute(text("DELETE FROM human_tasks WHERE id = :i"), {"i": task.id})
            from sqlalchemy.orm.exc import StaleDataError
            with pytest.raises(StaleDataError):
                write_as_one(db.session)
        db.session.rollback()
        assert db.session.execute(select(CaseParticipant)).all() == before
        assert db.session.execute(select(TaskCandidate).where(TaskCandidate.task_id == task.id)).first()


def test_kept_statements_run_before_a_read(db_url):
    api = _api(db_url, True)
    case = _first_task(api)
    with api.app.app_context():
        tid = case["current_tasks"][0]["id"]
        with step_writes():
            drop_candidates(tid)
            # a read of the session sees the delete, whichever way it was kept
            assert db.session.execute(select(TaskCandidate).where(TaskCandidate.task_id == tid)).first() is None
            # and a new row of the same table written after it stays (the delete ran first)
            db.session.add(TaskCandidate(task_id=tid, key="u:x", due_sort=NO_DUE, created_at=datetime.now(ZoneInfo("UTC")),
                                         process_id="p"))
            drop_candidates("nothing")
            write_as_one(db.session)
        db.session.commit()
        keys = db.session.execute(select(TaskCandidate.key).where(TaskCandidate.task_id == tid)).scalars().all()
        assert keys == ["u:x"]


@postgres_only
def test_two_kept_statements_of_one_shape_keep_their_own_values(db_url):
    """The one statement's text is built once per shape; each part's values are its own (two deletes
    of the same statement with two task ids, a new row), and the next step of that shape reuses the
    text with its new values."""
    api = _api(db_url, True)
    first, second, third = (_first_task(api)["current_tasks"][0]["id"] for _ in range(3))
    sqls = []
    with api.app.app_context():
        assert {first, second, third} <= set(db.session.execute(select(TaskCandidate.task_id)).scalars())
        event.listen(db.engine, "before_cursor_execute", lambda c, cur, sql, *a: sqls.append(sql))
        for a, b in ((first, second), (third, "nothing")):
            with step_writes():
                drop_candidates(a)
                drop_candidates(b)
                db.session.add(CaseParticipant(case_id=1, username=f"u{a}", last_action="claim"))
                write_as_one(db.session)
            db.session.commit()
        left = set(db.session.execute(select(TaskCandidate.task_id)).scalars())
        assert not left & {first, second, third}
        assert set(db.session.execute(select(CaseParticipant.username)).scalars()) >= {f"u{first}", f"u{third}"}
    writes = [sql for sql in sqls if sql.startswith("WITH w0")]
    assert len(writes) == 2 and writes[0] == writes[1]


@postgres_only
def test_changed_rows_handed_over_in_any_order_make_one_text(db_url, monkeypatch):
    """The session hands its changed objects over in no fixed order (a set): whatever the order, a step
    of one shape is one statement text (compiled once, prepared by PostgreSQL once)."""
    from sqlalchemy.orm import Session
    api = _api(db_url, True)
    case = _first_task(api)
    plain = Session.dirty.fget
    sqls = []
    with api.app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda c, cur, sql, *a: sqls.append(sql))
        for n, order in enumerate((lambda objs: objs, lambda objs: objs[::-1], lambda objs: objs[1:] + objs[:1])):
            monkeypatch.setattr(Session, "dirty", property(lambda s, order=order: order(list(plain(s)))))
            with step_writes():
                task = db.session.get(HumanTask, case["current_tasks"][0]["id"])
                inst = db.session.get(ProcessInstance, task.instance_id)
                kase = db.session.get(Case, case["id"])
                task.opinion, inst.revision, kase.current_step = f"意见{n}", inst.revision + 1, f"步骤{n}"
                db.session.add(CaseParticipant(case_id=case["id"], username=f"u{n}", last_action="claim"))
                write_as_one(db.session)
            db.session.commit()
        monkeypatch.setattr(Session, "dirty", property(plain))
        assert db.session.get(HumanTask, case["current_tasks"][0]["id"]).opinion == "意见2"
        assert db.session.get(Case, case["id"]).current_step == "步骤2"
    writes = [sql for sql in sqls if sql.startswith("WITH w0")]
    assert len(writes) == 3 and len(set(writes)) == 1, writes


def test_what_counts_as_changed_is_what_the_session_says(db_url):
    """write_as_one asks only the attributes set since the load whether an object changed; the answer is
    is_modified's: a value set to what it was is no change, another value is, a JSON value changed in
    place and flagged is, and an object not touched is not."""
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.orm.attributes import flag_modified
    from app.services.common.one_write import _modified
    api = _api(db_url, True)
    case = _first_task(api)
    with api.app.app_context():
        session = db.session
        task = session.get(HumanTask, case["current_tasks"][0]["id"])
        row = session.get(Case, case["id"])
        inst = session.get(ProcessInstance, row.instance_id)

        def agree(obj):
            answer = session.is_modified(obj, include_collections=False)
            assert _modified(sa_inspect(obj)) is answer
            return answer

        assert [agree(o) for o in (task, row, inst)] == [False, False, False]
        task.name = task.name                  # the value it had
        row.current_step = row.current_step
        assert [agree(task), agree(row)] == [False, False]
        task.opinion = "另一个意见"
        row.data["extra"] = "in place"
        flag_modified(row, "data")
        inst.status = inst.status
        assert [agree(o) for o in (task, row, inst)] == [True, True, False]
        session.rollback()
