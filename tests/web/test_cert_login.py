"""Certificate sign-in over HTTP (test client; the software key client over real HTTP for one sign-in),
the login page's CSP for the key client, the admin binding pages and the policy page (admins only)."""
from __future__ import annotations

import base64
import io
import re

import pytest
import requests
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.models.certs import CertAudit, CertRolePolicy, UserCertificate
from app.services.identity import org
from app.services.identity.actors import SYSTEM
from app.services.identity.assurance import HIGH, SUBSTANTIAL
from tests.conftest import make_app
from tests.fakes.keyclient_standin import KeyClientStandIn
from tests.services.identity.test_certificates import pki  # noqa: F401  (fixture)

PASSWORD = "correct horse battery"


@pytest.fixture
def app(db_url, pki):  # noqa: F811
    app = make_app(db_url, CERT_CA_FILES=pki.cas, CERT_CRL_FILES=pki.crls, CERT_KEYCLIENT_URL="http://127.0.0.1:18520")
    with app.app_context():
        org.seed_departments()
        db.session.commit()
        boss = org.create_user(SYSTEM, "boss", "管理员", "320000", PASSWORD)
        org.assign_role(SYSTEM, boss, "admin")
        chief = org.create_user(SYSTEM, "chief", "投资处 处长", "320000", PASSWORD)
        org.assign_role(SYSTEM, chief, "window_clerk")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def signed_in(app, username, *, second_factor=True):
    """A signed-in client; by default the session is marked as password + TOTP (SUBSTANTIAL), which binding
    certificates needs."""
    c = app.test_client()
    token = csrf(c.get("/login").get_data(as_text=True))
    assert c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}).status_code == 302
    if second_factor:
        with c.session_transaction() as s:
            s["amr"], s["loa"] = "password+totp", SUBSTANTIAL
    return c


def uid(app, name):
    with app.app_context():
        return db.session.execute(select(User.id).where(User.username == name)).scalar_one()


def cert_login(c, issued, *, data=None, token=None):
    page = c.get("/login").get_data(as_text=True)
    token = token or csrf(page)
    ch = c.post("/login/cert/challenge", headers={"X-CSRF-Token": token})
    assert ch.status_code == 200, ch.get_data(as_text=True)
    nonce, to_sign = ch.get_json()["nonce"], ch.get_json()["to_sign"]
    assert to_sign == f"yg-cert-login-v1|http://localhost|{nonce}"
    sig = base64.b64encode(issued.sign((data or to_sign).encode())).decode()
    body = {"certificate": issued.pem, "signature": sig, "nonce": nonce}
    return c.post("/login/cert?next=/inbox", json=body, headers={"X-CSRF-Token": token}), body, token


def bind_via_page(app, admin, username, issued):
    token = csrf(admin.get(f"/admin/users/{uid(app, username)}").get_data(as_text=True))
    return admin.post(f"/admin/users/{uid(app, username)}/certificates",
                      data={"csrf_token": token, "file": (io.BytesIO(issued.der), "user.cer")},
                      content_type="multipart/form-data")


def test_login_page_offers_certificate_and_allows_only_the_key_client(app):
    resp = app.test_client().get("/login")
    page = resp.get_data(as_text=True)
    assert "数字证书登录" in page and 'data-keyclient="http://127.0.0.1:18520"' in page and "cert_login.js" in page
    assert "connect-src 'self' http://127.0.0.1:18520;" in resp.headers["Content-Security-Policy"]
    other = app.test_client().get("/account/security")
    assert "18520" not in other.headers.get("Content-Security-Policy", "")


def test_certificate_sign_in_is_high_and_replay_refused(app, pki):  # noqa: F811
    admin = signed_in(app, "boss")
    assert bind_via_page(app, admin, "chief", pki.u.good).status_code == 302
    c = app.test_client()
    resp, body, token = cert_login(c, pki.u.good)
    assert resp.status_code == 200 and resp.get_json() == {"ok": True, "redirect": "/inbox"}
    with c.session_transaction() as s:
        assert s["uid"] == uid(app, "chief") and s["amr"] == "certificate" and s["loa"] == HIGH
    # the same body again (a replay), from the same browser (its session is a new one since)
    token = csrf(c.get("/login").get_data(as_text=True))
    again = c.post("/login/cert", json=body, headers={"X-CSRF-Token": token})
    assert again.status_code == 401 and "挑战码已使用或已过期" in again.get_json()["error"]


@pytest.mark.parametrize("who,reason", [("revoked", "证书已吊销"), ("stranger", "证书不是受信任的CA签发"),
                                        ("expired", "证书已过期或未生效")])
def test_refusals_as_json_with_reason(app, pki, who, reason):  # noqa: F811
    resp, _, _ = cert_login(app.test_client(), getattr(pki.u, who))
    assert resp.status_code == 401 and resp.get_json()["error"] == reason


def test_wrong_nonce_signature_and_malformed_bodies(app, pki):  # noqa: F811
    c = app.test_client()
    resp, _, token = cert_login(c, pki.u.good, data="not the nonce")
    assert resp.status_code == 401 and resp.get_json()["error"].startswith("签名无效")
    for body in ([1, 2], {"certificate": 5}, {}, "x"):
        r = c.post("/login/cert", json=body, headers={"X-CSRF-Token": token})
        assert r.status_code in (401, 422) and r.get_json()["error"]
    assert c.post("/login/cert", json={}).status_code == 400  # no CSRF token
    assert c.post("/login/cert/challenge").status_code == 400


def test_key_client_over_http_signs_in(app, pki):  # noqa: F811
    admin = signed_in(app, "boss")
    bind_via_page(app, admin, "chief", pki.u.ecdsa)
    with KeyClientStandIn() as kc:
        kc.add(pki.u.ecdsa, "k1")
        c = app.test_client()
        token = csrf(c.get("/login").get_data(as_text=True))
        challenge = c.post("/login/cert/challenge", headers={"X-CSRF-Token": token}).get_json()
        nonce, data_b64 = challenge["nonce"], base64.b64encode(challenge["to_sign"].encode()).decode()
        cert = requests.get(kc.url + "/certs/k1", timeout=5).json()["certificate"]
        refused = requests.post(kc.url + "/sign", json={"id": "k1", "data_b64": "", "pin": "0"}, timeout=5)
        assert refused.status_code == 403 and refused.json()["message"] == "PIN码错误"
        relayed = requests.post(kc.url + "/sign", json={"id": "k1", "data_b64": data_b64, "pin": "123456"},
                                headers={"Origin": "https://evil.example.com"}, timeout=5)  # another site asks
        assert relayed.status_code == 403 and relayed.json()["error"] == "origin_mismatch"
        sig = requests.post(kc.url + "/sign", timeout=5, headers={"Origin": "http://localhost"}, json={
            "id": "k1", "data_b64": data_b64, "pin": "123456"}).json()["signature"]
        resp = c.post("/login/cert", json={"certificate": cert, "signature": sig, "nonce": nonce},
                      headers={"X-CSRF-Token": token})
        assert resp.status_code == 200, resp.get_json()


def test_password_only_admin_cannot_bind(app, pki):  # noqa: F811
    admin = signed_in(app, "boss", second_factor=False)
    r = bind_via_page(app, admin, "chief", pki.u.good)
    assert r.status_code == 403 and "绑定数字证书需要较高等级的身份认证" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(UserCertificate)).first() is None
        assert db.session.execute(select(CertAudit)).first() is None


def test_admin_binding_pages_and_permissions(app, pki):  # noqa: F811
    admin = signed_in(app, "boss")
    chief_id = uid(app, "chief")
    # an unbound signed attempt shows on the user's page and can be bound from there
    resp, _, _ = cert_login(app.test_client(), pki.u.rsa)
    assert resp.status_code == 401 and "尚未绑定" in resp.get_json()["error"]
    page = admin.get(f"/admin/users/{chief_id}").get_data(as_text=True)
    assert "未绑定的证书登录尝试" in page and "周九" in page
    attempt = re.search(r'<option value="(\d+)">[^<]*周九', page).group(1)
    r = admin.post(f"/admin/users/{chief_id}/certificates/from-attempt", data={"csrf_token": csrf(page), "attempt": attempt})
    assert r.status_code == 302
    assert cert_login(app.test_client(), pki.u.rsa)[0].status_code == 200
    # bad uploads: a clear error, nothing bound
    page = admin.get(f"/admin/users/{chief_id}").get_data(as_text=True)
    for data in ({"pem": "not a certificate"}, {"pem": ""}, {"pem": pki.ca.pem}, {"attempt": "x"}):
        url = f"/admin/users/{chief_id}/certificates" + ("/from-attempt" if "attempt" in data else "")
        r = admin.post(url, data={"csrf_token": csrf(page), **data})
        assert r.status_code == 422 and 'class="error"' in r.get_data(as_text=True)
    r = admin.post(f"/admin/users/{chief_id}/certificates", data={"csrf_token": csrf(page), "pem": pki.u.rsa.pem})
    assert r.status_code == 409 and "已绑定用户 chief" in r.get_data(as_text=True)
    # unbind
    with app.app_context():
        cert_id = db.session.execute(select(UserCertificate.id)).scalar_one()
    assert admin.post(f"/admin/users/{chief_id}/certificates/{cert_id}/delete",
                      data={"csrf_token": csrf(page)}).status_code == 302
    assert admin.post(f"/admin/users/{chief_id}/certificates/999/delete", data={"csrf_token": csrf(page)}).status_code == 404
    with app.app_context():
        assert [a.action for a in db.session.execute(select(CertAudit).order_by(CertAudit.id)).scalars()] == \
            ["bind", "unbind"]
    # a non-admin is refused every certificate page and changes nothing
    other = signed_in(app, "chief")
    token = csrf(other.get("/account/security").get_data(as_text=True))
    for url, data in ((f"/admin/users/{chief_id}/certificates", {"pem": pki.u.good.pem}),
                      (f"/admin/users/{chief_id}/certificates/from-attempt", {"attempt": "1"}),
                      ("/admin/cert-policy", {"cert_chief": "1"})):
        assert other.post(url, data={"csrf_token": token, **data}).status_code == 403
    assert other.get("/admin/cert-policy").status_code == 403
    with app.app_context():
        assert db.session.execute(select(UserCertificate)).first() is None
        assert db.session.execute(select(CertRolePolicy)).first() is None


def test_policy_page_requires_certificate_for_a_role(app):
    admin = signed_in(app, "boss")
    page = admin.get("/admin/cert-policy").get_data(as_text=True)
    assert "须使用数字证书登录" in page
    r = admin.post("/admin/cert-policy", data={"csrf_token": csrf(page), "cert_window_clerk": "1", "high_chief": "1"})
    assert r.status_code == 302
    c = app.test_client()
    token = csrf(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"username": "chief", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 401 and "要求使用数字证书登录" in r.get_data(as_text=True)
    page = admin.get("/admin/cert-policy").get_data(as_text=True)
    assert "window_clerk" in page and "须证书登录=是" in page
