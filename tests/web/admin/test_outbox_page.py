"""The development SMS outbox page and Twilio's status callback."""
import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from app.extensions import db
from app.models import Notification, User
from app.services.messaging.notify import notify_phone
from app.services.messaging.sms import deliver_pending
from app.services.identity.sms_codes import request_code
from tests.conftest import add_user, make_app
from tests.fakes import twilio_standin  # noqa: F401  (fixture)


def _login(app, client, username):
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
    with client.session_transaction() as s:
        s["uid"] = uid


def test_without_twilio_anyone_reads_the_code_sent_to_their_phone(app):
    with app.app_context():
        request_code("13812345678", "login", "1.1.1.1")
        notify_phone("+8613900000000", "accepted", "other", promised_due="2026年3月30日")
        db.session.commit()
    client = app.test_client()
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert "短信发件箱（开发）" in page and "未配置短信通道" in page
    assert "+8613812345678" in page and "您的验证码为" in page and "开发模式（未发送）" in page
    assert page.index("+8613900000000") < page.index("+8613812345678")  # newest first
    only = client.get("/dev/outbox?phone=138 1234 5678").get_data(as_text=True)
    assert "+8613812345678" in only and "+8613900000000" not in only
    none = client.get("/dev/outbox?phone=13700000000").get_data(as_text=True)
    assert "暂无短信" in none
    en = client.get("/dev/outbox?lang=en").get_data(as_text=True)
    assert "SMS outbox (development)" in en and "Development (not sent)" in en


@pytest.mark.parametrize("phone", ["<script>", "x" * 500, "%00"])
def test_odd_filters_answer_a_page_not_an_error(app, phone):
    r = app.test_client().get("/dev/outbox", query_string={"phone": phone})
    assert r.status_code in (200, 422)
    assert "<script>" not in r.get_data(as_text=True).replace("&lt;script&gt;", "")


def test_with_twilio_the_page_is_for_admins_only(db_url, twilio_standin):
    app = make_app(db_url, **twilio_standin.config())
    add_user(app, "root", groups=["admin"])
    add_user(app, "w1", groups=["window"])
    with app.app_context():
        notify_phone("+8613812345678", "accepted", "a", promised_due="2026年3月30日")
        db.session.commit()
        deliver_pending()
    client = app.test_client()
    assert client.get("/dev/outbox").status_code == 404
    _login(app, client, "w1")
    assert client.get("/dev/outbox").status_code == 404
    _login(app, client, "root")
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert "已发送" in page and twilio_standin.sent[0]["sid"] in page and "仅管理员可见" in page


def test_status_callback_checks_the_signature_then_records_the_status(db_url, twilio_standin):
    url = "https://portal.example.cn/api/twilio/status"
    app = make_app(db_url, **twilio_standin.config(TWILIO_STATUS_CALLBACK_URL=url))
    with app.app_context():
        notify_phone("+8613812345678", "accepted", "a", promised_due="2026年3月30日")
        db.session.commit()
        deliver_pending()
    assert twilio_standin.requests[-1]["form"]["StatusCallback"] == url
    sid = twilio_standin.sent[0]["sid"]
    params = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": twilio_standin.account_sid}
    client = app.test_client()
    forged = RequestValidator("not-the-token").compute_signature(url, params)
    assert client.post("/api/twilio/status", data=params, headers={"X-Twilio-Signature": forged}).status_code == 403
    assert client.post("/api/twilio/status", data=params).status_code == 403
    with app.app_context():
        assert db.session.execute(select(Notification.provider_status)).scalar_one() == "queued"
    good = RequestValidator(twilio_standin.auth_token).compute_signature(url, params)
    assert client.post("/api/twilio/status", data=params, headers={"X-Twilio-Signature": good}).status_code == 204
    with app.app_context():
        assert db.session.execute(select(Notification.provider_status)).scalar_one() == "delivered"
    failed = {**params, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    sig = RequestValidator(twilio_standin.auth_token).compute_signature(url, failed)
    assert client.post("/api/twilio/status", data=failed, headers={"X-Twilio-Signature": sig}).status_code == 204
    with app.app_context():
        n = db.session.execute(select(Notification)).scalar_one()
        assert n.provider_status == "undelivered" and n.error_code == "30003"


def test_status_callback_is_off_without_twilio(app):
    assert app.test_client().post("/api/twilio/status", data={"MessageSid": "SMx"}).status_code == 404
