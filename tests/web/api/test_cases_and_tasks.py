"""The JSON API on the small fixture process: the happy path, and bad input that changes nothing."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, CaseEvent, HumanTask, ProcessInstance
from tests.web.api.helpers import START, Api
from tests.conftest import deploy_all


@pytest.fixture
def api(fixture_app):
    deploy_all(fixture_app)
    a = Api(fixture_app)
    a.user("alice", "applicant")
    a.user("bob", "applicant")
    a.user("w1", groups=["window"])
    a.user("w2", groups=["window"])
    a.user("eco", groups=["cs_ecology"])
    a.user("fin", groups=["cs_finance"])
    a.user("chief", groups=["investment_chief"])
    a.user("admin", groups=["admin"])
    return a


def start(api, who="alice", data=None):
    r = api.post(who, "/api/cases", json={"process_id": "t_simple", "data": data or START})
    assert r.status_code == 201, r.json
    return r.json


def snapshot(app):
    with app.app_context():
        return (db.session.execute(select(ProcessInstance.id, ProcessInstance.revision, ProcessInstance.state)).all(),
                db.session.execute(select(HumanTask.id, HumanTask.state)).all(),
                db.session.execute(select(func.count()).select_from(CaseEvent)).scalar(),
                db.session.execute(select(Case.id, Case.status)).all())


def test_full_path_with_correction_countersign_and_approval(api):
    case = start(api)
    assert case["status"] == "received" and case["case_no"].startswith("320000-")
    assert [t["element_id"] for t in case["current_tasks"]] == ["review"]
    assert case["current_tasks"][0]["limit_days"] == 2
    assert api.complete_first("w1", {"decision": "correction", "opinion": "缺营业执照"})["status"] == "correction"
    assert api.tasks("w1") == []
    assert api.complete_first("alice", {"correction_reply": "已补齐"})["status"] == "received"
    assert api.complete_first("w1", {"decision": "approve"})["status"] == "accepted"
    assert [t["element_id"] for t in api.tasks("eco")] == ["countersign"]
    assert api.tasks("chief") == []
    api.complete_first("eco", {"cs": {"agree": "yes", "opinion": "同意"}})
    api.complete_first("fin", {"cs": {"agree": "yes", "opinion": "原则同意"}})
    done = api.complete_first("chief", {"decision": "approve", "opinion": "准予核准"})
    assert done["status"] == "approved" and done["end_event"] == "end_approved" and done["decided_at"]
    history = api.get("alice", f"/api/cases/{done['id']}").json["history"]
    actions = [(h["action"], h.get("to_status")) for h in history]
    assert ("status", "accepted") in actions and ("status", "approved") in actions
    opinions = [h["opinion"] for h in history if h["action"] == "complete"]
    assert "同意" in opinions and "原则同意" in opinions and "准予核准" in opinions


def test_a_countersign_disagreement_leads_to_rejection(api):
    start(api)
    api.complete_first("w1", {"decision": "approve"})
    api.complete_first("eco", {"cs": {"agree": "no", "opinion": "选址不符合生态红线"}})
    api.complete_first("fin", {"cs": {"agree": "yes", "opinion": "同意"}})
    done = api.complete_first("chief", {"decision": "approve"})
    assert done["status"] == "rejected" and done["end_event"] == "end_rejected"


def test_window_rejection_ends_the_case(api):
    start(api)
    done = api.complete_first("w1", {"decision": "reject", "opinion": "不属于本机关职权范围"})
    assert done["status"] == "rejected" and done["current_tasks"] == []


def test_draft_then_submit(api):
    r = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": {"amount": 1}, "submit": False})
    assert r.status_code == 201 and r.json["status"] == "draft" and r.json["case_no"] is None
    bad = api.post("alice", f"/api/cases/{r.json['id']}/submit", json={})
    assert bad.status_code == 422 and "project_name" in bad.json["errors"]
    ok = api.post("alice", f"/api/cases/{r.json['id']}/submit", json={"data": {"project_name": "补全"}})
    assert ok.status_code == 200 and ok.json["status"] == "received"
    again = api.post("alice", f"/api/cases/{r.json['id']}/submit", json={})
    assert again.status_code == 409


def test_case_numbers_are_unique_and_sequential(api):
    nos = [start(api)["case_no"] for _ in range(3)]
    assert len(set(nos)) == 3
    assert [int(n.rsplit("-", 1)[1]) for n in nos] == [1, 2, 3]


@pytest.mark.parametrize("data,field", [
    ({**START, "amount": "five"}, "amount"),
    ({**START, "project_code": "2603-141124"}, "project_code"),
    ({**START, "depts": ["cs_unknown"]}, "depts"),
    ({**START, "secret": 1}, "secret"),
    ({k: v for k, v in START.items() if k != "project_name"}, "project_name"),
])
def test_bad_start_data_gets_422_per_field_and_stores_nothing(api, data, field):
    before = snapshot(api.app)
    r = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": data})
    assert r.status_code == 422 and field in r.json["errors"]
    assert snapshot(api.app) == before


def test_bad_task_data_gets_422_and_changes_nothing(api):
    start(api)
    before = snapshot(api.app)
    task = api.tasks("w1")[0]
    for data in ({"decision": "maybe"}, {}, {"decision": "approve", "extra": 1}, {"decision": 1}):
        r = api.post("w1", f"/api/tasks/{task['id']}/complete", json={"data": data})
        assert r.status_code == 422, r.json
    r = api.post("w1", f"/api/tasks/{task['id']}/complete", json={"data": "not-an-object"})
    assert r.status_code == 422
    assert snapshot(api.app) == before


def test_wrong_user_gets_403_and_changes_nothing(api):
    start(api)
    task = api.tasks("w1")[0]
    before = snapshot(api.app)
    for who in ("eco", "alice", "bob", "chief", "admin"):
        r = api.post(who, f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
        assert r.status_code == 403, (who, r.json)
    assert api.post(None, f"/api/tasks/{task['id']}/complete", json={"data": {}}).status_code == 401
    assert snapshot(api.app) == before


def test_applicant_sees_only_own_cases(api):
    case = start(api)
    assert api.get("alice", f"/api/cases/{case['id']}").status_code == 200
    assert api.get("alice", f"/api/cases/{case['case_no']}").status_code == 200
    assert api.get("bob", f"/api/cases/{case['id']}").status_code == 404
    assert api.get("eco", f"/api/cases/{case['id']}").status_code == 404
    assert api.get("w1", f"/api/cases/{case['id']}").status_code == 200
    assert [c["id"] for c in api.get("bob", "/api/cases").json] == []


def test_completed_task_gives_409_and_changes_nothing(api):
    start(api)
    task = api.tasks("w1")[0]
    assert api.post("w1", f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "reject"}, "opinion": "材料不符合受理条件"}).status_code == 200
    before = snapshot(api.app)
    r = api.post("w2", f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}})
    assert r.status_code == 409
    assert snapshot(api.app) == before


def test_stale_revision_gives_409(api):
    start(api)
    task = api.tasks("w1")[0]
    detail = api.get("w1", f"/api/tasks/{task['id']}").json
    assert detail["form"]["id"] == "t_review" and detail["case_data"]["amount"] == 5
    r = api.post("w1", f"/api/tasks/{task['id']}/complete",
                 json={"data": {"decision": "approve"}, "revision": detail["revision"] - 1})
    assert r.status_code == 409 and r.json["errors"]["revision"] == detail["revision"]
    r = api.post("w1", f"/api/tasks/{task['id']}/complete",
                 json={"data": {"decision": "approve"}, "revision": detail["revision"]})
    assert r.status_code == 200


def test_unknown_ids_and_bad_payloads(api):
    assert api.post("w1", "/api/tasks/nope/complete", json={"data": {}}).status_code == 404
    assert api.get("alice", "/api/cases/999999").status_code == 404
    assert api.get("alice", "/api/matters/nope").status_code == 404
    assert api.post("alice", "/api/cases", json={"process_id": "nope", "data": {}}).status_code == 404
    r = api.post("alice", "/api/cases", json={"process_id": "t_simple"})
    assert r.status_code == 422 and "data" in r.json["errors"]["json"]
    r = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": {}, "bogus": 1})
    assert r.status_code == 422
    r = api.client.post("/api/cases", data="{not json", content_type="application/json",
                        headers=api.headers["alice"])
    assert r.status_code in (400, 422)


def test_oversized_body_gets_413(api):
    big = {"process_id": "t_simple", "data": {**START, "project_name": "x" * (3 * 1024 * 1024)}}
    r = api.post("alice", "/api/cases", json=big)
    assert r.status_code == 413 and r.is_json


def test_withdraw_cancels_the_process(api):
    case = start(api)
    assert api.post("alice", f"/api/cases/{case['id']}/withdraw", json={"reason": ""}).status_code == 422
    assert api.post("bob", f"/api/cases/{case['id']}/withdraw", json={"reason": "x"}).status_code == 404
    r = api.post("alice", f"/api/cases/{case['id']}/withdraw", json={"reason": "项目调整，撤回申请"})
    assert r.status_code == 200 and r.json["status"] == "withdrawn"
    assert r.json["instance_status"] == "cancelled" and api.tasks("w1") == []
    assert api.post("alice", f"/api/cases/{case['id']}/withdraw", json={"reason": "again"}).status_code == 409


def test_matters_and_openapi(api):
    matters = api.get(None, "/api/matters").json
    assert {"t_simple", "t_failing", "t_timer", "t_mi"} <= {m["process_id"] for m in matters}
    detail = api.get(None, "/api/matters/t_simple").json
    assert detail["start_form"] == "t_start" and "t_review" in detail["forms"]
    spec = api.get(None, "/api/openapi.json").json
    assert spec["openapi"].startswith("3.") and "/api/tasks/{task_id}/complete" in spec["paths"]


def test_html_pages_and_errors(api):
    r = api.client.get("/")
    assert r.status_code == 200 and "阳光发改" in r.get_data(as_text=True)
    r = api.client.get("/no-such-page", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "<html" in r.get_data(as_text=True)
