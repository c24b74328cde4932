"""SMS to the applicant when a case is submitted, accepted and decided, in Chinese, once each;
delivered through the Twilio stand-in."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Notification, User
from app.services.messaging.sms import deliver_pending
from tests.web.api.helpers import START, Api
from tests.conftest import FIXTURES, deploy_all, make_app
from tests.fakes import twilio_standin  # noqa: F401  (fixture)


@pytest.fixture
def api(db_url, twilio_standin):
    app = make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"),
                   **twilio_standin.config())
    deploy_all(app)
    a = Api(app)
    a.user("alice", "applicant")
    for name, groups in (("w1", ["window"]), ("eco", ["cs_ecology"]), ("fin", ["cs_finance"]),
                         ("chief", ["investment_chief"])):
        a.user(name, groups=groups)
    with app.app_context():
        db.session.execute(select(User).where(User.username == "alice")).scalar_one().phone = "138 1234 5678"
        db.session.commit()
    yield a
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _sms(app):
    with app.app_context():
        return [(n.template, n.text, n.recipient) for n in db.session.execute(
            select(Notification).where(Notification.channel == "sms").order_by(Notification.id)).scalars()]


def _start(api):
    r = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START})
    assert r.status_code == 201, r.json
    return r.json


def test_submit_accept_and_decide_send_chinese_sms(api, twilio_standin):
    case = _start(api)
    no = case["case_no"]
    [(template, text, to)] = _sms(api.app)
    assert template == "submitted" and to == "+8613812345678"
    assert text == f"【阳光发改】您的申请「测试事项」已提交，办件编号{no}。可凭办件编号和短信验证码查询进度。"
    api.complete_first("w1", {"decision": "approve"})
    accepted = [t for t in _sms(api.app) if t[0] == "accepted"]
    # accepted Monday 2 March 2026; promised limit 10 working days → Monday 16 March
    assert accepted == [("accepted", f"【阳光发改】您的办件{no}已受理，承诺于2026年3月16日前办结。", "+8613812345678")]
    api.complete_first("eco", {"cs": {"agree": "yes", "opinion": "同意"}})
    api.complete_first("fin", {"cs": {"agree": "yes", "opinion": "同意"}})
    api.complete_first("chief", {"decision": "approve"})
    decided = [t[1] for t in _sms(api.app) if t[0] == "decided"]
    assert decided == [f"【阳光发改】您的办件{no}已办结，结果：准予许可。请登录查看并对本次服务进行评价。"]
    with api.app.app_context():
        counts = deliver_pending()
    assert counts["sent"] == 3
    bodies = [m["body"] for m in twilio_standin.sent]
    assert any("准予许可" in b for b in bodies) and any("2026年3月16日" in b for b in bodies)
    assert {m["to"] for m in twilio_standin.sent} == {"+8613812345678"}


def test_refusal_before_acceptance_says_not_accepted(api):
    case = _start(api)
    api.complete_first("w1", {"decision": "reject", "opinion": "不属于本机关职权范围"})
    texts = [t[1] for t in _sms(api.app) if t[0] == "decided"]
    assert texts == [f"【阳光发改】您的办件{case['case_no']}已办结，结果：不予受理。请登录查看并对本次服务进行评价。"]


def test_no_phone_no_sms_but_the_in_app_notice(api):
    with api.app.app_context():
        db.session.execute(select(User).where(User.username == "alice")).scalar_one().phone = None
        db.session.commit()
    _start(api)
    assert _sms(api.app) == []
    with api.app.app_context():
        assert db.session.execute(select(Notification.template).where(Notification.channel == "internal")
                                  ).scalars().all() == ["submitted"]
