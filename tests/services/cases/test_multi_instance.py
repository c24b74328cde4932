"""Countersign shapes the dialect supports: in order (依次), any one (或签), standard BPMN data refs."""
from sqlalchemy import select

from app.extensions import db
from app.models import HumanTask, ProcessInstance
from app.services.cases.steps import engine
from tests.web.api.helpers import START, Api
from tests.conftest import deploy_all


def test_sequential_any_one_and_standard_multi_instance(fixture_app):
    deploy_all(fixture_app)
    api = Api(fixture_app)
    api.user("alice", "applicant")
    api.user("eco", groups=["cs_ecology"])
    api.user("fin", groups=["cs_finance"])
    case = api.post("alice", "/api/cases", json={"process_id": "t_mi", "data": START}).json
    # in order: finance sees nothing until ecology has signed
    assert [t["element_id"] for t in case["current_tasks"]] == ["seq_sign"]
    assert api.tasks("fin") == []
    api.complete_first("eco", {"cs": {"agree": "yes", "opinion": "一"}})
    state = api.complete_first("fin", {"cs": {"agree": "no", "opinion": "二"}})
    # any one: both open at once; the first "yes" closes the other
    assert sorted(t["candidate_groups"][0] for t in state["current_tasks"]) == ["cs_ecology", "cs_finance"]
    state = api.complete_first("fin", {"cs": {"agree": "yes", "opinion": "同意"}}, element="any_sign")
    assert {t["element_id"] for t in state["current_tasks"]} == {"std_sign"}
    with fixture_app.app_context():
        cancelled = db.session.execute(select(HumanTask).where(
            HumanTask.element_id == "any_sign", HumanTask.state == "cancelled")).scalars().all()
        assert [t.candidate_groups for t in cancelled] == [["cs_ecology"]]
    # standard BPMN multi-instance with loopDataInputRef / outputDataItem
    api.complete_first("eco", {"cs": {"agree": "yes", "opinion": "甲"}})
    done = api.complete_first("fin", {"cs": {"agree": "yes", "opinion": "乙"}})
    assert done["instance_status"] == "complete"
    with fixture_app.app_context():
        inst = db.session.execute(select(ProcessInstance)).scalar_one()
        from app.models import ProcessVersion
        from app.services.cases.steps import spec_pair
        wf = engine().load(spec_pair(db.session.get(ProcessVersion, inst.version_id)), inst.state)
        data = wf.data if wf.data else wf.last_task.data
        assert [s["opinion"] for s in data["signers"]] == ["一", "二"]
        assert [s["opinion"] for s in data["std_opinions"]] == ["甲", "乙"]
