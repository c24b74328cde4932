"""One step is one transaction: a crash leaves the instance as before; concurrent completions of
one task let exactly one win."""
import threading

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CaseEvent, HumanTask, ProcessInstance
from app.services.cases import steps
from tests.web.api.helpers import START, Api
from tests.conftest import deploy_all


@pytest.fixture
def api(fixture_app):
    deploy_all(fixture_app)
    a = Api(fixture_app)
    a.user("alice", "applicant")
    for i in range(8):
        a.user(f"w{i}", groups=["window"])
    return a


def state(app):
    with app.app_context():
        inst = db.session.execute(select(ProcessInstance)).scalar_one()
        return (inst.revision, inst.state, inst.status,
                sorted(db.session.execute(select(HumanTask.id, HumanTask.state)).all()),
                len(db.session.execute(select(CaseEvent.id)).all()))


def test_a_crash_while_saving_leaves_the_instance_as_before(api, monkeypatch):
    api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START})
    before = state(api.app)
    original = steps.apply_step

    def crash(*args, **kwargs):
        original(*args, **kwargs)  # everything written to the session …
        raise RuntimeError("power failure")  # … then the step dies before the commit

    monkeypatch.setattr("app.services.inbox.task_base.apply_step", crash)
    task = api.tasks("w0")[0]
    r = api.post("w0", f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    assert r.status_code == 500 and r.json["code"] == 500
    assert state(api.app) == before
    monkeypatch.setattr("app.services.inbox.task_base.apply_step", original)
    r = api.post("w0", f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    assert r.status_code == 200 and r.json["status"] == "accepted"


def test_parallel_completions_of_one_task_exactly_one_wins(api):
    api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START})
    task = api.tasks("w0")[0]
    barrier = threading.Barrier(8)
    codes = []

    def worker(i):
        client = api.app.test_client()
        barrier.wait()
        r = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}},
                        headers=api.headers[f"w{i}"])
        codes.append(r.status_code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [409] * 7
    revision, _, status, tasks, _ = state(api.app)
    assert revision == 2 and status == "running"
    completed = [t for t in tasks if t[1] == "completed"]
    assert len(completed) == 1
    with api.app.app_context():
        events = db.session.execute(select(CaseEvent).where(CaseEvent.action == "complete")).scalars().all()
        assert len(events) == 1
