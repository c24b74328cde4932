"""Two clerks claim the same task at the same instant (two web workers or two nodes): the claim that
waited for the instance lock sees the one before it and is refused — it does not overwrite it.

On PostgreSQL a ``SELECT … FOR UPDATE OF process_instances`` joined with the task re-reads only the
locked instance row once the lock is free; the task row came from the statement's snapshot, taken
before the first claim committed. Found by tests/ops/test_two_nodes.py ([200, 200] for one task)."""
import threading
import time

from sqlalchemy import select, update

from app.extensions import db
from app.models import CaseEvent, HumanTask, ProcessInstance
from app.services.common.clock import clock_now
from tests.services.inbox.test_operations import api, first_task, start  # noqa: F401


def test_a_claim_that_waited_for_the_lock_is_refused_after_the_claim_before_it(api):  # noqa: F811
    start(api)
    task = first_task(api, "w2")
    with api.app.app_context():
        now = clock_now()
        engine = db.engine
        inst_id = db.session.execute(select(HumanTask.instance_id).where(HumanTask.id == task["id"])).scalar_one()
        db.session.remove()
    first = engine.connect()  # the first claim, in flight: it holds the instance's lock
    tx = first.begin()  # (on SQLite: BEGIN IMMEDIATE, the database's write lock)
    first.execute(select(ProcessInstance.id).where(ProcessInstance.id == inst_id).with_for_update())
    answer = {}
    second = threading.Thread(target=lambda: answer.update(
        r=api.post("w2", f"/api/tasks/{task['id']}/claim", json={})))
    second.start()
    time.sleep(0.5)  # the second claim now waits for the lock
    assert second.is_alive()
    first.execute(update(HumanTask).where(HumanTask.id == task["id"]).values(assignee="w1", claimed_at=now))
    tx.commit()
    first.close()
    second.join(30)
    r = answer["r"]
    assert r.status_code == 409 and r.json["errors"] == {"assignee": "w1"}, (r.status_code, r.json)
    with api.app.app_context():
        assert db.session.get(HumanTask, task["id"]).assignee == "w1"
        assert db.session.execute(select(CaseEvent.id).where(CaseEvent.action == "claim")).first() is None
