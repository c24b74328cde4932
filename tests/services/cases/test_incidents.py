"""A failing script never gives a 500 nor loses the instance: it becomes an incident to retry."""
import pytest

from tests.web.api.helpers import Api
from tests.conftest import deploy_all

START = {"amount": 10, "project_name": "计费测试", "loop_forever": True}


@pytest.fixture
def api(fixture_app):
    fixture_app.config["SCRIPT_TIME_LIMIT_MS"] = 200
    fixture_app.extensions["engine"].script_engine.environment.seconds = 0.2
    deploy_all(fixture_app)
    a = Api(fixture_app)
    a.user("alice", "applicant")
    a.user("w1", groups=["window"])
    a.user("admin", groups=["admin"])
    a.user("inspector", groups=["inspector"])
    return a


def test_script_error_then_timeout_then_success_through_retries(api):
    case = api.post("alice", "/api/cases", json={"process_id": "t_failing", "data": START}).json
    result = api.complete_first("w1", {"decision": "approve"})
    assert result["instance_status"] == "error" and result["current_tasks"] == []
    [incident] = result["incidents"]
    assert incident["element_id"] == "compute" and "rate" in incident["message"]
    assert api.get("w1", "/api/incidents").status_code == 403
    assert [i["id"] for i in api.get("inspector", "/api/incidents").json] == [incident["id"]]
    assert api.post("w1", f"/api/incidents/{incident['id']}/retry", json={}).status_code == 403

    # retry without fixing the cause: still failing, one open incident with the latest error
    again = api.post("admin", f"/api/incidents/{incident['id']}/retry", json={})
    assert again.status_code == 200 and again.json["status"] == "open" and again.json["retries"] == 1

    # supply the missing data: compute runs, then the endless loop hits the time limit
    r = api.post("admin", f"/api/incidents/{incident['id']}/retry", json={"data": {"rate": 0.5}})
    assert r.status_code == 200 and r.json["status"] == "open"
    assert r.json["element_id"] == "spin" and "time limit" in r.json["message"]

    r = api.post("admin", f"/api/incidents/{incident['id']}/retry", json={"data": {"loop_forever": False}})
    assert r.status_code == 200 and r.json["status"] == "resolved"
    detail = api.get("alice", f"/api/cases/{case['id']}").json
    assert detail["instance_status"] == "running"
    assert [t["element_id"] for t in detail["current_tasks"]] == ["after"]
    assert api.post("admin", f"/api/incidents/{incident['id']}/retry", json={}).status_code == 409
    assert api.post("admin", "/api/incidents/9999/retry", json={}).status_code == 404
    done = api.complete_first("w1", {"decision": "approve"})
    assert done["instance_status"] == "complete" and done["end_event"] == "end_done"


def test_a_case_that_ends_closes_its_incidents_and_held_timers(api):
    """A case stopped on an incident is terminated by an administrator, another withdrawn by its applicant:
    their processes will never run again, so their incidents are resolved (by whoever ended the case) and
    a retry answers 409; the operators' count of open incidents keeps neither."""
    from sqlalchemy import func, select
    from app.extensions import db
    from app.models import Incident
    ids = []
    for _ in range(2):
        case = api.post("alice", "/api/cases", json={"process_id": "t_failing", "data": START}).json
        result = api.complete_first("w1", {"decision": "approve"})
        assert result["instance_status"] == "error"
        ids.append((case["id"], result["incidents"][0]["id"]))
    (terminated, first), (withdrawn, second) = ids
    assert api.post("admin", f"/api/cases/{terminated}/terminate", json={"reason": "申请人放弃"}).status_code == 200
    r = api.post("alice", f"/api/cases/{withdrawn}/withdraw", json={"reason": "不再申请"})
    assert r.status_code == 200, r.json
    with api.app.app_context():
        rows = {i.id: (i.status, i.resolved_by) for i in db.session.execute(select(Incident)).scalars()}
        assert rows == {first: ("resolved", "admin"), second: ("resolved", "alice")}
        assert db.session.execute(select(func.count()).select_from(Incident).where(Incident.status == "open")).scalar() == 0
    assert api.post("admin", f"/api/incidents/{first}/retry", json={}).status_code == 409
    assert api.get("inspector", "/api/incidents?status=open").json == []
