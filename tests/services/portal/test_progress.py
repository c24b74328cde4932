"""The progress query: case number + mobile number → "验证码已发送" whatever they are (same body, same
status, same rate limits); the code opens that case's progress for a while; wrong, expired and
exhausted codes are told plainly; the receipt's QR link shows the progress card without personal
data and a tampered link is a 404."""
import pytest

from app.extensions import db
from app.services.portal.receipts import progress_token
from tests.services.portal.h3_helpers import PHONE, anonymous, browser, notifications, setup, submit

UNKNOWN = "320000-20260302-999999"


@pytest.fixture
def api(app):
    return setup(app)


@pytest.fixture
def case(api):
    return submit(api)


def ask(client, case_no, phone):
    return client.post("/progress", data={"csrf_token": "tok", "case_no": case_no, "phone": phone})


def enter(client, code):
    return client.post("/progress/verify", data={"csrf_token": "tok", "code": code})


def last_code(app) -> str:
    rows = notifications(app, "verification_code")
    assert rows, "no code was sent"
    return rows[-1].payload["code"]


def advance(app, **kw):
    app.extensions["clock"].advance(**kw)


def test_unknown_case_wrong_phone_and_known_case_get_the_same_answer(app, case):
    client = anonymous(app)
    known = ask(client, case["case_no"], PHONE)
    advance(app, seconds=61)
    unknown = ask(client, UNKNOWN, PHONE)
    advance(app, seconds=61)
    wrong_phone = ask(client, case["case_no"], "13700000000")
    assert known.status_code == unknown.status_code == wrong_phone.status_code == 200
    assert known.data == unknown.data == wrong_phone.data
    assert "验证码已发送" in known.get_data(as_text=True)
    # only the applicant's phone got a code, for that case
    rows = notifications(app, "verification_code")
    assert len(rows) == 1 and rows[0].recipient == "+86" + PHONE
    # and a wrong code reads the same for both
    a, b = anonymous(app), anonymous(app)
    ask(a, case["case_no"], "13911112222")
    ask(b, UNKNOWN, "13922223333")
    ra, rb = enter(a, "000000"), enter(b, "000000")
    assert ra.status_code == rb.status_code == 422 and ra.data == rb.data
    assert "验证码错误，还可尝试4次" in ra.get_data(as_text=True)


def test_the_code_opens_that_case_without_personal_data(app, case):
    client = anonymous(app)
    ask(client, case["case_no"], PHONE)
    r = enter(client, last_code(app))
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/progress/cases/{case['id']}")
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert case["case_no"] in html and "窗口收件审查" in html and "已收件" in html and "您需要做的" in html
    assert "江苏华宁" not in html and "聚酰胺" not in html and PHONE not in html
    # another case is not opened by it
    other = submit(app_api(app))
    assert client.get(f"/progress/cases/{other['id']}").status_code == 302
    # the grant lasts half an hour
    advance(app, minutes=31)
    assert client.get(f"/progress/cases/{case['id']}").status_code == 302


def app_api(app):
    from tests.web.api.helpers import Api
    api = Api(app)
    api.headers["alice"] = {"Authorization": "Bearer tok-alice"}
    return api


def test_wrong_code_then_too_many_attempts(app, case):
    client = anonymous(app)
    ask(client, case["case_no"], PHONE)
    code = last_code(app)
    wrong = "111111" if code != "111111" else "222222"
    for left in (4, 3, 2, 1):
        r = enter(client, wrong)
        assert r.status_code == 422 and f"还可尝试{left}次" in r.get_data(as_text=True)
    r = enter(client, wrong)
    assert r.status_code == 422 and "错误次数过多，请重新获取验证码" in r.get_data(as_text=True)
    r = enter(client, code)  # the right code no longer opens anything
    assert r.status_code == 302 and r.headers["Location"].endswith("/progress")
    assert client.get(f"/progress/cases/{case['id']}").status_code == 302


def test_expired_code(app, case):
    client = anonymous(app)
    ask(client, case["case_no"], PHONE)
    code = last_code(app)
    advance(app, seconds=301)
    r = enter(client, code)
    assert r.status_code == 422 and "验证码已过期" in r.get_data(as_text=True)
    assert client.get(f"/progress/cases/{case['id']}").status_code == 302


def test_rate_limits_per_phone_and_per_ip_are_the_same_for_unknown_cases(app, case):
    client = anonymous(app)
    assert ask(client, case["case_no"], PHONE).status_code == 200
    again_known = ask(client, case["case_no"], PHONE)
    again_unknown = ask(client, UNKNOWN, PHONE)
    assert again_known.status_code == again_unknown.status_code == 429
    # the same page, but for the case number typed back into the form
    assert again_known.data == again_unknown.data.replace(UNKNOWN.encode(), case["case_no"].encode())
    assert "过于频繁" in again_known.get_data(as_text=True)
    assert again_known.headers.get("Retry-After")
    app.config["SMS_CODE_IP_HOURLY"] = 3
    for i in range(1):
        assert ask(client, UNKNOWN, f"1390000000{i}").status_code == 200
    assert ask(client, UNKNOWN, "13900000009").status_code == 200
    assert ask(client, UNKNOWN, "13900000008").status_code == 429  # 4th this hour from this address


def test_bad_inputs_are_told(app, case):
    client = anonymous(app)
    r = ask(client, case["case_no"], "12345")
    assert r.status_code == 422 and "手机号码" in r.get_data(as_text=True)
    r = ask(client, "case; drop", PHONE)
    assert r.status_code == 422 and "办件编号" in r.get_data(as_text=True)
    assert notifications(app, "verification_code") == []
    r = client.post("/progress/verify", data={"csrf_token": "tok", "code": "123456"})
    assert r.status_code == 302  # nothing asked yet


def test_qr_link_shows_the_card_and_a_tampered_one_is_404(app, case):
    with app.app_context():
        from app.models import Case
        token = progress_token(db.session.get(Case, case["id"]))
    client = anonymous(app)
    r = client.get(f"/p/{token}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and case["case_no"] in html and "法定办结期限" in html and "承诺办结期限" in html
    assert "江苏华宁" not in html and "91320111MA1Y7K3N27" not in html and 'id="timeline"' not in html
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/p/{tampered}").status_code == 404
    assert client.get("/p/not-a-token").status_code == 404
    assert client.get("/p/" + "x" * 300).status_code == 404


def test_a_signed_in_owner_sees_progress_directly(app, case):
    alice = browser(app, "alice")
    html = alice.get("/progress").get_data(as_text=True)
    assert case["case_no"] in html
    r = alice.get(f"/progress/cases/{case['id']}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/portal/cases/{case['id']}")
    # someone else signed in has no such shortcut
    assert browser(app, "bob").get(f"/progress/cases/{case['id']}").status_code == 302
    assert case["case_no"] not in browser(app, "bob").get("/progress").get_data(as_text=True)
