"""Moving waiting cases to a matter's newest version: a harmless change moves (and the moved case runs
on to its end on the new version, with the new names), a removed waiting element is refused with the
reason, a running countersign is refused, only designers may do it, the trail records it, and moving
twice changes nothing."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.domain.errors import NotAuthorized
from app.extensions import db
from app.models import Case, CaseEvent, HumanTask, ProcessInstance, TaskCandidate
from app.services.design import migration
from app.services.identity.actors import Actor, actor_from_user as actor_for
from app.services.cases.registry import deploy, load_forms
from tests.web.api.helpers import START, Api
from tests.conftest import FIXTURES, deploy_all

PID = "t_simple"


def _bpmn(pid: str = PID) -> str:
    return (FIXTURES / "processes" / f"{pid}.bpmn").read_text("utf-8")


def deploy_v2(app, xml: str, pid: str = PID) -> int:
    from app.services.identity.actors import SYSTEM
    with app.app_context():
        forms, _ = load_forms(FIXTURES / "forms")
        meta = json.loads((FIXTURES / "processes" / f"{pid}.matter.json").read_text("utf-8"))
        result = deploy(xml.encode("utf-8"), meta, forms, filename=f"{pid}.bpmn", actor=SYSTEM, expected_id=pid)
        db.session.commit()
        assert result.created and result.version == 2
        return result.version_id


def designer(app) -> Actor:
    with app.app_context():
        from app.models import User
        return actor_for(db.session.execute(select(User).where(User.username == "d1")).scalar_one())


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


def new_case(api) -> dict:
    r = api.post("alice", "/api/cases", json={"process_id": PID, "data": START})
    assert r.status_code == 201, r.json
    return r.json


def test_renamed_later_step_moves_and_completes_on_the_new_version(api):
    app = api.app
    case = new_case(api)
    assert [t["element_id"] for t in case["current_tasks"]] == ["review"]
    v2 = deploy_v2(app, _bpmn().replace('name="处长审定"', 'name="处长审定（新）"'))
    actor = designer(app)
    with app.app_context():
        preview = migration.preview(actor, PID)
        assert preview["target"]["version"] == 2
        [cand] = preview["candidates"]
        assert (cand.case_no, cand.version, cand.movable, cand.reasons, cand.waiting) == \
            (case["case_no"], 1, True, [], ["review"])
        review_id = db.session.execute(select(HumanTask.id).where(HumanTask.element_id == "review")).scalar_one()
        # a preview changes nothing
        assert db.session.execute(select(Case.version_id)).scalar_one() != v2

        out = migration.move(actor, PID)
        assert [c.case_no for c in out["moved"]] == [case["case_no"]] and out["refused"] == []
    with app.app_context():
        c = db.session.execute(select(Case)).scalar_one()
        inst = db.session.get(ProcessInstance, c.instance_id)
        assert (c.version_id, inst.version_id) == (v2, v2)
        [ev] = db.session.execute(select(CaseEvent).where(CaseEvent.action == "migrate")).scalars().all()
        assert (ev.actor, ev.data_change["from_version"], ev.data_change["to_version"]) == ("d1", 1, 2)
        assert "v1 → v2" in ev.opinion
        # the inbox rows are the same task, still listed for the window
        task = db.session.get(HumanTask, review_id)
        assert task.state == "ready"
        assert db.session.execute(select(TaskCandidate.key).where(TaskCandidate.task_id == review_id)).scalars().all()
        revision = inst.revision
        # moving twice does nothing
        again = migration.move(actor, PID)
        assert again["moved"] == [] and again["refused"] == []
        assert migration.preview(actor, PID)["candidates"] == []
        assert db.session.get(ProcessInstance, c.instance_id).revision == revision
        assert db.session.execute(select(CaseEvent).where(CaseEvent.action == "migrate")).scalars().all() == [ev]

    # the moved case runs on to its end on v2 and shows v2's step name
    assert [t["id"] for t in api.tasks("w1")] == [review_id]
    api.complete_first("w1", {"decision": "approve", "opinion": "受理"})
    api.complete_first("eco", {"cs": {"agree": "yes", "opinion": "同意"}})
    api.complete_first("fin", {"cs": {"agree": "yes", "opinion": "同意"}})
    [decide] = api.tasks("chief")
    assert decide["name"] == "处长审定（新）"
    done = api.complete_first("chief", {"decision": "approve", "opinion": "准予"})
    assert done["instance_status"] == "complete"
    with app.app_context():
        c = db.session.execute(select(Case)).scalar_one()
        assert c.status == "approved" and c.version_id == v2


def test_removed_waiting_element_is_refused_with_the_reason(api):
    app = api.app
    case = new_case(api)
    xml = _bpmn().replace('id="review"', 'id="review_new"').replace('"review"', '"review_new"') \
        .replace('targetRef="review"', 'targetRef="review_new"').replace('sourceRef="review"', 'sourceRef="review_new"')
    v2 = deploy_v2(app, xml)
    actor = designer(app)
    with app.app_context():
        [cand] = migration.preview(actor, PID)["candidates"]
        assert not cand.movable
        assert any("当前所在的环节 review（窗口审查） 在新版本中不存在" in r for r in cand.reasons), cand.reasons
        out = migration.move(actor, PID, case["case_no"])
        assert out["moved"] == [] and [c.case_no for c in out["refused"]] == [case["case_no"]]
    with app.app_context():
        c = db.session.execute(select(Case)).scalar_one()
        assert c.version_id != v2
        assert db.session.get(ProcessInstance, c.instance_id).version_id != v2
        assert db.session.execute(select(CaseEvent).where(CaseEvent.action == "migrate")).first() is None
    # the case still runs on its own version
    api.complete_first("w1", {"decision": "approve", "opinion": "受理"})


def test_running_countersign_is_refused_and_only_designers_may_migrate(api):
    app = api.app
    new_case(api)
    api.complete_first("w1", {"decision": "approve", "opinion": "受理"})
    api.complete_first("eco", {"cs": {"agree": "yes", "opinion": "同意"}})  # one of two signed
    deploy_v2(app, _bpmn().replace('name="处长审定"', 'name="处长审定（新）"'))
    with app.app_context():
        [cand] = migration.preview(designer(app), PID)["candidates"]
        assert not cand.movable and any("多实例环节 countersign" in r for r in cand.reasons), cand.reasons
        from app.models import User
        for name in ("w1", "alice"):
            who = actor_for(db.session.execute(select(User).where(User.username == name)).scalar_one())
            with pytest.raises(NotAuthorized):
                migration.preview(who, PID)
            with pytest.raises(NotAuthorized):
                migration.move(who, PID)


def test_waiting_timers_move_when_unchanged_and_refuse_when_changed(api):
    from app.models import Timer
    app = api.app
    start = {"amount": 1, "project_name": "定时器", "wait_seconds": 3600}
    first = api.post("alice", "/api/cases", json={"process_id": "t_timer", "data": start}).json
    with app.app_context():
        before = {(t.id, t.element_id, t.due_at, t.status) for t in db.session.execute(select(Timer)).scalars()}
    deploy_v2(app, _bpmn("t_timer").replace('name="处长督办"', 'name="处长督办（新）"'), "t_timer")
    actor = designer(app)
    with app.app_context():
        out = migration.move(actor, "t_timer")
        assert [c.case_no for c in out["moved"]] == [first["case_no"]], out
        after = {(t.id, t.element_id, t.due_at, t.status) for t in db.session.execute(select(Timer)).scalars()}
        assert after == before  # the same waiting timers, due as before
    # the timer of the moved case still fires on the new version: overdue → 处长督办（新）
    second = api.post("alice", "/api/cases", json={"process_id": "t_timer", "data": start}).json
    deploy_v3 = _bpmn("t_timer").replace('name="处长督办"', 'name="处长督办（新）"').replace('"P5D"', '"P10D"')
    with app.app_context():
        forms, _ = load_forms(FIXTURES / "forms")
        meta = json.loads((FIXTURES / "processes" / "t_timer.matter.json").read_text("utf-8"))
        from app.services.identity.actors import SYSTEM
        deploy(deploy_v3.encode(), meta, forms, filename="t_timer.bpmn", actor=SYSTEM, expected_id="t_timer")
        db.session.commit()
        cands = {c.case_no: c for c in migration.preview(actor, "t_timer")["candidates"]}
        for no in (first["case_no"], second["case_no"]):
            assert not cands[no].movable
            assert any("正在等待的定时器 review_overdue 在新版本中的定义已改变" in r for r in cands[no].reasons), \
                cands[no].reasons


def test_start_form_changed_incompatibly_is_refused(api):
    from app.services.identity.actors import SYSTEM
    app = api.app
    case = new_case(api)
    with app.app_context():
        forms, _ = load_forms(FIXTURES / "forms")
        forms["t_start"] = dict(forms["t_start"], components=forms["t_start"]["components"] + [
            {"type": "textfield", "key": "land_permit_no", "label": "用地批准文号", "validate": {"required": True}}])
        meta = json.loads((FIXTURES / "processes" / f"{PID}.matter.json").read_text("utf-8"))
        assert deploy(_bpmn().encode(), meta, forms, filename=f"{PID}.bpmn", actor=SYSTEM, expected_id=PID).created
        db.session.commit()
        [cand] = migration.preview(designer(app), PID)["candidates"]
        assert cand.case_no == case["case_no"] and not cand.movable
        assert cand.reasons == ["申请表 t_start 在新版本中已改变，已提交的数据不符合新表单: land_permit_no: 必填 (required)"]
