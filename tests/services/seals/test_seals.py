"""Sealed decisions (issue 17): generate + seal (PAdES) + verify on the shipped matters; every way a
sealed PDF stops being valid is named; who may seal; the electronic licence of an approval."""
from __future__ import annotations

import io
import json
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pypdf import PdfReader
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.stamp import TextStamp, TextStampStyle
from sqlalchemy import func, select

from app import create_app
from app.domain.errors import Conflict, NotAuthorized, NotFound
from app.extensions import db
from app.models import CaseEvent, CaseFile
from app.models.feedback import Disclosure
from app.models.seals import Licence, SealedDocument
from app.services.common.blobs import read_stored
from app.services.feedback.disclosure import related
from app.services.seals import keys, sealing
from app.services.seals.render import Document, render
from app.services.seals.verification import verify_pdf
from tests.services.seals.helpers import actor, drive


def sealed_blob(app, row_id: int) -> bytes:
    with app.app_context():
        row = db.session.get(SealedDocument, row_id)
        f = db.session.get(CaseFile, row.file_id)
        return read_stored(f.storage_key, f.sha256)


def verdict(app, blob, expected_id=None):
    with app.test_request_context():
        expected = db.session.get(SealedDocument, expected_id) if expected_id else None
        return verify_pdf(blob, expected)


def seal(app, who, case_id, kind="decision", level=3):
    with app.test_request_context():
        a = actor(app, who, level)
        row = sealing.seal_decision(a, case_id) if kind == "decision" else sealing.seal_notice(a, case_id, kind)
        return row.id


def count(app, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def beian(app):
    """xmgl_beian 予以备案, driven to its end; sealed by the staff user of its last step."""
    api, case, last = drive(app, "xmgl_beian", 0)
    assert case["status"] == "approved"
    row_id = seal(app, last, case["id"])
    return {"api": api, "case": case, "staff": last, "row": row_id, "blob": sealed_blob(app, row_id)}


def test_a_sealed_filing_notice_verifies_and_issues_its_licence(app, beian):
    v = verdict(app, beian["blob"])
    assert v.valid and v.code == "valid", v.message
    assert "江苏省发展和改革委员会" in v.signer and v.case_no == beian["case"]["case_no"] and v.signed_at
    assert v.record is not None and v.record.id == beian["row"]
    text = PdfReader(io.BytesIO(beian["blob"])).pages[0].extract_text()
    assert "项目备案通知书" in text and beian["case"]["case_no"] in text and "苏发改备〔2025〕3217号" in text
    with app.app_context():
        row = db.session.get(SealedDocument, beian["row"])
        f = db.session.get(CaseFile, row.file_id)
        assert (f.kind, row.kind, row.doc_no) == ("result", "decision", "苏发改备〔2025〕3217号")
        lic = db.session.execute(select(Licence)).scalar_one()
        assert (lic.type_name, lic.licence_no, lic.status, lic.holder_code, lic.issuer_code) == (
            "江苏省投资项目备案证", "苏发改备〔2025〕3217号", "valid", "91320200MA1WX6T3LC", "113200000140003784")
        assert lic.sealed_document_id == row.id and lic.case_id == beian["case"]["id"]
        actions = [e.action for e in db.session.execute(select(CaseEvent).where(
            CaseEvent.case_id == row.case_id).order_by(CaseEvent.id)).scalars()]
        assert actions[-2:] == ["seal", "licence"]
        # 双公示: the record of the decision names the licence
        d = db.session.execute(select(Disclosure).where(Disclosure.case_id == row.case_id)).scalar_one()
        assert related(d)["licence"].licence_no == "苏发改备〔2025〕3217号"
    with pytest.raises(Conflict, match="已盖章签发"):
        seal(app, beian["staff"], beian["case"]["id"])
    assert count(app, SealedDocument) == 1 and count(app, Licence) == 1


def test_one_changed_byte_an_appended_update_and_other_files_are_refused_with_the_reason(app, beian):
    blob = beian["blob"]
    at = blob.index(b"stream", blob.index(b"/Contents")) + 40  # inside the page's content, signed bytes
    flipped = blob[:at] + bytes([blob[at] ^ 0x01]) + blob[at + 1:]
    v = verdict(app, flipped)
    assert (v.valid, v.code) == (False, "tampered") and "盖章后被修改" in v.message

    w = IncrementalPdfFileWriter(io.BytesIO(blob))
    TextStamp(w, style=TextStampStyle(stamp_text="APPROVED AGAIN")).apply(0, 50, 400)
    out = io.BytesIO()
    w.write(out)
    v = verdict(app, out.getvalue())
    assert (v.valid, v.code) == (False, "appended") and "追加" in v.message

    with app.test_request_context():
        unsigned, _, _ = render(Document(kind="decision", title="准予行政许可决定书", doc_no="X-1", organ="某机关",
                                         addressee="某公司", applicant_code=None, paragraphs=["伪造"]), "http://x/", "c")
    assert verdict(app, unsigned).code == "unsigned"
    assert verdict(app, b"\x89PNG\r\n\x1a\n" + b"\x00" * 50).code == "not_pdf"
    assert verdict(app, b"%PDF-1.4\n garbage").code in ("damaged", "unsigned")
    assert verdict(app, blob[: len(blob) // 2]).code in ("damaged", "tampered", "unreadable")

    # the same document under a seal of another CA: not trusted
    with app.test_request_context():
        ca_key, ca, key, cert = keys.make_ca_and_seal("江苏省发展和改革委员会", "伪造的根证书")
        other = keys.SealKey(keys.simple_signer(key, cert, [ca]), None, "", "", "test")
        pdf, page, box = render(Document(kind="decision", title="准予行政许可决定书", doc_no="X-2",
                                         organ="江苏省发展和改革委员会", addressee="某公司", applicant_code=None,
                                         paragraphs=["内容"]), "http://x/", "c")
        forged = sealing.seal_pdf(pdf, page, box, other, beian["case"]["case_no"], "江苏省发展和改革委员会")
    v = verdict(app, forged)
    assert (v.valid, v.code) == (False, "untrusted") and "不受信任" in v.message

    # a certificate from the trusted (development) CA that is not one of the agency's seals
    with app.test_request_context():
        directory = keys.dev_dir(app.config)
        ca_key = serialization.load_pem_private_key((directory / "dev-ca.key.pem").read_bytes(), None)
        ca = x509.load_pem_x509_certificate((directory / "dev-ca.pem").read_bytes())
        _, _, key, good = keys.make_ca_and_seal("某公司")
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(good.subject).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(good.not_valid_before_utc).not_valid_after(good.not_valid_after_utc)
                .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), True)
                .sign(ca_key, hashes.SHA256()))
        stranger = keys.SealKey(keys.simple_signer(key, cert, [ca]), None, "", "", "test")
        forged = sealing.seal_pdf(pdf, page, box, stranger, beian["case"]["case_no"], "某公司")
    assert verdict(app, forged).code == "foreign"
    # /verify/<code> compares with the registered document
    assert verdict(app, blob, beian["row"]).valid
    assert verdict(app, forged, beian["row"]).code == "foreign"


def test_only_the_case_staff_with_a_certificate_sign_in_may_seal(app, tmp_path):
    api, case, last = drive(app, "xmgl_beian", 0)
    with pytest.raises(NotAuthorized, match="电子印章需要高等级的身份认证"):
        seal(app, last, case["id"], level=1)
    with pytest.raises(NotAuthorized, match="电子印章需要高等级"):
        seal(app, last, case["id"], level=2)
    for who in ("alice", "w_nj", "insp"):  # the applicant; staff of another region; an inspector
        with pytest.raises(NotAuthorized):
            seal(app, who, case["id"])
    with pytest.raises(NotFound):
        seal(app, last, 999999)
    assert count(app, SealedDocument) == 0 and count(app, Licence) == 0
    with app.app_context():
        assert not db.session.execute(select(CaseEvent).where(CaseEvent.action == "seal")).first()
        assert not db.session.execute(select(CaseFile).where(CaseFile.kind == "result")).first()
    # HIGH: allowed — with the matter's own template (processes/<id>.decision.json) when it has one
    custom = tmp_path / "xmgl_beian.decision.json"
    custom.write_text(json.dumps({"approved": {"title": "江苏省投资项目备案证", "text":
                                               "{{ applicant_name }}：项目“{{ project_name }}”已备案。\n\n备案证号：{{ document_no }}"}}),
                      "utf-8")
    app.config["PROCESSES_DIR"] = str(tmp_path)
    row_id = seal(app, last, case["id"])
    text = PdfReader(io.BytesIO(sealed_blob(app, row_id))).pages[0].extract_text()
    assert "江苏省投资项目备案证" in text and "备案证号：苏发改备〔2025〕3217号" in text


def test_a_case_not_yet_decided_cannot_be_sealed_and_its_notice_can(app):
    api, case, last = drive(app, "xmgl_beian", 3)  # 不予受理 at the window
    assert case["status"] == "rejected"
    with pytest.raises(Conflict, match="不予受理"):
        seal(app, last, case["id"])
    with pytest.raises(Conflict, match="尚未出具受理通知书"):
        seal(app, last, case["id"], "accept")
    row_id = seal(app, last, case["id"], "refuse")
    blob = sealed_blob(app, row_id)
    v = verdict(app, blob)
    assert v.valid and v.record.title == "不予受理决定书"
    text = PdfReader(io.BytesIO(blob)).pages[0].extract_text()
    assert "不予受理决定书" in text and "行政复议" in text
    assert count(app, Licence) == 0


def test_a_hezhun_approval_issues_a_licence_shown_in_disclosure(app):
    api, case, last = drive(app, "xmgl_hezhun", 0)
    assert case["status"] == "approved"
    row_id = seal(app, last, case["id"])
    blob = sealed_blob(app, row_id)
    assert verdict(app, blob).valid
    assert "准予行政许可决定书" in PdfReader(io.BytesIO(blob)).pages[0].extract_text()
    with app.app_context():
        lic = db.session.execute(select(Licence)).scalar_one()
        d = db.session.execute(select(Disclosure)).scalar_one()
    assert (lic.type_name, lic.licence_no) == ("企业投资项目核准批复文件", "苏发改许发〔2025〕1021号")
    html = app.test_client().get(f"/disclosure/{d.id}").get_data(as_text=True)
    assert "苏发改许发〔2025〕1021号" in html and lic.licence_id in html and "电子证照" in html


def test_production_without_a_key_cannot_seal_but_says_why(tmp_path):
    prod = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "DEPLOY_ON_START": False,
                       "APP_ENV": "production", "SECRET_KEY": "s" * 40})
    with prod.app_context():
        with pytest.raises(keys.SealUnavailable, match="尚未配置电子印章密钥"):
            keys.seal_key()
        assert keys.trust_roots() == []


def test_configured_key_files_are_used_and_their_chain_trusted(app, tmp_path):
    ca_key, ca, key, cert = keys.make_ca_and_seal("江苏省发展和改革委员会", "某省电子认证中心")
    pem = serialization.Encoding.PEM
    (tmp_path / "seal.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                          serialization.BestAvailableEncryption(b"pw")))
    (tmp_path / "seal.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    app.config.update(SEAL_KEY_FILE=str(tmp_path / "seal.key"), SEAL_CERT_FILE=str(tmp_path / "seal.pem"),
                      SEAL_CHAIN_FILES=str(tmp_path / "ca.pem"), SEAL_KEY_PASSPHRASE="pw")
    with app.test_request_context():
        k = keys.seal_key()
        assert k.source == "files" and "江苏省发展和改革委员会" in k.subject
        pdf, page, box = render(Document(kind="decision", title="准予行政许可决定书", doc_no="X-3",
                                         organ="江苏省发展和改革委员会", addressee="某公司", applicant_code=None,
                                         paragraphs=["内容"]), "http://x/", "c")
        v = verify_pdf(sealing.seal_pdf(pdf, page, box, k, "C-1", "江苏省发展和改革委员会"))
        # intact, trusted through the configured chain, our seal certificate — only not in the register
        # (sealed here outside seal_decision)
        assert (v.valid, v.code) == (False, "unregistered"), v.message
    app.config.update(SEAL_KEY_PASSPHRASE="wrong")
    with app.test_request_context():
        with pytest.raises(keys.SealUnavailable, match="无法读取"):
            keys.seal_key()


def test_a_pdf_signed_with_our_key_but_never_registered_is_not_valid(app):
    """Every seal is registered in the transaction that makes it: a PDF our key signed outside the register
    (a misused key) is refused with the reason, not passed as ours."""
    api, case, last = drive(app, "xmgl_beian", 0)
    row_id = seal(app, last, case["id"])
    blob = sealed_blob(app, row_id)
    assert verdict(app, blob).valid
    with app.app_context():
        db.session.query(Licence).delete()
        db.session.query(SealedDocument).delete()
        db.session.commit()
    v = verdict(app, blob)
    assert (v.valid, v.code) == (False, "unregistered") and "登记中没有" in v.message
