"""Review (H8) of the portal's security edges: redirects after sign-in and after staff POSTs stay on
this site whatever the browser would make of tabs and backslashes; with Twilio configured no
verification code is readable on /dev/outbox, not even by an administrator; signing in starts a
fresh session."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Notification
from app.services.identity.sms_codes import request_code
from tests.conftest import add_user, make_app
from tests.fakes import twilio_standin  # noqa: F401  (fixture)
from tests.services.portal.h3_helpers import browser, setup, submit, upload_mail, window_task
from tests.services.portal.helpers import csrf, last_code, make_applicant

EVIL = ["/\t/evil.example", "/\n/evil.example", "/\\evil.example", "/\t\\evil.example", "//evil.example",
        "https://evil.example", "/%09/evil.example"]


def local(location: str) -> bool:
    """Where a browser would go stays on this host (tabs/newlines dropped, backslash read as slash)."""
    cleaned = "".join(c for c in location if c not in "\t\n\r").replace("\\", "/")
    parts = urlsplit(cleaned)
    return not parts.netloc and not parts.scheme and not cleaned.startswith("//")


@pytest.mark.parametrize("target", EVIL)
def test_portal_sign_in_never_sends_the_browser_to_another_host(app, target):
    make_applicant(app, "13912345678")
    c = app.test_client()
    token = csrf(c.get("/portal/login").get_data(as_text=True))
    c.post("/portal/login", data={"csrf_token": token, "mobile": "13912345678", "action": "send_code"})
    r = c.post("/portal/login", query_string={"next": target},
               data={"csrf_token": token, "mobile": "13912345678", "code": last_code(app, "13912345678")})
    assert r.status_code == 302 and local(r.headers["Location"]), r.headers["Location"]


@pytest.mark.parametrize("target", EVIL[:4])
def test_staff_panel_and_inbox_posts_never_send_the_browser_to_another_host(app, target):
    api = setup(app)
    case = submit(api)
    assert upload_mail(app, case["id"]).status_code == 302
    w1 = browser(app, "w1")
    r = w1.post(f"/inbox/cases/{case['id']}/intake/refuse", data={"csrf_token": "tok", "reason": "", "back": target})
    assert r.status_code == 302 and local(r.headers["Location"]), r.headers["Location"]
    task = window_task(api, case["id"])
    r = w1.post(f"/inbox/tasks/{task['id']}/claim", data={"csrf_token": "tok", "back": target})
    assert r.status_code in (302, 303) and local(r.headers["Location"]), r.headers["Location"]


def test_with_twilio_no_code_is_readable_on_the_outbox_page(db_url, twilio_standin):
    app = make_app(db_url, **twilio_standin.config())
    add_user(app, "root", groups=["admin"])
    with app.app_context():
        request_code("13812345678", "login", "1.1.1.1")  # pending: the sender has not run yet
        row = db.session.execute(select(Notification)).scalar_one()
        code = row.payload["code"]
        assert row.status == "pending" and code in row.text
    client = app.test_client()
    with client.session_transaction() as s:
        with app.app_context():
            from app.models import User
            s["uid"] = db.session.execute(select(User.id).where(User.username == "root")).scalar_one()
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert "+8613812345678" in page and "验证码为******" in page and code not in page
    with app.app_context():  # the page hid it without touching the row: the sender still sends the code
        assert code in db.session.execute(select(Notification.text)).scalar_one()


def test_signing_in_starts_a_fresh_session(app):
    make_applicant(app, "13912345678")
    c = app.test_client()
    with c.session_transaction() as s:  # something planted before sign-in (a fixed session)
        s["progress_cases"] = {"1": 9e12}
        s["pending_uid"] = 1
    token = csrf(c.get("/portal/login").get_data(as_text=True))
    c.post("/portal/login", data={"csrf_token": token, "mobile": "13912345678", "action": "send_code"})
    r = c.post("/portal/login", data={"csrf_token": token, "mobile": "13912345678",
                                      "code": last_code(app, "13912345678")})
    assert r.status_code == 302
    with c.session_transaction() as s:
        assert "progress_cases" not in s and "pending_uid" not in s and s.get("uid")
        assert s.get("csrf") != token  # a new CSRF token too
