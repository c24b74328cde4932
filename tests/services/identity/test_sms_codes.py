"""SMS verification codes: shape checks, rate limits, expiry, attempts, one use, subject scope."""
import re

import pytest
from sqlalchemy import select

from app.domain.errors import RateLimited, ValidationError
from app.extensions import db
from app.models import Notification
from app.models.sms import RateBucket, SmsCode
from app.services.identity.sms_codes import request_code, verify_code

PHONE = "13812345678"


def _last_code(app, phone="+8613812345678"):
    with app.app_context():
        n = db.session.execute(select(Notification).where(Notification.recipient == phone,
                                                          Notification.template == "verification_code")
                               .order_by(Notification.id.desc())).scalars().first()
        return re.search(r"验证码为(\d{6})", n.text).group(1), n


def _msg(err):
    return err.value.details["code"][0]


def test_request_stores_a_hash_and_writes_the_sms(app):
    with app.app_context():
        request_code(PHONE, "login", "1.2.3.4")
    code, n = _last_code(app)
    assert n.channel == "sms" and n.status == "dev"  # no Twilio settings: development outbox
    assert "5分钟内有效" in n.text and "仅用于登录" in n.text and n.text.startswith("【阳光发改】")
    with app.app_context():
        row = db.session.execute(select(SmsCode)).scalar_one()
        assert row.phone == "+8613812345678" and row.status == "active"
        assert code not in row.code_hash and len(row.code_hash) == 64
        verify_code("+86 138-1234-5678", "login", code)
        assert db.session.get(SmsCode, row.id).status == "used"


@pytest.mark.parametrize("phone", ["12812345678", "1381234567", "+1 2025550123", "", "abc", None, "138123456789"])
def test_bad_phone_is_refused_and_nothing_counted(app, phone):
    with app.app_context():
        with pytest.raises(ValidationError) as err:
            request_code(phone, "login", "1.2.3.4")
        assert "手机号" in err.value.message
        assert db.session.execute(select(RateBucket)).first() is None
        assert db.session.execute(select(SmsCode)).first() is None


def test_bad_purpose_is_refused(app):
    with app.app_context(), pytest.raises(ValidationError):
        request_code(PHONE, "hack", "1.2.3.4")


def test_one_per_minute_and_ten_per_day_per_phone(app):
    clock = app.config["CLOCK"]
    with app.app_context():
        request_code(PHONE, "login", "1.1.1.1")
        with pytest.raises(RateLimited) as err:
            request_code(PHONE, "register", "2.2.2.2")
        assert err.value.retry_after == 60 and "请60秒后再试" in err.value.message
        for _ in range(9):
            clock.advance(seconds=60)
            request_code(PHONE, "login", "1.1.1.1")
        clock.advance(seconds=60)
        with pytest.raises(RateLimited) as err:
            request_code(PHONE, "login", "1.1.1.1")
        assert err.value.retry_after > 3600
        request_code("13900000000", "login", "1.1.1.1")  # another phone is fine
        assert db.session.query(SmsCode).count() == 11


def test_thirty_per_hour_per_ip(app):
    with app.app_context():
        for i in range(30):
            request_code(f"139{i:08d}", "login", "9.9.9.9")
        with pytest.raises(RateLimited):
            request_code("13700000000", "login", "9.9.9.9")
        request_code("13700000000", "login", "8.8.8.8")


def test_limits_are_configurable(db_url):
    from tests.conftest import make_app
    app = make_app(db_url, SMS_CODE_PHONE_INTERVAL_SECONDS=10, SMS_CODE_TTL_SECONDS=120)
    with app.app_context():
        request_code(PHONE, "login", "1.1.1.1")
        app.config["CLOCK"].advance(seconds=10)
        request_code(PHONE, "login", "1.1.1.1")
    _, n = _last_code(app)
    assert "2分钟内有效" in n.text


def test_deliver_false_counts_limits_but_stores_and_sends_nothing(app):
    with app.app_context():
        request_code(PHONE, "progress", "1.1.1.1", subject="320000-2026-000001", deliver=False)
        assert db.session.query(SmsCode).count() == 0
        assert db.session.query(Notification).count() == 0
        with pytest.raises(RateLimited):
            request_code(PHONE, "progress", "1.1.1.1", subject="320000-2026-000002")


def test_wrong_code_counts_attempts_then_burns_the_code(app):
    with app.app_context():
        request_code(PHONE, "login", "1.1.1.1")
    code, _ = _last_code(app)
    wrong = "000000" if code != "000000" else "111111"
    with app.app_context():
        for left in (4, 3, 2, 1):
            with pytest.raises(ValidationError) as err:
                verify_code(PHONE, "login", wrong)
            assert _msg(err) == f"验证码错误，还可尝试{left}次"
        db.session.remove()  # the attempts were committed
    with app.app_context():
        with pytest.raises(ValidationError) as err:
            verify_code(PHONE, "login", wrong)
        assert _msg(err) == "错误次数过多，请重新获取验证码"
        with pytest.raises(ValidationError) as err:
            verify_code(PHONE, "login", code)  # even the right one, now
        assert _msg(err) == "错误次数过多，请重新获取验证码"


@pytest.mark.parametrize("given", ["", "12345", "1234567", "abcdef", None, "12 456"])
def test_malformed_code_is_a_wrong_attempt(app, given):
    with app.app_context():
        request_code(PHONE, "login", "1.1.1.1")
        with pytest.raises(ValidationError) as err:
            verify_code(PHONE, "login", given)
        assert _msg(err) == "验证码错误，还可尝试4次"


def test_expired_code(app):
    with app.app_context():
        request_code(PHONE, "login", "1.1.1.1")
    code, _ = _last_code(app)
    app.config["CLOCK"].advance(minutes=5)
    with app.app_context(), pytest.raises(ValidationError) as err:
        verify_code(PHONE, "login", code)
    assert _msg(err) == "验证码已过期，请重新获取"


def test_code_is_used_once(app):
    with app.app_context():
        request_code(PHONE, "login", "1.1.1.1")
    code, _ = _last_code(app)
    with app.app_context():
        verify_code(PHONE, "login", code)
        with pytest.raises(ValidationError) as err:
            verify_code(PHONE, "login", code)
        assert "重新获取" in _msg(err)


def test_no_code(app):
    with app.app_context(), pytest.raises(ValidationError) as err:
        verify_code(PHONE, "login", "123456")
    assert _msg(err) == "请先获取验证码"


def test_code_is_scoped_to_subject_and_purpose(app):
    with app.app_context():
        request_code(PHONE, "progress", "1.1.1.1", subject="CASE-A")
    code, n = _last_code(app)
    assert "查询办件进度" in n.text
    with app.app_context():
        with pytest.raises(ValidationError):
            verify_code(PHONE, "progress", code, subject="CASE-B")
        with pytest.raises(ValidationError):
            verify_code(PHONE, "login", code, subject="CASE-A")
        verify_code(PHONE, "progress", code, subject="CASE-A")


def test_a_new_code_supersedes_the_old_one(app):
    with app.app_context():
        request_code(PHONE, "login", "1.1.1.1")
    old, _ = _last_code(app)
    app.config["CLOCK"].advance(seconds=60)
    with app.app_context():
        request_code(PHONE, "login", "1.1.1.1")
    new, _ = _last_code(app)
    with app.app_context():
        if old != new:
            with pytest.raises(ValidationError):
                verify_code(PHONE, "login", old)
        verify_code(PHONE, "login", new)
