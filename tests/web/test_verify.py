"""/verify over HTTP (issue 17): staff seal a shipped decision (盖章签发, certificate sign-in only), the
applicant downloads it, anyone verifies it — valid; one changed byte — invalid with the reason;
/verify/<code> from the QR; bad uploads get a clear 4xx, never a 500."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.seals import SealedDocument
from tests.services.portal.h3_helpers import anonymous
from tests.services.seals.helpers import browser, drive, pdf_upload

JSON = {"Accept": "application/json"}


@pytest.fixture
def sealed(app):
    """xmgl_beian 予以备案, sealed through the staff case page's button."""
    api, case, last = drive(app, "xmgl_beian", 0)
    url = f"/inbox/cases/{case['id']}/seal/decision"
    low = browser(app, last, level=1)
    page = low.get(f"/inbox/cases/{case['id']}").get_data(as_text=True)
    assert 'id="btn-seal-decision"' in page and "需要数字证书登录" in page
    r = low.post(url, data={"csrf_token": "tok"})
    assert r.status_code == 302  # refused, flashed back on the case page
    assert "电子印章需要高等级的身份认证" in low.get(r.headers["Location"]).get_data(as_text=True)
    assert low.post(url, data={"csrf_token": "tok"}, headers=JSON).status_code == 403
    assert browser(app, "alice", level=3).post(url, data={"csrf_token": "tok"}, headers=JSON).status_code == 403
    with app.app_context():
        assert db.session.execute(select(SealedDocument)).first() is None
    high = browser(app, last, level=3)
    r = high.post(url, data={"csrf_token": "tok"}, headers=JSON)
    assert r.status_code == 200, r.json
    assert high.post(url, data={"csrf_token": "tok"}, headers=JSON).status_code == 409
    body = r.json
    pdf = high.get(f"/cases/{case['id']}/sealed/{body['id']}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    return {"case": case, "id": body["id"], "code": body["verify_code"], "blob": pdf.data, "staff": last}


def test_upload_valid_then_one_byte_changed(app, sealed):
    client = anonymous(app)
    r = client.post("/verify", data=pdf_upload(sealed["blob"]), content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-valid="yes"' in html
    assert "江苏省发展和改革委员会" in html and sealed["case"]["case_no"] in html and "签章方自报" in html
    assert "苏发改备〔2025〕3217号" in html and "江苏省投资项目备案证" in html  # the record and its licence
    r = client.post("/verify", data=pdf_upload(sealed["blob"]), content_type="multipart/form-data", headers=JSON)
    assert r.json["valid"] is True and r.json["record"]["verify_code"] == sealed["code"]

    blob = sealed["blob"]
    at = blob.index(b"stream", blob.index(b"/Contents")) + 40
    changed = blob[:at] + bytes([blob[at] ^ 0x20]) + blob[at + 1:]
    r = client.post("/verify", data=pdf_upload(changed), content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-valid="no"' in html and "文件在盖章后被修改" in html
    r = client.post("/verify", data=pdf_upload(changed), content_type="multipart/form-data", headers=JSON)
    assert (r.json["valid"], r.json["code"]) == (False, "tampered")


def test_the_qr_page_shows_the_record_and_compares_an_upload(app, sealed):
    client = anonymous(app)
    r = client.get(f"/verify/{sealed['code']}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "苏发改备〔2025〕3217号" in html and sealed["case"]["case_no"] in html
    assert "江苏省投资项目备案证" in html and 'id="verify-form"' in html
    assert client.get(f"/verify/{sealed['code']}", headers=JSON).json["licence"]["status"] == "valid"
    r = client.post(f"/verify/{sealed['code']}", data=pdf_upload(sealed["blob"]), content_type="multipart/form-data",
                    headers=JSON)
    assert r.json["valid"] is True
    r = client.get("/verify/AAAAAAAAAAAAAAAA")
    assert r.status_code == 404 and "验证码无效" in r.get_data(as_text=True)
    assert client.get("/verify/%3Cscript%3E").status_code == 404


def test_bad_uploads_are_refused_with_a_clear_4xx(app, sealed):
    client = anonymous(app)
    post = lambda data: client.post("/verify", data=data, content_type="multipart/form-data", headers=JSON)  # noqa: E731
    r = post({"csrf_token": "tok"})
    assert r.status_code == 422 and "请选择" in r.json["message"]
    r = post(pdf_upload(b""))
    assert r.status_code == 422 and "为空" in r.json["message"]
    r = post(pdf_upload(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "seal.pdf"))
    assert r.status_code == 422 and "不是PDF" in r.json["message"]
    r = post(pdf_upload(b"%PDF-1.7\n" + b"\xff" * 300))
    assert r.status_code in (200, 422) and r.json.get("valid") is not True  # damaged: 422; no seal found: 200
    app.config["VERIFY_MAX_BYTES"] = 1024
    r = post(pdf_upload(sealed["blob"]))
    assert r.status_code == 422 and "超过" in r.json["message"]
    assert client.post("/verify", data=pdf_upload(sealed["blob"]) | {"csrf_token": "wrong"},
                       content_type="multipart/form-data").status_code == 400


def test_the_applicant_sees_the_sealed_decision_and_licence_others_do_not(app, sealed):
    alice = browser(app, "alice")
    html = alice.get(f"/portal/cases/{sealed['case']['id']}").get_data(as_text=True)
    assert 'id="case-seals"' in html and "江苏省投资项目备案证" in html and f"/verify/{sealed['code']}" in html
    url = f"/cases/{sealed['case']['id']}/sealed/{sealed['id']}.pdf"
    assert url in html and alice.get(url).data == sealed["blob"]
    assert browser(app, "bob").get(url).status_code == 404
    assert anonymous(app).get(url).status_code == 404
    staff_page = browser(app, sealed["staff"], level=3).get(f"/inbox/cases/{sealed['case']['id']}").get_data(as_text=True)
    assert 'class="sealed-doc"' in staff_page and 'id="btn-seal-decision"' not in staff_page


def test_the_notice_page_seals_the_refusal_notice(app):
    api, case, last = drive(app, "xmgl_beian", 3)  # 不予受理
    page = f"/portal/cases/{case['id']}/notice/refuse"
    staff = browser(app, last, level=3)
    assert 'id="btn-seal-notice"' in staff.get(page).get_data(as_text=True)
    r = staff.post(f"/inbox/cases/{case['id']}/seal/refuse", data={"csrf_token": "tok", "back": page})
    assert r.status_code == 302 and r.headers["Location"].endswith(page)
    html = browser(app, "alice").get(page).get_data(as_text=True)
    assert 'id="notice-sealed-pdf"' in html and 'id="btn-seal-notice"' not in html
    assert browser(app, "alice").post(f"/inbox/cases/{case['id']}/seal/accept", data={"csrf_token": "tok"},
                                      headers=JSON).status_code in (403, 404)
    assert staff.post(f"/inbox/cases/{case['id']}/seal/bogus", data={"csrf_token": "tok"},
                      headers=JSON).status_code == 404


def test_one_address_may_check_only_so_many_pdfs(app, sealed):
    """Each check parses a PDF and a signature: VERIFY_PER_10_MIN per address, then 429 with Retry-After."""
    app.config["VERIFY_PER_10_MIN"] = 2
    client = anonymous(app)
    post = lambda: client.post("/verify", data=pdf_upload(sealed["blob"]), content_type="multipart/form-data",  # noqa: E731
                               headers=JSON)
    assert [post().status_code for _ in range(2)] == [200, 200]
    r = post()
    assert r.status_code == 429 and "次数过多" in r.json["message"] and int(r.headers["Retry-After"]) > 0
