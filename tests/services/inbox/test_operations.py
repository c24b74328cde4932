"""Every inbox operation through the HTTP API, on the fixture process t_simple
(review by the window → countersign by ecology and finance → decision by the investment chief) and
the countersign modes of t_cs."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CaseEvent, CaseParticipant, HumanTask, Notification, TaskCandidate, TaskCc
from tests.web.api.helpers import START, Api
from tests.conftest import deploy_all


@pytest.fixture
def api(fixture_app):
    deploy_all(fixture_app)
    a = Api(fixture_app)
    a.user("alice", "applicant")
    a.user("w1", groups=["window"])
    a.user("w2", groups=["window"])
    a.user("w_nj", groups=["window"], region_code="320100")  # same group, another region
    a.user("eco", groups=["cs_ecology"])
    a.user("fin", groups=["cs_finance"])
    a.user("water", groups=["cs_water"])
    a.user("chief", groups=["investment_chief"])
    a.user("chief2", groups=["investment_chief"])
    a.user("boss", groups=["admin"])
    a.user("leader", groups=["leader"])
    a.user("insp", groups=["inspector"])
    return a


def start(api, process="t_simple", **data):
    r = api.post("alice", "/api/cases", json={"process_id": process, "data": {**START, **data}})
    assert r.status_code == 201, r.json
    return r.json


def inbox(api, who, tab="todo", **args):
    r = api.get(who, "/api/inbox", query_string={"tab": tab, **args})
    assert r.status_code == 200, r.json
    return r.json


def first_task(api, who, element=None):
    rows = [r["task"] for r in inbox(api, who)["rows"] if element is None or r["task"]["element_id"] == element]
    assert rows, f"{who} has no {element}"
    return rows[0]


def op(api, who, task_id, name, expect=200, **body):
    r = api.post(who, f"/api/tasks/{task_id}/{name}", json=body)
    assert r.status_code == expect, (name, r.status_code, r.json)
    return r.json


def events(app, action):
    with app.app_context():
        return list(db.session.execute(select(CaseEvent).where(CaseEvent.action == action)
                                       .order_by(CaseEvent.id)).scalars())


def to_decide(api):
    """Start a case and bring it to the chief's decision."""
    case = start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "approve", opinion="材料齐全，予以受理")
    op(api, "eco", first_task(api, "eco")["id"], "approve", data={"cs": {"agree": "yes"}}, opinion="同意")
    op(api, "fin", first_task(api, "fin")["id"], "approve", data={"cs": {"agree": "yes"}}, opinion="无意见")
    return case


def test_claim_hides_the_task_from_the_other_candidates_and_unclaim_gives_it_back(api):
    start(api)
    t = first_task(api, "w1")
    assert inbox(api, "w2")["counts"]["todo"] == 1
    assert inbox(api, "w_nj")["rows"] == []  # another region does not see it
    op(api, "w1", t["id"], "claim")
    assert inbox(api, "w2")["rows"] == [] and inbox(api, "w1")["rows"][0]["task"]["assignee"] == "w1"
    r = api.post("w2", f"/api/tasks/{t['id']}/claim")
    assert r.status_code == 409 and "w1" in r.json["message"]
    op(api, "w1", t["id"], "unclaim")
    assert inbox(api, "w2")["counts"]["todo"] == 1
    assert [e.action for e in events(api.app, "claim")] == ["claim"]
    assert [e.action for e in events(api.app, "unclaim")] == ["unclaim"]


def test_approve_needs_an_opinion_and_reject_needs_a_reason(api):
    case = start(api)
    t = first_task(api, "w1")
    r = api.post("w1", f"/api/tasks/{t['id']}/approve", json={"opinion": "  "})
    assert r.status_code == 422 and "意见" in r.json["message"]
    r = api.post("w1", f"/api/tasks/{t['id']}/reject", json={})
    assert r.status_code == 422 and "理由" in r.json["message"]
    out = op(api, "w1", t["id"], "reject", opinion="不属于本机关职权范围")
    assert out["case_status"] == "rejected" and out["task"]["outcome"] == "reject"
    ev = events(api.app, "reject")
    assert ev[0].opinion == "不属于本机关职权范围" and ev[0].actor == "w1"
    # done list of w1 has it, with the opinion
    done = inbox(api, "w1", "done")
    assert done["rows"][0]["task"]["opinion"] == "不属于本机关职权范围"
    assert inbox(api, "w1", "handled")["rows"][0]["case"]["id"] == case["id"]


def test_reject_where_the_form_has_no_such_choice_is_refused(api):
    start(api)
    op(api, "w1", first_task(api, "w1")["id"], "approve", opinion="受理")
    t = first_task(api, "eco")
    r = api.post("eco", f"/api/tasks/{t['id']}/reject", json={"opinion": "不同意"})
    assert r.status_code == 409


def test_return_to_a_passed_step_goes_back_to_who_did_it(api):
    to_decide(api)
    t = first_task(api, "chief")
    targets = api.get("chief", f"/api/tasks/{t['id']}/return-targets").json["targets"]
    assert [x["element_id"] for x in targets] == ["review"]
    # a step never passed, an unknown id, a missing reason: refused, nothing changes
    before = snapshot(api.app)
    assert api.post("chief", f"/api/tasks/{t['id']}/return", json={"target": "nope", "reason": "x"}).status_code == 422
    assert api.post("chief", f"/api/tasks/{t['id']}/return", json={"target": t["id"], "reason": "x"}).status_code == 422
    assert api.post("chief", f"/api/tasks/{t['id']}/return",
                    json={"target": targets[0]["task_id"]}).status_code == 422
    assert snapshot(api.app) == before
    out = op(api, "chief", t["id"], "return", target=targets[0]["task_id"], reason="受理意见不完整，请补充")
    assert out["task"]["element_id"] == "review" and out["task"]["assignee"] == "w1"
    assert inbox(api, "chief")["rows"] == []
    assert [r["task"]["element_id"] for r in inbox(api, "w1")["rows"]] == ["review"]
    assert inbox(api, "w2")["rows"] == []  # back to the person, not the group
    ev = events(api.app, "return")
    assert ev[0].opinion == "受理意见不完整，请补充" and ev[0].data_change["target"] == "review"
    # and the case can go on from there
    op(api, "w1", first_task(api, "w1")["id"], "approve", opinion="已补充受理意见")
    assert first_task(api, "eco")["element_id"] == "countersign"


def test_withdraw_while_the_next_step_has_not_acted(api):
    start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "approve", opinion="受理")
    assert api.post("w2", f"/api/tasks/{t['id']}/withdraw", json={}).status_code == 403
    out = op(api, "w1", t["id"], "withdraw", reason="受理意见写错")
    assert out["task"]["element_id"] == "review" and out["task"]["state"] == "ready"
    assert inbox(api, "eco")["rows"] == [] and inbox(api, "fin")["rows"] == []
    # once the next step acted, withdrawing is refused and changes nothing
    op(api, "w1", first_task(api, "w1")["id"], "approve", opinion="受理")
    op(api, "eco", first_task(api, "eco")["id"], "approve", data={"cs": {"agree": "yes"}}, opinion="同意")
    done = [r["task"] for r in inbox(api, "w1", "done")["rows"] if r["task"]["element_id"] == "review"][0]
    before = snapshot(api.app)
    assert api.post("w1", f"/api/tasks/{done['id']}/withdraw", json={}).status_code == 409
    assert snapshot(api.app) == before


def test_withdraw_refused_once_the_next_step_is_claimed(api):
    start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "approve", opinion="受理")
    op(api, "eco", first_task(api, "eco")["id"], "claim")
    assert api.post("w1", f"/api/tasks/{t['id']}/withdraw", json={}).status_code == 409


def test_transfer_and_delegate_and_get_back(api):
    to_decide(api)
    t = first_task(api, "chief")
    assert api.post("chief", f"/api/tasks/{t['id']}/transfer", json={"user": "w_nj"}).status_code == 422
    assert api.post("chief", f"/api/tasks/{t['id']}/transfer", json={"user": "ghost"}).status_code == 422
    op(api, "chief", t["id"], "transfer", user="chief2", reason="出差，转他人办理")
    assert inbox(api, "chief")["rows"] == [] and first_task(api, "chief2")["id"] == t["id"]
    # delegate: the delegate works it and gives it back; the owner completes
    op(api, "chief2", t["id"], "delegate", user="chief", reason="请先提出意见")
    assert api.post("chief", f"/api/tasks/{t['id']}/approve",
                    json={"data": {"decision": "approve"}, "opinion": "x"}).status_code == 409
    op(api, "chief", t["id"], "resolve", opinion="建议同意", data={"opinion": "建议同意"})
    back = first_task(api, "chief2")
    assert back["assignee"] == "chief2" and back["delegation"] == "resolved"
    assert api.get("chief2", f"/api/tasks/{t['id']}").json["draft"] == {"opinion": "建议同意"}
    # delegate again and get it back before the delegate answers
    op(api, "chief2", t["id"], "delegate", user="chief")
    assert api.post("chief", f"/api/tasks/{t['id']}/reclaim").status_code == 403
    op(api, "chief2", t["id"], "reclaim")
    out = op(api, "chief2", t["id"], "approve", data={"decision": "approve"}, opinion="同意")
    assert out["case_status"] == "approved"
    assert [e.action for e in events(api.app, "delegate")] == ["delegate", "delegate"]


def test_add_signers_before_then_the_task_comes_back(api):
    to_decide(api)
    t = first_task(api, "chief")
    out = op(api, "chief", t["id"], "signers", users=["chief2", "w1"], mode="before", opinion="请两位先看")
    signs = {s["assignee"]: s for s in out["items"]}
    assert inbox(api, "chief")["rows"] == []  # waiting for the signers
    assert api.post("chief", f"/api/tasks/{t['id']}/approve", json={"opinion": "x"}).status_code == 409
    op(api, "chief2", signs["chief2"]["id"], "approve", opinion="同意")
    # 减签: the adder removes the one who has not signed
    assert api.post("chief2", f"/api/tasks/{signs['w1']['id']}/remove-signer", json={}).status_code == 403
    op(api, "chief", signs["w1"]["id"], "remove-signer", reason="不需要了")
    back = first_task(api, "chief")
    assert back["id"] == t["id"] and back["blocked"] == 0
    with api.app.app_context():
        opinions = [(e.actor, e.opinion) for e in db.session.execute(
            select(CaseEvent).where(CaseEvent.action == "sign")).scalars()]
    assert opinions == [("chief2", "同意")]


def test_add_signers_after_completes_once_they_signed(api):
    to_decide(api)
    t = first_task(api, "chief")
    op(api, "chief", t["id"], "signers", users=["chief2"], mode="after", opinion="同意，请再会签",
       data={"decision": "approve"})
    assert inbox(api, "chief")["rows"] == []
    sign = first_task(api, "chief2")
    assert sign["kind"] == "sign"
    out = op(api, "chief2", sign["id"], "approve", opinion="同意")
    assert out["task"]["state"] == "completed"
    r = api.get("alice", f"/api/cases/{first_case_id(api)}")
    assert r.json["status"] == "approved"
    with api.app.app_context():
        decide = db.session.execute(select(HumanTask).where(HumanTask.element_id == "decide",
                                                            HumanTask.kind == "user")).scalar_one()
        assert decide.completed_by == "chief" and decide.state == "completed"


def first_case_id(api):
    return api.get("alice", "/api/cases").json[0]["id"]


def test_cc_gives_read_access_and_lists_it(api):
    case = start(api)
    t = first_task(api, "w1")
    assert api.get("chief", f"/api/cases/{case['id']}").status_code == 404
    op(api, "w1", t["id"], "cc", users=["chief"], note="请知悉")
    rows = inbox(api, "chief", "cc")["rows"]
    assert rows[0]["case"]["id"] == case["id"] and rows[0]["cc"]["from"] == "w1"
    assert inbox(api, "chief")["counts"]["cc"] == 1
    assert api.get("chief", f"/api/cases/{case['id']}").status_code == 200
    assert api.post("w1", f"/api/tasks/{t['id']}/cc", json={"users": ["nobody"]}).status_code == 422


def test_urge_by_a_leader_notifies_the_holders_once_an_hour(api):
    start(api)
    t = first_task(api, "w1")
    assert api.post("eco", f"/api/tasks/{t['id']}/urge", json={}).status_code == 403
    op(api, "leader", t["id"], "urge", reason="请今日办结")
    assert api.post("leader", f"/api/tasks/{t['id']}/urge", json={}).status_code == 409
    with api.app.app_context():
        notes = db.session.execute(select(Notification.recipient).where(Notification.template == "urge")).scalars().all()
        assert notes == ["g:window"]
    assert first_task(api, "w1")["urge_count"] == 1


def test_draft_keeps_data_and_claims(api):
    start(api)
    t = first_task(api, "w1")
    assert api.post("w1", f"/api/tasks/{t['id']}/draft", json={"data": {"decision": "maybe"}}).status_code == 422
    out = op(api, "w1", t["id"], "draft", data={"opinion": "初步审查中"})
    assert out["task"]["draft"] == {"opinion": "初步审查中"} and out["task"]["assignee"] == "w1"
    assert api.get("w1", f"/api/tasks/{t['id']}").json["draft"] == {"opinion": "初步审查中"}
    assert inbox(api, "w2")["rows"] == []


def test_suspend_resume_terminate_by_administrators_only(api):
    case = start(api)
    t = first_task(api, "w1")
    for who in ("w1", "leader", "insp"):
        assert api.post(who, f"/api/cases/{case['id']}/suspend", json={"reason": "x"}).status_code == 403
    assert api.post("boss", f"/api/cases/{case['id']}/suspend", json={}).status_code == 422
    assert api.post("boss", f"/api/cases/{case['id']}/suspend", json={"reason": "上级督查"}).status_code == 200
    assert inbox(api, "w1")["rows"] == []
    r = api.post("w1", f"/api/tasks/{t['id']}/approve", json={"opinion": "受理"})
    assert r.status_code in (403, 409)
    assert api.post("boss", f"/api/cases/{case['id']}/resume", json={}).status_code == 200
    assert first_task(api, "w1")["id"] == t["id"]
    assert api.post("boss", f"/api/cases/{case['id']}/terminate", json={"reason": "项目已取消"}).status_code == 200
    assert inbox(api, "w1")["rows"] == []
    assert api.get("alice", f"/api/cases/{case['id']}").json["status"] == "terminated"
    assert api.post("boss", f"/api/cases/{case['id']}/terminate", json={"reason": "再次"}).status_code == 409


def test_bad_inputs_change_nothing(api):
    start(api)
    t = first_task(api, "w1")
    before = snapshot(api.app)
    assert api.post("w1", "/api/tasks/does-not-exist/approve", json={"opinion": "x"}).status_code == 404
    assert api.post("w1", f"/api/tasks/{'x' * 80}/claim").status_code in (404, 405)
    assert api.post("w1", f"/api/tasks/{t['id']}/approve", json={"opinion": "x", "revision": 999}).status_code == 409
    assert api.post("w1", f"/api/tasks/{t['id']}/approve", json={"opinion": "x", "bogus": 1}).status_code == 422
    assert api.post("w1", f"/api/tasks/{t['id']}/signers", json={"users": [], "mode": "before"}).status_code == 422
    assert api.post("w1", f"/api/tasks/{t['id']}/signers", json={"users": ["w2"], "mode": "sideways"}).status_code == 422
    assert api.get("w1", "/api/inbox", query_string={"tab": "nope"}).status_code == 422
    assert api.get("w1", "/api/inbox", query_string={"colour": "purple"}).status_code == 422
    assert api.get("w1", "/api/inbox", query_string={"page": 0}).status_code == 422
    assert snapshot(api.app) == before
    op(api, "w1", t["id"], "approve", opinion="受理")
    assert api.post("w1", f"/api/tasks/{t['id']}/approve", json={"opinion": "again"}).status_code == 409


def snapshot(app):
    with app.app_context():
        tasks = db.session.execute(select(HumanTask.id, HumanTask.state, HumanTask.assignee, HumanTask.owner,
                                          HumanTask.blocked, HumanTask.draft).order_by(HumanTask.id)).all()
        cands = db.session.execute(select(TaskCandidate.task_id, TaskCandidate.key)
                                   .order_by(TaskCandidate.task_id, TaskCandidate.key)).all()
        n_events = db.session.execute(select(func.count()).select_from(CaseEvent)).scalar()
        n_cc = db.session.execute(select(func.count()).select_from(TaskCc)).scalar()
        n_part = db.session.execute(select(func.count()).select_from(CaseParticipant)).scalar()
        return [tuple(r) for r in tasks], [tuple(r) for r in cands], n_events, n_cc, n_part


# -- countersign modes --------------------------------------------------------------------------

def sign(api, who, element, agree, opinion):
    t = first_task(api, who, element)
    return op(api, who, t["id"], "approve", data={"cs": {"agree": agree}}, opinion=opinion)


def test_countersign_all_any_in_order_and_quorum(api):
    start(api, "t_cs", depts=["cs_ecology", "cs_finance", "cs_water"])
    # all: three open at once; every opinion kept
    assert {r["task"]["element_id"] for r in inbox(api, "eco")["rows"]} == {"cs_all"}
    sign(api, "eco", "cs_all", "yes", "生态：同意")
    sign(api, "fin", "cs_all", "yes", "财政：同意")
    sign(api, "water", "cs_all", "yes", "水利：同意")
    # any one: the first signature closes the others
    sign(api, "fin", "cs_any", "yes", "财政先签")
    assert inbox(api, "eco")["rows"][0]["task"]["element_id"] == "cs_seq"
    assert inbox(api, "fin")["rows"] == []  # in order: finance waits for ecology
    sign(api, "eco", "cs_seq", "yes", "一")
    assert inbox(api, "water")["rows"] == []
    sign(api, "fin", "cs_seq", "yes", "二")
    sign(api, "water", "cs_seq", "yes", "三")
    # quorum: two of three agreeing decide it
    sign(api, "eco", "cs_quorum", "yes", "同意")
    out = sign(api, "water", "cs_quorum", "yes", "同意")
    assert out["instance_status"] == "complete" and out["case_status"] == "approved"
    with api.app.app_context():
        rows = db.session.execute(select(HumanTask.element_id, HumanTask.completed_by, HumanTask.opinion, HumanTask.state)
                                  .where(HumanTask.element_id == "cs_all").order_by(HumanTask.completed_at)).all()
        assert sorted(r.opinion for r in rows) == ["水利：同意", "生态：同意", "财政：同意"]
        any_states = sorted(db.session.execute(select(HumanTask.state).where(
            HumanTask.element_id == "cs_any")).scalars())
        assert any_states == ["cancelled", "cancelled", "completed"]
        quorum = sorted(db.session.execute(select(HumanTask.state).where(
            HumanTask.element_id == "cs_quorum")).scalars())
        assert quorum == ["cancelled", "completed", "completed"]


def test_one_rejection_ends_the_countersign_early(api):
    start(api, "t_cs", depts=["cs_ecology", "cs_finance", "cs_water"])
    sign(api, "eco", "cs_all", "yes", "同意")
    out = sign(api, "fin", "cs_all", "no", "不符合财政政策")
    assert out["case_status"] == "rejected"
    assert inbox(api, "water")["rows"] == []
    case = api.get("alice", f"/api/cases/{first_case_id(api)}").json
    assert {(t["element_id"], t["state"]) for t in case.get("current_tasks", [])} == set()
