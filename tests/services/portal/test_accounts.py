"""Applicant accounts through the portal pages: registration with an SMS code (enterprise with a
checked credit code, individual with a checked ID number), sign-in by code or optional password,
the profile (contact data, new mobile with a code, password). Every bad input: a clear message,
nothing changed."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from app.models.accounts import ApplicantProfile
from app.services.common.clock import FakeClock
from tests.conftest import make_app
from tests.services.portal.helpers import (credit_code, csrf, id_number, last_code, make_applicant, signed_in,
                                           wrong_check)

MOBILE = "13912345678"
ENTERPRISE = {"kind": "enterprise", "name": "江苏绿能科技有限公司", "credit_code": credit_code(),
              "legal_representative": "王五", "contact_person": "赵六", "mobile": MOBILE}


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.fixture
def app(db_url, clock):
    app = make_app(db_url, CLOCK=clock)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def accounts(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(ApplicantProfile)).scalar()


def post_register(c, fields, action="register", code=""):
    token = csrf(c.get("/portal/register").get_data(as_text=True))
    return c.post("/portal/register", data=dict(fields, csrf_token=token, action=action, code=code))


def register(app, c, clock, fields=ENTERPRISE):
    r = post_register(c, fields, "send_code")
    assert r.status_code == 200 and "验证码已发送" in r.get_data(as_text=True)
    return post_register(c, fields, code=last_code(app, fields["mobile"]))


def is_signed_in(c) -> bool:
    return c.get("/portal/profile").status_code == 200


def test_enterprise_registers_with_the_sms_code_and_is_signed_in(app, clock):
    c = app.test_client()
    r = register(app, c, clock)
    assert r.status_code == 302, r.get_data(as_text=True)
    page = c.get("/portal/profile").get_data(as_text=True)
    assert ENTERPRISE["credit_code"] in page and MOBILE in page and "江苏绿能科技有限公司" in page
    with app.app_context():
        user = db.session.execute(select(User).where(User.phone == MOBILE)).scalar_one()
        assert user.kind == "applicant" and user.org_code == ENTERPRISE["credit_code"]


def test_individual_registers_with_a_checked_id_number(app, clock):
    c = app.test_client()
    fields = {"kind": "individual", "name": "陈七", "id_number": id_number(), "mobile": "13800000002"}
    assert register(app, c, clock, fields).status_code == 302
    assert is_signed_in(c) and accounts(app) == 1


def test_bad_credit_code_check_character_is_refused_and_no_code_sent(app):
    c = app.test_client()
    bad = dict(ENTERPRISE, credit_code=wrong_check(ENTERPRISE["credit_code"]))
    r = post_register(c, bad, "send_code")
    assert r.status_code == 422 and "校验位不正确" in r.get_data(as_text=True)
    assert last_code(app, MOBILE) is None and accounts(app) == 0


def test_bad_id_number_is_refused(app, clock):
    c = app.test_client()
    fields = {"kind": "individual", "name": "陈七", "id_number": wrong_check(id_number()), "mobile": "13800000002"}
    r = post_register(c, fields, "send_code")
    assert r.status_code == 422 and "身份证号码校验位不正确" in r.get_data(as_text=True)
    r = post_register(c, fields, code="123456")
    assert r.status_code == 422 and accounts(app) == 0


def test_wrong_and_expired_codes_at_registration_change_nothing(app, clock):
    c = app.test_client()
    post_register(c, ENTERPRISE, "send_code")
    good = last_code(app, MOBILE)
    wrong = "000000" if good != "000000" else "111111"
    r = post_register(c, ENTERPRISE, code=wrong)
    assert r.status_code == 422 and "验证码错误" in r.get_data(as_text=True)
    clock.advance(minutes=6)
    r = post_register(c, ENTERPRISE, code=good)
    assert r.status_code == 422 and "已过期" in r.get_data(as_text=True)
    assert accounts(app) == 0 and not is_signed_in(c)


def test_duplicate_credit_code_or_mobile_is_a_clear_error(app, clock):
    assert register(app, app.test_client(), clock).status_code == 302
    clock.advance(minutes=2)
    c = app.test_client()
    r = post_register(c, dict(ENTERPRISE, mobile="13700000003"), "send_code")
    assert r.status_code == 409 and "该统一社会信用代码已注册" in r.get_data(as_text=True)
    other = dict(ENTERPRISE, credit_code=credit_code("91320100MA1ABC98"))
    r = post_register(c, other, "send_code")
    assert r.status_code == 409 and "该手机号码已注册" in r.get_data(as_text=True)
    assert accounts(app) == 1


def test_missing_csrf_token_is_refused(app):
    c = app.test_client()
    c.get("/portal/register")
    r = c.post("/portal/register", data=dict(ENTERPRISE, action="send_code"))
    assert r.status_code == 400 and last_code(app, MOBILE) is None


def login_page_post(c, **data):
    token = csrf(c.get("/portal/login").get_data(as_text=True))
    return c.post("/portal/login", data=dict(data, csrf_token=token))


def test_login_by_sms_code(app, clock):
    make_applicant(app, MOBILE)
    c = app.test_client()
    r = login_page_post(c, mobile=MOBILE, action="send_code")
    assert r.status_code == 200 and "验证码已发送" in r.get_data(as_text=True)
    code = last_code(app, MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    r = login_page_post(c, mobile=MOBILE, code=wrong, action="login")
    assert r.status_code == 401 and "验证码错误" in r.get_data(as_text=True) and not is_signed_in(c)
    r = login_page_post(c, mobile=MOBILE, code=code, action="login")
    assert r.status_code == 302 and is_signed_in(c)
    # one use only
    c2 = app.test_client()
    assert login_page_post(c2, mobile=MOBILE, code=code, action="login").status_code == 401


def test_expired_login_code_is_refused(app, clock):
    make_applicant(app, MOBILE)
    c = app.test_client()
    login_page_post(c, mobile=MOBILE, action="send_code")
    clock.advance(minutes=5, seconds=1)
    r = login_page_post(c, mobile=MOBILE, code=last_code(app, MOBILE), action="login")
    assert r.status_code == 401 and "过期" in r.get_data(as_text=True) and not is_signed_in(c)


def test_unknown_mobile_gets_the_same_answer_and_no_sms(app):
    c = app.test_client()
    r = login_page_post(c, mobile="13600000009", action="send_code")
    assert r.status_code == 200 and "验证码已发送" in r.get_data(as_text=True)
    assert last_code(app, "13600000009") is None
    assert login_page_post(c, mobile="13600000009", code="123456", action="login").status_code == 401
    assert login_page_post(c, mobile="12345", action="send_code").status_code == 422


def test_login_attempts_are_limited_per_ip(app):
    make_applicant(app, MOBILE)
    c = app.test_client()
    statuses = [login_page_post(c, mobile=MOBILE, code="999999", action="login").status_code for _ in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429


def test_password_is_optional_then_available_with_lockout(app, clock):
    uid = make_applicant(app, MOBILE)
    c = signed_in(app, uid)
    r = c.post("/portal/profile/password", data={"password": "short", "confirm": "short", "csrf_token": "t"})
    assert r.status_code == 422 and "至少 10 位" in r.get_data(as_text=True)
    r = c.post("/portal/profile/password", data={"password": "a-good-pass-1", "confirm": "other-pass-12",
                                                  "csrf_token": "t"})
    assert r.status_code == 422 and "不一致" in r.get_data(as_text=True)
    r = c.post("/portal/profile/password", data={"password": "a-good-pass-1", "confirm": "a-good-pass-1",
                                                  "csrf_token": "t"})
    assert r.status_code == 302
    fresh = app.test_client()
    r = login_page_post(fresh, mobile=MOBILE, password="a-good-pass-1", mode="password", action="login")
    assert r.status_code == 302 and is_signed_in(fresh)
    other = app.test_client()
    for _ in range(5):
        r = login_page_post(other, mobile=MOBILE, password="wrong-password", mode="password", action="login")
    assert "锁定" in login_page_post(other, mobile=MOBILE, password="a-good-pass-1", mode="password",
                                     action="login").get_data(as_text=True)
    assert not is_signed_in(other)


def test_profile_edit_and_mobile_change_with_a_code(app, clock):
    uid = make_applicant(app, MOBILE)
    make_applicant(app, "13700000004", code=credit_code("91320100MA1QQQ77"))
    c = signed_in(app, uid)
    r = c.post("/portal/profile", data={"contact_person": "新联系人", "legal_representative": "",
                                        "email": "not-an-email", "csrf_token": "t"})
    assert r.status_code == 422 and "法定代表人" in r.get_data(as_text=True)
    r = c.post("/portal/profile", data={"contact_person": "新联系人", "legal_representative": "张三",
                                        "email": "a@example.cn", "csrf_token": "t"})
    assert r.status_code == 302 and "新联系人" in c.get("/portal/profile").get_data(as_text=True)
    r = c.post("/portal/profile/mobile", data={"new_mobile": "13700000004", "action": "send_code", "csrf_token": "t"})
    assert r.status_code == 409 and "已被其他账户使用" in r.get_data(as_text=True)
    r = c.post("/portal/profile/mobile", data={"new_mobile": "13500000005", "action": "send_code", "csrf_token": "t"})
    assert r.status_code == 200
    code = last_code(app, "13500000005")
    r = c.post("/portal/profile/mobile", data={"new_mobile": "13500000005", "code": "12", "csrf_token": "t"})
    assert r.status_code == 422
    r = c.post("/portal/profile/mobile", data={"new_mobile": "13500000005", "code": code, "csrf_token": "t"})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.get(ApplicantProfile, uid).mobile == "13500000005"
        assert db.session.get(User, uid).phone == "13500000005"


def test_portal_pages_need_an_applicant(app):
    from tests.conftest import add_user
    add_user(app, "staff1", groups=["window"])
    with app.app_context():
        sid = db.session.execute(select(User.id).where(User.username == "staff1")).scalar()
    r = app.test_client().get("/portal/profile")
    assert r.status_code == 302 and "/portal/login" in r.headers["Location"]
    assert signed_in(app, sid).get("/portal/profile").status_code == 403
