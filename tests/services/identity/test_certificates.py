"""Certificate sign-in of staff, at the service level: SM2 (a test CA signed with gmssl's own SM3 code, so the
app's sm2.py is checked against another implementation), ECDSA and RSA chains; each refusal with its zh_CN
reason; the nonce single-use and bound to its session; bindings, unbound attempts, audit and the role policy."""
from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.domain.errors import Conflict, NotAuthorized, RateLimited, ValidationError
from app.extensions import db
from app.models import User
from asn1crypto import x509 as asn1_x509

from app.models.certs import CertAudit, CertLoginAttempt
from app.services.identity import cert_policy, certchain, certificates, sm2
from app.services.identity.actors import SYSTEM, Actor
from app.services.identity.assurance import HIGH, LOW, SUBSTANTIAL
from app.services.identity.auth import authenticate, set_password
from tests.conftest import add_user, make_app
from tests.fakes.standin import StandIn, route
from tests.fakes.test_ca import UTC, CryptoCA, SM2CA

ADMIN = Actor(id=None, username="admin1", kind="staff", groups=frozenset({"admin"}), auth_method="password+totp",
              assurance=SUBSTANTIAL)
BASE = "https://FGW.example.gov.cn/app/"  # PUBLIC_BASE_URL: the origin signed is https://fgw.example.gov.cn


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca, other, ec_ca, rsa_ca = SM2CA(), SM2CA("陌生CA"), CryptoCA(kind="ecdsa"), CryptoCA("测试RSA根CA", kind="rsa")
    users = SimpleNamespace(
        good=ca.issue("张三", employee_no="EMP0001"), revoked=ca.issue("李四"),
        expired=ca.issue("王五", not_before=datetime(2020, 1, 1, tzinfo=UTC), days=1),
        future=ca.issue("赵六", not_before=datetime(2030, 1, 1, tzinfo=UTC)),
        stranger=other.issue("钱七"), ecdsa=ec_ca.issue("孙八"), rsa=rsa_ca.issue("周九"))
    files = {}
    for name, obj in (("ca", ca), ("ec", ec_ca), ("rsa", rsa_ca)):
        (d / f"{name}.pem").write_text(obj.pem)
        files[name] = str(d / f"{name}.pem")
    (d / "ca.crl").write_bytes(ca.crl([users.revoked.serial]))
    (d / "ec.crl").write_text(ec_ca.crl_pem())
    (d / "rsa.crl").write_bytes(rsa_ca.crl())
    return SimpleNamespace(ca=ca, other=other, ec=ec_ca, rsa=rsa_ca, u=users, dir=d,
                           cas=[files["ca"], files["ec"], files["rsa"]],
                           crls=[str(d / "ca.crl"), str(d / "ec.crl"), str(d / "rsa.crl")])


@pytest.fixture
def capp(db_url, pki):
    app = make_app(db_url, CERT_CA_FILES=pki.cas, CERT_CRL_FILES=pki.crls, PUBLIC_BASE_URL=BASE)
    add_user(app, "zhangsan", groups=["tzc"])
    add_user(app, "chief1", groups=["tzc_chief"])
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def uid(app, name):
    with app.app_context():
        return db.session.execute(select(User.id).where(User.username == name)).scalar_one()


def bind(app, username, issued):
    with app.app_context():
        return certificates.bind_certificate(ADMIN, uid(app, username), issued.pem).id


def attempt(app, issued, *, sid="session-1", data=None, nonce=None, raw=False, cert=..., ip="10.0.0.1"):
    with app.app_context():
        challenge = certificates.issue_challenge(sid, ip)
        nonce = nonce or challenge.nonce
        signed = (data if data is not None else certificates.message_to_sign(nonce)).encode()
        sig = issued.sign(signed, raw=raw) if issued.algorithm == "sm2" else issued.sign(signed)
        return certificates.sign_in_with_certificate(issued.pem if cert is ... else cert,
                                                     base64.b64encode(sig).decode(), nonce, sid, ip)


def refused(app, issued, **kw) -> str:
    with pytest.raises(certchain.CertificateRefused) as exc:
        attempt(app, issued, **kw)
    return exc.value.message


# ---------------------------------------------------------------- sm2.py

def test_sm2_verifies_der_and_raw_and_never_raises():
    d, pub = sm2.keygen()
    der, raw = sm2.sign(d, pub, b"abc"), sm2.sign(d, pub, b"abc", raw=True)
    assert sm2.verify(pub, b"abc", der) and sm2.verify("04" + pub, b"abc", raw) and sm2.verify(pub, b"abc", raw.hex())
    assert not sm2.verify(pub, b"abd", der)
    n = sm2.N
    bad_s = raw[:32] + (int.from_bytes(raw[32:], "big") + n).to_bytes(33, "big")[-32:]
    for sig in ("", "zz", "3000", b"\x30\x01", b"\x30" * 70, None, 5, b"\x00" * 64, bad_s,
                (0).to_bytes(32, "big") + raw[32:], raw[:32] + n.to_bytes(32, "big")):
        assert sm2.verify(pub, b"abc", sig) is False
    assert sm2.verify("00" * 64, b"abc", der) is False       # not a point of the curve
    assert sm2.verify("zz", b"abc", der) is False
    assert sm2.verify(pub, "abc", der) is False


def test_sm2_key_with_leading_zero_or_four_is_not_mangled():
    """gmssl's constructor strips every leading 0/4 of a key (P1): keys starting so must still work."""
    found = 0
    for _ in range(400):  # 1 key in 8 starts so: expect 16 tries for two
        d, pub = sm2.keygen()
        if pub[0] in "04":
            found += 1
            assert sm2.verify(pub, b"x", sm2.sign(d, pub, b"x")) and sm2.verify("04" + pub, b"x", sm2.sign(d, pub, b"x"))
            if found == 2:
                break
    assert found == 2


# ---------------------------------------------------------------- sign-in: what is accepted

@pytest.mark.parametrize("who", ["good", "ecdsa", "rsa"])
def test_bound_certificate_signs_its_user_in(capp, pki, who):
    bind(capp, "zhangsan", getattr(pki.u, who))
    actor = attempt(capp, getattr(pki.u, who))
    assert actor.username == "zhangsan"


def test_sm2_raw_signature_der_and_base64_certificate_accepted(capp, pki):
    bind(capp, "zhangsan", pki.u.good)
    assert attempt(capp, pki.u.good, raw=True).username == "zhangsan"
    assert attempt(capp, pki.u.good, cert=pki.u.good.b64).username == "zhangsan"


# ---------------------------------------------------------------- refusals, each with its reason

def test_refusals_have_clear_reasons(capp, pki):
    for name in ("good", "revoked", "expired", "future", "stranger"):
        add_user(capp, f"u_{name}", groups=["tzc"])
        bind(capp, f"u_{name}", getattr(pki.u, name))
    assert refused(capp, pki.u.revoked) == certchain.REVOKED == "证书已吊销"
    assert refused(capp, pki.u.stranger) == certchain.UNTRUSTED == "证书不是受信任的CA签发"
    assert refused(capp, pki.u.expired) == certchain.EXPIRED == "证书已过期或未生效"
    assert refused(capp, pki.u.future) == certchain.EXPIRED
    assert refused(capp, pki.u.good, data="another nonce") == certchain.SIGNATURE_INVALID
    # a signature by another key over the right nonce
    with capp.app_context():
        ch = certificates.issue_challenge("s", None)
        sig = base64.b64encode(pki.u.revoked.sign(certificates.message_to_sign(ch.nonce).encode())).decode()
        with pytest.raises(certchain.CertificateRefused, match="签名无效"):
            certificates.sign_in_with_certificate(pki.u.good.pem, sig, ch.nonce, "s")


def test_signature_names_this_app_so_a_bare_or_relayed_nonce_is_refused(capp, pki):
    bind(capp, "zhangsan", pki.u.good)
    with capp.app_context():
        nonce = certificates.issue_challenge("s", None).nonce
        assert certificates.message_to_sign(nonce) == f"yg-cert-login-v1|https://fgw.example.gov.cn|{nonce}"
        for message in ("{n}", "yg-cert-login-v1|https://evil.example.com|{n}", "yg-cert-login-v1|{n}"):
            ch = certificates.issue_challenge("s", None)
            sig = base64.b64encode(pki.u.good.sign(message.format(n=ch.nonce).encode())).decode()
            with pytest.raises(certchain.CertificateRefused) as exc:
                certificates.sign_in_with_certificate(pki.u.good.pem, sig, ch.nonce, "s")
            assert exc.value.message == certchain.SIGNATURE_INVALID
    capp.config["PUBLIC_BASE_URL"] = ""  # then the request's own host; outside a request: refused
    with capp.test_request_context("/login/cert", base_url="http://Intranet.local:8080"):
        assert certificates.message_to_sign("n") == "yg-cert-login-v1|http://intranet.local:8080|n"
    with capp.app_context(), pytest.raises(certchain.CertificateRefused, match="PUBLIC_BASE_URL"):
        certificates.message_to_sign("n")


def _sub_ca(parent, key_usage):
    """An intermediate SM2 CA signed by ``parent`` with the given keyUsage."""
    issued = parent.issue("下级CA", ca=True, key_usage=key_usage)
    ca = SM2CA.__new__(SM2CA)
    (ca.d, ca.pub), ca._serial, ca.der = issued.key, 5000, issued.der
    ca.name = asn1_x509.Certificate.load(issued.der).subject
    return ca


def test_only_end_entity_signing_certificates_of_entitled_cas(capp, pki):
    assert refused(capp, pki.ca.issue("下级CA", ca=True)) == certchain.CA_AS_LEAF  # a CA used as the leaf
    assert refused(capp, pki.ca.issue("无密钥用法", key_usage=None)) == certchain.NOT_FOR_SIGNING
    assert refused(capp, pki.ca.issue("加密证书", key_usage={"key_encipherment"})) == certchain.NOT_FOR_SIGNING
    assert refused(capp, pki.ec.issue("无密钥用法", key_usage=None)) == certchain.NOT_FOR_SIGNING
    root, now = certchain.parse_certificate(pki.ca.pem), datetime(2026, 3, 2, tzinfo=timezone.utc)
    for usage, reason in (({"key_cert_sign", "crl_sign"}, None), ({"crl_sign"}, certchain.UNTRUSTED),
                          ({"key_cert_sign"}, certchain.CRL_INVALID)):
        sub = _sub_ca(pki.ca, usage)
        store = certchain.TrustStore([root, certchain.parse_certificate(sub.der)],
                                     [certchain.load_crl(pki.ca.crl()), certchain.load_crl(sub.crl())])
        leaf = certchain.parse_certificate(sub.issue("下级签发").der)
        if reason is None:
            assert len(certchain.check_certificate(leaf, store, now)) == 3
            continue
        with pytest.raises(certchain.CertificateRefused) as exc:
            certchain.check_certificate(leaf, store, now)
        assert exc.value.message == reason


def test_crl_without_next_update_or_partial_is_refused(pki):
    root, leaf = certchain.parse_certificate(pki.ca.pem), certchain.parse_certificate(pki.u.good.der)
    idp = {"extn_id": "issuing_distribution_point", "critical": True,
           "extn_value": {"only_contains_user_certs": True}}
    delta = {"extn_id": "delta_crl_indicator", "critical": True, "extn_value": 7}
    for crls, reason in (([pki.ca.crl(next_update=None)], certchain.CRL_NO_NEXT_UPDATE),
                         ([pki.ca.crl(extensions=[idp])], certchain.CRL_PARTIAL),
                         ([pki.ca.crl(), pki.ca.crl(extensions=[delta])], certchain.CRL_PARTIAL)):
        store = certchain.TrustStore([root], [certchain.load_crl(c) for c in crls])
        with pytest.raises(certchain.CertificateRefused) as exc:
            certchain.check_certificate(leaf, store, datetime(2026, 3, 2, tzinfo=timezone.utc))
        assert exc.value.message == reason and "CRL" in reason


def test_nonce_single_use_bound_to_session_and_expiring(capp, pki):
    bind(capp, "zhangsan", pki.u.good)
    with capp.app_context():
        ch = certificates.issue_challenge("sess-A", None)
        sig = base64.b64encode(pki.u.good.sign(certificates.message_to_sign(ch.nonce).encode())).decode()
        with pytest.raises(certchain.CertificateRefused, match="挑战码已使用或已过期"):
            certificates.sign_in_with_certificate(pki.u.good.pem, sig, ch.nonce, "sess-B")  # other session
        assert certificates.sign_in_with_certificate(pki.u.good.pem, sig, ch.nonce, "sess-A").username == "zhangsan"
        with pytest.raises(certchain.CertificateRefused, match="挑战码已使用或已过期"):
            certificates.sign_in_with_certificate(pki.u.good.pem, sig, ch.nonce, "sess-A")  # replay
        ch2 = certificates.issue_challenge("sess-A", None)
        capp.extensions["clock"].advance(seconds=121)
        sig2 = base64.b64encode(pki.u.good.sign(certificates.message_to_sign(ch2.nonce).encode())).decode()
        with pytest.raises(certchain.CertificateRefused, match="挑战码已使用或已过期"):
            certificates.sign_in_with_certificate(pki.u.good.pem, sig2, ch2.nonce, "sess-A")
        for nonce in (None, "", 5, ["x"], "x" * 500):
            with pytest.raises(certchain.CertificateRefused, match="挑战码"):
                certificates.sign_in_with_certificate(pki.u.good.pem, sig, nonce, "sess-A")


MALFORMED_CERTS = [None, "", "abc", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                   base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), 12, ["x"], "证书"]


def test_malformed_certificate_or_signature_is_a_clear_error(capp, pki):
    for cert in MALFORMED_CERTS:
        with pytest.raises(ValidationError) as exc:
            attempt(capp, pki.u.good, cert=cert)
        assert exc.value.message == certchain.FORMAT
    bind(capp, "zhangsan", pki.u.good)
    with capp.app_context():
        for sig in (None, "", "!!!", "zz" * 40, 7, "A" * 5000):
            ch = certificates.issue_challenge("s", None)
            with pytest.raises(certchain.CertificateRefused) as exc:
                certificates.sign_in_with_certificate(pki.u.good.pem, sig, ch.nonce, "s")
            assert exc.value.message in (certchain.SIGNATURE_FORMAT, certchain.SIGNATURE_INVALID)


def test_crl_must_be_signed_by_its_ca_current_and_present(db_url, pki):
    forged = pki.dir / "forged.crl"  # claims the CA's name, signed by another key
    forged.write_bytes(_crl_as(pki.ca, pki.other))
    stale = pki.dir / "stale.crl"
    stale.write_bytes(pki.ca.crl(next_update=datetime(2025, 6, 1, tzinfo=UTC)))
    for crls, reason in (([str(forged)], certchain.CRL_INVALID), ([str(stale)], certchain.CRL_INVALID),
                         ([], certchain.CRL_MISSING)):
        app = make_app(db_url, CERT_CA_FILES=pki.cas, CERT_CRL_FILES=crls, PUBLIC_BASE_URL=BASE)
        assert refused(app, pki.u.good) == reason
        with app.app_context():
            db.session.remove()
    app = make_app(db_url, CERT_CA_FILES=pki.cas, CERT_CRL_REQUIRED=False, PUBLIC_BASE_URL=BASE)
    add_user(app, "x")
    bind(app, "x", pki.u.good)
    assert attempt(app, pki.u.good).username == "x"  # without CRLs, when so configured


def _crl_as(ca, signer):
    """A CRL with ``ca``'s name signed by ``signer``'s key."""
    real_name = signer.name
    signer.name = ca.name
    try:
        return signer.crl()
    finally:
        signer.name = real_name


class CrlPoint(StandIn):
    crl = b""

    @route("GET", r"/ca\.crl")
    def get(self, req):
        return 200, self.crl, "application/pkix-crl"


def test_crl_fetched_over_http(db_url, pki):
    certchain._CRL_CACHE.clear()
    with CrlPoint() as point:
        point.crl = pki.ca.crl([pki.u.revoked.serial])
        app = make_app(db_url, CERT_CA_FILES=[pki.cas[0]], CERT_CRL_URLS=[point.url + "/ca.crl"],
                       PUBLIC_BASE_URL=BASE)
        add_user(app, "a")
        add_user(app, "b")
        bind(app, "a", pki.u.good)
        bind(app, "b", pki.u.revoked)
        assert attempt(app, pki.u.good).username == "a"
        assert refused(app, pki.u.revoked) == certchain.REVOKED
        assert len([r for r in point.requests if r["path"] == "/ca.crl"]) == 1  # kept, not fetched per login
    certchain._CRL_CACHE.clear()


# ---------------------------------------------------------------- bindings, attempts, audit

def test_unbound_attempt_is_kept_and_can_be_bound(capp, pki):
    assert refused(capp, pki.u.good, ip="10.1.1.1") == certificates.UNBOUND
    zs, chief = uid(capp, "zhangsan"), uid(capp, "chief1")
    with capp.app_context():
        rows = certificates.unbound_attempts()
        assert [(r.ip, r.serial_hex) for r in rows] == [("10.1.1.1", format(pki.u.good.serial, "x"))]
        certificates.bind_attempt(ADMIN, zs, rows[0].id)
        assert certificates.unbound_attempts() == []
    assert attempt(capp, pki.u.good).username == "zhangsan"
    with capp.app_context():
        with pytest.raises(Conflict, match="已绑定用户 zhangsan"):
            certificates.bind_certificate(ADMIN, chief, pki.u.good.pem)
        with pytest.raises(NotAuthorized):
            certificates.bind_certificate(Actor(id=1, username="w", kind="staff", groups=frozenset({"tzc"})),
                                          chief, pki.u.ecdsa.pem)
        with pytest.raises(ValidationError, match="CA证书"):
            certificates.bind_certificate(ADMIN, chief, pki.ca.pem)
        cert_id = certificates.user_certificates(zs)[0].id
        certificates.unbind(ADMIN, zs, cert_id)
        audit = [(a.action, a.actor) for a in db.session.execute(select(CertAudit).order_by(CertAudit.id)).scalars()]
        assert audit == [("bind", "admin1"), ("unbind", "admin1")]
    assert refused(capp, pki.u.good) == certificates.UNBOUND  # unbound: no longer signs anyone in


def test_binding_needs_a_substantial_admin_session(capp, pki):
    assert refused(capp, pki.u.good) == certificates.UNBOUND
    zs, password_admin = uid(capp, "zhangsan"), replace(ADMIN, auth_method="password", assurance=LOW)
    with capp.app_context():
        attempt_id = certificates.unbound_attempts()[0].id
        for call in (lambda: certificates.bind_certificate(password_admin, zs, pki.u.good.pem),
                     lambda: certificates.bind_attempt(password_admin, zs, attempt_id)):
            with pytest.raises(NotAuthorized, match="绑定数字证书需要较高等级的身份认证"):
                call()
        assert certificates.user_certificates(zs) == [] and len(certificates.unbound_attempts()) == 1
        assert db.session.execute(select(CertAudit)).first() is None
        certificates.bind_certificate(SYSTEM, zs, pki.u.good.pem)  # the system actor is HIGH
    assert attempt(capp, pki.u.good).username == "zhangsan"


def test_failed_attempts_use_up_the_address_allowance(capp, pki):
    with capp.app_context():
        for _ in range(20):
            with pytest.raises(certchain.CertificateRefused):
                certificates.sign_in_with_certificate(pki.u.good.pem, "AAAA", "nope", "s", "10.9.9.9")
        with pytest.raises(RateLimited):
            certificates.sign_in_with_certificate(pki.u.good.pem, "AAAA", "nope", "s", "10.9.9.9")
        assert db.session.execute(select(CertLoginAttempt)).first() is None


# ---------------------------------------------------------------- the role policy

def test_role_policy_refuses_password_and_raises_decision_level(capp):
    chief_id = uid(capp, "chief1")
    with capp.app_context():
        user = db.session.get(User, chief_id)
        set_password(user, "correct horse battery")
        db.session.commit()
        chief = Actor(id=user.id, username="chief1", kind="staff", groups=frozenset({"tzc_chief"}))
        handler = Actor(id=2, username="zhangsan", kind="staff", groups=frozenset({"tzc"}))
        assert cert_policy.decision_assurance_required(chief) == LOW
        cert_policy.set_policy(ADMIN, "chief", require_certificate=False, decision_high=True)
        assert cert_policy.decision_assurance_required(chief) == HIGH
        assert cert_policy.decision_assurance_required(handler) == LOW
        assert authenticate("chief1", "correct horse battery").username == "chief1"  # password still allowed
        cert_policy.set_policy(ADMIN, "chief", require_certificate=True, decision_high=False)
        with pytest.raises(cert_policy.CertificateRequired, match="数字证书登录"):
            authenticate("chief1", "correct horse battery")
        assert cert_policy.decision_assurance_required(chief) == HIGH  # certificate-only ⇒ HIGH too
        with pytest.raises(NotAuthorized):
            cert_policy.set_policy(handler, "chief", require_certificate=False, decision_high=False)
        with pytest.raises(ValidationError):
            cert_policy.set_policy(ADMIN, "nope", require_certificate=True, decision_high=False)
        assert cert_policy.decision_assurance_required(SYSTEM) == LOW
        assert [a.action for a in cert_policy.audit_log()] == ["policy", "policy"]


def test_roles_of_groups():
    assert cert_policy.roles_of(["tzc", "tzc_chief", "tzc_liaison", "window", "leader", "admin"]) == {
        "handler", "chief", "liaison", "window_clerk", "leader", "admin"}


def test_chain_time_is_the_app_clock(pki):
    store = certchain.TrustStore([certchain.parse_certificate(pki.ca.pem)], [certchain.load_crl(pki.ca.crl())])
    leaf = certchain.parse_certificate(pki.u.good.der)
    certchain.check_certificate(leaf, store, datetime(2026, 3, 2, tzinfo=timezone.utc))
    with pytest.raises(certchain.CertificateRefused, match="过期"):
        certchain.check_certificate(leaf, store, leaf.not_after + timedelta(seconds=1))
