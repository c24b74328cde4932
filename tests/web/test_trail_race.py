"""Two transactions writing the next entry of one case's trail at once: the later one meets the chain's
UNIQUE (case_id, seq), rolls back whole and is answered 409 with the reason — never a 500 — and the
chain stays one line. The race is staged on the SHIPPED 企业投资项目备案: the case's head on ``cases`` is
set one entry back with SQL, as if another transaction had written the next entry after this one read it."""
import json

from sqlalchemy import select, text

from app.extensions import db
from app.models import Case, CaseEvent, HumanTask
from tests.conftest import ROOT, deploy_all, make_app
from tests.web.api.helpers import Api

BEIAN = json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text("utf-8"))["scenarios"][0]


def test_a_step_racing_another_write_on_its_case_is_a_409_and_changes_nothing(db_url):
    app = make_app(db_url)
    deploy_all(app)
    api = Api(app)
    api.user("applicant_1", "applicant")
    api.user("win", groups=["window"])
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_beian", "data": BEIAN["start"]})
    assert r.status_code == 201, r.json
    case_id = r.json["id"]
    with app.app_context():
        status = db.session.get(Case, case_id).status
        before = db.session.execute(select(CaseEvent.id).where(CaseEvent.case_id == case_id)).scalars().all()
        db.session.execute(text("UPDATE cases SET trail_seq = trail_seq - 1 WHERE id = :id"), {"id": case_id})
        db.session.commit()
    task = api.tasks("win")[0]
    r = api.post("win", f"/api/tasks/{task['id']}/complete", json={"data": BEIAN["steps"][0]["data"]})
    assert r.status_code == 409, r.json
    assert "同时有其他操作" in r.json["message"]
    with app.app_context():
        assert db.session.execute(select(CaseEvent.id).where(CaseEvent.case_id == case_id)).scalars().all() == before
        assert db.session.get(HumanTask, task["id"]).state == "ready"
        assert db.session.get(Case, case_id).status == status
        db.session.remove()
        db.engine.dispose()


def test_a_clerk_who_loses_the_race_on_the_page_is_sent_back_with_the_reason(db_url):
    """The same race from the 工作台's form (no script: a plain POST): the clerk is sent back to the task
    with the reason as the page's message, as for any other refusal, not left on a bare error page."""
    from app.services.identity.auth import set_password
    from tests.web.inbox.test_inbox_pages import PASSWORD, Browser
    app = make_app(db_url)
    deploy_all(app)
    api = Api(app)
    api.user("applicant_1", "applicant")
    api.user("win", groups=["window"])
    with app.app_context():
        from app.models import User
        set_password(db.session.execute(select(User).where(User.username == "win")).scalar_one(), PASSWORD)
        db.session.commit()
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_beian", "data": BEIAN["start"]})
    assert r.status_code == 201, r.json
    case_id = r.json["id"]
    task = api.tasks("win")[0]
    page = f"/inbox/tasks/{task['id']}"
    browser = Browser(app, "win")
    browser.get(page)
    with app.app_context():
        before = db.session.execute(select(CaseEvent.id).where(CaseEvent.case_id == case_id)).scalars().all()
        db.session.execute(text("UPDATE cases SET trail_seq = trail_seq - 1 WHERE id = :id"), {"id": case_id})
        db.session.commit()
    form = {f"data.{k}": v for k, v in BEIAN["steps"][0]["data"].items() if isinstance(v, str)}
    r = browser.post(f"{page}/approve", {"opinion": "受理", **form}, headers={"Referer": page})
    assert r.headers["Location"].endswith(page)
    assert "同时有其他操作" in browser.follow(r)
    with app.app_context():
        assert db.session.execute(select(CaseEvent.id).where(CaseEvent.case_id == case_id)).scalars().all() == before
        assert db.session.get(HumanTask, task["id"]).state == "ready"
        db.session.remove()
        db.engine.dispose()
