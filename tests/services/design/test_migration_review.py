"""Review of migration and versioned forms (issue 6): a moved case's inbox rows follow the new
version's candidate groups (a claim by someone the new version no longer offers the step to is
released), a case on an old version keeps validating against its old form after a deploy changes
it, and two moves of the same case at once move it once."""
from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, CaseEvent, HumanTask, ProcessInstance, TaskCandidate
from app.services.design import migration
from app.services.identity.actors import SYSTEM
from app.services.cases.registry import deploy, load_forms
from tests.web.api.helpers import START, Api
from tests.conftest import FIXTURES, deploy_all
from tests.services.design.test_migration import PID, _bpmn, designer, new_case


def deploy_version(app, xml: str, extra_forms: dict | None = None) -> int:
    with app.app_context():
        forms, _ = load_forms(FIXTURES / "forms")
        forms.update(extra_forms or {})
        meta = json.loads((FIXTURES / "processes" / f"{PID}.matter.json").read_text("utf-8"))
        result = deploy(xml.encode("utf-8"), meta, forms, filename=f"{PID}.bpmn", actor=SYSTEM, expected_id=PID)
        db.session.commit()
        assert result.created
        return result.version_id


@pytest.fixture
def api(fixture_app):
    deploy_all(fixture_app)
    api = Api(fixture_app)
    api.user("alice", "applicant")
    api.user("w1", groups=["window"])
    api.user("eco", groups=["cs_ecology"])
    api.user("fin", groups=["cs_finance"])
    api.user("chief", groups=["investment_chief"])
    api.user("d1", groups=["designer"])
    return api


REVIEW_TO_CHIEF = ('<bpmn:userTask id="review" name="窗口审查" camunda:formKey="t_review" camunda:candidateGroups="window">',
                   '<bpmn:userTask id="review" name="窗口审查" camunda:formKey="t_review" '
                   'camunda:candidateGroups="investment_chief">')


def keys(app, task_id):
    with app.app_context():
        return set(db.session.execute(select(TaskCandidate.key).where(TaskCandidate.task_id == task_id)).scalars())


@pytest.mark.parametrize("claimed", [False, True])
def test_a_moved_case_follows_the_new_candidate_group(api, claimed):
    app = api.app
    case = new_case(api)
    [task] = api.tasks("w1")
    if claimed:  # 签收 by the window clerk, whom v2 no longer offers the step to
        r = api.post("w1", f"/api/tasks/{task['id']}/claim", json={})
        assert r.status_code == 200, r.json
    assert REVIEW_TO_CHIEF[0] in _bpmn()
    v2 = deploy_version(app, _bpmn().replace(*REVIEW_TO_CHIEF))
    with app.app_context():
        out = migration.move(designer(app), PID)
        assert [c.case_no for c in out["moved"]] == [case["case_no"]], out
    with app.app_context():
        row = db.session.get(HumanTask, task["id"])
        assert row.candidate_groups == ["investment_chief"] and row.assignee is None
    assert keys(app, task["id"]) == {"g:investment_chief@320000"}
    assert api.tasks("w1") == []
    assert [t["id"] for t in api.tasks("chief")] == [task["id"]]
    r = api.post("w1", f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve", "opinion": "x"}})
    assert r.status_code in (403, 404), r.json
    # and the moved case completes on the new version
    api.complete_first("chief", {"decision": "approve", "opinion": "受理"}, element="review")
    api.complete_first("eco", {"cs": {"agree": "yes", "opinion": "同意"}})
    api.complete_first("fin", {"cs": {"agree": "yes", "opinion": "同意"}})
    done = api.complete_first("chief", {"decision": "approve", "opinion": "准予"}, element="decide")
    assert done["instance_status"] == "complete"
    with app.app_context():
        c = db.session.execute(select(Case)).scalar_one()
        assert c.status == "approved" and c.version_id == v2
        [ev] = db.session.execute(select(CaseEvent).where(CaseEvent.action == "migrate")).scalars().all()
        assert (ev.data_change["from_version"], ev.data_change["to_version"]) == (1, 2)


def test_a_claim_by_someone_still_offered_the_step_is_kept(api):
    app = api.app
    new_case(api)
    [task] = api.tasks("w1")
    assert api.post("w1", f"/api/tasks/{task['id']}/claim", json={}).status_code == 200
    deploy_version(app, _bpmn().replace('name="窗口审查"', 'name="窗口审查（新）"'))
    with app.app_context():
        assert len(migration.move(designer(app), PID)["moved"]) == 1
    assert keys(app, task["id"]) == {"u:w1"}
    assert [t["name"] for t in api.tasks("w1")] == ["窗口审查（新）"]


def test_an_old_case_keeps_validating_against_its_own_form(api):
    """v2 gives the review step a form with one more required field; the case started on v1 still
    completes with v1's form, a case started on v2 needs the new field."""
    app = api.app
    new_case(api)
    old_review = json.loads((FIXTURES / "forms" / "t_review.form.json").read_text("utf-8"))
    strict = dict(old_review, id="t_review_v2", components=old_review["components"] + [
        {"type": "textfield", "key": "permit_no", "label": "文号", "validate": {"required": True}}])
    deploy_version(app, _bpmn().replace('camunda:formKey="t_review" camunda:candidateGroups="window"',
                                        'camunda:formKey="t_review_v2" camunda:candidateGroups="window"'),
                   {"t_review_v2": strict})
    r = api.post("alice", "/api/cases", json={"process_id": PID, "data": START})
    assert r.status_code == 201
    new_no = r.json["case_no"]
    tasks = {t["case_no"]: t for t in api.tasks("w1")}
    assert set(tasks) == {new_no, next(k for k in tasks if k != new_no)}
    old_task = next(t for no, t in tasks.items() if no != new_no)
    data = {"decision": "approve", "opinion": "受理"}
    r = api.post("w1", f"/api/tasks/{tasks[new_no]['id']}/complete", json={"data": data})
    assert r.status_code == 422 and "permit_no" in json.dumps(r.json), r.json
    r = api.post("w1", f"/api/tasks/{old_task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json


def test_two_moves_of_one_case_at_once_move_it_once(api):
    app = api.app
    new_case(api)
    deploy_version(app, _bpmn().replace('name="处长审定"', 'name="处长审定（新）"'))
    with app.app_context():
        instance_id = db.session.execute(select(ProcessInstance.id)).scalar_one()
    actor = designer(app)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            with app.app_context():
                barrier.wait()
                results.append(migration.move_one(actor, instance_id, PID))
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(results) == 2
    assert sorted(r.movable for r in results) == [False, True]
    assert any("已在最新版本" in "".join(r.reasons) for r in results if not r.movable)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(CaseEvent)
                                  .where(CaseEvent.action == "migrate")).scalar() == 1
