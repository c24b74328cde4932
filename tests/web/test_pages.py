"""Sign-in, CSRF, the supervision page and CSV, the calendar administration page."""
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CalendarDay, CalendarYear, User
from app.services.identity.auth import set_password
from app.services.common.clock import FakeClock
from app.services.clocks.supervision import run_supervision
from tests.web.api.helpers import Api
from tests.conftest import FIXTURES, deploy_all, make_app

BJ = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct horse battery"


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))


@pytest.fixture
def app(db_url, clock):
    app = make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"), CLOCK=clock)
    deploy_all(app)
    api = Api(app)
    for name, groups in (("inspector", ["inspector"]), ("admin", ["admin"]), ("w1", ["window"])):
        api.user(name, groups=groups)
    api.user("alice", "applicant")
    with app.app_context():
        for user in db.session.execute(select(User)).scalars():
            set_password(user, PASSWORD)
        db.session.commit()
    app.api = api
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username, password=PASSWORD):
    token = csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def test_sign_in_and_out(app):
    c = app.test_client()
    assert c.get("/supervision").status_code == 302
    r = login(c, "inspector")
    assert r.status_code == 302
    page = c.get("/supervision")
    assert page.status_code == 200 and "电子监察" in page.get_data(as_text=True)
    token = csrf(page.get_data(as_text=True))
    assert c.post("/logout", data={"csrf_token": token}).status_code == 302
    assert c.get("/supervision").status_code == 302


def test_a_post_without_the_csrf_token_is_refused(app):
    c = app.test_client()
    c.get("/login")
    r = c.post("/login", data={"username": "inspector", "password": PASSWORD})
    assert r.status_code == 400


def test_wrong_password_locks_after_five_failures(app, clock):
    c = app.test_client()
    for _ in range(5):
        r = login(c, "w1", "wrong password!")
        assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    r = login(c, "w1")
    assert r.status_code == 401 and "锁定" in r.get_data(as_text=True)
    assert login(c, "nobody", "whatever123").status_code == 401
    clock.advance(minutes=16)
    assert login(c, "w1").status_code == 302


def test_only_inspectors_and_admins_see_supervision(app):
    c = app.test_client()
    login(c, "w1")
    assert c.get("/supervision").status_code == 403
    assert c.get("/supervision/export.csv").status_code == 403


def test_supervision_page_filters_and_csv(app, clock):
    api = app.api
    case = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": {
        "amount": 1, "project_name": "监察页面", "depts": ["cs_ecology"]}}).json
    clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=BJ))
    with app.app_context():
        run_supervision()
    c = app.test_client()
    login(c, "inspector")
    page = c.get("/supervision?colour=red").get_data(as_text=True)
    assert case["case_no"] in page and "红牌" in page
    assert case["case_no"] not in c.get("/supervision?colour=yellow").get_data(as_text=True)
    assert case["case_no"] not in c.get("/supervision?department=power").get_data(as_text=True)
    assert c.get("/supervision?since=yesterday").status_code == 200  # a bad date is explained, not a 500
    assert "YYYY-MM-DD" in c.get("/supervision?since=yesterday").get_data(as_text=True)
    csv_text = c.get("/supervision/export.csv?colour=red").get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").startswith("办件编号") and case["case_no"] in csv_text
    assert c.get("/supervision?lang=en").get_data(as_text=True).count("Electronic supervision") >= 1


def test_supervision_api_is_inspector_only(app, clock):
    api = app.api
    api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": {"amount": 1, "project_name": "x"}})
    clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=BJ))
    with app.app_context():
        run_supervision()
    assert api.get("w1", "/api/supervision/events").status_code == 403
    r = api.get("inspector", "/api/supervision/events?colour=red")
    assert r.status_code == 200 and [e["rule_id"] for e in r.json] == ["RED-STEP"]
    assert api.get("inspector", "/api/supervision/events?colour=blue").status_code == 422
    rates = api.get("inspector", "/api/supervision/rates").json
    assert set(rates) == {"departments", "matters"}


def test_calendar_admin_page_edits_and_imports(app):
    c = app.test_client()
    login(c, "admin")
    page = c.get("/admin/calendar?year=2026").get_data(as_text=True)
    assert "春节" in page
    token = csrf(page)
    r = c.post("/admin/calendar/day", data={"day": "2026-03-09", "kind": "holiday", "name": "测试假日",
                                            "csrf_token": token})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(CalendarDay, datetime(2026, 3, 9).date()).kind == "holiday"
    r = c.post("/admin/calendar/day", data={"day": "2026-03-10", "kind": "workday", "csrf_token": token})
    assert r.status_code == 422 and "周六或周日" in r.get_data(as_text=True)
    from io import BytesIO
    good = "# 国办发明电〔2026〕X号\n2027-01-01,holiday,元旦\n2027-02-06,workday,春节\n"
    r = c.post("/admin/calendar/import", data={"year": "2027", "note": "测试", "csrf_token": token,
                                               "file": (BytesIO(good.encode()), "2027.csv")})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(CalendarYear, 2027) is not None
    bad = "2027-13-01,holiday,x\n2027-01-04,workday,周一\n"
    r = c.post("/admin/calendar/import", data={"year": "2028", "csrf_token": token,
                                               "file": (BytesIO(bad.encode()), "2028.csv")})
    assert r.status_code == 422 and "line 1" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CalendarYear, 2028) is None
    login(app.test_client(), "inspector")
    other = app.test_client()
    login(other, "inspector")
    assert other.get("/admin/calendar").status_code == 403
