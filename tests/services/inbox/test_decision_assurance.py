"""A role's policy "作出决定须高等级认证" (app/services/identity/cert_policy.py) on the SHIPPED matter
企业投资项目核准 (processes/xmgl_hezhun.bpmn): the leader's 委领导审定 with a password session (or an API
token: LOW) is refused with the reason and changes nothing; the same step by a certificate session
(HIGH) decides. Roles without the policy are not asked."""
from dataclasses import replace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseEvent, HumanTask, User
from app.services.identity import cert_policy
from app.services.identity.actors import SYSTEM, actor_from_user
from app.services.identity.assurance import HIGH
from app.services.inbox.operations import complete as complete_op
from tests.conftest import deploy_all, make_app
from tests.services.inbox.test_return_withdraw_timers import ACCEPT, AGREE, CHIEF_OK, LEADER_OK, REVIEW, complete, \
    open_task, start_case
from tests.web.api.helpers import Api


@pytest.fixture
def api(db_url):
    app = make_app(db_url)
    deploy_all(app)
    a = Api(app)
    a.user("applicant_1", "applicant")
    for name, group in (("win", "window"), ("inv", "investment"), ("nr", "cs_natural_resources"),
                        ("eco", "cs_ecology"), ("chief", "investment_chief"), ("leader", "leader")):
        a.user(name, groups=[group])
    yield a
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_leader_decides_only_with_a_certificate_when_his_role_asks_for_it(api):
    case_id = start_case(api)["id"]
    with api.app.app_context():
        cert_policy.set_policy(SYSTEM, "leader", require_certificate=False, decision_high=True)
    # the roles without the policy go on with their tokens
    for who, element, data in (("win", "window_review", ACCEPT), ("inv", "division_review", REVIEW),
                               ("nr", "countersign", AGREE), ("eco", "countersign", AGREE),
                               ("chief", "chief_review", CHIEF_OK)):
        complete(api, who, element, data)
    task = open_task(api, "leader", "leader_decision")
    r = api.post("leader", f"/api/tasks/{task['id']}/complete", json={"data": LEADER_OK})
    assert r.status_code == 403, r.json
    assert "高等级的身份认证" in r.json["message"] and "数字证书" in r.json["message"]
    with api.app.app_context():
        assert db.session.get(HumanTask, task["id"]).state == "ready"
        assert db.session.get(Case, case_id).status != "approved"
        assert not db.session.execute(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.element_id == "leader_decision")).first()
        leader = actor_from_user(db.session.execute(select(User).where(User.username == "leader")).scalar_one())
        complete_op(replace(leader, auth_method="certificate", assurance=HIGH), task["id"], LEADER_OK)
        assert db.session.get(Case, case_id).status == "approved"

