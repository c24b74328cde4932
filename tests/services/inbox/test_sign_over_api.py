"""A 加签 signer signs through the API (``POST /api/tasks/<sign task>/complete``), on a shipped matter
(xmgl_hezhun, 处室审查 open): the answer is where the case stands, as for any completion — it was a 500
after the signature had been committed. The last signer of a 后加签 releases the held step: the case
moves on, and the worker keeps the workflow it stored."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Case, HumanTask, ProcessInstance
from app.services.cases.steps import engine
from tests.conftest import add_user
from tests.services.trail.helpers import close, run_verify, trail_api
from tests.services.trail.test_reset_chain import HEZHUN, _accepted_case
from tests.web.api.test_shipped_processes import user_for

REVIEW = HEZHUN["steps"][3]
assert REVIEW["task"] == "division_review"


@pytest.mark.parametrize("mode", ["before", "after"])
def test_a_signer_signs_over_the_api(db_url, mode):
    api = trail_api(db_url)
    try:
        case, _, _ = _accepted_case(api)
        review = [t for t in case["current_tasks"] if t["element_id"] == "division_review"][0]
        holder = user_for(api, review)
        group = review["candidate_groups"][0]
        api.headers["signer1"] = add_user(api.app, "signer1", "staff", [group])
        body = {"users": ["signer1"], "mode": mode, "opinion": "请会签"}
        if mode == "after":
            body["data"] = REVIEW["data"]
        r = api.post(holder, f"/api/tasks/{review['id']}/signers", json=body)
        assert r.status_code == 200, r.json
        sign = [t for t in api.tasks("signer1") if t["kind"] == "sign"][0]
        r = api.post("signer1", f"/api/tasks/{sign['id']}/complete", json={"data": {}, "opinion": "同意"})
        assert r.status_code == 200, r.json
        answer = r.json
        assert answer["id"] == case["id"]
        open_elements = sorted(t["element_id"] for t in answer["current_tasks"])
        with api.app.app_context():
            row = db.session.get(HumanTask, sign["id"])
            assert (row.state, row.opinion, row.completed_by) == ("completed", "同意", "signer1")
            inst = db.session.get(ProcessInstance, db.session.get(Case, case["id"]).instance_id)
            assert answer["revision"] == inst.revision
            if mode == "before":
                # the task comes back to its holder, unblocked; the process has not moved
                assert open_elements == ["division_review"]
                assert db.session.get(HumanTask, review["id"]).blocked == 0
            else:
                # the held completion went through: the countersign is open, and this worker keeps the
                # workflow of the revision it stored
                assert "division_review" not in open_elements and "countersign" in open_elements
                assert db.session.get(HumanTask, review["id"]).state == "completed"
                assert engine().holds(inst.id, inst.revision)
            db.session.remove()
        code, out = run_verify(api)
        assert code == 0, out
    finally:
        close(api)
