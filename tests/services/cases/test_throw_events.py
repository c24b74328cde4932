"""A model that throws an escalation and a signal: the thrown events are kept in the outbox
(``outbound_messages``) and the case goes on — on PostgreSQL too, where the event's kind
(``EscalationEventDefinition``, 25 characters) once overflowed a varchar(16) and answered 500."""
from sqlalchemy import select

from app.extensions import db
from app.models import Case, OutboundMessage
from tests.conftest import deploy_all
from tests.web.api.helpers import Api

START = {"amount": 1, "project_name": "抛出事件"}


def test_escalation_and_signal_throw_events_are_kept_and_the_case_goes_on(fixture_app):
    deploy_all(fixture_app)
    api = Api(fixture_app)
    api.user("alice", "applicant")
    api.user("w1", groups=["window"])
    r = api.post("alice", "/api/cases", json={"process_id": "t_throw", "data": START})
    assert r.status_code == 201, r.json
    case = r.json
    assert case["instance_status"] == "running"
    assert [t["element_id"] for t in case["current_tasks"]] == ["after"]
    with fixture_app.app_context():
        inst = db.session.execute(select(Case.instance_id).where(Case.id == case["id"])).scalar_one()
        thrown = db.session.execute(select(OutboundMessage).where(OutboundMessage.instance_id == inst)
                                    .order_by(OutboundMessage.id)).scalars().all()
        assert [(m.kind, m.name) for m in thrown] == [("EscalationEventDefinition", "逾期升级"),
                                                      ("SignalEventDefinition", "已受理")]
        assert all(m.status == "pending" for m in thrown)
    done = api.complete_first("w1", {"decision": "approve"})
    assert done["instance_status"] == "complete" and done["end_event"] == "end_done"
