"""Unified identity (统一身份认证), the services: what the provider asserts is checked; the first
sign-in links to the account with the same code and verified mobile or makes one, a code with
another mobile is refused; later sign-ins go by the link. The two protocols run for real against the
stand-in provider over HTTP (tests/fakes/idp_standin.py): OpenID Connect (state, nonce, PKCE, the ID
token's signature and claims) and the CAS-style tickets (signed server calls, single-use tickets).
Every refusal: an SsoError with its code, nothing written."""
from __future__ import annotations

import base64
import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from app.models.accounts import ApplicantProfile
from app.models.docking_identity import DockingIdentity
from app.services.docking import sso, sso_cas, sso_oidc
from app.services.identity.actors import actor_from_user
from tests.conftest import make_app
from tests.fakes.idp_standin import SEED, IdpStandIn
from tests.services.portal.helpers import make_applicant

DEMO, PERSON, NEWCO = SEED
CALLBACK = "http://localhost/portal/sso/oidc/callback"
CAS_CALLBACK = "http://localhost/portal/sso/cas/callback"


# -- the stand-in and a browser on the provider's side --------------------------------------------------
# Short enough that a hung provider costs a test a few seconds, long enough that a busy CI machine
# (two suites on two cores) answering a sound request slowly is not mistaken for a hung one: a 1 s
# limit failed a sign-in once in CI.
TIMEOUTS = {"OIDC_TIMEOUT_SECONDS": 3.0, "CAS_TIMEOUT_SECONDS": 3.0}
HANG_SECONDS = 6.0


@pytest.fixture(scope="module")
def idp():
    standin = IdpStandIn().start()
    standin.hang_seconds = HANG_SECONDS
    yield standin
    standin.stop()


@pytest.fixture
def standin(idp):
    idp.clear_faults()
    idp.id_token_overrides, idp.userinfo_overrides = {}, {}
    idp.requests.clear()
    idp.logouts.clear()
    idp.ticket_seconds = 60
    sso_oidc.forget_cache()
    return idp


@pytest.fixture
def app(db_url, standin):
    app = make_app(db_url, **TIMEOUTS, **standin.config())
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def pick_on_provider(url: str, pick: str, **custom) -> str:
    """What a person does on the provider's login page: open it, press the button of ``pick`` (a seed
    identity's sub, "custom" with fields, or "deny"). Returns where the provider sends the browser."""
    page = requests.get(url, allow_redirects=False, timeout=5)
    assert page.status_code == 200, page.text
    base = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    for action, body in re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.S):
        fields = {unescape(k): unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', body)}
        if fields.get("pick") == pick:
            answer = requests.post(base + action, data=dict(fields, **custom), allow_redirects=False, timeout=5)
            assert answer.status_code == 302, answer.text
            return answer.headers["Location"]
    raise AssertionError(f"no button for {pick}")


def query_of(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query))


def oidc_round(app, pick: str = DEMO["sub"], **custom):
    """begin → the provider → (pending, the callback's query)."""
    with app.test_request_context():
        url, pending = sso_oidc.begin(CALLBACK)
    return pending, query_of(pick_on_provider(url, pick, **custom))


def cas_round(app, pick: str = DEMO["sub"]):
    with app.test_request_context():
        url, pending = sso_cas.begin(CAS_CALLBACK)
    return pending, query_of(pick_on_provider(url, pick))


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(db.session.execute(select(func.count()).select_from(t)).scalar()
                     for t in (User, ApplicantProfile, DockingIdentity))


def demo_account(app, mobile: str = DEMO["phone_number"]) -> int:
    return make_applicant(app, mobile, name=DEMO["name"], code=DEMO["credit_code"])


def identity(**over) -> sso.Identity:
    attrs = {"subject": DEMO["sub"], "kind": "法人", "name": DEMO["name"], "code": DEMO["credit_code"],
             "mobile": DEMO["phone_number"], "level": "L3"}
    attrs.update(over)
    return sso.check_identity(over.pop("provider", "oidc"), attrs)


def refused(app, fn, *args) -> sso.SsoError:
    before = counts(app)
    with app.test_request_context():
        with pytest.raises(sso.SsoError) as err:
            fn(*args)
    assert counts(app) == before
    return err.value


# -- the identity as asserted ------------------------------------------------------------------------
@pytest.mark.parametrize("over, code", [
    ({"mobile": ""}, "missing_attributes"), ({"code": None}, "missing_attributes"),
    ({"kind": "robot"}, "bad_attributes"), ({"code": "91320000MA1XY00001"}, "bad_attributes"),
    ({"kind": "自然人", "code": "320106199003071235"}, "bad_attributes"), ({"mobile": "02512345678"}, "bad_attributes"),
    ({"name": ["x"]}, "bad_attributes"), ({"subject": "s" * 300}, "bad_attributes")])
def test_an_identity_with_missing_or_invalid_attributes_is_refused(app, over, code):
    with app.app_context(), pytest.raises(sso.SsoError) as err:
        identity(**over)
    assert err.value.code == code and err.value.message


def test_kinds_are_read_in_the_providers_words(app):
    with app.app_context():
        assert identity(kind="legal").kind == "enterprise"
        person = identity(kind="natural", code=PERSON["id_number"])
    assert person.kind == "individual" and person.kind_label == "自然人"


# -- sign_in: link, create, refuse ----------------------------------------------------------------------
def test_first_sign_in_links_the_account_with_the_same_code_and_mobile_then_goes_by_the_link(app):
    uid = demo_account(app)
    with app.app_context():
        first = sso.sign_in(identity())
        again = sso.sign_in(identity(level="L4"))
        link = db.session.execute(select(DockingIdentity)).scalar_one()
        assert (link.user_id, link.origin, link.sign_ins, link.level) == (uid, "matched", 2, "L4")
    assert (first.actor.id, first.origin, again.origin) == (uid, "matched", "linked")
    assert first.session_record() == {"u": uid, "p": "oidc", "k": "enterprise", "l": "L3", "n": DEMO["name"]}


def test_first_sign_in_without_an_account_creates_one_from_the_attributes(app):
    with app.app_context():
        result = sso.sign_in(identity(subject=NEWCO["sub"], name=NEWCO["name"], code=NEWCO["credit_code"],
                                      mobile=NEWCO["phone_number"], legal_representative="周强"))
        profile = db.session.get(ApplicantProfile, result.actor.id)
        user = db.session.get(User, result.actor.id)
        assert (profile.kind, profile.credit_code, profile.mobile, profile.legal_representative) == \
            ("enterprise", NEWCO["credit_code"], NEWCO["phone_number"], "周强")
        assert (user.kind, user.org_code, user.phone, user.display_name) == \
            ("applicant", NEWCO["credit_code"], NEWCO["phone_number"], NEWCO["name"])
    assert result.origin == "created" and result.actor.is_applicant


def test_a_natural_person_gets_an_account_by_id_number(app):
    with app.app_context():
        result = sso.sign_in(identity(subject=PERSON["sub"], kind="自然人", name=PERSON["name"],
                                      code=PERSON["id_number"], mobile=PERSON["phone_number"]))
        profile = db.session.get(ApplicantProfile, result.actor.id)
        assert (profile.kind, profile.id_number, profile.credit_code, profile.contact_person) == \
            ("individual", PERSON["id_number"], None, PERSON["name"])


def test_a_code_whose_account_has_another_mobile_is_not_linked(app):
    demo_account(app, "13812345678")
    err = refused(app, sso.sign_in, identity())
    assert err.code == "mobile_mismatch" and err.status == 409
    assert "短信验证码登录" in err.message and "个人资料" in err.message and "大厅" in err.message


def test_a_new_identity_whose_mobile_belongs_to_another_account_is_refused(app):
    make_applicant(app, NEWCO["phone_number"])
    err = refused(app, sso.sign_in, identity(subject=NEWCO["sub"], code=NEWCO["credit_code"],
                                             mobile=NEWCO["phone_number"]))
    assert err.code == "mobile_taken"


def test_an_unverified_mobile_neither_links_nor_creates(app):
    demo_account(app)
    err = refused(app, sso.sign_in, identity(mobile_verified=False))
    assert err.code == "mobile_unverified"


def test_a_linked_identity_that_now_asserts_another_code_is_refused(app):
    demo_account(app)
    with app.app_context():
        sso.sign_in(identity())
    err = refused(app, sso.sign_in, identity(code=NEWCO["credit_code"]))
    assert err.code == "code_mismatch"


def test_an_inactive_account_is_not_signed_in(app):
    uid = demo_account(app)
    with app.app_context():
        db.session.get(User, uid).active = False
        db.session.commit()
    assert refused(app, sso.sign_in, identity()).code == "account_inactive"


def test_the_signed_in_applicant_links_an_identity_of_the_same_code_whatever_its_mobile(app):
    uid, other_id = demo_account(app, "13812345678"), make_applicant(app, "13912340000")
    with app.app_context():
        actor = actor_from_user(db.session.get(User, uid))
        other = actor_from_user(db.session.get(User, other_id))
        sso.link_account(actor, identity())
        assert sso.sign_in(identity()).actor.id == uid
        assert [link["name"] for link in sso.linked_identities(actor)] == [DEMO["name"]]
    assert refused(app, sso.link_account, actor, identity(code=NEWCO["credit_code"])).code == "code_mismatch"
    assert refused(app, sso.link_account, other, identity()).code == "code_mismatch"


# -- OpenID Connect against the stand-in -----------------------------------------------------------------
def test_oidc_authorization_request_carries_state_nonce_and_pkce(app, standin):
    with app.test_request_context():
        url, pending = sso_oidc.begin(CALLBACK)
        sso_oidc.begin(CALLBACK)
    q = query_of(url)
    assert url.startswith(standin.url + "/authorize?")
    assert (q["state"], q["nonce"], q["code_challenge_method"], q["client_id"], q["redirect_uri"]) == \
        (pending["s"], pending["n"], "S256", standin.client_id, CALLBACK)
    assert "openid" in q["scope"].split() and q["code_challenge"] != pending["v"]
    assert [r["path"] for r in standin.requests].count("/.well-known/openid-configuration") == 1  # cached


def test_oidc_code_flow_gives_the_verified_identity(app, standin):
    pending, args = oidc_round(app)
    with app.test_request_context():
        ident, id_token = sso_oidc.finish(CALLBACK, pending, args)
    assert (ident.provider, ident.subject, ident.kind, ident.code, ident.mobile, ident.level) == \
        ("oidc", DEMO["sub"], "enterprise", DEMO["credit_code"], DEMO["phone_number"], "L3")
    token_call = next(r for r in standin.requests if r["path"] == "/token")
    assert token_call["headers"]["Authorization"].startswith("Basic ")
    assert b"code_verifier=" in token_call["body"] and id_token.count(".") == 2


def test_oidc_a_state_that_differs_is_refused_before_any_call(app, standin):
    pending, args = oidc_round(app)
    calls = len(standin.requests)
    err = refused(app, sso_oidc.finish, CALLBACK, pending, dict(args, state="forged"))
    assert err.code == "state_mismatch" and len(standin.requests) == calls
    assert refused(app, sso_oidc.finish, CALLBACK, None, args).code == "state_mismatch"


def test_oidc_a_code_is_good_once(app, standin):
    pending, args = oidc_round(app)
    with app.test_request_context():
        sso_oidc.finish(CALLBACK, pending, args)
    assert refused(app, sso_oidc.finish, CALLBACK, pending, args).code == "provider_refused"


def test_oidc_an_id_token_signed_with_a_key_not_in_the_jwks_is_refused(app, standin):
    pending, args = oidc_round(app)
    standin.fail_next("badsig", path="/token")
    err = refused(app, sso_oidc.finish, CALLBACK, pending, args)
    assert err.code == "bad_signature" and "签名" in err.message


@pytest.mark.parametrize("claims", [{"nonce": "replayed"}, {"aud": "another-client"}, {"iss": "http://evil.example"},
                                    {"exp": 1000}, {"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}])
def test_oidc_an_id_token_with_a_wrong_claim_is_refused(app, standin, claims):
    pending, args = oidc_round(app)
    standin.id_token_overrides = claims
    err = refused(app, sso_oidc.finish, CALLBACK, pending, args)
    assert err.code == "bad_token" and next(iter(claims)) in err.message


def test_oidc_userinfo_of_another_subject_or_without_a_mobile_is_refused(app, standin):
    pending, args = oidc_round(app)
    standin.userinfo_overrides = {"sub": "someone-else"}
    assert refused(app, sso_oidc.finish, CALLBACK, pending, args).code == "bad_token"
    pending, args = oidc_round(app)
    standin.userinfo_overrides = {"phone_number": None}
    err = refused(app, sso_oidc.finish, CALLBACK, pending, args)
    assert err.code == "missing_attributes" and "手机号码" in err.message


def test_oidc_a_mobile_the_provider_has_not_verified_is_marked_so(app, standin):
    pending, args = oidc_round(app)
    standin.userinfo_overrides = {"phone_number_verified": False}
    with app.test_request_context():
        ident, _ = sso_oidc.finish(CALLBACK, pending, args)
    assert ident.mobile_verified is False


def test_oidc_the_person_cancelling_at_the_provider_is_a_clear_refusal(app, standin):
    pending, args = oidc_round(app, "deny")
    err = refused(app, sso_oidc.finish, CALLBACK, pending, args)
    assert err.code == "provider_refused" and "用户取消了登录" in err.message
    # an error callback that is not the provider's answer to our request (another state, or none) shows
    # nothing of its text: a forged link cannot put its words on our page
    for forged in (dict(args, state="forged", error_description="请拨打 400-000-0000"),
                   {"error": "access_denied", "error_description": "请拨打 400-000-0000"}):
        err = refused(app, sso_oidc.finish, CALLBACK, pending, forged)
        assert err.code == "state_mismatch" and "400-000" not in err.message


@pytest.mark.parametrize("fault", [500, "close", "hang", "malformed"])
def test_oidc_a_provider_that_fails_at_the_token_endpoint_is_unavailable(app, standin, fault):
    pending, args = oidc_round(app)
    standin.fail_next(fault, path="/token")
    err = refused(app, sso_oidc.finish, CALLBACK, pending, args)
    assert err.code == "provider_unavailable" and err.status == 503


@pytest.mark.parametrize("fault", [503, "close", "hang", "malformed"])
def test_oidc_a_provider_down_at_discovery_is_unavailable(app, standin, fault):
    standin.fail_next(fault, path="/.well-known")
    err = refused(app, sso_oidc.begin, CALLBACK)
    assert err.code == "provider_unavailable" and "暂时无法访问" in err.message


def test_oidc_logout_goes_to_the_end_session_endpoint(app, standin):
    with app.test_request_context():
        url = sso_oidc.logout_url("the-id-token", "http://localhost/portal/")
    q = query_of(url)
    assert url.startswith(standin.url + "/end_session?")
    assert (q["id_token_hint"], q["post_logout_redirect_uri"], q["client_id"]) == \
        ("the-id-token", "http://localhost/portal/", standin.client_id)


# -- CAS-style tickets against the stand-in ---------------------------------------------------------------
def test_cas_login_url_names_the_service_and_a_base64_return_url_with_our_state(app, standin):
    with app.test_request_context():
        url, pending = sso_cas.begin(CAS_CALLBACK)
    q = query_of(url)
    assert url.startswith(standin.url + "/login?") and q["service"] == standin.service_code
    assert base64.b64decode(q["returnUrl"]).decode() == f"{CAS_CALLBACK}?state={pending['s']}"


def test_cas_ticket_is_validated_and_user_info_read_with_signed_calls(app, standin):
    pending, args = cas_round(app, PERSON["sub"])
    with app.test_request_context():
        ident = sso_cas.finish(pending, args)
    assert (ident.provider, ident.kind, ident.code, ident.name, ident.level) == \
        ("cas", "individual", PERSON["id_number"], PERSON["name"], "L2")
    calls = [r for r in standin.requests if r["path"].startswith("/api/")]
    assert [(r["path"], r["status"]) for r in calls] == [("/api/ticket/validate", 200), ("/api/user/info", 200)]
    assert all(r["headers"]["X-Access-Key"] == standin.service_code and r["headers"]["X-Signature"] for r in calls)


def test_cas_a_forged_ticket_is_refused(app, standin):
    pending, args = cas_round(app)
    err = refused(app, sso_cas.finish, pending, dict(args, ticket="ST-forged"))
    assert err.code == "bad_ticket" and "票据" in err.message
    assert refused(app, sso_cas.finish, pending, dict(args, ticket="")).code == "bad_ticket"


def test_cas_a_ticket_is_good_once(app, standin):
    pending, args = cas_round(app)
    with app.test_request_context():
        sso_cas.finish(pending, args)
    assert refused(app, sso_cas.finish, pending, args).code == "bad_ticket"


def test_cas_an_expired_ticket_is_refused(app, standin):
    standin.ticket_seconds = -1
    pending, args = cas_round(app)
    assert refused(app, sso_cas.finish, pending, args).code == "bad_ticket"


def test_cas_a_call_signed_with_the_wrong_secret_is_refused_by_the_platform(db_url, standin):
    app = make_app(db_url, **standin.config(CAS_SECRET="not-the-secret"))
    pending, args = cas_round(app)
    err = refused(app, sso_cas.finish, pending, args)
    assert err.code == "provider_refused" and "bad_signature" in err.message


def test_cas_a_state_that_differs_is_refused(app, standin):
    pending, args = cas_round(app)
    assert refused(app, sso_cas.finish, pending, dict(args, state="x")).code == "state_mismatch"


@pytest.mark.parametrize("fault", [500, "close", "hang", "malformed"])
def test_cas_a_platform_that_fails_is_unavailable(app, standin, fault):
    pending, args = cas_round(app)
    standin.fail_next(fault, path="/api/ticket")
    assert refused(app, sso_cas.finish, pending, args).code == "provider_unavailable"


def test_cas_logout_url(app, standin):
    with app.test_request_context():
        url = sso_cas.logout_url("http://localhost/portal/")
    q = query_of(url)
    assert url.startswith(standin.url + "/logout?") and q["service"] == standin.service_code
    assert base64.b64decode(q["returnUrl"]).decode() == "http://localhost/portal/"


# -- staff (IDENTITY_STAFF): by a link they made themselves, never created ------------------------------------
def staff_actor(app, username="window9"):
    with app.app_context():
        user = User(username=username, display_name="窗口 九", kind="staff", groups=["window"])
        db.session.add(user)
        db.session.commit()
        return actor_from_user(user)


def test_staff_sign_in_goes_only_by_an_identity_they_linked(app):
    staff = staff_actor(app)
    person = dict(subject=PERSON["sub"], kind="自然人", name=PERSON["name"], code=PERSON["id_number"],
                  mobile=PERSON["phone_number"])
    with app.app_context():
        ident = identity(**person)
    assert refused(app, sso.sign_in_staff, ident).code == "not_linked"
    assert refused(app, sso.link_staff, staff, identity()).code == "code_mismatch"  # a 法人 is no staff member
    with app.app_context():
        sso.link_staff(staff, ident)
        assert sso.sign_in_staff(ident).actor.id == staff.id
    err = refused(app, sso.sign_in, ident)  # the applicant sign-in does not take a staff member's identity
    assert err.code == "not_applicant"
