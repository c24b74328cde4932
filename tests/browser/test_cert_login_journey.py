"""Certificate sign-in in a real browser: the sign-in page reads the certificates of the software key client
(real HTTP on 127.0.0.1, CORS), gets a nonce, has it signed (PIN), and the window clerk — an SM2 certificate
of a test CA made now — is signed in at HIGH assurance and completes the 窗口收件审查 of a shipped matter
(xmgl_beian 企业投资项目备案) in the inbox; once the 备案审查 decides, he seals the 备案通知书 (盖章签发, which
needs HIGH) and the sealed PDF verifies at /verify — and, one byte changed, does not. In the same test, each
refusal with its message: PIN refused, revoked, unknown CA, expired, a signature over another nonce, and a
replayed sign-in (a direct request)."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.identity import certificates
from app.services.identity.actors import SYSTEM
from app.services.identity.assurance import HIGH
from tests.browser.test_inbox_journey import approve, open_first
from tests.conftest import ROOT, deploy_all
from tests.fakes.keyclient_standin import KeyClientStandIn
from tests.fakes.test_ca import UTC, SM2CA
from tests.web.api.helpers import Api

BEIAN = json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text("utf-8"))["scenarios"][0]


def sign_with(page, key_id, pin="123456"):
    page.select_option("#cert-select", key_id)
    page.fill("#cert-pin", pin)
    page.click("#cert-sign")


def status_says(page, text):
    page.wait_for_function("t => document.getElementById('cert-status').textContent.includes(t)", arg=text)


def test_certificate_sign_in_journey(make_live_server, browser_page, tmp_path):
    ca, stranger_ca = SM2CA(), SM2CA("陌生CA")
    good = ca.issue("窗口 小王", employee_no="EMP0001")
    revoked, expired = ca.issue("李四"), ca.issue("王五", not_before=datetime(2020, 1, 1, tzinfo=UTC), days=1)
    (tmp_path / "ca.pem").write_text(ca.pem)
    (tmp_path / "ca.crl").write_bytes(ca.crl([revoked.serial]))
    with KeyClientStandIn() as kc:
        for key_id, issued in (("good", good), ("revoked", revoked), ("expired", expired),
                               ("stranger", stranger_ca.issue("钱七"))):
            kc.add(issued, key_id)
        server = make_live_server(CERT_CA_FILES=[str(tmp_path / "ca.pem")], CERT_CRL_FILES=[str(tmp_path / "ca.crl")],
                                  CERT_KEYCLIENT_URL=kc.url)
        deploy_all(server.app)
        server.add_user("w1", groups=["window"])  # no password at all: the certificate is the way in
        api = Api(server.app)
        api.user("applicant_1", "applicant")
        api.user("inv", groups=["investment"])
        r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_beian", "data": BEIAN["start"]})
        assert r.status_code == 201, r.json
        case_id = r.json["id"]
        with server.app.app_context():
            w1 = db.session.execute(select(User.id).where(User.username == "w1")).scalar_one()
            certificates.bind_certificate(SYSTEM, w1, good.pem)

        page = browser_page("desktop")
        page.goto(f"{server.url}/login?next=/inbox")
        page.click("#cert-read")
        page.wait_for_function("document.querySelectorAll('#cert-select option').length === 4")
        assert "窗口 小王" in page.inner_text("#cert-select")

        sign_with(page, "good", pin="000000")
        status_says(page, "PIN码错误")
        for key_id, message in (("revoked", "证书已吊销"), ("stranger", "证书不是受信任的CA签发"),
                                ("expired", "证书已过期或未生效")):
            sign_with(page, key_id)
            status_says(page, message)
        kc.wrong_data = True
        sign_with(page, "good")
        status_says(page, "签名无效")
        kc.wrong_data = False

        posted = []
        page.on("request", lambda req: posted.append(req.post_data) if req.url.endswith("/login/cert?next=%2Finbox")
                or req.url.endswith("/login/cert?next=/inbox") else None)
        with page.expect_navigation(url="**/inbox"):
            sign_with(page, "good")
        cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "session")
        session = server.app.session_interface.get_signing_serializer(server.app).loads(cookie)
        assert session["uid"] == w1 and session["amr"] == "certificate" and session["loa"] == HIGH

        # the window clerk completes the 窗口收件审查 of the shipped 企业投资项目备案
        open_first(page)
        with page.expect_navigation():
            page.click("#btn-claim")
        page.wait_for_function("document.body.dataset.form === 'ready'")
        page.locator("#taskform").get_by_role("radio", name="受理", exact=True).check()
        page.locator("#taskform").get_by_label("收件审查意见 / 不予受理理由").fill("申请材料齐全，符合法定形式，予以受理。")
        approve(page)

        # a replay of the successful sign-in's request: refused
        assert len(posted) == 1
        token = page.evaluate("document.querySelector('input[name=csrf_token]').value")
        replay = page.request.post(f"{server.url}/login/cert", data=posted[0],
                                   headers={"Content-Type": "application/json", "X-CSRF-Token": token})
        assert replay.status == 401 and "挑战码已使用或已过期" in replay.json()["error"]

        # the 备案审查 decides (another handler, over the API); the window clerk seals the 备案通知书
        api.complete_first("inv", BEIAN["steps"][3]["data"], element="filing_decision")
        page.goto(f"{server.url}/inbox/cases/{case_id}")
        with page.expect_navigation():
            page.click("#btn-seal-decision")
        link = page.locator("#seal-panel .sealed-doc[data-kind=decision] a").first
        assert "备案通知书" in link.inner_text()
        pdf = page.request.get(server.url + link.get_attribute("href")).body()
        assert pdf.startswith(b"%PDF")
        for body, valid in ((pdf, "yes"), (pdf[:2000] + bytes([pdf[2000] ^ 1]) + pdf[2001:], "no")):
            page.goto(f"{server.url}/verify")
            page.set_input_files("#verify-form input[type=file]",
                                 files=[{"name": "备案通知书.pdf", "mimeType": "application/pdf", "buffer": body}])
            with page.expect_navigation():
                page.click("#btn-verify")
            assert page.get_attribute("#verdict", "data-valid") == valid, page.inner_text("#verdict")
            if valid == "yes":  # which agency sealed it, for which case
                assert page.inner_text("#v-case") == r.json["case_no"] and page.inner_text("#v-signer")
            else:
                assert "修改" in page.inner_text("#verdict") or "损坏" in page.inner_text("#verdict")
        page.errors = [e for e in page.errors if "HTTP 40" not in e]  # the refusals above answered 401/403
        assert not page.errors, page.errors
