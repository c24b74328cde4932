"""The written, dated 受理通知书 / 不予受理决定书 (行政许可法 art. 32): recorded by a status hook when a case
is accepted or refused at the window (rejected before any acceptance), dated on the Beijing day of that
decision, with the issuing organ (matter.json implementing_body), and for 不予受理 the window's reason
and the remedies; a refusal after acceptance (不予许可) is not one."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case
from app.models.notice import CaseNotice
from app.services.common.clock import FakeClock
from app.services.portal.notices import REMEDY, notice_view
from tests.conftest import fixture_api
from tests.web.api.helpers import START

BJ = ZoneInfo("Asia/Shanghai")
REASON = "申请事项不属于本机关职权范围，请向项目所在地设区市发展改革委申请"


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 16, 0, tzinfo=BJ))  # Monday afternoon


@pytest.fixture
def api(db_url, clock):
    with fixture_api(db_url, clock, {"alice": "applicant", "w1": ["window"], "chief": ["investment_chief"],
                                      "eco": ["cs_ecology"], "fin": ["cs_finance"]}) as a:
        yield a


def create(api) -> dict:
    r = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START})
    assert r.status_code == 201, r.json
    return r.json


def notices(app, case_id) -> list[CaseNotice]:
    with app.app_context():
        rows = list(db.session.execute(select(CaseNotice).where(CaseNotice.case_id == case_id)
                                       .order_by(CaseNotice.id)).scalars())
        for row in rows:
            db.session.expunge(row)
        return rows


def test_an_accepted_case_gets_a_notice_of_acceptance_dated_on_the_acceptance_day(api, clock):
    case = create(api)
    assert notices(api.app, case["id"]) == []  # submitted, not yet accepted: nothing to notify
    clock.advance(days=1, hours=-7)  # Tuesday 09:00: the window accepts the next morning
    api.complete_first("w1", {"decision": "approve", "opinion": "材料齐全"}, element="review")
    [n] = notices(api.app, case["id"])
    assert n.kind == "accept" and n.issued_on == date(2026, 3, 3) and n.case_no == case["case_no"]
    assert n.organ == "江苏省发展和改革委员会" and n.matter_name == "测试事项" and n.applicant_name == "alice"
    assert n.issued_by == "w1" and n.reason is None
    with api.app.app_context():
        accepted = db.session.get(Case, case["id"])
        assert n.details["promised_due"] == accepted.promised_due.isoformat()
        view = notice_view(db.session.get(CaseNotice, n.id))
    assert view["title"] == "受理通知书" and view["date"] == "2026年3月3日"
    assert "决定予以受理" in view["body"][0] and "2026年3月2日" in view["body"][0]  # the day it was submitted
    assert case["case_no"] in view["body"][0] and "承诺办结期限" in view["body"][1]


def test_a_window_refusal_gets_a_decision_not_to_accept_with_reason_and_remedy(api, clock):
    case = create(api)
    api.complete_first("w1", {"decision": "reject", "opinion": REASON}, element="review")
    [n] = notices(api.app, case["id"])
    assert n.kind == "refuse" and n.issued_on == date(2026, 3, 2) and n.reason == REASON
    assert n.details["remedy"] == REMEDY
    with api.app.app_context():
        assert db.session.get(Case, case["id"]).status == "rejected"
        view = notice_view(db.session.get(CaseNotice, n.id))
    assert view["title"] == "不予受理决定书" and "决定不予受理" in view["body"][0]
    assert view["body"][1] == f"理由：{REASON}"
    assert "六十日内" in view["body"][2] and "行政复议" in view["body"][2] and "六个月内" in view["body"][2] \
        and "行政诉讼" in view["body"][2]


def test_a_refusal_after_acceptance_is_no_decision_not_to_accept(api):
    case = create(api)
    api.complete_first("w1", {"decision": "approve"}, element="review")
    api.complete_first("eco", {"cs": {"agree": "no", "opinion": "不同意"}})
    api.complete_first("fin", {"cs": {"agree": "yes", "opinion": "同意"}})
    api.complete_first("chief", {"decision": "reject", "opinion": "不予许可"}, element="decide")
    with api.app.app_context():
        assert db.session.get(Case, case["id"]).status == "rejected"
    assert [n.kind for n in notices(api.app, case["id"])] == ["accept"]  # 不予许可: the result, not this notice
