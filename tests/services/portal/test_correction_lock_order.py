"""The 补正 paths take their locks in the order of every step: the instance, the case, then the
correction request (app/services/cases/locks.py), on the shipped xmgl_beian (tests/services/portal/
test_correction.py's cases). Each race is staged as in tests/services/cases/test_lock_order.py: the step's
locks held, the operation started and waiting, then what the step writes. The applicant's answer used to
write the case row before it locked the instance, and a withdrawn request was locked before its case:
each deadlocked with a step (a 500, then a 409 once web/errors.py answered deadlocks).

PostgreSQL only: SQLite's BEGIN IMMEDIATE orders whole transactions."""
import io

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Case, ProcessInstance
from app.models.correction import CorrectionRequest
from app.services.common.db_support import lock_one
from tests.conftest import add_user
from tests.services.cases.lock_race import behind_a_step
from tests.services.portal.test_correction import (PNG, Page, accepted_case, api, editor_form, ready,  # noqa: F401
                                                   requests, start)


def _pg_only(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("row-lock order: PostgreSQL")


def _instance(app, case_id):
    with app.app_context():
        inst_id = db.session.get(Case, case_id).instance_id
        db.session.remove()
    return inst_id


def _answer(page, case_id, req):
    """The applicant answers the notice: a file for the first item, a remark for the second."""
    r = page.c.post(f"/portal/cases/{case_id}/correction",
                    data={"csrf_token": page.csrf, "request_id": str(req.id),
                          "file_1": (io.BytesIO(PNG), "a.png"), "remark_2": "ok"},
                    content_type="multipart/form-data")
    return {"status": r.status_code, "body": r.get_data(as_text=True)[:300]}


def _withdraw(page, req):
    r = page.c.post(f"/correction/requests/{req.id}/withdraw", json={"reason": "不需要了"},
                    headers={"X-CSRF-Token": page.csrf, "Accept": "application/json"})
    return {"status": r.status_code, "body": r.get_data(as_text=True)[:300]}


def _case_written(case_id):
    return lambda: db.session.execute(update(Case).where(Case.id == case_id).values(trail_seq=Case.trail_seq))


@pytest.mark.parametrize("op", ["answer", "withdraw"])
def test_a_correction_operation_waits_for_a_step(api, db_url, op):
    _pg_only(db_url)
    app = api.app
    case_id, task = accepted_case(api)
    handler = Page(app, "inv1")
    handler.post(f"/correction/tasks/{task}", {**editor_form(), "days": "5"})
    [req] = requests(app, case_id)
    alice = Page(app, "alice")
    inst_id = _instance(app, case_id)
    answer, step_error = behind_a_step(
        app, lambda: lock_one(ProcessInstance, ProcessInstance.id == inst_id),     # as a step does first
        (lambda: _answer(alice, case_id, req)) if op == "answer" else (lambda: _withdraw(handler, req)),
        _case_written(case_id), settle=0.3)
    assert step_error is None and answer.get("status") in (200, 302), (answer, step_error)


def test_the_answer_at_the_window_waits_for_a_step(api, db_url):
    _pg_only(db_url)
    app = api.app
    case_id = start(api)
    [window_task] = ready(app, case_id, "window_review")
    Page(app, "w1").post(f"/correction/tasks/{window_task}", editor_form())
    [req] = requests(app, case_id)
    assert req.mode == "window"
    alice = Page(app, "alice")
    inst_id = _instance(app, case_id)
    answer, step_error = behind_a_step(
        app, lambda: lock_one(ProcessInstance, ProcessInstance.id == inst_id),
        lambda: _answer(alice, case_id, req), _case_written(case_id), settle=0.3)
    assert step_error is None and answer.get("status") in (200, 302), (answer, step_error)


def test_withdrawing_a_request_waits_for_a_case_operation_that_writes_it(api, db_url):
    """terminate / the applicant's withdrawal: lock_case (instance, case), then set_case_status ->
    portal.corrections._status_changed writes the open request; withdrawing the request takes the same
    three in the same order."""
    _pg_only(db_url)
    app = api.app
    case_id, task = accepted_case(api)
    handler = Page(app, "inv1")
    handler.post(f"/correction/tasks/{task}", {**editor_form(), "days": "5"})
    [req] = requests(app, case_id)
    inst_id = _instance(app, case_id)

    def hold():
        lock_one(ProcessInstance, ProcessInstance.id == inst_id)
        lock_one(Case, Case.id == case_id)

    answer, step_error = behind_a_step(
        app, hold, lambda: _withdraw(handler, req),
        lambda: db.session.execute(update(CorrectionRequest).where(CorrectionRequest.id == req.id)
                                   .values(status=CorrectionRequest.status)), settle=0.3)
    assert step_error is None and answer.get("status") == 200, (answer, step_error)


def test_terminate_closes_the_open_request(api):
    """The third lock of the order: a case operation writes the open request (why it comes last)."""
    app = api.app
    case_id, task = accepted_case(api)
    Page(app, "inv1").post(f"/correction/tasks/{task}", {**editor_form(), "days": "5"})
    api.headers["boss"] = add_user(app, "boss", "staff", ["admin"])
    r = api.post("boss", f"/api/cases/{case_id}/terminate", json={"reason": "终止"})
    assert r.status_code == 200, r.json
    [req] = requests(app, case_id)
    assert req.status == "withdrawn"
