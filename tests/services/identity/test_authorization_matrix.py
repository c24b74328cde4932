"""The authorization matrix: every task and case operation, tried by every kind of wrong user (a
staff member of another group, the same group in another region, the applicant, an inspector,
someone else's colleague), answers 403 and changes nothing; the right user then succeeds, so the
refusals are not an accident of the set-up."""
import io

import pytest

from tests.services.inbox.test_operations import api, first_task, op, snapshot, start  # noqa: F401  (fixture)

WRONG = ["eco", "w_nj", "alice", "insp"]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def ready(api):
    start(api)
    return first_task(api, "w1")["id"]


def claimed(api):
    tid = ready(api)
    op(api, "w1", tid, "claim")
    return tid


def completed(api):
    tid = ready(api)
    op(api, "w1", tid, "approve", opinion="受理")
    return tid


def delegated(api):
    tid = claimed(api)
    op(api, "w1", tid, "delegate", user="w2")
    return tid


def signing(api):
    tid = claimed(api)
    out = op(api, "w1", tid, "signers", users=["w2"], mode="before", opinion="请先看")
    return out["items"][0]["id"]


def at_decision(api):
    from tests.services.inbox.test_operations import to_decide
    to_decide(api)
    return first_task(api, "chief")["id"]


def case_id_of(api, _tid=None):
    return api.get("alice", "/api/cases").json[0]["id"]


# operation: (set-up giving the task id, path, body, the user who may do it)
TASK_OPS = {
    "claim": (ready, "claim", {}, "w1"),
    "unclaim": (claimed, "unclaim", {}, "w1"),
    "approve": (claimed, "approve", {"opinion": "受理"}, "w1"),
    "reject": (claimed, "reject", {"opinion": "不予受理"}, "w1"),
    "draft": (claimed, "draft", {"data": {"opinion": "草稿"}}, "w1"),
    "transfer": (claimed, "transfer", {"user": "w2"}, "w1"),
    "delegate": (claimed, "delegate", {"user": "w2"}, "w1"),
    "resolve": (delegated, "resolve", {"opinion": "已审"}, "w2"),
    "reclaim": (delegated, "reclaim", {}, "w1"),
    "signers": (claimed, "signers", {"users": ["w2"], "mode": "before", "opinion": "请会签"}, "w1"),
    "remove-signer": (signing, "remove-signer", {}, "w1"),
    "sign": (signing, "approve", {"opinion": "同意"}, "w2"),
    "cc": (claimed, "cc", {"users": ["chief"]}, "w1"),
    "urge": (ready, "urge", {}, "leader"),
    "withdraw": (completed, "withdraw", {}, "w1"),
}


@pytest.mark.parametrize("name", sorted(TASK_OPS))
def test_task_operation_by_a_wrong_user_is_403_and_changes_nothing(api, name):  # noqa: F811
    setup, path, body, right = TASK_OPS[name]
    tid = setup(api)
    before = snapshot(api.app)
    # inspectors (电子监察) may urge; a colleague who never touched the case may not
    wrong = ["eco", "w_nj", "alice", "w2"] if name == "urge" else \
        WRONG + (["w2"] if right == "w1" and name != "claim" else [])
    for who in wrong:
        r = api.post(who, f"/api/tasks/{tid}/{path}", json=body)
        assert r.status_code == 403, (name, who, r.status_code, r.json)
    assert snapshot(api.app) == before
    r = api.post(right, f"/api/tasks/{tid}/{path}", json=body)
    assert r.status_code == 200, (name, right, r.json)


def test_return_by_a_wrong_user_is_403(api):  # noqa: F811
    tid = at_decision(api)
    targets = api.get("chief", f"/api/tasks/{tid}/return-targets").json["targets"]
    body = {"target": targets[0]["task_id"], "reason": "退回补充"}
    before = snapshot(api.app)
    for who in WRONG + ["w1"]:
        assert api.get(who, f"/api/tasks/{tid}/return-targets").status_code == 403
        assert api.post(who, f"/api/tasks/{tid}/return", json=body).status_code == 403, who
    assert snapshot(api.app) == before
    assert api.post("chief", f"/api/tasks/{tid}/return", json=body).status_code == 200


@pytest.mark.parametrize("name", ["suspend", "resume", "terminate"])
def test_case_administration_by_anyone_but_an_administrator_is_403(api, name):  # noqa: F811
    tid = ready(api)
    case_id = case_id_of(api)
    if name == "resume":
        assert api.post("boss", f"/api/cases/{case_id}/suspend", json={"reason": "督查"}).status_code == 200
    before = snapshot(api.app)
    for who in WRONG + ["w1", "leader"]:
        assert api.post(who, f"/api/cases/{case_id}/{name}", json={"reason": "x"}).status_code == 403, who
    assert snapshot(api.app) == before
    assert api.post("boss", f"/api/cases/{case_id}/{name}", json={"reason": "管理员操作"}).status_code == 200
    assert tid


def test_files_of_a_case_only_for_those_who_may_read_it(api):  # noqa: F811
    tid = ready(api)
    case_id = case_id_of(api)
    before = snapshot(api.app)
    for who in ["eco", "w_nj"]:
        r = api.post(who, f"/api/cases/{case_id}/files",
                     data={"file": (io.BytesIO(PDF), "意见.pdf")}, content_type="multipart/form-data")
        assert r.status_code == 403, (who, r.json)
        assert api.get(who, f"/api/cases/{case_id}/files").status_code == 403
    r = api.post("insp", f"/api/cases/{case_id}/files",
                 data={"file": (io.BytesIO(PDF), "意见.pdf")}, content_type="multipart/form-data")
    assert r.status_code == 403
    assert snapshot(api.app) == before
    r = api.post("w1", f"/api/cases/{case_id}/files", data={"file": (io.BytesIO(PDF), "意见.pdf"), "task_id": tid},
                 content_type="multipart/form-data")
    assert r.status_code == 201, r.json
    fid = r.json["id"]
    assert api.get("eco", f"/api/cases/{case_id}/files/{fid}").status_code == 403
    assert api.get("alice", f"/api/cases/{case_id}/files/{fid}").status_code == 403  # internal paper
    assert api.get("w1", f"/api/cases/{case_id}/files/{fid}").data == PDF
