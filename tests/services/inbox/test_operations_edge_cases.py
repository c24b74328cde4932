"""Adversarial sequences of inbox operations (from a review): suspension honoured by every
operation, regions and applicants kept out, outcomes recorded as taken, NUL characters and
out-of-range ids refused without a 500, and the task_candidates invariants after every step."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CaseEvent, HumanTask, ProcessInstance, TaskCandidate
from tests.services.inbox.test_operations import api, first_task, inbox, op, snapshot, start, to_decide  # noqa: F401


# -- invariants ----------------------------------------------------------------------------------
def invariants(app):
    """Return a list of violations of the task_candidates invariants."""
    bad = []
    with app.app_context():
        rows = db.session.execute(select(TaskCandidate.task_id, TaskCandidate.key, HumanTask.state, HumanTask.blocked,
                                         ProcessInstance.status)
                                  .outerjoin(HumanTask, HumanTask.id == TaskCandidate.task_id)
                                  .outerjoin(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)).all()
        for tid, key, state, blocked, status in rows:
            if state != "ready" or (blocked or 0) > 0 or status == "suspended":
                bad.append(("row for closed/blocked/suspended task", tid, key, state, blocked, status))
        ready = db.session.execute(select(HumanTask.id, HumanTask.element_id, HumanTask.kind, ProcessInstance.status)
                                   .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                                   .where(HumanTask.state == "ready", HumanTask.blocked == 0)).all()
        for tid, el, kind, status in ready:
            if status in ("running", "waiting"):
                n = db.session.execute(select(func.count()).select_from(TaskCandidate)
                                       .where(TaskCandidate.task_id == tid)).scalar()
                if n == 0:
                    bad.append(("ready task without candidate rows", tid, el, kind, status))
            if status in ("complete", "cancelled"):
                bad.append(("ready task in a finished instance", tid, el, kind, status))
    return bad


def check(api):
    v = invariants(api.app)
    assert v == [], v


def ev_actions(app):
    with app.app_context():
        return [(e.actor, e.action) for e in db.session.execute(select(CaseEvent).order_by(CaseEvent.id)).scalars()]


def case_id(api):
    return api.get("alice", "/api/cases").json[0]["id"]


@pytest.fixture
def api2(api):  # noqa: F811
    api.user("leader_nj", groups=["leader"], region_code="320100")
    api.user("w3", groups=["window"])
    return api


# -- suspension: operations that skip the check ---------------------------------------------------
def test_reclaim_in_a_suspended_case_is_refused_and_does_not_relist(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "claim")
    op(api, "w1", t["id"], "delegate", user="w2")
    r = api.post("boss", f"/api/cases/{case_id(api)}/suspend", json={"reason": "督查"})
    assert r.status_code == 200
    before = snapshot(api.app)
    r = api.post("w1", f"/api/tasks/{t['id']}/reclaim", json={})
    check(api)
    assert r.status_code == 409, r.json
    assert snapshot(api.app) == before


def test_remove_signer_in_a_suspended_case_is_refused(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "claim")
    out = op(api, "w1", t["id"], "signers", users=["w2"], mode="before", opinion="请先看")
    sign_id = out["items"][0]["id"]
    assert api.post("boss", f"/api/cases/{case_id(api)}/suspend", json={"reason": "督查"}).status_code == 200
    before = snapshot(api.app)
    r = api.post("w1", f"/api/tasks/{sign_id}/remove-signer", json={})
    check(api)
    assert r.status_code == 409, r.json
    assert snapshot(api.app) == before


def test_remove_last_after_signer_in_a_suspended_case_does_not_move_the_process(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    out = op(api, "w1", t["id"], "signers", users=["w2"], mode="after", opinion="受理，请会签",
             data={"decision": "approve"})
    sign_id = out["items"][0]["id"]
    assert api.post("boss", f"/api/cases/{case_id(api)}/suspend", json={"reason": "督查"}).status_code == 200
    r = api.post("w1", f"/api/tasks/{sign_id}/remove-signer", json={})
    with api.app.app_context():
        inst = db.session.execute(select(ProcessInstance)).scalar_one()
        status = inst.status
        review = db.session.get(HumanTask, t["id"])
        state = review.state
    assert (r.status_code, status, state) == (409, "suspended", "ready")


def test_urge_in_a_suspended_case_is_refused(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    assert api.post("boss", f"/api/cases/{case_id(api)}/suspend", json={"reason": "督查"}).status_code == 200
    r = api.post("leader", f"/api/tasks/{t['id']}/urge", json={})
    assert r.status_code == 409, r.json


def test_suspend_then_claim_draft_are_refused_and_resume_relists(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    cid = case_id(api)
    assert api.post("boss", f"/api/cases/{cid}/suspend", json={"reason": "督查"}).status_code == 200
    check(api)
    for path, body in [("claim", {}), ("draft", {"data": {"opinion": "x"}}), ("approve", {"opinion": "x"}),
                       ("transfer", {"user": "w2"}), ("signers", {"users": ["w2"], "mode": "before"})]:
        r = api.post("w1", f"/api/tasks/{t['id']}/{path}", json=body)
        assert r.status_code == 409, (path, r.json)
    assert api.post("boss", f"/api/cases/{cid}/terminate", json={"reason": "终止"}).status_code == 200
    check(api)
    assert api.post("boss", f"/api/cases/{cid}/resume", json={}).status_code == 409
    check(api)


# -- region separation ------------------------------------------------------------------------------
def test_leader_of_another_region_may_not_urge(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    assert api.get("leader_nj", f"/api/cases/{case_id(api)}").status_code == 404
    r = api.post("leader_nj", f"/api/tasks/{t['id']}/urge", json={"reason": "快办"})
    assert r.status_code == 403, r.json


def test_cc_to_staff_of_another_region_is_refused(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    cid = case_id(api)
    assert api.get("w_nj", f"/api/cases/{cid}").status_code == 404
    r = api.post("w1", f"/api/tasks/{t['id']}/cc", json={"users": ["w_nj"]})
    # impact when accepted: another region's staff now reads the case and its internal files
    assert r.status_code == 422 and api.get("w_nj", f"/api/cases/{cid}").status_code == 404, \
        (r.status_code, api.get("w_nj", f"/api/cases/{cid}").status_code)


# -- applicants ---------------------------------------------------------------------------------------
def to_correction(api):
    start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "approve", data={"decision": "correction"}, opinion="请补正")
    r = api.get("alice", "/api/inbox", query_string={"tab": "todo"})
    rows = r.json["rows"]
    assert rows and rows[0]["task"]["element_id"] == "correction"
    return rows[0]["task"]["id"]


@pytest.mark.parametrize("path,body", [
    ("transfer", {"user": "w1"}),
    ("delegate", {"user": "w1"}),
    ("signers", {"users": ["w1"], "mode": "before", "opinion": "x"}),
    ("cc", {"users": ["chief"]}),
])
def test_applicant_may_not_hand_their_correction_to_staff(api2, path, body):
    api = api2
    tid = to_correction(api)
    r = api.post("alice", f"/api/tasks/{tid}/{path}", json=body)
    assert r.status_code in (403, 409), (path, r.status_code, r.json)


def test_a_model_assigned_task_can_not_be_delegated_by_an_applicant_nor_unclaimed(api2):
    api = api2
    tid = to_correction(api)
    r = api.post("alice", f"/api/tasks/{tid}/delegate", json={"user": "w1"})
    assert r.status_code == 403  # applicants answer their 补正; they do not delegate
    r = api.post("alice", f"/api/tasks/{tid}/unclaim", json={})
    assert r.status_code == 409, r.json  # nobody else would be offered it
    check(api)


# -- outcome recorded vs decision taken --------------------------------------------------------------
def test_approve_endpoint_with_a_reject_decision_records_the_rejection(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    out = op(api, "w1", t["id"], "approve", data={"decision": "reject"}, opinion="看看")
    # the process took the reject path; the trail should say so
    assert not (out["case_status"] == "rejected" and out["task"]["outcome"] == "approve"), out


def test_reject_on_a_sign_task_is_not_a_signature(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    out = op(api, "w1", t["id"], "signers", users=["w2"], mode="after", opinion="受理，请会签",
             data={"decision": "approve"})
    sign_id = out["items"][0]["id"]
    r = api.post("w2", f"/api/tasks/{sign_id}/reject", json={"opinion": "不同意受理"})
    with api.app.app_context():
        review = db.session.get(HumanTask, t["id"])
        sign = db.session.get(HumanTask, sign_id)
        got = (r.status_code, sign.outcome, review.state)
    # either refused, or recorded as a disagreement that does not push the approval through
    assert r.status_code == 409 or (sign.outcome != "sign" and got[2] == "ready"), got


# -- sequences ----------------------------------------------------------------------------------------
def test_delegate_cannot_transfer_claim_unclaim_or_sign(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "delegate", user="w2")
    check(api)
    before = snapshot(api.app)
    for path, body in [("transfer", {"user": "w3"}), ("delegate", {"user": "w3"}), ("claim", {}),
                       ("unclaim", {}), ("signers", {"users": ["w3"], "mode": "before"}),
                       ("approve", {"opinion": "x"}), ("return", {"target": t["id"], "reason": "x"})]:
        r = api.post("w2", f"/api/tasks/{t['id']}/{path}", json=body)
        assert r.status_code in (403, 409, 422), (path, r.status_code, r.json)
    # the owner neither
    for path, body in [("transfer", {"user": "w3"}), ("approve", {"opinion": "x"}), ("unclaim", {}),
                       ("claim", {})]:
        r = api.post("w1", f"/api/tasks/{t['id']}/{path}", json=body)
        assert r.status_code in (403, 409), (path, r.status_code, r.json)
    assert snapshot(api.app) == before
    # another candidate cannot claim it
    assert api.post("w3", f"/api/tasks/{t['id']}/claim", json={}).status_code == 409


def test_return_blocked_by_before_signers_then_allowed(api2):
    api = api2
    to_decide(api)
    t = first_task(api, "chief")
    targets = api.get("chief", f"/api/tasks/{t['id']}/return-targets").json["targets"]
    out = op(api, "chief", t["id"], "signers", users=["chief2"], mode="before", opinion="请先看")
    r = api.post("chief", f"/api/tasks/{t['id']}/return", json={"target": targets[0]["task_id"], "reason": "x"})
    assert r.status_code == 409
    op(api, "chief2", out["items"][0]["id"], "approve", opinion="建议退回")
    check(api)
    op(api, "chief", t["id"], "return", target=targets[0]["task_id"], reason="退回补充")
    check(api)
    # chief may not withdraw the return now that w1 holds the step (claimed)
    assert api.post("chief", f"/api/tasks/{t['id']}/withdraw", json={}).status_code == 409
    check(api)
    actions = ev_actions(api.app)
    assert ("chief", "return") in actions and ("chief2", "sign") in actions


def test_return_from_a_countersign_child_closes_the_siblings(api2):
    api = api2
    start(api)
    op(api, "w1", first_task(api, "w1")["id"], "approve", opinion="受理")
    eco_t = first_task(api, "eco")
    fin_t = first_task(api, "fin")
    op(api, "fin", fin_t["id"], "claim")
    targets = api.get("eco", f"/api/tasks/{eco_t['id']}/return-targets").json["targets"]
    assert [x["element_id"] for x in targets] == ["review"]
    op(api, "eco", eco_t["id"], "return", target=targets[0]["task_id"], reason="材料不全")
    check(api)
    assert inbox(api, "fin")["rows"] == []
    assert inbox(api, "eco")["rows"] == []
    with api.app.app_context():
        fin_state = db.session.get(HumanTask, fin_t["id"]).state
    assert fin_state == "cancelled"
    # and the case goes on
    op(api, "w1", first_task(api, "w1")["id"], "approve", opinion="已补充")
    check(api)
    assert first_task(api, "fin")["element_id"] == "countersign"


def test_return_from_countersign_child_with_after_signers_on_sibling(api2):
    api = api2
    api.user("eco2", groups=["cs_ecology"])
    start(api)
    op(api, "w1", first_task(api, "w1")["id"], "approve", opinion="受理")
    eco_t = first_task(api, "eco")
    fin_t = first_task(api, "fin")
    out = op(api, "eco", eco_t["id"], "signers", users=["eco2"], mode="after", opinion="同意，请复核",
             data={"cs": {"agree": "yes"}})
    sign_id = out["items"][0]["id"]
    targets = api.get("fin", f"/api/tasks/{fin_t['id']}/return-targets").json["targets"]
    op(api, "fin", fin_t["id"], "return", target=targets[0]["task_id"], reason="退回")
    check(api)
    r = api.post("eco2", f"/api/tasks/{sign_id}/approve", json={"opinion": "同意"})
    assert r.status_code == 409
    assert api.post("eco", f"/api/tasks/{sign_id}/remove-signer", json={}).status_code == 409
    check(api)


def test_remove_signer_after_signed_is_refused(api2):
    api = api2
    to_decide(api)
    t = first_task(api, "chief")
    out = op(api, "chief", t["id"], "signers", users=["chief2", "w1"], mode="before", opinion="请看")
    signs = {s["assignee"]: s["id"] for s in out["items"]}
    op(api, "chief2", signs["chief2"], "approve", opinion="同意")
    before = snapshot(api.app)
    assert api.post("chief", f"/api/tasks/{signs['chief2']}/remove-signer", json={}).status_code == 409
    assert snapshot(api.app) == before
    op(api, "chief", signs["w1"], "remove-signer", reason="不需要")
    check(api)
    # twice
    assert api.post("chief", f"/api/tasks/{signs['w1']}/remove-signer", json={}).status_code == 409
    # add signers again after the first round
    out2 = op(api, "chief", t["id"], "signers", users=["w2"], mode="after", opinion="同意", data={"decision": "approve"})
    check(api)
    out3 = op(api, "w2", out2["items"][0]["id"], "approve", opinion="同意")
    check(api)
    assert out3["task"]["state"] == "completed"
    assert api.get("alice", f"/api/cases/{case_id(api)}").json["status"] == "approved"


def test_add_signers_duplicate_and_self(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    r = api.post("w1", f"/api/tasks/{t['id']}/signers", json={"users": ["w2", "w2"], "mode": "before"})
    assert r.status_code == 200 and len(r.json["items"]) == 1
    check(api)
    assert api.post("w1", f"/api/tasks/{t['id']}/signers", json={"users": ["w3"], "mode": "before"}).status_code == 409


def test_withdraw_after_urge_and_after_return(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "approve", opinion="受理")
    eco_t = first_task(api, "eco")
    op(api, "leader", eco_t["id"], "urge")
    op(api, "w1", t["id"], "withdraw", reason="写错")
    check(api)
    with api.app.app_context():
        assert db.session.get(HumanTask, eco_t["id"]).state == "cancelled"


def test_withdraw_after_an_after_sign_completed_the_step(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    out = op(api, "w1", t["id"], "signers", users=["w2"], mode="after", opinion="受理", data={"decision": "approve"})
    op(api, "w2", out["items"][0]["id"], "approve", opinion="同意")
    check(api)
    # the next step has not acted: withdrawing should be possible
    r = api.post("w1", f"/api/tasks/{t['id']}/withdraw", json={})
    check(api)
    assert r.status_code == 200, r.json


def test_terminate_with_open_signers_and_delegation(api2):
    api = api2
    to_decide(api)
    t = first_task(api, "chief")
    out = op(api, "chief", t["id"], "signers", users=["chief2"], mode="before", opinion="看")
    assert api.post("boss", f"/api/cases/{case_id(api)}/terminate", json={"reason": "撤销"}).status_code == 200
    check(api)
    sid = out["items"][0]["id"]
    assert api.post("chief2", f"/api/tasks/{sid}/approve", json={"opinion": "x"}).status_code == 409
    assert api.post("chief", f"/api/tasks/{sid}/remove-signer", json={}).status_code == 409
    assert inbox(api, "chief2")["rows"] == []


def test_terminate_with_a_delegated_task_then_reclaim(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "delegate", user="w2")
    assert api.post("boss", f"/api/cases/{case_id(api)}/terminate", json={"reason": "撤销"}).status_code == 200
    check(api)
    assert api.post("w1", f"/api/tasks/{t['id']}/reclaim", json={}).status_code == 409
    assert api.post("w2", f"/api/tasks/{t['id']}/resolve", json={"opinion": "x"}).status_code in (403, 409)
    check(api)


def test_unclaim_after_resolve_by_owner(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "delegate", user="w2")
    op(api, "w2", t["id"], "resolve", opinion="看过")
    op(api, "w1", t["id"], "unclaim")
    check(api)
    # a different candidate claims and approves: no leftover delegation state blocks them
    op(api, "w3", t["id"], "claim")
    op(api, "w3", t["id"], "approve", opinion="受理")
    check(api)


def test_events_for_every_operation(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    op(api, "w1", t["id"], "claim")
    op(api, "w1", t["id"], "draft", data={"opinion": "a"})
    op(api, "w1", t["id"], "cc", users=["chief"])
    op(api, "w1", t["id"], "delegate", user="w2")
    op(api, "w2", t["id"], "resolve", opinion="ok")
    op(api, "w1", t["id"], "transfer", user="w3")
    op(api, "w3", t["id"], "approve", opinion="受理")
    op(api, "w3", t["id"], "withdraw")
    acts = ev_actions(api.app)
    for who, what in [("w1", "claim"), ("w1", "draft"), ("w1", "cc"), ("w1", "delegate"), ("w2", "resolve"),
                      ("w1", "transfer"), ("w3", "complete"), ("w3", "withdraw")]:
        assert (who, what) in acts, (who, what, acts)
    check(api)


# -- bad payloads: never 500 ------------------------------------------------------------------------
BAD_BODIES = [
    None, [], [1, 2], "x", 1, True, {"opinion": None}, {"opinion": ["a"]}, {"opinion": {"a": 1}},
    {"opinion": "x" * 100_000}, {"data": None}, {"data": []}, {"data": "x"}, {"data": {"decision": ["approve"]}},
    {"data": {"decision": {"x": 1}}, "opinion": "x"}, {"data": {"opinion": 5}, "opinion": "x"},
    {"data": {"x" * 1000: 1}, "opinion": "x"}, {"revision": "abc"}, {"revision": 10 ** 30, "opinion": "x"},
    {"revision": -1, "opinion": "x"}, {"revision": 1.5, "opinion": "x"},
    {"target": None}, {"target": 5}, {"target": "x" * 1000, "reason": "x"}, {"target": ["a"]},
    {"user": None}, {"user": 5}, {"user": ["w2"]}, {"user": "x" * 1000}, {"user": " w2 "},
    {"users": None}, {"users": "w2"}, {"users": [None]}, {"users": [5]}, {"users": ["w2"] * 1000, "mode": "before"},
    {"users": ["w2"], "mode": None}, {"users": ["w2"], "mode": 5}, {"users": ["w2"], "mode": "after", "data": []},
    {"users": ["w2"], "mode": "after", "opinion": "x", "data": {"decision": 7}},
    {"users": [{"a": 1}]}, {"note": ["x"]}, {"reason": 5}, {"reason": None}, {"bogus": 1},
    {"opinion": "x\u0000y"}, {"data": {"opinion": "a\u0000b"}, "opinion": "ok"}, {"reason": "\u0000"},
    {"user": "w\u00002"}, {"users": ["w\u00002"], "mode": "before"}, {"data": {"a\u0000": 1}, "opinion": "x"},
]
OPS = ["claim", "unclaim", "approve", "reject", "return", "withdraw", "transfer", "delegate", "resolve", "reclaim",
       "signers", "remove-signer", "cc", "urge", "draft"]


def test_bad_payloads_never_500(api2):
    api = api2
    start(api)
    t = first_task(api, "w1")
    failures = []
    for name in OPS:
        for body in BAD_BODIES:
            r = api.post("w1", f"/api/tasks/{t['id']}/{name}", json=body) if body is not None else \
                api.post("w1", f"/api/tasks/{t['id']}/{name}", data="not json", content_type="application/json")
            if r.status_code >= 500:
                failures.append((name, repr(body)[:80], r.status_code))
            with api.app.app_context():
                db.session.remove()
    check(api)
    assert failures == [], failures


@pytest.mark.parametrize("tid", ["%00", "a%00b", "x" * 36, "'; drop table x;--", "%E2%80%AE", "..", "%20"])
def test_bad_task_ids_never_500(api2, tid):
    api = api2
    start(api)
    for name in OPS:
        r = api.post("w1", f"/api/tasks/{tid}/{name}", json={})
        assert r.status_code < 500, (name, tid, r.status_code)
    r = api.get("w1", f"/api/tasks/{tid}/return-targets")
    assert r.status_code < 500, ("return-targets", tid, r.status_code)
    r = api.get("w1", f"/api/tasks/{tid}")
    assert r.status_code < 500, ("get", tid, r.status_code)


@pytest.mark.parametrize("args", [
    {"applicant": "a\u0000"}, {"case_no": "\u0000"}, {"project_code": "x\u0000"}, {"process_id": "\u0000"},
    {"process_id": "x" * 10000}, {"per_page": "abc"}, {"per_page": 10 ** 20}, {"page": 10 ** 20},
    {"tab": "todo", "x": "1"}, {"applicant": "%_\\"}, {"colour": ""}, {"tab": ""},
    {"tab": "done", "applicant": "\u0000"}, {"tab": "cc", "case_no": "\u0000"}, {"tab": "handled", "process_id": "\u0000"},
])
def test_inbox_args_never_500(api2, args):
    api = api2
    start(api)
    r = api.get("w1", "/api/inbox", query_string=args)
    assert r.status_code < 500, (args, r.status_code, r.data[:300])


def test_case_admin_bad_payloads_never_500(api2):
    api = api2
    start(api)
    cid = case_id(api)
    for body in [None, [], "x", {"reason": 5}, {"reason": "x" * 10000}, {"reason": "\u0000"}, {"bogus": 1}]:
        for name in ("suspend", "resume", "terminate"):
            r = api.post("boss", f"/api/cases/{cid}/{name}", json=body) if body is not None else \
                api.post("boss", f"/api/cases/{cid}/{name}", data="{", content_type="application/json")
            assert r.status_code < 500, (name, body, r.status_code)
    for cid_bad in ["99999999999999999999", "-1", "0"]:
        r = api.post("boss", f"/api/cases/{cid_bad}/suspend", json={"reason": "x"})
        assert r.status_code < 500, (cid_bad, r.status_code)
        r = api.get("boss", f"/api/cases/{cid_bad}/files")
        assert r.status_code < 500, (cid_bad, r.status_code)


def test_file_upload_bad_inputs_never_500(api2):
    import io
    api = api2
    start(api)
    cid = case_id(api)
    pdf = b"%PDF-1.4\n%%EOF\n"
    cases = [
        {"file": (io.BytesIO(pdf), "a.pdf"), "kind": "x" * 1000},
        {"file": (io.BytesIO(pdf), "a.pdf"), "note": "\u0000"},
        {"file": (io.BytesIO(pdf), "a\u0000.pdf")},
        {"file": (io.BytesIO(pdf), "a.pdf"), "task_id": "\u0000"},
        {"file": (io.BytesIO(b"PK\x03\x04garbage"), "a.ofd")},
        {"file": (io.BytesIO(pdf), "/" * 300)},
        {"file": (io.BytesIO(pdf), "a.pdf"), "task_id": "not-a-task-of-this-case"},
    ]
    for data in cases:
        r = api.post("w1", f"/api/cases/{cid}/files", data=data, content_type="multipart/form-data")
        assert r.status_code < 500, (repr(data)[:100], r.status_code, r.data[:300])


def test_file_task_id_from_another_case_is_refused(api2):
    import io
    api = api2
    start(api)
    other_tid = first_task(api, "w1")["id"]
    start(api)
    cids = [c["id"] for c in api.get("alice", "/api/cases").json]
    cid = max(cids)
    pdf = b"%PDF-1.4\n%%EOF\n"
    with api.app.app_context():
        case_of = db.session.get(HumanTask, other_tid).case_id
    target = [c for c in cids if c != case_of][0]
    r = api.post("w1", f"/api/cases/{target}/files", data={"file": (io.BytesIO(pdf), "a.pdf"), "task_id": other_tid},
                 content_type="multipart/form-data")
    assert r.status_code in (201, 422)
    if r.status_code == 201:
        assert r.json["task_id"] is None, r.json
    assert cid


# -- applicant visibility -------------------------------------------------------------------------
def test_applicant_cannot_see_staff_tasks_or_other_cases(api2):
    api = api2
    api.user("bob", "applicant")
    start(api)
    t = first_task(api, "w1")
    cid = case_id(api)
    assert api.get("bob", f"/api/cases/{cid}").status_code in (403, 404)
    assert api.get("alice", f"/api/tasks/{t['id']}").status_code in (403, 404)
    assert api.get("bob", f"/api/tasks/{t['id']}").status_code in (403, 404)
    assert api.get("alice", f"/api/tasks/{t['id']}/return-targets").status_code in (403, 404)
    assert inbox(api, "alice")["rows"] == []
    for tab in ("done", "handled", "cc"):
        assert inbox(api, "bob", tab)["rows"] == []
    assert api.get("bob", f"/api/cases/{cid}/files").status_code in (403, 404)


# -- NUL characters reach PostgreSQL (text columns / JSONB refuse them) -----------------------------
NUL_CASES = [
    ("approve", {"opinion": "同意\u0000"}),
    ("approve", {"opinion": "同意", "data": {"decision": "approve", "opinion": "a\u0000b"}}),
    ("reject", {"opinion": "不予\u0000受理"}),
    ("draft", {"data": {"opinion": "a\u0000b"}}),
    ("transfer", {"user": "w2", "reason": "\u0000"}),
    ("delegate", {"user": "w2", "reason": "x\u0000"}),
    ("cc", {"users": ["chief"], "note": "\u0000"}),
    ("urge", {"reason": "\u0000"}),
    ("signers", {"users": ["w2"], "mode": "before", "opinion": "\u0000"}),
    ("transfer", {"user": "w\u00002"}),
]


@pytest.mark.parametrize("path,body", NUL_CASES)
def test_nul_in_text_never_500(api2, path, body):
    api = api2
    start(api)
    t = first_task(api, "w1")
    who = "leader" if path == "urge" else "w1"
    r = api.post(who, f"/api/tasks/{t['id']}/{path}", json=body)
    assert r.status_code < 500, (path, body, r.status_code)


def test_huge_case_id_never_500(api2):
    api = api2
    start(api)
    big = "99999999999999999999"
    for method, url in [("post", f"/api/cases/{big}/suspend"), ("post", f"/api/cases/{big}/resume"),
                        ("post", f"/api/cases/{big}/terminate"), ("get", f"/api/cases/{big}/files"),
                        ("get", f"/api/cases/1/files/{big}")]:
        r = api.post("boss", url, json={"reason": "x"}) if method == "post" else api.get("boss", url)
        assert r.status_code < 500, (url, r.status_code)


def test_suspend_resume_of_a_case_stopped_on_an_incident_keeps_it_in_error(api2):
    api = api2
    r = api.post("alice", "/api/cases", json={"process_id": "t_failing", "data": {
        "amount": 5, "project_name": "示范项目", "project_code": "2603-141124-89-05-346948",
        "depts": ["cs_ecology", "cs_finance"]}})
    assert r.status_code == 201, r.json
    cid = r.json["id"]
    op(api, "w1", first_task(api, "w1")["id"], "approve", data={"decision": "approve"}, opinion="受理")
    with api.app.app_context():
        assert db.session.execute(select(ProcessInstance.status)).scalar_one() == "error"
    assert api.post("boss", f"/api/cases/{cid}/suspend", json={"reason": "督查"}).status_code == 200
    assert api.post("boss", f"/api/cases/{cid}/resume", json={}).status_code == 200
    with api.app.app_context():
        status = db.session.execute(select(ProcessInstance.status)).scalar_one()
    assert status == "error"
