"""The printable 受理通知书 / 不予受理决定书 at /portal/cases/<id>/notice/<kind>: linked from the
applicant's case page; readable by the case's applicant and by staff who may read the case; anyone
else gets a 404 (to them the case is not there), as does a notice not issued or an unknown kind."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.common.clock import FakeClock
from tests.conftest import fixture_api
from tests.services.portal.helpers import signed_in
from tests.web.api.helpers import START

REASON = "申请材料显示该项目不属于本机关审批权限"


@pytest.fixture
def api(db_url):
    clock = FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    with fixture_api(db_url, clock, {"alice": "applicant", "bob": "applicant", "w1": ["window"],
                                      "water": ["cs_water"]}) as a:
        yield a


def uid(app, name) -> int:
    with app.app_context():
        return db.session.execute(select(User.id).where(User.username == name)).scalar_one()


def create(api) -> int:
    r = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START})
    assert r.status_code == 201, r.json
    return r.json["id"]


def test_the_applicant_reads_and_prints_the_notice_of_acceptance_from_the_case_page(api):
    case_id = create(api)
    alice = signed_in(api.app, uid(api.app, "alice"))
    assert 'id="notices"' not in alice.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    assert alice.get(f"/portal/cases/{case_id}/notice/accept").status_code == 404  # not issued yet
    api.complete_first("w1", {"decision": "approve", "opinion": "材料齐全"}, element="review")
    page = alice.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    assert 'id="notices"' in page and f"/portal/cases/{case_id}/notice/accept" in page and "受理通知书" in page
    r = alice.get(f"/portal/cases/{case_id}/notice/accept")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "<h2>受理通知书</h2>" in html and 'data-issued-on="2026-03-02"' in html
    assert '<div id="notice-date">2026年3月2日</div>' in html and "江苏省发展和改革委员会" in html
    assert "测试事项" in html and "window.print()" in html
    assert alice.get(f"/portal/cases/{case_id}/notice/refuse").status_code == 404
    assert alice.get(f"/portal/cases/{case_id}/notice/nonsense").status_code == 404
    en = alice.get(f"/portal/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "Notice of acceptance" in en


def test_the_decision_not_to_accept_shows_reason_and_remedy(api):
    case_id = create(api)
    api.complete_first("w1", {"decision": "reject", "opinion": REASON}, element="review")
    alice = signed_in(api.app, uid(api.app, "alice"))
    assert "/notice/refuse" in alice.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    html = alice.get(f"/portal/cases/{case_id}/notice/refuse").get_data(as_text=True)
    assert "<h2>不予受理决定书</h2>" in html and f"理由：{REASON}" in html
    assert "六十日内" in html and "行政复议" in html and "六个月内" in html and "行政诉讼" in html
    assert alice.get(f"/portal/cases/{case_id}/notice/accept").status_code == 404


def test_another_applicant_or_unrelated_staff_cannot_read_it(api):
    case_id = create(api)
    api.complete_first("w1", {"decision": "reject", "opinion": REASON}, element="review")
    url = f"/portal/cases/{case_id}/notice/refuse"
    assert signed_in(api.app, uid(api.app, "bob")).get(url).status_code == 404
    assert signed_in(api.app, uid(api.app, "water")).get(url).status_code == 404
    r = signed_in(api.app, uid(api.app, "w1")).get(url)  # the window clerk who decided it
    assert r.status_code == 200 and REASON in r.get_data(as_text=True)
    anonymous = api.app.test_client().get(url)
    assert anonymous.status_code in (302, 401) and REASON not in anonymous.get_data(as_text=True)
