"""Sign-in with a TOTP second factor, the account security page (enroll, disable)."""
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.domain import totp
from app.extensions import db
from app.models import User
from app.services.identity import org
from app.services.identity.actors import SYSTEM
from app.services.common.clock import FakeClock
from tests.conftest import make_app

BJ = ZoneInfo("Asia/Shanghai")
PASSWORD = "correct horse battery"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))


@pytest.fixture
def app(db_url, clock):
    app = make_app(db_url, CLOCK=clock)
    with app.app_context():
        org.seed_reference_data()
        org.create_user(SYSTEM, "plain", "普通用户", "320000", PASSWORD)
        u = org.create_user(SYSTEM, "secure", "两步用户", "320000", PASSWORD)
        u.totp_secret, u.totp_enabled = SECRET, True
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(c, username, password=PASSWORD, next_=None):
    token = csrf(c.get("/login").get_data(as_text=True))
    url = "/login" + (f"?next={next_}" if next_ else "")
    return c.post(url, data={"username": username, "password": password, "csrf_token": token})


def send_code(c, code):
    page = c.get("/login/code")
    assert page.status_code == 200
    return c.post("/login/code", data={"code": code, "csrf_token": csrf(page.get_data(as_text=True))})


def code(clock, offset=0):
    return totp.code_at(SECRET, clock().timestamp() + offset)


def logged_in(c) -> bool:
    return c.get("/account/security").status_code == 200


def test_without_totp_the_password_signs_in(app):
    c = app.test_client()
    assert login(c, "plain").status_code == 302 and logged_in(c)


def test_totp_user_needs_the_code_after_the_password(app, clock):
    c = app.test_client()
    r = login(c, "secure", next_="/account/security")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/code")
    assert not logged_in(c)  # password alone is not a session
    page = c.get("/login/code").get_data(as_text=True)
    assert "动态验证码" in page
    bad = "000000" if code(clock) != "000000" else "111111"
    r = send_code(c, bad)
    assert r.status_code == 401 and "验证码不正确" in r.get_data(as_text=True)
    assert not logged_in(c)
    r = send_code(c, code(clock))
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/security")
    assert logged_in(c)
    with app.app_context():
        u = db.session.execute(db.select(User).where(User.username == "secure")).scalar_one()
        assert u.failed_logins == 0 and u.totp_last_step == int(clock().timestamp() // 30)


def test_a_code_cannot_be_used_twice(app, clock):
    first = app.test_client()
    login(first, "secure")
    used = code(clock)
    assert send_code(first, used).status_code == 302
    second = app.test_client()
    login(second, "secure")
    assert send_code(second, used).status_code == 401
    clock.advance(seconds=30)
    assert send_code(second, code(clock)).status_code == 302


def test_code_post_needs_csrf_and_a_pending_password(app, clock):
    c = app.test_client()
    assert c.get("/login/code").status_code == 302  # nothing pending
    login(c, "secure")
    assert c.post("/login/code", data={"code": code(clock)}).status_code == 400
    clock.advance(minutes=6)  # the pending password expired
    assert c.get("/login/code").status_code == 302


def test_wrong_codes_count_towards_the_lockout(app, clock):
    c = app.test_client()
    login(c, "secure")
    bad = "000000" if code(clock) != "000000" else "111111"
    for _ in range(4):
        assert send_code(c, bad).status_code == 401
    # a correct password again does not reset the count of a TOTP user
    login(c, "secure")
    r = send_code(c, bad)
    assert r.status_code == 401 and "锁定" in r.get_data(as_text=True)
    assert c.get("/login/code").status_code == 302
    r = login(c, "secure")
    assert r.status_code == 401 and "锁定" in r.get_data(as_text=True)
    clock.advance(minutes=16)
    login(c, "secure")
    assert send_code(c, code(clock)).status_code == 302


def test_enroll_confirm_and_disable_on_the_security_page(app, clock):
    c = app.test_client()
    login(c, "plain")
    page = c.get("/account/security").get_data(as_text=True)
    assert "未开启" in page
    r = c.post("/account/security/enroll", data={"csrf_token": csrf(page)})
    assert r.status_code == 302
    page = c.get("/account/security").get_data(as_text=True)
    secret = re.search(r"<code[^>]*>([A-Z2-7]{32})</code>", page).group(1)
    assert "otpauth://totp/" in page
    qr = re.search(r'<p class="qr"[^>]*>(<svg.*?</svg>)', page, re.S)
    assert qr and qr.group(1).count("<path") >= 1  # a scannable code, drawn inline
    r = c.post("/account/security/confirm", data={"code": "12345", "csrf_token": csrf(page)})
    assert r.status_code == 422 and "验证码不正确" in r.get_data(as_text=True)
    now_code = totp.code_at(secret, clock().timestamp())
    assert c.post("/account/security/confirm", data={"code": now_code, "csrf_token": csrf(page)}).status_code == 302
    assert "已开启" in c.get("/account/security").get_data(as_text=True)
    # the next sign-in asks for a code, and the enrollment code is already spent
    c2 = app.test_client()
    login(c2, "plain")
    assert send_code(c2, now_code).status_code == 401
    clock.advance(seconds=30)
    assert send_code(c2, totp.code_at(secret, clock().timestamp())).status_code == 302
    # disabling asks for the password
    page = c.get("/account/security").get_data(as_text=True)
    r = c.post("/account/security/disable", data={"password": "wrong password", "csrf_token": csrf(page)})
    assert r.status_code == 422
    r = c.post("/account/security/disable", data={"password": PASSWORD, "csrf_token": csrf(page)})
    assert r.status_code == 302
    assert login(app.test_client(), "plain").status_code == 302
    assert c.get("/account/security?lang=en").get_data(as_text=True).count("Two-step verification") >= 1


def test_logout_after_a_totp_sign_in(app, clock):
    c = app.test_client()
    login(c, "secure")
    send_code(c, code(clock))
    page = c.get("/account/security").get_data(as_text=True)
    assert c.post("/logout", data={"csrf_token": csrf(page)}).status_code == 302
    assert not logged_in(c)
