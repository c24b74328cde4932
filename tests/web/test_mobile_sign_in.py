"""Mobile sign-in through the pages, with two test clients — a PC and a phone: the QR flow, the
one-time request confirmed on another device (both by typing the code the phone shows — never shown on
the PC), CSRF and sign-in required to confirm, ending a device, a session without a device id getting
one, the QR code's URL on PUBLIC_BASE_URL, and the identity platform's level claim (acr) through the
OIDC stand-in."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from app.domain import totp
from app.extensions import db
from app.models import User
from app.web.auth_mobile import device_name
from tests.conftest import make_app
from tests.fakes.idp_standin import SEED
from tests.services.docking.test_sso import TIMEOUTS, idp, standin  # noqa: F401 (fixtures)
from tests.services.portal.helpers import id_number
from tests.web.portal.test_sso import sign_in_through
from tests.web.test_login import PASSWORD, SECRET, app, clock, csrf  # noqa: F401 (fixtures: a user "plain", a user "secure" with TOTP)

PHONE = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"}
DEMO, PERSON, NEWCO = SEED


def pc_signed_in(app, clock, username="secure"):
    c = app.test_client()
    page = c.get("/login").get_data(as_text=True)
    r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf(page)})
    if r.headers["Location"].endswith("/login/code"):
        page = c.get("/login/code").get_data(as_text=True)
        r = c.post("/login/code", data={"code": totp.code_at(SECRET, clock().timestamp()), "csrf_token": csrf(page)})
    assert r.status_code == 302 and c.get("/account/devices").status_code == 200
    return c


def show_qr(pc) -> tuple[str, str]:
    """PC: 在手机上登录 → the QR page; returns (its path, the one-time URL the QR code holds)."""
    token = csrf(pc.get("/account/devices").get_data(as_text=True))
    r = pc.post("/account/devices/qr", data={"csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    page = pc.get(r.headers["Location"]).get_data(as_text=True)
    assert "请用手机扫描二维码" in page and "<svg" in page
    return r.headers["Location"], re.search(r'data-url="([^"]+)"', page).group(1)


def phone_opens(phone, url) -> str:
    path = urlsplit(url).path
    page = phone.get(path, headers=PHONE)
    assert page.status_code == 200 and "在此手机上登录" in page.get_data(as_text=True)
    r = phone.post(path, data={"csrf_token": csrf(page.get_data(as_text=True))}, headers=PHONE)
    assert r.status_code == 302 and r.headers["Location"].endswith("/m/wait")
    wait = phone.get("/m/wait", headers=PHONE).get_data(as_text=True)
    return re.search(r'data-testid="phone-code">(\d{6})<', wait).group(1)


def decide(pc, path: str, decision: str = "approve", code: str = ""):
    page = pc.get(path).get_data(as_text=True)
    rid = path.rstrip("/").split("/")[-1]
    return pc.post(f"/account/devices/requests/{rid}/decide",
                   data={"decision": decision, "code": code, "csrf_token": csrf(page)})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_the_whole_qr_flow_signs_the_phone_in_at_substantial(app, clock):
    pc, phone = pc_signed_in(app, clock), app.test_client()
    qr_path, url = show_qr(pc)
    assert phone.get("/inbox").status_code == 302  # not signed in yet
    code = phone_opens(phone, url)
    confirm = pc.get(qr_path).get_data(as_text=True)
    assert "确认在手机上登录？" in confirm and f">{code}<" not in confirm and "iPhone" in confirm
    assert 'name="code"' in confirm  # typed from the phone, not shown here
    assert "等待确认" in phone.get("/m/wait").get_data(as_text=True)
    assert phone.get(urlsplit(url).path, headers=PHONE).status_code == 200  # the landing page only …
    again = app.test_client()
    page = again.get(urlsplit(url).path).get_data(as_text=True)
    assert again.post(urlsplit(url).path, data={"csrf_token": csrf(page)}).status_code == 410  # … used once
    for typed, message in (("", "请输入手机上显示的 6 位确认码"), (wrong(code), "确认码不正确")):
        refused = decide(pc, qr_path, code=typed)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
        assert 'id="confirm-code"' in refused.get_data(as_text=True)  # asked again on the QR page
    assert "等待确认" in phone.get("/m/wait").get_data(as_text=True)
    assert decide(pc, qr_path, code=code).status_code == 302
    r = phone.get("/m/wait", headers=PHONE)
    assert r.status_code == 302 and r.headers["Location"].endswith("/inbox")
    assert phone.get("/inbox").status_code == 200
    with phone.session_transaction() as s:
        assert (s["amr"], s["loa"]) == ("mobile-qr", 2) and s["did"]
    assert "扫码登录（手机）/较高" in phone.get("/account/devices").get_data(as_text=True)
    assert "扫码登录（手机）/较高" in phone.get("/account/security").get_data(as_text=True)
    assert phone.get("/m/wait").headers["Location"].endswith("/m/login")  # collected once
    listing = pc.get("/account/devices").get_data(as_text=True)
    assert listing.count('data-device="') == 2 and "密码 + 动态验证码/较高" in listing


def test_a_password_only_pc_gives_the_phone_no_more_than_its_own_level(app, clock):
    pc, phone = pc_signed_in(app, clock, "plain"), app.test_client()
    qr_path, url = show_qr(pc)
    decide(pc, qr_path, code=phone_opens(phone, url))
    assert phone.get("/m/wait").status_code == 302
    assert "扫码登录（手机）/一般" in phone.get("/account/devices").get_data(as_text=True)


def test_confirming_needs_the_csrf_token_and_the_signed_in_user_himself(app, clock):
    pc, phone = pc_signed_in(app, clock), app.test_client()
    qr_path, url = show_qr(pc)
    phone_opens(phone, url)
    rid = qr_path.rstrip("/").split("/")[-1]
    target = f"/account/devices/requests/{rid}/decide"
    assert pc.post(target, data={"decision": "approve"}).status_code == 400  # no CSRF token
    anonymous = app.test_client()
    token = csrf(anonymous.get("/m/login").get_data(as_text=True))
    r = anonymous.post(target, data={"decision": "approve", "csrf_token": token})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    other = pc_signed_in(app, clock, "plain")
    token = csrf(other.get("/account/devices").get_data(as_text=True))
    refused = other.post(target, data={"decision": "approve", "csrf_token": token})
    assert refused.status_code == 404 and "没有找到该登录请求" in refused.get_data(as_text=True)
    assert "等待确认" in phone.get("/m/wait").get_data(as_text=True)
    assert decide(pc, qr_path, "deny").status_code == 302
    denied = phone.get("/m/wait")
    assert denied.status_code == 403 and "登录请求已被拒绝" in denied.get_data(as_text=True)
    assert phone.get("/inbox").status_code == 302


def test_one_time_request_approved_on_the_pc(app, clock):
    pc, phone = pc_signed_in(app, clock), app.test_client()
    page = phone.get("/m/login", headers=PHONE).get_data(as_text=True)
    r = phone.post("/m/login", data={"username": "secure", "csrf_token": csrf(page)}, headers=PHONE)
    assert r.headers["Location"].endswith("/m/wait")
    code = re.search(r'data-testid="phone-code">(\d{6})<', phone.get("/m/wait").get_data(as_text=True)).group(1)
    listing = pc.get("/account/devices").get_data(as_text=True)
    assert "待确认的手机登录请求" in listing and code not in listing
    rid = re.search(r'data-request="([^"]+)"', listing).group(1)
    target = f"/account/devices/requests/{rid}/decide"
    r = pc.post(target, data={"decision": "approve", "code": wrong(code), "csrf_token": csrf(listing)})
    assert r.status_code == 422 and "确认码不正确" in r.get_data(as_text=True)
    assert "等待确认" in phone.get("/m/wait").get_data(as_text=True)
    r = pc.post(target, data={"decision": "approve", "code": code, "csrf_token": csrf(listing)})
    assert r.status_code == 302
    assert phone.get("/m/wait").headers["Location"].endswith("/inbox")
    assert "一次性链接（手机）/较高" in phone.get("/account/devices").get_data(as_text=True)


def test_three_wrong_codes_refuse_a_request_someone_else_started(app, clock):
    pc, phone = pc_signed_in(app, clock), app.test_client()  # someone who knows the user name asks …
    page = phone.get("/m/login", headers=PHONE).get_data(as_text=True)
    phone.post("/m/login", data={"username": "secure", "csrf_token": csrf(page)}, headers=PHONE)
    code = re.search(r'data-testid="phone-code">(\d{6})<', phone.get("/m/wait").get_data(as_text=True)).group(1)
    listing = pc.get("/account/devices").get_data(as_text=True)
    rid = re.search(r'data-request="([^"]+)"', listing).group(1)
    target = f"/account/devices/requests/{rid}/decide"
    for _ in range(2):  # … the user, who has no such phone, cannot approve it by a click
        r = pc.post(target, data={"decision": "approve", "code": wrong(code), "csrf_token": csrf(listing)})
        assert r.status_code == 422 and "确认码不正确" in r.get_data(as_text=True)
    r = pc.post(target, data={"decision": "approve", "code": wrong(code), "csrf_token": csrf(listing)})
    assert r.status_code == 422 and "错误次数过多" in r.get_data(as_text=True)
    assert "待确认的手机登录请求" not in r.get_data(as_text=True)
    denied = phone.get("/m/wait")
    assert denied.status_code == 403 and "登录请求已被拒绝" in denied.get_data(as_text=True)


def test_an_unknown_name_looks_the_same_and_requests_are_limited(app):
    phone = app.test_client()
    answers = []
    for name in ("secure", "nobody"):
        page = phone.get("/m/login").get_data(as_text=True)
        r = phone.post("/m/login", data={"username": name, "csrf_token": csrf(page)})
        wait = phone.get("/m/wait")
        answers.append((r.status_code, r.headers["Location"], wait.status_code, "等待确认" in wait.get_data(as_text=True)))
    assert answers[0] == answers[1]
    for _ in range(3):
        page = phone.get("/m/login").get_data(as_text=True)
        last = phone.post("/m/login", data={"username": "nobody", "csrf_token": csrf(page)})
    assert last.status_code == 429 and "请求过于频繁" in last.get_data(as_text=True) and last.headers["Retry-After"]


def test_ending_the_phone_on_the_pc_signs_that_phone_out_only(app, clock):
    pc, phone = pc_signed_in(app, clock), app.test_client()
    qr_path, url = show_qr(pc)
    decide(pc, qr_path, code=phone_opens(phone, url))
    phone.get("/m/wait")
    with phone.session_transaction() as s:
        did = s["did"]
    listing = pc.get("/account/devices").get_data(as_text=True)
    assert pc.post(f"/account/devices/{did}/end", data={"csrf_token": csrf(listing)}).status_code == 302
    assert phone.get("/inbox").status_code == 302
    assert pc.get("/inbox").status_code == 200
    assert f'data-device="{did}"' not in pc.get("/account/devices").get_data(as_text=True)


def test_the_devices_are_listed_by_browser_and_system_the_raw_user_agent_in_a_title(app, clock):
    pc, phone = pc_signed_in(app, clock), app.test_client()
    qr_path, url = show_qr(pc)
    decide(pc, qr_path, code=phone_opens(phone, url))
    phone.get("/m/wait", headers=PHONE)
    listing = pc.get("/account/devices?lang=en").get_data(as_text=True)
    assert "iPhone</span>" in listing and f'title="{PHONE["User-Agent"]}"' in listing
    assert '<span class="tag">this device</span>' in listing and "（this device）" not in listing


@pytest.mark.parametrize("ua, name", [
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 Safari/537.36",
     "Chrome · Linux"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 "
     "Mobile/15E148 Safari/604.1", "Safari · iPhone"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 "
     "Edg/120.0", "Edge · Windows"),
    ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 "
     "MicroMessenger/8.0.47", "WeChat · Android"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox · macOS"),
])
def test_device_name_reads_the_user_agent(ua, name):
    assert device_name(ua) == name


def test_a_session_without_a_device_id_gets_one_and_can_be_ended(app, clock):
    pc = pc_signed_in(app, clock, "plain")
    old = app.test_client()  # a session from before devices were kept (or whose row was not written)
    with app.app_context():
        uid = db.session.query(User.id).filter(User.username == "plain").scalar()
    with old.session_transaction() as s:
        s["uid"], s["amr"], s["loa"] = uid, "password", 1
    assert old.get("/inbox").status_code == 200
    with old.session_transaction() as s:
        did = s["did"]
    listing = pc.get("/account/devices").get_data(as_text=True)
    assert f'data-device="{did}"' in listing
    assert pc.post(f"/account/devices/{did}/end", data={"csrf_token": csrf(listing)}).status_code == 302
    assert old.get("/inbox").status_code == 302  # checked like every other session: signed out
    assert pc.get("/inbox").status_code == 200


def test_the_qr_code_holds_the_configured_public_address(app, clock):
    app.config["PUBLIC_BASE_URL"] = "https://tzxm.fgw.example.gov.cn/"
    _, url = show_qr(pc_signed_in(app, clock, "plain"))
    assert url.startswith("https://tzxm.fgw.example.gov.cn/m/qr/")


# -- the identity platform's level (acr) --------------------------------------------------------------------
@pytest.fixture
def sso_app(db_url, standin):  # noqa: F811
    def build(**config):
        return make_app(db_url, **TIMEOUTS, **standin.config(), **config)
    return build


def session_level(c) -> tuple[str, int]:
    with c.session_transaction() as s:
        return s.get("amr"), s.get("loa")


def test_the_acr_of_the_oidc_stand_in_sets_the_sessions_level(sso_app):
    app = sso_app()
    c = app.test_client()
    assert sign_in_through(c, pick=NEWCO["sub"]).status_code == 302
    assert session_level(c) == ("sso", 3)  # "L3": real-name with face verification → HIGH
    c = app.test_client()
    sign_in_through(c, pick="custom", user_type="自然人", name="赵六", code=id_number("32010619850101001"),
                    phone_number="13600136000", level="L1")
    assert session_level(c) == ("sso", 1)


def test_the_acr_map_is_configurable_and_totp_after_sso_keeps_the_level(sso_app):
    app = sso_app(IDENTITY_ACR_LEVELS={"L3": 2})
    c = app.test_client()
    sign_in_through(c, pick=NEWCO["sub"])
    assert session_level(c) == ("sso", 2)
    app = sso_app()
    with app.app_context():
        user = db.session.query(User).filter(User.org_code == NEWCO["credit_code"]).one()
        user.totp_secret, user.totp_enabled = SECRET, True
        db.session.commit()
    c = app.test_client()
    r = sign_in_through(c, pick=NEWCO["sub"])
    assert r.headers["Location"].endswith("/login/code")
    page = c.get("/login/code").get_data(as_text=True)
    now = app.extensions["clock"]().timestamp()
    assert c.post("/login/code", data={"code": totp.code_at(SECRET, now), "csrf_token": csrf(page)}).status_code == 302
    assert session_level(c) == ("sso+totp", 3)


def test_signing_in_again_on_the_same_browser_makes_a_new_device(app, clock):
    pc = pc_signed_in(app, clock, "plain")
    with pc.session_transaction() as s:
        first = s["did"]
    page = pc.get("/login").get_data(as_text=True)
    assert pc.post("/login", data={"username": "plain", "password": PASSWORD, "csrf_token": csrf(page)}).status_code == 302
    with pc.session_transaction() as s:
        assert s["did"] and s["did"] != first
