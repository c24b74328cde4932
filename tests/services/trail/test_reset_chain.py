"""退回 and 撤回 keep the trail's hash chain whole (a shipped matter, xmgl_hezhun 企业投资项目核准).

A step taken back or sent back is reopened under the engine's id of the finished step; the finished
round's row goes on as history under a new id. Its events concern that history row from then on
(``task_ref``), while their ``task_id`` stays as recorded, because it is part of each row's hash. Until
migration 0026 the link was made by rewriting ``task_id``, and every 退回 / 撤回 broke the chain; the
migration's repair gives those rows back their recorded id, proved by their own hash."""
from __future__ import annotations

import importlib.util
import json

from sqlalchemy import select, text

from app.extensions import db
from app.models import CaseEvent, HumanTask
from tests.conftest import ROOT
from tests.web.api.test_shipped_processes import user_for

from .helpers import close, run_verify, trail_api

HEZHUN = json.loads((ROOT / "processes" / "xmgl_hezhun.scenarios.json").read_text(encoding="utf-8"))["scenarios"][0]
ACCEPT = HEZHUN["steps"][2]          # window_review: 予以受理
assert ACCEPT["task"] == "window_review"


def _migration():
    spec = importlib.util.spec_from_file_location("m0026", ROOT / "migrations" / "versions" / "0026_event_task_ref.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _complete(api, case, element, data):
    api.clock.advance(minutes=5)   # the trail's clock is frozen: 撤回 tells later steps by their time
    task = [t for t in case["current_tasks"] if t["element_id"] == element][0]
    who = user_for(api, task)
    r = api.post(who, f"/api/tasks/{task['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return r.json, task["id"], who


def _accepted_case(api):
    """A 核准 case through one 补正 and 受理: 处室审查 open. Returns the case, the 受理 task's id and who did it."""
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_hezhun", "data": HEZHUN["start"]})
    assert r.status_code == 201, r.json
    case = r.json
    for step in HEZHUN["steps"][:2]:
        case, _, _ = _complete(api, case, step["task"], step["data"])
    return _complete(api, case, "window_review", ACCEPT["data"])


def _rounds(api, case_id, element):
    """The case's rows of ``element`` (history first) and, per row, the actions of the events that concern it."""
    with api.app.app_context():
        rows = db.session.execute(select(HumanTask).where(HumanTask.case_id == case_id,
                                                          HumanTask.element_id == element)
                                  .order_by(HumanTask.created_at, HumanTask.id)).scalars().all()
        evs = db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                 .order_by(CaseEvent.seq)).scalars().all()
        return [(r.id, r.state, [e.action for e in evs if e.task_row_id == r.id]) for r in rows], evs


def test_withdraw_and_return_keep_the_chain_and_link_each_round_to_its_row(db_url):
    api = trail_api(db_url)
    try:
        case, accept_id, window = _accepted_case(api)
        # 撤回 by the window, then 受理 again
        api.clock.advance(minutes=5)
        r = api.post(window, f"/api/tasks/{accept_id}/withdraw", json={"reason": "受理意见需修改"})
        assert r.status_code == 200, r.json
        code, out = run_verify(api)
        assert code == 0 and "全部一致" in out, out
        case = api.get("applicant_1", f"/api/cases/{case['id']}").json
        case, again_id, _ = _complete(api, case, "window_review", ACCEPT["data"])
        assert again_id == accept_id          # the engine's id of the step, reopened
        # 退回 by 处室审查 to the window, then 受理 a third time
        review = [t for t in case["current_tasks"] if t["element_id"] == "division_review"][0]
        reviewer = user_for(api, review)
        targets = api.get(reviewer, f"/api/tasks/{review['id']}/return-targets").json["targets"]
        target = [t for t in targets if t["element_id"] == "window_review"][0]
        api.clock.advance(minutes=5)
        r = api.post(reviewer, f"/api/tasks/{review['id']}/return",
                     json={"target": target["task_id"], "reason": "受理意见不完整"})
        assert r.status_code == 200, r.json
        case = api.get("applicant_1", f"/api/cases/{case['id']}").json
        case, _, _ = _complete(api, case, "window_review", ACCEPT["data"])
        code, out = run_verify(api)
        assert code == 0 and "全部一致" in out, out

        rounds, evs = _rounds(api, case["id"], "window_review")
        # the 补正 round, the withdrawn 受理, the returned 受理 and the last one (the engine's id)
        assert [state for _, state, _ in rounds] == ["completed"] * 4
        assert rounds[-1][0] == accept_id
        assert rounds[1][2] == ["complete", "withdraw"]   # the round taken back, with its 撤回
        assert rounds[2][2] == ["complete"] and rounds[3][2] == ["complete"]
        # every event keeps the id it was recorded with; the link of the earlier rounds is task_ref
        linked = [e for e in evs if e.task_ref is not None]
        assert {e.task_id for e in linked} == {accept_id}
        assert {e.task_ref for e in linked} == {rounds[1][0], rounds[2][0]}
        # the API's history names the row of each event
        history = api.get("applicant_1", f"/api/cases/{case['id']}").json["history"]
        by_id = {h["id"]: h for h in history}
        for e in linked:
            assert by_id[e.id]["task_id"] == e.task_ref and by_id[e.id]["recorded_task_id"] == accept_id
    finally:
        close(api)


def test_migration_gives_rewritten_rows_back_their_recorded_id(db_url):
    api = trail_api(db_url)
    try:
        case, accept_id, window = _accepted_case(api)
        api.clock.advance(minutes=5)
        assert api.post(window, f"/api/tasks/{accept_id}/withdraw", json={}).status_code == 200
        case = api.get("applicant_1", f"/api/cases/{case['id']}").json
        _complete(api, case, "window_review", ACCEPT["data"])
        with api.app.app_context():
            linked = dict(db.session.execute(select(CaseEvent.id, CaseEvent.task_ref)
                                             .where(CaseEvent.task_ref.is_not(None))).all())
            assert linked
            # what the code before 0026 left: task_id rewritten to the history row's id, no task_ref
            db.session.execute(text("UPDATE case_events SET task_id = task_ref, task_ref = NULL "
                                    "WHERE task_ref IS NOT NULL"))
            db.session.commit()
        code, out = run_verify(api)
        assert code == 1 and "内容被修改" in out, out
        with api.app.app_context():
            assert _migration().repair(db.session.connection()) == len(linked)
            db.session.commit()
        code, out = run_verify(api)
        assert code == 0 and "全部一致" in out, out
        with api.app.app_context():
            rows = db.session.execute(select(CaseEvent).where(CaseEvent.id.in_(linked))).scalars().all()
            assert {r.id: r.task_ref for r in rows} == linked and {r.task_id for r in rows} == {accept_id}
            # a second run finds nothing to do
            assert _migration().repair(db.session.connection()) == 0
    finally:
        close(api)
