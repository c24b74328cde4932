"""Incidents on a shipped matter, raised by a variant a designer deploys (the designer's deploy service,
as from the designer page): the 企业投资项目核准 (xmgl_hezhun) whose 生成会签部门清单 script reads a
variable the forms never give. A case stops there on an incident; an administrator's retry (with the
missing value) applies once, two retries at once answer one 200 and one 409, and a retry never runs the
process of a case that was withdrawn or suspended meanwhile (the applicant's withdrawal racing the
retry is staged with the step's locks, tests/services/cases/lock_race.py)."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, CaseEvent, HumanTask, Incident, ProcessInstance, Timer, User
from app.services.cases.lifecycle import end_case
from app.services.cases.locks import lock_case
from app.services.design.deploy import deploy
from app.services.design.designer import open_matter
from app.services.identity.actors import Actor
from app.services.trail.verify import verify
from tests.conftest import ROOT, deploy_all, make_app
from tests.services.cases.lock_race import at_once, behind_a_step
from tests.services.portal.h3_helpers import START
from tests.web.api.helpers import Api

ACCEPT = {"window_decision": "accept", "paper_received": True, "window_opinion": "材料齐全，予以受理。"}
REVIEW = {"review_points": ["planning"], "entrust_assessment": "no", "cs_depts": ["cs_ecology", "cs_emergency"],
          "review_opinion": "拟征求有关部门意见。"}
GOOD = "for d in cs_depts]"
BAD = "for d in cs_depts if d not in cs_skip]"   # cs_skip: no form gives it


@pytest.fixture
def api(db_url, tmp_path):
    shutil.copytree(ROOT / "processes", tmp_path / "processes")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    app = make_app(db_url, PROCESSES_DIR=str(tmp_path / "processes"), FORMS_DIR=str(tmp_path / "forms"))
    deploy_all(app)
    a = Api(app)
    a.user("alice", "applicant")
    a.user("w1", groups=["window"])
    a.user("inv", groups=["investment"])
    a.user("u_eco", groups=["cs_ecology"])
    a.user("admin", groups=["admin"])
    a.user("d1", groups=["designer"])
    with app.app_context():   # the designer deploys the variant, as the designer page's deploy does
        user = db.session.execute(select(User).where(User.username == "d1")).scalar_one()
        d1 = Actor(id=user.id, username="d1", kind="staff", groups=frozenset({"designer"}))
        files = open_matter(d1, "xmgl_hezhun")
        assert files["bpmn"].count(GOOD) == 1
        out = deploy(d1, {"process_id": "xmgl_hezhun", "bpmn": files["bpmn"].replace(GOOD, BAD),
                          "matter": files["matter"], "forms": files["forms"]})
        assert out["created"], out
    yield a
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def stopped_case(api) -> tuple[int, dict]:
    """A case of the variant stopped on its script's incident, with the incident."""
    r = api.post("alice", "/api/cases", json={"process_id": "xmgl_hezhun", "data": START})
    assert r.status_code == 201, r.json
    api.complete_first("w1", ACCEPT, element="window_review")
    result = api.complete_first("inv", REVIEW, element="division_review")
    assert result["instance_status"] == "error" and result["current_tasks"] == []
    [incident] = result["incidents"]
    assert incident["element_id"] == "set_countersign" and "cs_skip" in incident["message"]
    return r.json["id"], incident


def snapshot(app, case_id):
    with app.app_context():
        case = db.session.get(Case, case_id)
        inst = db.session.get(ProcessInstance, case.instance_id)
        ready = sorted(t.element_id for t in db.session.execute(select(HumanTask).where(
            HumanTask.case_id == case_id, HumanTask.state == "ready")).scalars())
        incidents = [(i.status, i.retries) for i in db.session.execute(
            select(Incident).where(Incident.case_id == case_id).order_by(Incident.id)).scalars()]
        retries = db.session.execute(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action == "retry")).scalar()
        waiting = db.session.execute(select(func.count()).select_from(Timer).where(
            Timer.instance_id == inst.id, Timer.status == "waiting")).scalar()
        check = verify(case_id, files=False)
        assert check["ok"], check["problems"]
        return case.status, inst.status, ready, incidents, retries, waiting


def retry(api, incident_id, data=None):
    return api.post("admin", f"/api/incidents/{incident_id}/retry", json={"data": data} if data else {})


def test_the_incident_names_its_step_and_two_retries_at_once_apply_once(api):
    case_id, incident = stopped_case(api)
    assert snapshot(api.app, case_id) == ("accepted", "error", [], [("open", 0)], 0, 0)
    assert sorted(at_once(lambda: retry(api, incident["id"], {"cs_skip": []}).status_code)) == [200, 409]
    # applied once: the countersign opened once for each department, one retry in the trail
    assert snapshot(api.app, case_id) == ("accepted", "running", ["countersign", "countersign"],
                                          [("resolved", 1)], 1, 1)


def test_a_retry_behind_the_applicants_withdrawal_does_not_run_the_withdrawn_case(api):
    case_id, incident = stopped_case(api)

    def hold():
        lock_case(Case.id == case_id)   # the withdrawal's locks: instance, then case

    def write():
        case = db.session.get(Case, case_id)
        end_case(case, "withdrawn", "alice", "不再申请", action="withdraw")

    answer, step_error = behind_a_step(api.app, hold, lambda: {"status": retry(api, incident["id"],
                                                                                {"cs_skip": []}).status_code},
                                       write, settle=0.3)
    assert step_error is None and answer == {"status": 409}
    status, inst_status, ready, incidents, retries, waiting = snapshot(api.app, case_id)
    assert (status, inst_status, ready, retries, waiting) == ("withdrawn", "cancelled", [], 0, 0)
    assert retry(api, incident["id"], {"cs_skip": []}).status_code == 409


def test_a_retry_waits_for_the_suspended_case_to_be_resumed(api):
    case_id, incident = stopped_case(api)
    assert api.post("admin", f"/api/cases/{case_id}/suspend", json={"reason": "等待模型修正"}).status_code == 200
    r = retry(api, incident["id"], {"cs_skip": []})
    assert r.status_code == 409, r.json
    assert snapshot(api.app, case_id) == ("accepted", "suspended", [], [("open", 0)], 0, 0)
    assert api.post("admin", f"/api/cases/{case_id}/resume", json={"reason": "模型已修正"}).status_code == 200
    assert retry(api, incident["id"], {"cs_skip": []}).status_code == 200
    assert snapshot(api.app, case_id) == ("accepted", "running", ["countersign", "countersign"],
                                          [("resolved", 1)], 1, 1)
    api.complete_first("u_eco", {"cs": {"agree": "yes", "opinion": "同意。"}}, element="countersign")
