"""The SMS sender: the real twilio client against a local stand-in of Twilio's Messages endpoint."""
import threading

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Notification
from app.services.messaging.notify import notify_phone
from app.services.messaging.sms import deliver_pending
from tests.conftest import make_app
from tests.fakes import twilio_standin  # noqa: F401  (fixture)

TO = "+8613812345678"


@pytest.fixture
def sms_app(db_url, twilio_standin):
    app = make_app(db_url, **twilio_standin.config(SMS_RETRY_BASE_SECONDS=60, SMS_MAX_ATTEMPTS=4,
                                                   TWILIO_TIMEOUT_SECONDS=5))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _queue(app, to=TO, key="k1", template="accepted", **values):
    with app.app_context():
        values = values or {"promised_due": "2026年3月30日"}
        notify_phone(to, template, key, **values)
        db.session.commit()
        return db.session.execute(select(Notification.id).where(Notification.key == f"{key}:sms")).scalar_one()


def _row(app, nid):
    with app.app_context():
        return db.session.get(Notification, nid)


def test_delivered_records_sid_and_status_and_the_standin_saw_the_chinese_text(sms_app, twilio_standin):
    nid = _queue(sms_app)
    with sms_app.app_context():
        counts = deliver_pending()
    assert counts["sent"] == 1 and counts["claimed"] == 1
    [msg] = twilio_standin.sent
    assert msg["to"] == TO and msg["from"] == twilio_standin.from_number
    assert "已受理" in msg["body"] and "2026年3月30日" in msg["body"]
    req = twilio_standin.requests[-1]
    assert req["auth_ok"] and "twilio-python" in req["user_agent"]
    row = _row(sms_app, nid)
    assert row.status == "sent" and row.provider_sid == msg["sid"] and row.provider_sid.startswith("SM")
    assert row.provider_status == "queued" and row.attempts == 1 and row.sent_at is not None
    with sms_app.app_context():  # nothing due any more
        assert deliver_pending()["claimed"] == 0
    assert len(twilio_standin.sent) == 1


def test_messaging_service_sid_is_used_when_configured(db_url, twilio_standin):
    app = make_app(db_url, **twilio_standin.config(TWILIO_FROM_NUMBER="", TWILIO_MESSAGING_SERVICE_SID="MG" + "a" * 32))
    nid = _queue(app)
    with app.app_context():
        assert deliver_pending()["sent"] == 1
    form = twilio_standin.requests[-1]["form"]
    assert form["MessagingServiceSid"] == "MG" + "a" * 32 and "From" not in form
    assert _row(app, nid).provider_status == "accepted"


@pytest.mark.parametrize("answer", [429, 500, 503, "close"])
def test_transient_errors_are_retried_with_backoff_then_delivered(sms_app, twilio_standin, answer):
    clock = sms_app.config["CLOCK"]
    nid = _queue(sms_app)
    twilio_standin.fail_next(answer, answer)
    with sms_app.app_context():
        assert deliver_pending()["retry"] == 1
    row = _row(sms_app, nid)
    assert row.status == "pending" and row.attempts == 1 and row.provider_sid is None
    assert (row.next_attempt_at - clock()).total_seconds() == 60
    if answer != "close":
        assert row.error_code == {429: "20429"}.get(answer, "20500") and f"HTTP {answer}" in row.last_error
    else:
        assert "Connection" in row.last_error
    with sms_app.app_context():  # not due yet
        assert deliver_pending()["claimed"] == 0
    clock.advance(seconds=60)
    with sms_app.app_context():
        assert deliver_pending()["retry"] == 1
    row = _row(sms_app, nid)
    assert (row.next_attempt_at - clock()).total_seconds() == 120 and row.attempts == 2
    clock.advance(seconds=120)
    with sms_app.app_context():
        assert deliver_pending()["sent"] == 1
    row = _row(sms_app, nid)
    assert row.status == "sent" and row.attempts == 3 and row.provider_sid == twilio_standin.sent[0]["sid"]
    assert len(twilio_standin.sent) == 1


def test_gives_up_after_max_attempts(sms_app, twilio_standin):
    clock = sms_app.config["CLOCK"]
    nid = _queue(sms_app)
    twilio_standin.fail_next(*[503] * 10)
    for wait in (60, 120, 240):
        with sms_app.app_context():
            assert deliver_pending()["retry"] == 1
        clock.advance(seconds=wait)
    with sms_app.app_context():
        assert deliver_pending()["failed"] == 1
    row = _row(sms_app, nid)
    assert row.status == "failed" and row.attempts == 4 and row.next_attempt_at is None


def test_invalid_number_fails_at_once_without_retry(sms_app, twilio_standin):
    twilio_standin.invalid_numbers.add("+8613900000000")
    nid = _queue(sms_app, to="+8613900000000")
    with sms_app.app_context():
        assert deliver_pending()["failed"] == 1
    row = _row(sms_app, nid)
    assert row.status == "failed" and row.error_code == "21211" and "not a valid phone number" in row.last_error
    sms_app.config["CLOCK"].advance(days=1)
    with sms_app.app_context():
        assert deliver_pending()["claimed"] == 0
    assert len([r for r in twilio_standin.requests if r["method"] == "POST"]) == 1


def test_wrong_credentials_are_retried_not_lost(db_url, twilio_standin):
    app = make_app(db_url, **twilio_standin.config(TWILIO_AUTH_TOKEN="wrong"))
    nid = _queue(app)
    with app.app_context():
        assert deliver_pending()["retry"] == 1
    row = _row(app, nid)
    assert twilio_standin.requests[-1]["auth_ok"] is False
    assert row.status == "pending" and row.error_code == "20003" and "HTTP 401" in row.last_error


def test_without_twilio_settings_sms_stay_in_the_dev_outbox(app, twilio_standin):
    nid = _queue(app)
    with app.app_context():
        counts = deliver_pending()
    assert counts["configured"] is False and counts["claimed"] == 0
    assert _row(app, nid).status == "dev"
    assert twilio_standin.requests == []


def test_internal_notifications_are_not_sent(sms_app, twilio_standin):
    from app.services.messaging.notify import _add
    with sms_app.app_context():
        _add("internal-1", "internal", "window1", "urge", None, step="窗口受理")
        db.session.commit()
        assert deliver_pending()["claimed"] == 0
        n = db.session.execute(select(Notification)).scalar_one()
        assert n.status == "pending" and n.channel == "internal"
    assert twilio_standin.requests == []


def test_verification_code_is_masked_once_sent(sms_app, twilio_standin):
    from app.services.identity.sms_codes import request_code
    with sms_app.app_context():
        request_code("13812345678", "login", "1.1.1.1")
        deliver_pending()
        n = db.session.execute(select(Notification)).scalar_one()
        assert n.status == "sent" and "验证码为******" in n.text and n.payload["code"] == "******"
    assert "验证码为" in twilio_standin.sent[0]["body"] and "******" not in twilio_standin.sent[0]["body"]


def test_an_undelivered_code_is_not_sent_after_it_expired(sms_app, twilio_standin):
    from app.services.identity.sms_codes import request_code
    with sms_app.app_context():
        request_code("13812345678", "login", "1.1.1.1")
    sms_app.config["CLOCK"].advance(minutes=6)
    with sms_app.app_context():
        assert deliver_pending()["expired"] == 1
        n = db.session.execute(select(Notification)).scalar_one()
        assert n.status == "failed" and "******" in n.text and "过期" in n.last_error
    assert twilio_standin.requests == []


def test_a_sender_that_died_leaves_rows_taken_again_after_the_lease(sms_app, twilio_standin):
    from app.services.messaging import sms
    nid = _queue(sms_app)
    with sms_app.app_context():
        assert len(sms._claim(10)) == 1  # claimed, then the process "dies"
        assert deliver_pending()["claimed"] == 0
    sms_app.config["CLOCK"].advance(minutes=5)
    with sms_app.app_context():
        assert deliver_pending()["sent"] == 1
    assert _row(sms_app, nid).attempts == 2


def test_two_senders_at_once_send_each_message_once(sms_app, twilio_standin, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL: concurrent claims with FOR UPDATE SKIP LOCKED")
    for i in range(30):
        _queue(sms_app, to=f"+86138000000{i:02d}", key=f"m{i}")
    results, errors = [], []

    def run():
        try:
            with sms_app.app_context():
                while True:
                    c = deliver_pending(limit=3)
                    results.append(c)
                    if not c["claimed"]:
                        break
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(c["sent"] for c in results) == 30
    tos = [m["to"] for m in twilio_standin.sent]
    assert len(tos) == 30 and len(set(tos)) == 30
    with sms_app.app_context():
        assert {n.status for n in db.session.execute(select(Notification)).scalars()} == {"sent"}


def test_flask_sms_send_and_outbox_commands(sms_app, twilio_standin):
    _queue(sms_app)
    runner = sms_app.test_cli_runner()
    out = runner.invoke(args=["sms", "send"])
    assert out.exit_code == 0 and "sent 1" in out.output
    out = runner.invoke(args=["sms", "outbox", "--phone", "13812345678"])
    assert out.exit_code == 0 and twilio_standin.sent[0]["sid"] in out.output and "已受理" in out.output


def test_flask_sms_send_without_twilio_says_so(app):
    out = app.test_cli_runner().invoke(args=["sms", "send"])
    assert out.exit_code == 0 and "/dev/outbox" in out.output
