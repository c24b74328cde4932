"""The 补正 paths take their locks in the order of every step: the instance, the case, then the
correction request (app/services/cases/locks.py), on the shipped xmgl_beian (tests/services/portal/
test_correction.py's cases). Each race is staged as in tests/services/cases/test_lock_order.py: the step's
locks held, the operation started and waiting, then what the step writes. The applicant's answer used to
write the case row before it locked the instance, and a withdrawn request was locked before its case:
each deadlocked with a step (a 500, then a 409 once web/errors.py answered deadlocks).

PostgreSQL only: SQLite's BEGIN IMMEDIATE orders whole transactions."""
import io
import threading
import time

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Case, ProcessInstance
from app.services.common.db_support import lock_one
from tests.services.cases.test_lock_order import _waiting_for_lock
from tests.services.portal.test_correction import PNG, Page, accepted_case, api, editor_form, requests  # noqa: F401


@pytest.mark.parametrize("op", ["answer", "withdraw"])
def test_a_correction_operation_waits_for_a_step(api, db_url, op):
    if not db_url.startswith("postgresql"):
        pytest.skip("row-lock order: PostgreSQL")
    app = api.app
    case_id, task = accepted_case(api)
    handler = Page(app, "inv1")
    handler.post(f"/correction/tasks/{task}", {**editor_form(), "days": "5"})
    [req] = requests(app, case_id)
    alice = Page(app, "alice")
    answer = {}

    def operation():
        try:
            if op == "answer":
                r = alice.c.post(f"/portal/cases/{case_id}/correction",
                                 data={"csrf_token": alice.csrf, "request_id": str(req.id),
                                       "file_1": (io.BytesIO(PNG), "a.png"), "remark_2": "ok"},
                                 content_type="multipart/form-data")
            else:
                r = handler.c.post(f"/correction/requests/{req.id}/withdraw",
                                   json={"reason": "不需要了"},
                                   headers={"X-CSRF-Token": handler.csrf, "Accept": "application/json"})
            answer["status"] = r.status_code
            answer["body"] = r.get_data(as_text=True)[:300]
        except Exception as exc:
            answer["error"] = repr(exc)

    step_error = None
    with app.app_context():
        inst_id = db.session.get(Case, case_id).instance_id
        db.session.rollback()
        lock_one(ProcessInstance, ProcessInstance.id == inst_id)     # as a step does first
        t = threading.Thread(target=operation)
        t.start()
        deadline = time.monotonic() + 20
        while not _waiting_for_lock(app):
            assert time.monotonic() < deadline and t.is_alive(), answer
            time.sleep(0.02)
        time.sleep(0.3)
        try:
            db.session.execute(update(Case).where(Case.id == case_id).values(trail_seq=Case.trail_seq))
            db.session.commit()
        except Exception as exc:
            step_error = repr(exc)[:200]
            db.session.rollback()
    t.join(60)
    assert step_error is None and answer.get("status") in (200, 302), (answer, step_error)


def test_the_answer_at_the_window_waits_for_a_step(api, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("row-lock order: PostgreSQL")
    from tests.services.portal.test_correction import ready, start
    app = api.app
    case_id = start(api)
    [window_task] = ready(app, case_id, "window_review")
    Page(app, "w1").post(f"/correction/tasks/{window_task}", editor_form())
    [req] = requests(app, case_id)
    assert req.mode == "window"
    alice = Page(app, "alice")
    answer = {}

    def operation():
        try:
            r = alice.c.post(f"/portal/cases/{case_id}/correction",
                             data={"csrf_token": alice.csrf, "request_id": str(req.id),
                                   "file_1": (io.BytesIO(PNG), "a.png"), "remark_2": "ok"},
                             content_type="multipart/form-data")
            answer["status"] = r.status_code
        except Exception as exc:
            answer["error"] = repr(exc)

    step_error = None
    with app.app_context():
        inst_id = db.session.get(Case, case_id).instance_id
        db.session.rollback()
        lock_one(ProcessInstance, ProcessInstance.id == inst_id)
        t = threading.Thread(target=operation)
        t.start()
        deadline = time.monotonic() + 20
        while not _waiting_for_lock(app):
            assert time.monotonic() < deadline and t.is_alive(), answer
            time.sleep(0.02)
        time.sleep(0.3)
        try:
            db.session.execute(update(Case).where(Case.id == case_id).values(trail_seq=Case.trail_seq))
            db.session.commit()
        except Exception as exc:
            step_error = repr(exc)[:200]
            db.session.rollback()
    t.join(60)
    assert step_error is None and answer.get("status") in (200, 302), (answer, step_error)


def test_withdrawing_a_request_waits_for_a_case_operation_that_writes_it(api, db_url):
    """terminate / the applicant's withdrawal: lock_case (instance, case), then set_case_status ->
    portal.corrections._status_changed writes the open request; withdrawing the request takes the same
    three in the same order."""
    if not db_url.startswith("postgresql"):
        pytest.skip("row-lock order: PostgreSQL")
    from app.models.correction import CorrectionRequest
    app = api.app
    case_id, task = accepted_case(api)
    handler = Page(app, "inv1")
    handler.post(f"/correction/tasks/{task}", {**editor_form(), "days": "5"})
    [req] = requests(app, case_id)
    answer = {}

    def operation():
        r = handler.c.post(f"/correction/requests/{req.id}/withdraw", json={"reason": "不需要了"},
                           headers={"X-CSRF-Token": handler.csrf, "Accept": "application/json"})
        answer["status"] = r.status_code

    step_error = None
    with app.app_context():
        inst_id = db.session.get(Case, case_id).instance_id
        db.session.rollback()
        lock_one(ProcessInstance, ProcessInstance.id == inst_id)
        lock_one(Case, Case.id == case_id)
        t = threading.Thread(target=operation)
        t.start()
        deadline = time.monotonic() + 20
        while not _waiting_for_lock(app):
            assert time.monotonic() < deadline and t.is_alive(), answer
            time.sleep(0.02)
        time.sleep(0.3)
        try:
            db.session.execute(update(CorrectionRequest).where(CorrectionRequest.id == req.id)
                               .values(status=CorrectionRequest.status))
            db.session.commit()
        except Exception as exc:
            step_error = repr(exc)[:200]
            db.session.rollback()
    t.join(60)
    assert step_error is None and answer.get("status") == 200, (answer, step_error)


def test_terminate_closes_the_open_request(api):
    """The third lock of the order: a case operation writes the open request (why it comes last)."""
    from tests.conftest import add_user
    app = api.app
    case_id, task = accepted_case(api)
    Page(app, "inv1").post(f"/correction/tasks/{task}", {**editor_form(), "days": "5"})
    api.headers["boss"] = add_user(app, "boss", "staff", ["admin"])
    r = api.post("boss", f"/api/cases/{case_id}/terminate", json={"reason": "终止"})
    assert r.status_code == 200, r.json
    [req] = requests(app, case_id)
    assert req.status == "withdrawn"
