"""The section 下级平台办件监督 of /supervision and its drill-down /supervision/regions/<code> (and the
API twin /api/supervision/regions): per reporting region the counts and the on-time rate, per region
its cases with the overdue ones first; inspectors and administrators only. The rows are what the
lower levels reported (tests/services/federation/test_reports.py sends them over HTTP)."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.models.federation_reports import FederatedCaseReport
from tests.conftest import make_app
from tests.web.api.helpers import Api

CITY, COUNTY = "320500", "320505"
UTC = timezone.utc


def _row(region, case_no, status, *, seq=3, accepted=None, decided=None, due=None, clock="running", overdue=False,
         origin=None):
    return FederatedCaseReport(region=region, case_no=case_no, via=CITY, seq=seq, process_id="t_x",
                               basic_code="0000000099", matter_name="测试事项", status=status, label=status, accepted_at=accepted,
                               decided_at=decided, statutory_due=due, clock_state=clock, overdue=overdue,
                               origin=origin, received_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC))


@pytest.fixture
def app(db_url):
    app = make_app(db_url)  # a province; its clock: Monday 2 March 2026
    api = Api(app)
    for name, groups in (("insp", ["inspector"]), ("adm", ["admin"]), ("w1", ["window"])):
        api.user(name, groups=groups)
    api.user("alice", "applicant")
    app.api = api
    t = datetime(2026, 2, 2, 2, 0, tzinfo=UTC)
    with app.app_context():
        db.session.add_all([
            # decided on time, decided late, decided without a limit (不予受理 before the clock)
            _row(CITY, "C-ONTIME", "approved", accepted=t, decided=datetime(2026, 2, 20, 2, 0, tzinfo=UTC),
                 due=date(2026, 2, 27), clock="stopped"),
            _row(CITY, "C-LATE", "rejected", accepted=t, decided=datetime(2026, 3, 1, 2, 0, tzinfo=UTC),
                 due=date(2026, 2, 27), clock="stopped", overdue=True),
            _row(CITY, "C-NOLIMIT", "rejected", decided=t, clock="not_started"),
            # open: past its day (reported before it was), within it, suspended past it (not counted)
            _row(CITY, "C-OPEN-OVERDUE", "accepted", accepted=t, due=date(2026, 2, 27)),
            _row(CITY, "C-OPEN", "accepted", accepted=t, due=date(2026, 3, 20),
                 origin={"region": COUNTY, "case_no": "320505-20260201-000007"}),
            _row(CITY, "C-SUSPENDED", "special_procedure", accepted=t, due=date(2026, 2, 27), clock="suspended"),
            _row(COUNTY, "K-1", "submitted", clock="not_started"),
        ])
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def signed_in(app, username):
    """A browser session of ``username`` (as /login leaves it)."""
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
    c = app.test_client()
    with c.session_transaction() as s:
        s["uid"], s["sv"], s["csrf"] = uid, 0, "t"
    return c


def test_the_supervision_page_lists_each_region_with_counts_and_rate(app):
    page = signed_in(app, "insp").get("/supervision").get_data(as_text=True)
    section = page[page.index("下级平台办件监督"):]
    city = section[section.index("苏州市"):section.index("虎丘区")]
    cells = [c.split("</td>")[0] for c in re.split(r"<td[^>]*>", city)[1:6]]  # cells carry data-label (cards)
    # 6 reported, 3 decided, 1 on time of the 2 with a limit (50.0%), 1 open past its day
    assert cells[:4] == ["6", "3", "1", "50.0%"] and ">1</span>" in cells[4]
    assert "虎丘区" in section and f"/supervision/regions/{COUNTY}" in section
    english = signed_in(app, "adm").get("/supervision?lang=en").get_data(as_text=True)
    assert "Cases of the cities and counties" in english and "Open, overdue" in english


def test_the_drill_down_lists_the_overdue_cases_first_with_their_origin(app):
    c = signed_in(app, "insp")
    r = c.get(f"/supervision/regions/{CITY}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    order = [page.index(f">{no}</td>")
             for no in ("C-OPEN-OVERDUE", "C-LATE", "C-ONTIME", "C-OPEN", "C-SUSPENDED", "C-NOLIMIT")]
    assert order[:2] == sorted(order[:2]) and order[1] < min(order[2:])  # open overdue, then decided late
    assert "320505-20260201-000007" in page and "2026-02-27" in page and "在办超期" in page and "超期办结" in page
    for bad in ("320100", "abc", "3205001", "0" * 6):
        assert c.get(f"/supervision/regions/{bad}").status_code == 404


def test_only_inspectors_and_administrators_see_the_reports(app):
    for who in ("w1", "alice"):
        c = signed_in(app, who)
        assert c.get("/supervision").status_code == 403
        assert c.get(f"/supervision/regions/{CITY}").status_code == 403
    assert app.test_client().get(f"/supervision/regions/{CITY}").status_code == 302
    assert signed_in(app, "adm").get(f"/supervision/regions/{CITY}").status_code == 200


def test_the_api_twin(app):
    if not any(rule.rule == "/api/supervision/regions" for rule in app.url_map.iter_rules()):
        pytest.skip("app/web/api/report_routes.py is not registered in app/web/api/__init__.py yet")
    api = app.api
    assert api.get("w1", "/api/supervision/regions").status_code == 403
    assert api.get("alice", "/api/supervision/regions").status_code == 403
    regions = {r["region"]: r for r in api.get("insp", "/api/supervision/regions").json}
    assert (regions[CITY]["reported"], regions[CITY]["decided"], regions[CITY]["timed"], regions[CITY]["on_time"],
            regions[CITY]["rate"], regions[CITY]["open_overdue"]) == (6, 3, 2, 1, 0.5, 1)
    assert regions[CITY]["name"] == "苏州市" and regions[COUNTY]["reported"] == 1
    detail = api.get("insp", f"/api/supervision/regions/{CITY}").json
    assert [c["case_no"] for c in detail["cases"]][:2] == ["C-OPEN-OVERDUE", "C-LATE"]
    assert detail["total"] == 6 and detail["overdue"] == 2
    (fwd,) = [c for c in detail["cases"] if c["origin"]]
    assert fwd["origin"] == {"region": COUNTY, "case_no": "320505-20260201-000007"}
    assert api.get("insp", "/api/supervision/regions/320100").status_code == 404
    assert api.get("insp", "/api/supervision/regions/x").status_code == 404
