"""The electronic receipt (回执单) issued when the window confirms a mail intake: a PDF whose text
carries the case number, matter, applicant, materials, promised date, agency and the progress URL
(also drawn as a QR code); stored as a case file the applicant downloads; an SMS is written."""
import io
import re

import pypdf
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CaseFile
from app.models.intake import MailIntake
from tests.services.portal.h3_helpers import anonymous, browser, confirm, notifications, setup, submit, upload_mail


@pytest.fixture
def api(app):
    return setup(app)


@pytest.fixture
def confirmed(api, app):
    case = submit(api)
    upload_mail(app, case["id"])
    assert confirm(app, case["id"]).status_code == 302
    return case


def pdf_text(blob: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(blob)).pages)


def test_receipt_pdf_carries_the_case_matter_applicant_and_progress_url(app, confirmed):
    r = browser(app, "alice").get(f"/portal/cases/{confirmed['id']}/receipt.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = pdf_text(r.data)
    assert confirmed["case_no"] in text
    assert "企业投资项目核准" in text and "江苏华宁新材料股份有限公司" in text and "91320111MA1Y7K3N27" in text
    assert "项目申请报告" in text and "授权委托书" in text
    assert "江苏省发展和改革委员会" in text and "SF1402573396841" in text
    # promised limit 10 working days from Monday 2 March 2026 → Monday 16 March 2026
    assert "2026年03月16日" in text
    url = re.search(r"http://localhost/p/[A-Za-z0-9_.\-]+", text).group(0)
    page = anonymous(app).get(url[len("http://localhost"):])
    assert page.status_code == 200 and confirmed["case_no"] in page.get_data(as_text=True)


def test_receipt_is_a_case_file_and_the_sms_says_received(app, confirmed):
    with app.app_context():
        f = db.session.execute(select(CaseFile).where(CaseFile.kind == "receipt")).scalar_one()
        intake = db.session.execute(select(MailIntake)).scalar_one()
        assert intake.status == "confirmed" and intake.receipt_file_id == f.id and f.uploaded_by == "w1"
    sms = [n for n in notifications(app, "received") if n.channel == "sms"]
    assert len(sms) == 1 and sms[0].recipient.endswith("13905171234") and "2026年3月16日" in sms[0].text
    # the applicant's case page lists it and offers it in 您需要做的
    html = browser(app, "alice").get(f"/portal/cases/{confirmed['id']}").get_data(as_text=True)
    assert f"/portal/cases/{confirmed['id']}/receipt.pdf" in html and "下载电子回执单" in html


def test_receipt_download_by_others(app, confirmed):
    url = f"/portal/cases/{confirmed['id']}/receipt.pdf"
    assert browser(app, "bob").get(url).status_code == 404
    assert browser(app, "w1").get(url).status_code == 200      # the window clerk of the case
    assert browser(app, "w_nj").get(url).status_code == 404    # staff of another region
    assert anonymous(app).get(url).status_code == 302          # sign in first


def test_a_second_confirm_is_refused(app, confirmed):
    r = browser(app, "w1").post(f"/inbox/cases/{confirmed['id']}/intake/confirm", data={"csrf_token": "tok"},
                                headers={"Accept": "application/json"})
    assert r.status_code == 409
    with app.app_context():
        assert len(db.session.execute(select(CaseFile).where(CaseFile.kind == "receipt")).all()) == 1


def test_no_receipt_before_confirmation(api, app):
    case = submit(api)
    assert browser(app, "alice").get(f"/portal/cases/{case['id']}/receipt.pdf").status_code == 404
