"""Visitors' side of issue 12: the sign-in pages give one answer for unknown, wrong and locked and
limit failed attempts per IP; a session cookie stops working on the server at sign-out and password
change (a captured copy too); the app refuses the default SECRET_KEY outside development; every
response carries the security headers and the session cookie its flags."""
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app import create_app
from app.domain import totp
from app.config import DEFAULT_SECRET_KEY
from app.extensions import db
from app.models import User
from app.services.common.clock import FakeClock
from app.services.identity import org
from app.services.identity.actors import SYSTEM
from app.services.identity.auth import MAX_FAILURES, SIGN_IN_IP_LIMIT, set_password
from tests.conftest import make_app
from tests.services.portal.helpers import csrf, make_applicant

PASSWORD = "correct horse battery"
MOBILE = "13912345678"


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.fixture
def app(db_url, clock):
    app = make_app(db_url, CLOCK=clock)
    with app.app_context():
        org.seed_reference_data()
        org.create_user(SYSTEM, "clerk", "办事员", "320000", PASSWORD)
        org.create_user(SYSTEM, "boss", "管理员", "320000", PASSWORD)
        org.assign_role(SYSTEM, "boss", "admin")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def login(c, username, password=PASSWORD, ip="127.0.0.1"):
    token = csrf(c.get("/login").get_data(as_text=True))
    return c.post("/login", data={"username": username, "password": password, "csrf_token": token},
                  environ_base={"REMOTE_ADDR": ip})


def signed_in(c) -> bool:
    return c.get("/account/security").status_code == 200


def session_cookie(c) -> str:
    return c.get_cookie("session").value


# -- one answer ---------------------------------------------------------------------------------------
def test_unknown_wrong_and_locked_users_get_the_same_page(app):
    """Before, a locked account answered "账户已锁定" and so named the user names that exist."""
    c = app.test_client()
    unknown = login(c, "no-such-user")
    wrong = login(c, "clerk", "wrong password!")
    for _ in range(MAX_FAILURES - 1):
        login(c, "clerk", "wrong password!")
    locked = login(c, "clerk")  # the right password of a locked account
    assert unknown.status_code == wrong.status_code == locked.status_code == 401
    assert unknown.get_data() == wrong.get_data() == locked.get_data()
    assert "用户名或密码错误" in locked.get_data(as_text=True)
    assert not signed_in(c)


def test_portal_password_sign_in_answers_unknown_and_locked_alike(app):
    uid = make_applicant(app, MOBILE)
    with app.app_context():
        set_password(db.session.get(User, uid), "applicant-pass-1")
        db.session.commit()
    c = app.test_client()

    def post(mobile, password):
        token = csrf(c.get("/portal/login?mode=password").get_data(as_text=True))
        r = c.post("/portal/login?mode=password", data={"mobile": mobile, "password": password, "mode": "password",
                                                        "action": "login", "csrf_token": token})
        return r.status_code, r.get_data(as_text=True).replace(mobile, "MOBILE")

    unknown = post("13700000000", "applicant-pass-1")
    for _ in range(MAX_FAILURES):
        post(MOBILE, "wrong-password-1")
    locked = post(MOBILE, "applicant-pass-1")
    assert unknown == locked and unknown[0] == 401


def test_failed_sign_ins_per_ip_are_limited_on_the_login_page(app):
    limit, _ = SIGN_IN_IP_LIMIT
    c = app.test_client()
    for i in range(limit):
        assert login(c, f"guess{i}", "whatever-123", ip="10.1.1.1").status_code == 401
    r = login(c, "clerk", ip="10.1.1.1")
    assert r.status_code == 429 and "过于频繁" in r.get_data(as_text=True) and int(r.headers["Retry-After"]) > 0
    assert not signed_in(c)
    other = app.test_client()
    for _ in range(limit + 2):  # successful sign-ins use up nothing
        assert login(other, "clerk", ip="10.1.1.2").status_code == 302


def test_a_csrf_token_with_non_ascii_characters_is_refused_not_a_500(app):
    c = app.test_client()
    c.get("/login")
    for sent in ({"data": {"csrf_token": "令牌", "username": "clerk"}}, {"headers": {"X-CSRF-Token": "tökén"}}):
        assert c.post("/login", **sent).status_code == 400


# -- sessions ended on the server ---------------------------------------------------------------------
def test_a_cookie_captured_before_logout_no_longer_works_after_it(app):
    c = app.test_client()
    assert login(c, "clerk").status_code == 302 and signed_in(c)
    captured = session_cookie(c)
    page = c.get("/account/security").get_data(as_text=True)
    assert c.post("/logout", data={"csrf_token": csrf(page)}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", captured)
    assert thief.get("/account/security").status_code == 302  # to the sign-in page
    assert thief.get("/api/tasks", headers={"Accept": "application/json"}).status_code == 401
    again = app.test_client()
    assert login(again, "clerk").status_code == 302 and signed_in(again)  # a new sign-in works


def test_an_admins_password_reset_ends_the_users_sessions(app):
    user = app.test_client()
    assert login(user, "clerk").status_code == 302 and signed_in(user)
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == "clerk")).scalar_one()
    page = admin.get(f"/admin/users/{uid}").get_data(as_text=True)
    r = admin.post(f"/admin/users/{uid}/password", data={"password": "a-brand-new-pass", "csrf_token": csrf(page)})
    assert r.status_code in (200, 302)
    assert not signed_in(user)
    assert signed_in(admin)
    assert login(app.test_client(), "clerk", "a-brand-new-pass").status_code == 302


def test_changing_ones_own_password_keeps_this_session_and_ends_the_others(app):
    uid = make_applicant(app, MOBILE)
    here, elsewhere = app.test_client(), app.test_client()
    for c in (here, elsewhere):
        with c.session_transaction() as s:
            s["uid"], s["csrf"] = uid, "t"
        assert c.get("/portal/profile").status_code == 200
    r = here.post("/portal/profile/password", data={"password": "a-good-pass-1", "confirm": "a-good-pass-1",
                                                     "csrf_token": "t"})
    assert r.status_code == 302
    assert here.get("/portal/profile").status_code == 200
    assert elsewhere.get("/portal/profile").status_code == 302


def test_a_pending_second_step_dies_with_a_password_change(app, clock):
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    with app.app_context():
        u = db.session.execute(select(User).where(User.username == "clerk")).scalar_one()
        u.totp_secret, u.totp_enabled = secret, True
        db.session.commit()
    c = app.test_client()
    assert login(c, "clerk").headers["Location"].endswith("/login/code")
    with app.app_context():
        org.reset_password(SYSTEM, "clerk", "changed-meanwhile-1")
    page = c.get("/login/code").get_data(as_text=True)
    r = c.post("/login/code", data={"code": totp.code_at(secret, clock().timestamp()), "csrf_token": csrf(page)})
    assert r.status_code == 401 and not signed_in(c)


# -- SECRET_KEY ----------------------------------------------------------------------------------------
def test_the_default_secret_key_is_refused_outside_development(db_url, monkeypatch):
    """Before, the app started with the public default key, and a session cookie signed with it (an
    administrator's, say) was accepted."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("APP_ENV", raising=False)
    base = {"DATABASE_URL": db_url, "DEPLOY_ON_START": False}
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(base)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(dict(base, SECRET_KEY="short"))
    with pytest.raises(RuntimeError, match="APP_ENV"):
        create_app(dict(base, APP_ENV="staging"))
    production = create_app(dict(base, SECRET_KEY="x" * 40))
    assert production.config["SESSION_COOKIE_SECURE"] is True  # HTTPS only, unless told otherwise
    dev = create_app(dict(base, APP_ENV="development"))
    assert dev.config["SECRET_KEY"] == DEFAULT_SECRET_KEY and dev.config["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("APP_ENV", "development")  # what scripts/run exports
    exported = create_app(base)
    assert exported.config["SECRET_KEY"] == DEFAULT_SECRET_KEY
    for app in (production, dev, exported):
        with app.app_context():
            db.engine.dispose()


# -- headers and cookie flags --------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/login", "/portal/", "/api/matters", "/no/such/page", "/healthz"])
def test_every_response_carries_the_security_headers(app, path):
    r = app.test_client().get(path)
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp


def test_the_session_cookie_is_httponly_lax_and_secure_when_asked(app, db_url):
    c = app.test_client()
    r = c.post("/login", data={"username": "clerk", "password": PASSWORD,
                               "csrf_token": csrf(c.get("/login").get_data(as_text=True))})
    header = r.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header  # plain-HTTP tests
    secure = make_app(db_url, SESSION_COOKIE_SECURE=True)
    s = secure.test_client()
    r = s.get("/login", base_url="https://localhost")
    header = r.headers["Set-Cookie"]
    assert re.search(r"; Secure", header) and "SameSite=Lax" in header and "HttpOnly" in header
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    with secure.app_context():
        db.engine.dispose()
