"""Unified identity (统一身份认证) in the portal, whole flows: our side through the Flask test client,
the provider's side (the stand-in over real HTTP) through ``requests``, redirects followed by hand.
The login page offers the button when configured; the callback signs the applicant in with the
portal's own session (session version included) and the pages show which identity; every refusal
is a zh_CN page with no session and nothing written; sign-out ends the local session and sends the
browser on to the provider's logout."""
from __future__ import annotations

import base64
import re
import secrets
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from app.domain import totp
from app.extensions import db
from app.models import User
from app.models.accounts import ApplicantProfile
from app.models.docking_identity import DockingIdentity
from app.services.common.clock import clock_now
from tests.conftest import deploy_all, make_app
from tests.fakes.idp_standin import SEED
from tests.services.docking.test_sso import app, idp, pick_on_provider, standin  # noqa: F401 (fixtures)
from tests.services.portal.helpers import make_applicant, signed_in

DEMO, PERSON, NEWCO = SEED


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def sign_in_through(c, protocol: str = "oidc", pick: str = DEMO["sub"], next_path: str | None = None, **custom):
    """Press 统一身份认证登录, pick the identity on the provider's page, come back: the callback's answer."""
    start = c.get(f"/portal/sso/{protocol}/login" + (f"?next={next_path}" if next_path else ""))
    assert start.status_code == 302, start.get_data(as_text=True)
    back = pick_on_provider(start.headers["Location"], pick, **custom)
    assert urlsplit(back).path == f"/portal/sso/{protocol}/callback"
    return c.get(local(back))


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(db.session.execute(select(func.count()).select_from(t)).scalar()
                     for t in (User, ApplicantProfile, DockingIdentity))


def is_signed_in(c) -> bool:
    return c.get("/portal/profile").status_code == 200


def demo_account(app, mobile=DEMO["phone_number"]) -> int:
    return make_applicant(app, mobile, name=DEMO["name"], code=DEMO["credit_code"])


# -- the login page -----------------------------------------------------------------------------------
def test_login_page_offers_unified_identity_when_configured(app, db_url):
    page = app.test_client().get("/portal/login?next=/portal/drafts").get_data(as_text=True)
    assert "统一身份认证登录" in page and 'id="sso-login-oidc"' in page and 'id="sso-login-cas"' in page
    assert "/portal/sso/oidc/login?next=/portal/drafts" in page
    bare = make_app(db_url)
    assert "统一身份认证登录" not in bare.test_client().get("/portal/login").get_data(as_text=True)
    assert bare.test_client().get("/portal/sso/oidc/login").status_code == 404


@pytest.mark.parametrize("protocol", ["oidc", "cas"])
@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example"])
def test_the_sign_in_never_sends_the_browser_to_another_site(app, standin, protocol, target):
    demo_account(app)
    r = sign_in_through(app.test_client(), protocol, next_path=quote(target, safe=""))
    assert r.status_code == 302 and r.headers["Location"] == "/"


# -- OpenID Connect -------------------------------------------------------------------------------------
def test_oidc_signs_the_demo_enterprise_in_to_its_account_and_shows_the_identity(app, standin):
    uid = demo_account(app)
    c = app.test_client()
    r = sign_in_through(c, next_path="/portal/drafts")
    assert r.status_code == 302 and r.headers["Location"] == "/portal/drafts"
    with c.session_transaction() as s:
        assert s["uid"] == uid and "sv" in s and s["sso"]["p"] == "oidc"
    page = c.get("/portal/profile").get_data(as_text=True)
    assert f"经统一身份认证登录 · 法人 · {DEMO['name']}" in page
    with app.app_context():
        link = db.session.execute(select(DockingIdentity)).scalar_one()
        assert (link.user_id, link.subject, link.origin) == (uid, DEMO["sub"], "matched")
    assert counts(app) == (1, 1, 1)


def test_oidc_first_sign_in_of_an_unknown_enterprise_creates_its_account(app, standin):
    c = app.test_client()
    r = sign_in_through(c, pick=NEWCO["sub"])
    assert r.status_code == 302 and is_signed_in(c)
    with app.app_context():
        profile = db.session.execute(select(ApplicantProfile)).scalar_one()
        assert (profile.credit_code, profile.mobile, profile.name) == \
            (NEWCO["credit_code"], NEWCO["phone_number"], NEWCO["name"])
    # the second time goes by the link: still one account
    c2 = app.test_client()
    assert sign_in_through(c2, pick=NEWCO["sub"]).status_code == 302 and is_signed_in(c2)
    assert counts(app) == (1, 1, 1)


def test_oidc_a_credit_code_whose_account_has_another_mobile_is_refused_with_the_way_out(app, standin):
    demo_account(app, "13812345678")
    c = app.test_client()
    r = sign_in_through(c)
    page = r.get_data(as_text=True)
    assert r.status_code == 409 and "mobile_mismatch" in page and "个人资料" in page and "短信验证码" in page
    assert not is_signed_in(c) and counts(app) == (1, 1, 0)


def test_oidc_an_id_token_with_a_bad_signature_signs_no_one_in(app, standin):
    demo_account(app)
    standin.fail_next("badsig", path="/token")
    c = app.test_client()
    r = sign_in_through(c)
    assert r.status_code == 401 and "bad_signature" in r.get_data(as_text=True)
    assert not is_signed_in(c) and counts(app) == (1, 1, 0)


def test_oidc_a_wrong_nonce_signs_no_one_in(app, standin):
    standin.id_token_overrides = {"nonce": "from-another-login"}
    c = app.test_client()
    r = sign_in_through(c, pick=NEWCO["sub"])
    assert r.status_code == 401 and "nonce" in r.get_data(as_text=True)
    assert not is_signed_in(c) and counts(app) == (0, 0, 0)


def test_oidc_a_callback_with_another_state_or_replayed_is_refused(app, standin):
    c = app.test_client()
    start = c.get("/portal/sso/oidc/login")
    back = pick_on_provider(start.headers["Location"], NEWCO["sub"])
    forged = re.sub(r"state=[^&]+", "state=forged", local(back))
    r = c.get(forged)
    assert r.status_code == 400 and "state_mismatch" in r.get_data(as_text=True)
    assert c.get(local(back)).status_code == 400  # the pending request went with the forged answer
    assert not is_signed_in(c) and counts(app) == (0, 0, 0)
    # a callback never started here (another browser's code pasted in)
    other = app.test_client()
    assert other.get(local(back)).status_code == 400 and not is_signed_in(other)


def test_oidc_provider_down_is_a_clear_page(app, standin):
    standin.down = True
    c = app.test_client()
    r = c.get("/portal/sso/oidc/login")
    assert r.status_code == 503 and "统一身份认证平台暂时无法访问" in r.get_data(as_text=True)
    standin.down = False


def test_oidc_provider_timing_out_at_the_token_endpoint_is_a_clear_page(app, standin):
    c = app.test_client()
    start = c.get("/portal/sso/oidc/login")
    back = pick_on_provider(start.headers["Location"], NEWCO["sub"])
    standin.fail_next("hang", path="/token")
    r = c.get(local(back))
    assert r.status_code == 503 and "provider_unavailable" in r.get_data(as_text=True)
    assert not is_signed_in(c) and counts(app) == (0, 0, 0)


def test_oidc_missing_attributes_are_a_clear_page(app, standin):
    standin.userinfo_overrides = {"credit_code": None}
    c = app.test_client()
    r = sign_in_through(c, pick=NEWCO["sub"])
    page = r.get_data(as_text=True)
    assert r.status_code == 502 and "missing_attributes" in page and "统一社会信用代码" in page
    assert counts(app) == (0, 0, 0)


def test_oidc_sign_out_ends_the_local_session_and_the_providers(app, standin):
    demo_account(app)
    c = app.test_client()
    sign_in_through(c)
    with c.session_transaction() as s:
        s["csrf"] = "t"
        copy = dict(s)
    r = c.post("/logout", data={"csrf_token": "t"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/sso/signed-out")
    page = c.get("/portal/sso/signed-out")
    html = page.get_data(as_text=True)
    target = re.search(r'id="sso-provider-logout" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    q = dict(parse_qsl(urlsplit(target).query))
    assert target.startswith(standin.url + "/end_session?") and q["id_token_hint"].count(".") == 2
    assert 'http-equiv="refresh"' in html and not is_signed_in(c)
    back = requests.get(target, allow_redirects=False, timeout=5)
    assert back.status_code == 302 and urlsplit(back.headers["Location"]).path == "/portal/"
    assert [entry["protocol"] for entry in standin.logouts] == ["oidc"]
    # a copy of the old cookie signs no one in any more (session version)
    stale = app.test_client()
    with stale.session_transaction() as s:
        s.update(copy)
    assert not is_signed_in(stale)


def test_a_session_made_by_sms_signs_out_as_before(app, standin):
    c = signed_in(app, demo_account(app))
    r = c.post("/logout", data={"csrf_token": "t"})
    assert r.status_code == 302 and "signed-out" not in r.headers["Location"]


# -- CAS-style tickets -----------------------------------------------------------------------------------
def test_cas_signs_a_natural_person_in_with_a_new_account(app, standin):
    c = app.test_client()
    r = sign_in_through(c, "cas", PERSON["sub"])
    assert r.status_code == 302 and is_signed_in(c)
    page = c.get("/portal/profile").get_data(as_text=True)
    assert f"经统一身份认证登录 · 自然人 · {PERSON['name']}" in page
    with app.app_context():
        link = db.session.execute(select(DockingIdentity)).scalar_one()
        assert (link.provider, link.subject, link.origin, link.level) == ("cas", PERSON["sub"], "created", "L2")


def return_url_of(login_answer) -> str:
    """Where our login sent the browser back to (the base64 returnUrl of the platform's login URL)."""
    q = dict(parse_qsl(urlsplit(login_answer.headers["Location"]).query))
    return local(base64.b64decode(q["returnUrl"]).decode())


def test_cas_forged_and_replayed_tickets_sign_no_one_in(app, standin):
    c = app.test_client()
    r = c.get(return_url_of(c.get("/portal/sso/cas/login")) + "&ticket=ST-forged")
    assert r.status_code == 401 and "bad_ticket" in r.get_data(as_text=True) and not is_signed_in(c)
    first = app.test_client()
    start = first.get("/portal/sso/cas/login")
    back = local(pick_on_provider(start.headers["Location"], PERSON["sub"]))
    assert first.get(back).status_code == 302 and is_signed_in(first)
    ticket = dict(parse_qsl(urlsplit(back).query))["ticket"]
    # the same ticket again, in a login this browser started itself (its own state): refused by the platform
    thief = app.test_client()
    r = thief.get(return_url_of(thief.get("/portal/sso/cas/login")) + f"&ticket={ticket}")
    assert r.status_code == 401 and "bad_ticket" in r.get_data(as_text=True) and not is_signed_in(thief)
    assert counts(app) == (1, 1, 1)


def test_cas_sign_out_goes_to_the_platforms_logout(app, standin):
    c = app.test_client()
    sign_in_through(c, "cas", PERSON["sub"])
    with c.session_transaction() as s:
        s["csrf"] = "t"
    r = c.post("/portal/sso/logout", data={"csrf_token": "t"})
    assert r.headers["Location"].endswith("/portal/sso/signed-out")
    html = c.get("/portal/sso/signed-out").get_data(as_text=True)
    target = re.search(r'id="sso-provider-logout" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert target.startswith(standin.url + "/logout?service=") and not is_signed_in(c)


# -- linking from the profile page ---------------------------------------------------------------------
def test_an_applicant_signed_in_by_sms_links_the_identity_and_then_signs_in_with_it(app, standin):
    uid = demo_account(app, "13812345678")
    c = signed_in(app, uid)
    page = c.get("/portal/profile").get_data(as_text=True)
    assert "关联统一身份认证" in page and "尚未关联" in page
    start = c.get("/portal/sso/oidc/login?link=1")
    back = pick_on_provider(start.headers["Location"], DEMO["sub"])
    r = c.get(local(back))
    assert r.status_code == 302 and r.headers["Location"] == "/portal/profile"
    assert DEMO["name"] in c.get("/portal/profile").get_data(as_text=True)
    other = app.test_client()
    assert sign_in_through(other).status_code == 302
    with other.session_transaction() as s:
        assert s["uid"] == uid


def test_linking_needs_a_signed_in_applicant(app, standin):
    r = app.test_client().get("/portal/sso/oidc/login?link=1")
    assert r.status_code == 401 and "请先登录" in r.get_data(as_text=True)


# -- an applicant signed in this way applies for a shipped matter --------------------------------------------
def test_signed_in_by_unified_identity_the_enterprise_applies_for_a_shipped_matter(app, standin):
    deploy_all(app)
    demo_account(app)
    c = app.test_client()
    sign_in_through(c)
    with c.session_transaction() as s:
        s["csrf"] = "t"
    r = c.post("/portal/apply/xmgl_beian", data={"csrf_token": "t"})
    assert r.status_code == 302
    draft = c.get(r.headers["Location"]).get_data(as_text=True)
    assert DEMO["credit_code"] in draft


def test_an_account_with_a_second_factor_asks_for_it_and_then_shows_the_identity(app, standin):
    uid = demo_account(app)
    with app.app_context():
        user = db.session.get(User, uid)
        user.totp_secret, user.totp_enabled = totp.new_secret(), True
        db.session.commit()
        secret, now = user.totp_secret, clock_now().timestamp()
    c = app.test_client()
    r = sign_in_through(c, next_path="/portal/drafts")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/code") and not is_signed_in(c)
    with c.session_transaction() as s:
        s["csrf"] = "t"
    r = c.post("/login/code", data={"csrf_token": "t", "code": totp.code_at(secret, now)})
    assert r.status_code == 302 and r.headers["Location"] == "/portal/drafts"
    assert f"经统一身份认证登录 · 法人 · {DEMO['name']}" in c.get("/portal/profile").get_data(as_text=True)


# -- staff (IDENTITY_STAFF) ------------------------------------------------------------------------------
def test_staff_link_their_identity_on_the_security_page_and_then_sign_in_with_it(db_url, standin):
    app = make_app(db_url, IDENTITY_STAFF=True, **standin.config())
    with app.app_context():
        user = User(username="window9", display_name="窗口 九", kind="staff", groups=["window"])
        db.session.add(user)
        db.session.commit()
        staff_id = user.id
    assert 'id="sso-staff-login-oidc"' in app.test_client().get("/login").get_data(as_text=True)
    stranger = app.test_client()
    start = stranger.get("/portal/sso/oidc/login?staff=1")
    r = stranger.get(local(pick_on_provider(start.headers["Location"], PERSON["sub"])))
    assert r.status_code == 403 and "not_linked" in r.get_data(as_text=True)
    c = signed_in(app, staff_id)
    assert 'id="sso-link-oidc"' in c.get("/account/security").get_data(as_text=True)
    start = c.get("/portal/sso/oidc/login?link=1")
    r = c.get(local(pick_on_provider(start.headers["Location"], PERSON["sub"])))
    assert r.status_code == 302 and r.headers["Location"] == "/account/security"
    assert PERSON["name"] in c.get("/account/security").get_data(as_text=True)
    fresh = app.test_client()
    start = fresh.get("/portal/sso/oidc/login?staff=1")
    r = fresh.get(local(pick_on_provider(start.headers["Location"], PERSON["sub"])))
    assert r.status_code == 302 and r.headers["Location"].startswith("/inbox")
    with fresh.session_transaction() as s:
        assert s["uid"] == staff_id


def test_staff_sign_in_is_closed_without_identity_staff(app, standin):
    assert app.test_client().get("/portal/sso/oidc/login?staff=1").status_code == 404
    assert "sso-staff-login" not in app.test_client().get("/login").get_data(as_text=True)


def test_a_big_id_token_is_not_kept_in_the_cookie_and_sign_out_still_reaches_the_provider(app, standin):
    """The session is a signed cookie (4 KB in all): an ID token of a real provider with many claims is
    not kept; the provider's logout is then asked by client_id alone (RP-initiated logout)."""
    demo_account(app)
    c = app.test_client()
    standin.id_token_overrides = {"groups": [secrets.token_hex(8) for _ in range(300)]}  # not compressible
    sign_in_through(c)
    assert is_signed_in(c)
    cookie = c.get_cookie("session")
    assert cookie is not None and len(cookie.value) < 3000, len(cookie.value)
    with c.session_transaction() as s:
        s["csrf"] = "t"
    c.post("/logout", data={"csrf_token": "t"})
    html = c.get("/portal/sso/signed-out").get_data(as_text=True)
    target = re.search(r'id="sso-provider-logout" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    q = dict(parse_qsl(urlsplit(target).query))
    assert "id_token_hint" not in q and q["client_id"] and not is_signed_in(c)
