"""Shared setup of the 好差评 / consultation / disclosure tests: the fixture process t_simple (window
review → countersign by ecology and finance → decision by the investment chief), driven through the
API to a decision; browser sessions for the HTML pages."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from tests.web.api.helpers import START, Api
from tests.conftest import add_user, deploy_all

CREDIT = "91320111MA1Y7K3N27"
CSRF = "csrf-test-token"


@pytest.fixture
def api(fixture_app):
    deploy_all(fixture_app)
    a = Api(fixture_app)
    a.headers["alice"] = add_user(fixture_app, "alice", "applicant", org_code=CREDIT)   # an enterprise
    a.headers["bob"] = add_user(fixture_app, "bob", "applicant")                          # an individual
    for name, groups, region in [("w1", ["window"], "320000"), ("w_nj", ["window"], "320100"),
                                 ("eco", ["cs_ecology"], "320000"), ("fin", ["cs_finance"], "320000"),
                                 ("chief", ["investment_chief"], "320000"), ("inv", ["investment"], "320000"),
                                 ("liaison", ["investment_liaison"], "320000"),
                                 ("liaison_nj", ["investment_liaison"], "320100"),
                                 ("energy", ["energy_saving"], "320000"), ("boss", ["admin"], "320000"),
                                 ("insp", ["inspector"], "320000")]:
        a.user(name, groups=groups, region_code=region)
    set_phone(fixture_app, "liaison", "13800000001")
    set_phone(fixture_app, "liaison_nj", "13800000002")
    set_phone(fixture_app, "alice", "13900000009")
    return a


def set_phone(app, username, phone):
    with app.app_context():
        db.session.execute(User.__table__.update().where(User.username == username).values(phone=phone))
        db.session.commit()


def first_task(api, who):
    r = api.get(who, "/api/inbox", query_string={"tab": "todo"})
    assert r.status_code == 200, r.json
    assert r.json["rows"], f"{who} has nothing to do"
    return r.json["rows"][0]["task"]


def op(api, who, name, **body):
    t = first_task(api, who)
    r = api.post(who, f"/api/tasks/{t['id']}/{name}", json=body)
    assert r.status_code == 200, r.json
    return r.json


def start(api, who="alice", **data):
    r = api.post(who, "/api/cases", json={"process_id": "t_simple", "data": {**START, **data}})
    assert r.status_code == 201, r.json
    return r.json


def to_decision(api, who="alice", **data):
    case = start(api, who, **data)
    op(api, "w1", "approve", opinion="材料齐全，予以受理")
    op(api, "eco", "approve", data={"cs": {"agree": "yes"}}, opinion="同意")
    op(api, "fin", "approve", data={"cs": {"agree": "yes"}}, opinion="无意见")
    return case


def decided_case(api, who="alice", decision="approve", **data):
    case = to_decision(api, who, **data)
    if decision == "approve":
        out = op(api, "chief", "approve", data={"decision": "approve"}, opinion="同意")
    else:
        out = op(api, "chief", "reject", opinion="项目不符合产业政策")
    assert out["case_status"] == ("approved" if decision == "approve" else "rejected"), out
    return case


def browser(app, username):
    """A test client signed in as ``username`` (session cookie, CSRF token known)."""
    client = app.test_client()
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
    with client.session_transaction() as s:
        s["uid"] = uid
        s["csrf"] = CSRF
    return client


def post(client, url, data=None, csrf=True, **kw):
    data = dict(data or {})
    if csrf:
        data["csrf_token"] = CSRF
    return client.post(url, data=data, **kw)


def count(app, model, *where):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def rows(app, model, *where):
    with app.app_context():
        out = list(db.session.execute(select(model).where(*where).order_by(model.id)).scalars())
        for row in out:
            db.session.expunge(row)
        return out


def clock(app):
    return app.extensions["clock"]
