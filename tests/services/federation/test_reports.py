"""Supervision across levels over real HTTP: a province (320000), a city (320500) and a county
(320505), each with its own database (SQLite files; on PostgreSQL schemas of the test database). The
city reports each status change of its cases to the province, the county to the city, which relays
them up; the province's supervision page lists the regions with their counts and rate, and a
drill-down per region. A report older than the one kept changes nothing; a report for a region not
the sender's is refused with nothing stored."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import create_engine, select, text

from app.extensions import db
from app.models import Case, User
from app.models.accounts import ApplicantProfile
from app.models.exchange import InboxRefusal, OutboxMessage
from app.models.federation_reports import FederatedCaseReport
from app.services.cases.registry import deploy_directory
from app.services.federation import peers as peer_svc
from app.services.federation.protocol import new_seed, private_key_from_seed, public_key_text
from app.services.federation.peers import up_peer as peer_above
from app.services.federation.reports import within
from app.services.federation.transport import CHANNEL
from app.services.messaging import outbox
from tests.conftest import FIXTURES, _migrate, make_app
from tests.services.federation.test_forwarding import count, deliver, rows
from tests.services.federation.test_transport import Served
from tests.web.api.helpers import Api
from tests.web.test_supervision_reports import signed_in

PROVINCE, CITY, COUNTY = "320000", "320500", "320505"
NAMES = {PROVINCE: "江苏省发展和改革委员会", CITY: "苏州市发展和改革委员会", COUNTY: "虎丘区发展和改革委员会"}
LEVELS = {PROVINCE: "province", CITY: "city", COUNTY: "county"}
FED = FIXTURES / "processes" / "federation"
#: the city's t_forwarded: start → 受理 → 审批决定 → end; the county's t_forward: 受理, then 转报 to the city
PROCESSES = {PROVINCE: FED / "city", CITY: FED / "city", COUNTY: FED / "county"}
MATTERS = {CITY: "t_forwarded", COUNTY: "t_forward"}
START = {"amount": 3, "project_name": "苏州市某储能项目"}


def other_database(db_url: str, tmp_path, name: str) -> str:
    """An empty, migrated database of its own: a SQLite file, or a schema on PostgreSQL."""
    if db_url.startswith("sqlite:///"):
        target = tmp_path / f"{name}.sqlite3"
        shutil.copy(db_url[len("sqlite:///"):], target)
        return f"sqlite:///{target}"
    schema = f"rep_{name}"
    eng = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    eng.dispose()
    url = db_url + ("&" if "?" in db_url else "?") + f"options=-csearch_path%3D{schema}"
    _migrate(url)
    return url


@pytest.fixture
def net(db_url, tmp_path):
    seeds = {r: new_seed() for r in LEVELS}
    urls = {PROVINCE: db_url, CITY: other_database(db_url, tmp_path, "city"),
            COUNTY: other_database(db_url, tmp_path, "county")}
    served = {r: Served(make_app(urls[r], REGION_CODE=r, FEDERATION_SIGNING_KEY=seeds[r], AGENCY_NAME=NAMES[r],
                                 PROCESSES_DIR=str(PROCESSES[r]), FORMS_DIR=str(FIXTURES / "forms")))
              for r in LEVELS}
    key = {r: public_key_text(private_key_from_seed(s).public_key()) for r, s in seeds.items()}
    links = {PROVINCE: [CITY], CITY: [PROVINCE, COUNTY], COUNTY: [CITY]}
    for r, s in served.items():
        s.app.config["FEDERATION_PUBLIC_URL"] = s.url
        with s.app.app_context():
            deploy_directory(s.app.config["PROCESSES_DIR"], s.app.config["FORMS_DIR"])
            for other in links[r]:
                peer_svc.add_peer(peer_svc.PeerIn(other, NAMES[other], LEVELS[other], served[other].url, key[other]))

    class Net:
        pass
    n = Net()
    n.province, n.city, n.county = served[PROVINCE], served[CITY], served[COUNTY]
    n.api = {r: Api(s.app) for r, s in served.items()}
    for r in (CITY, COUNTY):
        n.api[r].user("alice", "applicant", region_code=r)
        n.api[r].user("win", groups=["window"], region_code=r)
    with n.county.app.app_context():  # the county's applicant, as a forward carries her
        alice = db.session.execute(select(User).where(User.username == "alice")).scalar_one()
        db.session.add(ApplicantProfile(user_id=alice.id, kind="individual", name="王小丽",
                                        id_number="320505199001011234", mobile="13812345678"))
        db.session.commit()
    n.api[PROVINCE].user("insp", groups=["inspector"])
    n.api[PROVINCE].user("w1", groups=["window"])
    n.api[PROVINCE].user("bob", "applicant")
    yield n
    for s in served.values():
        s.stop()
        with s.app.app_context():
            db.session.remove()
            db.engine.dispose()




def apply(net, region) -> dict:
    r = net.api[region].post("alice", "/api/cases", json={"process_id": MATTERS[region], "data": START})
    assert r.status_code == 201, r.json
    return r.json


def report(**over) -> dict:
    body = {"region": CITY, "case_no": "320500-20260302-000099", "status": "accepted", "label": "已受理", "seq": 2,
            "matter": {"process_id": "t_forwarded", "basic_code": "0000000099", "name": "测试转报事项（市）"},
            "submitted_at": "2026-03-02T01:00:00Z", "accepted_at": "2026-03-02T01:00:00Z", "decided_at": None,
            "statutory_due": "2026-03-30", "promised_due": "2026-03-16", "clock_state": "running",
            "overdue": False, "origin": None}
    body.update(over)
    return {"report": body}


def send_from_city(net, body, key=None) -> OutboxMessage:
    with net.city.app.app_context():
        m = outbox.enqueue(CHANNEL, PROVINCE, "progress", body, key=key)
        db.session.commit()
        mid = m.id
    deliver(net.city.app)
    return rows(net.city.app, OutboxMessage, OutboxMessage.id == mid)[0]


def test_the_peer_above_is_the_next_level_containing_this_region(net):
    assert within(CITY, COUNTY) and within(PROVINCE, COUNTY) and within(CITY, CITY) and not within(CITY, "320100")
    assert not within(COUNTY, CITY)
    with net.county.app.app_context():
        assert peer_above().region == CITY
    with net.city.app.app_context():
        assert peer_above().region == PROVINCE
    with net.province.app.app_context():
        assert peer_above() is None


def test_a_city_reports_each_status_change_to_the_province(net):
    case = apply(net, CITY)
    sent = rows(net.city.app, OutboxMessage)
    assert {(m.kind, m.peer, m.order_key) for m in sent} == {("progress", PROVINCE, f"report:{CITY}:{case['case_no']}")}
    body = sent[0].payload["report"]
    assert "origin_case_no" not in sent[0].payload and "alice" not in str(sent[0].payload)
    assert (body["region"], body["case_no"], body["status"], body["seq"], body["statutory_due"]) == \
        (CITY, case["case_no"], "submitted", 1, None)
    assert body["matter"] == {"process_id": "t_forwarded", "basic_code": "0000000099", "name": "测试转报事项（市）"}
    first = [(m.payload["report"]["status"], m.payload["report"]["seq"]) for m in sent]
    assert deliver(net.city.app)["delivered"] == len(first)
    (row,) = rows(net.province.app, FederatedCaseReport)
    assert (row.region, row.case_no, (row.status, row.seq), row.via) == (CITY, case["case_no"], first[-1], CITY)

    net.api[CITY].complete_first("win", {"decision": "approve"}, element="accept")
    net.api[CITY].complete_first("win", {"decision": "approve"}, element="decide")
    with net.city.app.app_context():
        here = db.session.get(Case, case["id"])
        due = here.statutory_due
    reports = [m.payload["report"] for m in rows(net.city.app, OutboxMessage)]
    assert [(r["status"], r["seq"]) for r in reports] == [("submitted", 1), ("accepted", 2), ("approved", 3)]
    assert reports[1]["statutory_due"] == due.isoformat() and reports[1]["clock_state"] == "running"
    assert reports[2]["decided_at"] and reports[2]["overdue"] is False and reports[2]["clock_state"] == "stopped"
    assert deliver(net.city.app)["delivered"] == 3 - len(first)
    (row,) = rows(net.province.app, FederatedCaseReport)
    assert (row.status, row.seq, row.statutory_due, row.overdue) == ("approved", 3, due, False)
    assert row.decided_at is not None and row.accepted_at is not None

    # the province's supervision page lists the city, and its drill-down the case
    c = signed_in(net.province.app, "insp")
    page = c.get("/supervision").get_data(as_text=True)
    assert "下级平台办件监督" in page and "苏州市" in page and f"/supervision/regions/{CITY}" in page
    assert "100.0%" in page
    drill = c.get(f"/supervision/regions/{CITY}")
    assert drill.status_code == 200
    text_ = drill.get_data(as_text=True)
    assert case["case_no"] in text_ and due.isoformat() in text_ and "测试转报事项（市）" in text_

    # an older report arriving late changes nothing (and is not an error)
    late = send_from_city(net, report(case_no=case["case_no"], seq=2, status="accepted"))
    assert late.status == "delivered" and late.reply["answer"] == {"ok": True}
    (row,) = rows(net.province.app, FederatedCaseReport)
    assert (row.status, row.seq) == ("approved", 3)


def test_a_report_for_a_region_not_the_senders_or_malformed_is_refused_with_nothing_stored(net):
    m = send_from_city(net, report(region="320100"))  # Nanjing: not the city's
    assert m.status == "dead" and "foreign_region" in (m.last_error or "")
    for bad in (report(seq="3"), report(status="flying"), report(statutory_due="30/03/2026"),
                report(matter="x"), report(origin={"region": "x"}), {"report": "nope"},
                report(decided_at="2026-03-02 10:00"), report(overdue=None), report(case_no="")):
        m = send_from_city(net, bad)
        assert m.status == "dead" and "bad_report" in (m.last_error or ""), (bad, m.last_error)
    with net.province.app.app_context():  # reports go up, never down
        m = outbox.enqueue(CHANNEL, CITY, "progress", report(region=PROVINCE))
        db.session.commit()
        mid = m.id
    deliver(net.province.app)
    (down,) = rows(net.province.app, OutboxMessage, OutboxMessage.id == mid)
    assert down.status == "dead" and "foreign_region" in down.last_error
    assert count(net.city.app, FederatedCaseReport) == 0
    assert count(net.province.app, FederatedCaseReport) == 0
    codes = [r.code for r in rows(net.province.app, InboxRefusal)]
    assert codes[0] == "foreign_region" and set(codes[1:]) == {"bad_report"}


def test_a_countys_reports_reach_the_province_through_the_city(net):
    case = apply(net, COUNTY)  # submitted, and accepted as its 受理 step begins
    sent = rows(net.county.app, OutboxMessage)
    assert [(m.peer, m.payload["report"]["seq"]) for m in sent] == [(CITY, 1), (CITY, 2)]
    assert deliver(net.county.app)["delivered"] == 2
    (at_city,) = rows(net.city.app, FederatedCaseReport)
    assert (at_city.region, at_city.case_no, at_city.status, at_city.via) == \
        (COUNTY, case["case_no"], "accepted", COUNTY)
    relayed = rows(net.city.app, OutboxMessage)
    assert [(m.peer, m.case_id, m.payload["report"]["seq"]) for m in relayed] == \
        [(PROVINCE, None, 1), (PROVINCE, None, 2)]
    assert relayed[1].payload["report"] == sent[1].payload["report"]  # passed on as it came
    assert deliver(net.city.app)["delivered"] == 2
    (at_province,) = rows(net.province.app, FederatedCaseReport)
    assert (at_province.region, at_province.case_no, at_province.status, at_province.seq, at_province.via) == \
        (COUNTY, case["case_no"], "accepted", 2, CITY)
    assert at_province.statutory_due == at_city.statutory_due is not None
    # the province's supervision shows the county, by its name from the regions table
    page = signed_in(net.province.app, "insp").get("/supervision").get_data(as_text=True)
    assert "虎丘区" in page and f"/supervision/regions/{COUNTY}" in page


def test_a_case_forwarded_up_is_reported_by_each_level_with_its_own_clock(net):
    """One statutory clock per level: the county's case and the city's case made by its 转报 are two
    reports at the province, each with its own level's due day; the city's names its origin."""
    case = apply(net, COUNTY)
    net.api[COUNTY].complete_first("win", {"decision": "approve"}, element="accept")  # → forward to the city
    kinds = sorted(m.kind for m in rows(net.county.app, OutboxMessage))
    assert kinds == ["forward", "progress", "progress"]
    assert deliver(net.county.app)["delivered"] == 3
    (up,) = rows(net.city.app, Case)
    assert (up.origin_region, up.origin_case_no) == (COUNTY, case["case_no"])
    assert deliver(net.city.app)["delivered"] >= 3  # its own case's reports, the county's relayed, receipt …
    with net.county.app.app_context():
        county_due = db.session.get(Case, case["id"]).statutory_due
    reported = {r.region: r for r in rows(net.province.app, FederatedCaseReport)}
    assert set(reported) == {COUNTY, CITY}
    assert (reported[COUNTY].case_no, reported[COUNTY].statutory_due, reported[COUNTY].origin) == \
        (case["case_no"], county_due, None)
    assert (reported[CITY].case_no, reported[CITY].statutory_due) == (up.case_no, up.statutory_due)
    assert reported[CITY].origin == {"region": COUNTY, "case_no": case["case_no"]} and up.statutory_due
    page = signed_in(net.province.app, "insp").get(f"/supervision/regions/{CITY}").get_data(as_text=True)
    assert up.case_no in page and case["case_no"] in page  # the origin named beside the city's case


def test_supervision_page_of_the_reports_is_for_inspectors_and_administrators(net):
    send_from_city(net, report())
    for who in ("w1", "bob"):
        c = signed_in(net.province.app, who)
        assert c.get("/supervision").status_code == 403
        assert c.get(f"/supervision/regions/{CITY}").status_code == 403
    assert net.province.app.test_client().get(f"/supervision/regions/{CITY}").status_code == 302  # to sign in
    c = signed_in(net.province.app, "insp")
    assert c.get(f"/supervision/regions/{CITY}").status_code == 200
