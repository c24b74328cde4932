"""Waiting timers are projected with their due time; a timer whose task finished never fires."""
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Timer
from tests.web.api.helpers import Api
from tests.conftest import deploy_all


def timers(app):
    with app.app_context():
        return {(t.element_id, t.status): t.due_at for t in db.session.execute(select(Timer)).scalars()}


def test_boundary_and_catch_timers_are_projected(fixture_app):
    deploy_all(fixture_app)
    api = Api(fixture_app)
    api.user("alice", "applicant")
    api.user("w1", groups=["window"])
    before = fixture_app.extensions["clock"]()
    case = api.post("alice", "/api/cases", json={"process_id": "t_timer", "data": {
        "amount": 1, "project_name": "定时器", "wait_seconds": 3600}}).json
    due = timers(fixture_app)[("review_overdue", "waiting")]
    assert due == before + timedelta(days=5)

    done = api.complete_first("w1", {"decision": "approve"})
    assert done["instance_status"] == "waiting" and done["current_tasks"] == []
    now = timers(fixture_app)
    assert ("review_overdue", "cancelled") in now and ("review_overdue", "fired") not in now
    assert before + timedelta(hours=1) <= now[("cooling", "waiting")]
    assert case["id"] == done["id"]
