"""延长审批 by the matter's own rule, on the SHIPPED 企业投资项目核准 (xmgl_hezhun): up to 40 working days,
approved by the head of the commission (国务院令673 §10), once; a leader who is not the head is refused,
a clerk may act for a named head; the general rule (10 days, a leader) stays for the matters without
one (tests/services/clocks/test_clocks.py); a bad rule in matter.json is refused at deploy."""
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.engine.matter import check_matter
from app.extensions import db
from app.services.common.clock import FakeClock
from tests.conftest import ROOT, deploy_all, make_app
from tests.web.api.helpers import Api

BJ = ZoneInfo("Asia/Shanghai")
HEZHUN = json.loads((ROOT / "processes" / "xmgl_hezhun.matter.json").read_text(encoding="utf-8"))
PATH = {s["name"]: s for s in json.loads(
    (ROOT / "processes" / "xmgl_hezhun.scenarios.json").read_text(encoding="utf-8"))["scenarios"]}["处长退回重审后核准"]
ACCEPT = PATH["steps"][0]["data"]
BODY = {"kind": "extension", "reason": "项目需征求省自然资源厅、生态环境厅意见", "planned_duration": 40}


@pytest.fixture
def api(db_url):
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))
    app = make_app(db_url, CLOCK=clock)
    deploy_all(app)
    a = Api(app)
    a.user("applicant_1", "applicant")
    for name, groups in (("win", ["window"]), ("leader", ["leader"]), ("head", ["leader", "head"])):
        a.user(name, groups=groups)
    yield a
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def accepted(api) -> dict:
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_hezhun", "data": PATH["start"]})
    assert r.status_code == 201, r.json
    r = api.post("win", f"/api/tasks/{r.json['current_tasks'][0]['id']}/complete", json={"data": ACCEPT})
    assert r.status_code == 200 and r.json["status"] == "accepted", r.json
    return r.json


def clock_of(api, case_id) -> tuple:
    d = api.get("applicant_1", f"/api/cases/{case_id}").json
    return d["statutory_due"], d["extended_days"], len(d["special_procedures"])


def test_the_head_extends_a_hezhun_by_up_to_40_working_days_once(api):
    case = accepted(api)
    before = clock_of(api, case["id"])
    assert before[0] == "2026-03-30"  # 2 Mar + 20 working days
    r = api.post("leader", f"/api/cases/{case['id']}/special-procedures", json=BODY)
    assert r.status_code == 403 and "委主要负责人" in r.json["message"] and "第十条" in r.json["message"]
    r = api.post("head", f"/api/cases/{case['id']}/special-procedures", json={**BODY, "planned_duration": 41})
    assert r.status_code == 422 and "最多 40 个工作日" in r.json["message"]
    assert clock_of(api, case["id"]) == before
    r = api.post("head", f"/api/cases/{case['id']}/special-procedures", json=BODY)
    assert r.status_code == 201, r.json
    assert r.json["approver"] == "head" and "第十条" in r.json["basis"]
    # 30 Mar + 40 working days, the Qingming and May Day holidays skipped (and their make-up Saturdays counted)
    assert clock_of(api, case["id"]) == ("2026-05-28", 40, 1)
    r = api.post("head", f"/api/cases/{case['id']}/special-procedures", json={**BODY, "planned_duration": 1})
    assert r.status_code == 409


def test_a_clerk_acts_for_a_named_head_but_not_for_anyone_else(api):
    case = accepted(api)
    before = clock_of(api, case["id"])
    for approver in ("leader", "nobody", "win"):
        r = api.post("win", f"/api/cases/{case['id']}/special-procedures", json={**BODY, "approver": approver})
        assert r.status_code == 403, (approver, r.json)
    assert clock_of(api, case["id"]) == before
    r = api.post("win", f"/api/cases/{case['id']}/special-procedures", json={**BODY, "planned_duration": 15,
                                                                           "approver": "head"})
    assert r.status_code == 201 and r.json["approver"] == "head" and r.json["handler"] == "win"
    assert clock_of(api, case["id"])[1] == 15


@pytest.mark.parametrize("rule,problem", [
    ({"max_days": 0, "approver": "head", "basis": "x"}, "extension.max_days"),
    ({"max_days": 40, "approver": "boss", "basis": "x"}, "extension.approver"),
    ({"max_days": 40, "approver": "head"}, "extension.basis"),
])
def test_a_bad_extension_rule_is_refused_at_deploy(rule, problem):
    clean, problems = check_matter({**HEZHUN, "extension": rule}, "xmgl_hezhun")
    assert clean is None and any(p.startswith(problem) for p in problems), problems


def test_the_shipped_hezhun_declares_the_rule_of_its_law():
    clean, problems = check_matter(HEZHUN, "xmgl_hezhun")
    assert problems == [] and clean["extension"]["max_days"] == 40 and clean["extension"]["approver"] == "head"
