"""Matters not handled online in some cases (matter.json ``offline_rules``): a project involving state
secrets is refused at submission on every shipped investment matter — by the API, the portal's draft
and whatever path submits — with the guide's instruction, nothing written; the guide shows the
instruction; the start form shows it as soon as the box is ticked; a bad rule is refused at deploy."""
import json

import pytest
from sqlalchemy import func, select

from app.engine.matter import check_matter
from app.extensions import db
from app.domain.errors import ValidationError
from app.models import Case, User
from app.services.cases.lifecycle import create_case, submit_case
from app.services.identity.actors import actor_from_user
from tests.conftest import ROOT
from tests.web.api.test_shipped_processes import api  # noqa: F401 (fixture: the shipped matters deployed)

SHIPPED = ("xmgl_hezhun", "xmgl_beian", "jnsc_jieneng", "xhd_rending", "zjsq_zhongyang")


def scenario_start(pid: str) -> dict:
    return json.loads((ROOT / "processes" / f"{pid}.scenarios.json").read_text("utf-8"))["scenarios"][0]["start"]


def cases(api) -> int:
    with api.app.app_context():
        n = db.session.execute(select(func.count()).select_from(Case).where(Case.case_no.is_not(None))).scalar()
        db.session.rollback()
        return n


@pytest.mark.parametrize("pid", SHIPPED)
def test_a_project_involving_state_secrets_is_refused_online_with_the_guides_instruction(api, pid):
    start = scenario_start(pid)
    r = api.post("applicant_1", "/api/cases", json={"process_id": pid, "data": dict(start, involves_state_secret=True)})
    assert r.status_code == 422, r.json
    assert "涉及国家秘密的项目不在网上申报" in r.json["message"]
    assert "线下办理" in r.json["errors"]["involves_state_secret"][0]
    assert cases(api) == 0
    r = api.post("applicant_1", "/api/cases", json={"process_id": pid, "data": dict(start, involves_state_secret=False)})
    assert r.status_code == 201, r.json
    assert cases(api) == 1


def test_a_draft_ticked_later_is_refused_too_and_the_guide_says_where_to_go(api):
    start = scenario_start("xmgl_hezhun")
    with api.app.app_context():
        applicant = actor_from_user(db.session.execute(select(User).where(User.username == "applicant_1")).scalar_one())
        draft = create_case(applicant, "xmgl_hezhun", start, submit=False)
        with pytest.raises(ValidationError) as refused:
            submit_case(applicant, draft.id, dict(start, involves_state_secret=True))
        assert "涉及国家秘密" in refused.value.message
        db.session.rollback()
        assert db.session.get(Case, draft.id).status == "draft" and db.session.get(Case, draft.id).case_no is None
    assert cases(api) == 0
    page = api.app.test_client().get("/portal/matters/xmgl_hezhun").get_data(as_text=True)
    assert 'id="offline"' in page and "涉及国家秘密的项目不在网上申报" in page
    form = json.loads((ROOT / "forms" / "xmgl_hezhun_apply.form.json").read_text("utf-8"))
    text = next(c for c in form["components"] if c.get("conditional", {}).get("hide") == "=not(involves_state_secret)")
    assert "线下办理" in text["text"]


@pytest.mark.parametrize("rule,problem", [
    ({"field": "Bad Field", "instruction": "x"}, "offline_rules.0.field"),
    ({"field": "secret", "instruction": ""}, "offline_rules.0.instruction"),
    ({"field": "secret", "equals": 1.5, "instruction": "x"}, "offline_rules.0.equals"),
])
def test_a_bad_offline_rule_is_refused_at_deploy(rule, problem):
    meta = json.loads((ROOT / "processes" / "xmgl_beian.matter.json").read_text("utf-8"))
    clean, problems = check_matter({**meta, "offline_rules": [rule]}, "xmgl_beian")
    assert clean is None and any(p.startswith(problem) for p in problems), problems
