"""转报 over real HTTP between a county (320583) and its city (320500), each with its own database (a
SQLite file each; on PostgreSQL the city in a schema of its own): the county's case reaches its
``action=forward`` throw event, the forward leaves through the outbox with the materials by content,
the city starts a case linked to the origin, its 受理 and decision flow back as receipt / progress /
result, and the county case goes on past its receive task to its end. Duplicates are applied once; a
matter the city does not have is refused with nothing stored."""
from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import create_engine, func, select, text

from app.domain.errors import InvalidModel
from app.engine.parser import check_model
from app.extensions import db
from app.models import Case, CaseEvent, CaseFile, Incident, Matter, Notification, ProcessInstance, User
from app.models.accounts import ApplicantProfile
from app.models.exchange import InboxMessage, InboxRefusal, OutboxMessage
from app.services.cases.registry import deploy_directory
from app.services.federation import peers as peer_svc
from app.services.federation.peers import contains, up_peer
from app.services.federation.protocol import new_seed, private_key_from_seed, public_key_text
from app.services.messaging import outbox
from app.services.portal.progress import timeline
from tests.conftest import FIXTURES, _migrate, make_app
from tests.services.federation.test_transport import Served
from tests.web.api.helpers import Api

COUNTY, CITY = "320583", "320500"
PROCESSES = FIXTURES / "processes" / "federation"
START = {"amount": 3, "project_name": "昆山市某储能项目"}
ID_NUMBER, MOBILE = "320583199001011234", "13812345678"
PDF = b"%PDF-1.4\n" + b"0" * 200 + b"\n%%EOF\n"


def city_database(db_url: str, tmp_path) -> str:
    """A second, empty, migrated database for the city: a SQLite file, or a schema of the test
    database on PostgreSQL."""
    if db_url.startswith("sqlite:///"):
        target = tmp_path / "city.sqlite3"
        shutil.copy(db_url[len("sqlite:///"):], target)
        return f"sqlite:///{target}"
    eng = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    with eng.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS fed_city CASCADE"))
        conn.execute(text("CREATE SCHEMA fed_city"))
    eng.dispose()
    url = db_url + ("&" if "?" in db_url else "?") + "options=-csearch_path%3Dfed_city"
    _migrate(url)
    return url


def platform(db_url, region, seed, processes):
    return make_app(db_url, REGION_CODE=region, FEDERATION_SIGNING_KEY=seed, AGENCY_NAME=f"{region} 发改委",
                    PROCESSES_DIR=str(processes), FORMS_DIR=str(FIXTURES / "forms"))


@pytest.fixture
def net(db_url, tmp_path):
    seeds = {COUNTY: new_seed(), CITY: new_seed()}
    county = Served(platform(db_url, COUNTY, seeds[COUNTY], PROCESSES / "county"))
    city = Served(platform(city_database(db_url, tmp_path), CITY, seeds[CITY], PROCESSES / "city"))
    key = {r: public_key_text(private_key_from_seed(s).public_key()) for r, s in seeds.items()}
    for s in (county, city):
        s.app.config["FEDERATION_PUBLIC_URL"] = s.url
        with s.app.app_context():
            deploy_directory(s.app.config["PROCESSES_DIR"], s.app.config["FORMS_DIR"])
    with county.app.app_context():
        peer_svc.add_peer(peer_svc.PeerIn(CITY, "苏州市发展和改革委员会", "city", city.url, key[CITY]))
    with city.app.app_context():
        peer_svc.add_peer(peer_svc.PeerIn(COUNTY, "昆山市发展和改革委员会", "county", county.url, key[COUNTY]))

    class Net:
        pass
    n = Net()
    n.county, n.city = county, city
    n.capi, n.yapi = Api(county.app), Api(city.app)
    n.capi.user("alice", "applicant", region_code=COUNTY)
    with county.app.app_context():
        alice = db.session.execute(select(User).where(User.username == "alice")).scalar_one()
        db.session.add(ApplicantProfile(user_id=alice.id, kind="individual", name="王小丽", id_number=ID_NUMBER,
                                        mobile=MOBILE))
        db.session.commit()
    n.capi.user("kw", groups=["window"], region_code=COUNTY)
    n.yapi.user("sw", groups=["window"], region_code=CITY)
    yield n
    for s in (county, city):
        s.stop()
        with s.app.app_context():
            db.session.remove()
            db.engine.dispose()


def deliver(app) -> dict:
    with app.app_context():
        return outbox.deliver_due()


def rows(app, model, *where):
    with app.app_context():
        return list(db.session.execute(select(model).where(*where).order_by(*model.__table__.primary_key)).scalars())


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def county_case(net, data=START) -> dict:
    r = net.capi.post("alice", "/api/cases", json={"process_id": "t_forward", "data": data})
    assert r.status_code == 201, r.json
    with net.county.app.app_context():  # a material of the applicant, held by content
        from app.services.common.blobs import keep_blob
        sha, key = keep_blob(PDF)
        db.session.add(CaseFile(case_id=r.json["id"], uploaded_by="alice", kind="scan", material="申请表",
                                filename="申请表.pdf", content_type="application/pdf", size=len(PDF), sha256=sha,
                                storage_key=key))
        db.session.commit()
    return r.json


def test_the_dialect_checks_forward_events_at_deploy():
    bpmn = (PROCESSES / "county" / "t_forward.bpmn").read_bytes()
    forms = {k: json.loads((FIXTURES / "forms" / f"{k}.form.json").read_text("utf-8")) for k in ("t_start", "t_review")}
    check_model(bpmn, "t_forward.bpmn", forms)  # the fixture is valid
    for bad, needle in ((b'name="target" value="up"', b'name="target" value="32058"'),
                        (b'name="target" value="up"', b'name="target" value="down"')):
        with pytest.raises(InvalidModel) as exc:
            check_model(bpmn.replace(bad, needle), "t_forward.bpmn", forms)
        assert any(e["element"] == "forward_up" and "target" in e["message"] for e in exc.value.errors)
    on_task = bpmn.replace(b'<camunda:property name="action" value="receive"/>',
                           b'<camunda:property name="action" value="forward"/>')
    with pytest.raises(InvalidModel) as exc:
        check_model(on_task, "t_forward.bpmn", forms)
    assert any(e["element"] == "accept" and "action=forward" in e["message"] for e in exc.value.errors)


def test_up_is_the_peer_of_the_next_level_containing_our_region(net):
    assert contains("320500", "320583") and contains("320000", "320500") and not contains("320200", "320583")
    with net.county.app.app_context():
        assert up_peer(COUNTY).region == CITY
    with net.city.app.app_context():
        assert up_peer(CITY) is None  # the province is not registered at the city


def test_a_case_is_forwarded_up_and_its_result_comes_back_down(net):
    case = county_case(net)
    done = net.capi.complete_first("kw", {"decision": "approve"}, element="accept")
    assert done["instance_status"] == "waiting", [(i.error_type, i.message) for i in rows(net.county.app, Incident)]
    # the forward is in the outbox, written with the step, and in the trail
    (fwd,) = rows(net.county.app, OutboxMessage, OutboxMessage.kind == "forward")
    assert (fwd.peer, fwd.order_key, fwd.status) == (CITY, case["case_no"], "pending")
    body = fwd.payload
    assert body["matter"] == {"process_id": "t_forward", "basic_code": "0000000099", "name": "测试转报事项（县）"}
    assert body["origin"] == {"region": COUNTY, "case_no": case["case_no"]}
    assert body["data"]["project_name"] == START["project_name"] and body["applicant"] == {
        "name": "王小丽", "kind": "individual", "cert_type": "公民身份号码", "cert_no": ID_NUMBER, "mobile": MOBILE}
    assert [m["name"] for m in body["materials"]] == ["申请表.pdf"] and body["trail"]
    trail = [e.opinion for e in rows(net.county.app, CaseEvent, CaseEvent.action == "forward")]
    assert trail == ["已转报苏州市发展和改革委员会"]

    counts = deliver(net.county.app)  # (with the county's supervision reports to the city)
    assert counts["dead"] == 0 and rows(net.county.app, OutboxMessage, OutboxMessage.id == fwd.id)[0].status == \
        "delivered", (counts, [(r.code, r.error) for r in rows(net.city.app, InboxRefusal)])
    (here,) = rows(net.city.app, Case)
    assert (here.origin_region, here.origin_case_no, here.process_id) == (COUNTY, case["case_no"], "t_forwarded")
    assert here.case_no.startswith(CITY) and here.data["project_name"] == START["project_name"]
    (profile,) = rows(net.city.app, ApplicantProfile)  # the applicant's account at the city
    assert (profile.name, profile.id_number, profile.mobile, profile.user_id) == \
        ("王小丽", ID_NUMBER, MOBILE, here.applicant_id)
    (f,) = rows(net.city.app, CaseFile)
    assert (f.filename, f.size, f.material) == ("申请表.pdf", len(PDF), "申请表")
    assert rows(net.county.app, OutboxMessage, OutboxMessage.kind == "forward")[0].reply["answer"] == \
        {"case_no": here.case_no}

    # the same forward again (a lost answer, an operator's re-send): one case
    with net.county.app.app_context():
        m = db.session.get(OutboxMessage, fwd.id)
        m.status = "dead"
        db.session.commit()
        outbox.resend(fwd.message_id)
        assert outbox.deliver_due()["delivered"] == 1
        assert db.session.get(OutboxMessage, fwd.id).reply["duplicate"] is True
    assert count(net.city.app, Case) == 1 and count(net.city.app, CaseFile) == 1

    # the city accepts and decides: receipt, progress, result flow back
    net.yapi.complete_first("sw", {"decision": "approve"}, element="accept")
    net.yapi.complete_first("sw", {"decision": "approve"}, element="decide")
    kinds = [m.kind for m in rows(net.city.app, OutboxMessage)]
    assert kinds.count("receipt") == 1 and kinds.count("result") == 1 and "progress" in kinds
    counts = deliver(net.city.app)
    assert counts["delivered"] == len(kinds), counts
    origin = rows(net.county.app, Case)[0]
    assert origin.status == "approved"
    with net.county.app.app_context():
        inst = db.session.get(ProcessInstance, origin.instance_id)
        assert (inst.status, inst.end_event) == ("complete", "end_approved")
    opinions = [e.opinion for e in rows(net.county.app, CaseEvent, CaseEvent.action == "federation")]
    assert "苏州市发展和改革委员会已受理" in opinions and "苏州市发展和改革委员会已批复" in opinions
    result = [e for e in rows(net.county.app, CaseEvent, CaseEvent.action == "message")][0]
    assert result.data_change["payload"]["decision"] == "approved"
    assert result.data_change["payload"]["doc_no"] is None  # the city's data has no document number

    # the messages back again: applied once (the case does not move, no second trail entry)
    with net.city.app.app_context():
        for m in db.session.execute(select(OutboxMessage)).scalars():
            m.status = "dead"
        db.session.commit()
        for m in list(db.session.execute(select(OutboxMessage.message_id)).scalars()):
            outbox.resend(m)
        again = outbox.deliver_due()
    assert again["delivered"] == len(kinds)
    assert [e.opinion for e in rows(net.county.app, CaseEvent, CaseEvent.action == "federation")] == opinions
    assert count(net.county.app, CaseEvent, CaseEvent.action == "message") == 1

    # each step of the level above: once on the applicant's timeline, one notice each (SMS when the
    # account has a phone: tests/ops/test_three_levels.py); none from the city
    lines = [e.opinion for e in rows(net.county.app, CaseEvent, CaseEvent.action == "level_step")]
    assert lines == ["已转报苏州市发展和改革委员会", "市级已受理（苏州市发展和改革委员会）", "市级已批复（苏州市发展和改革委员会）"]
    notices = [n.text for n in rows(net.county.app, Notification, Notification.template == "level_step")]
    assert sorted(notices) == sorted(f"【阳光发改】您的办件{origin.case_no}：{line}。" for line in lines)
    assert count(net.city.app, Notification, Notification.channel == "sms") == 0
    with net.county.app.app_context():
        shown = [r["label"] for r in timeline(db.session.get(Case, origin.id))]
    assert all(line in shown for line in lines), shown


def test_an_unknown_matter_is_refused_and_nothing_is_stored(net):
    with net.city.app.app_context():  # the city has no matter of that code any more
        for m in db.session.execute(select(Matter)).scalars():
            m.basic_code, m.process_id = "0000000098", m.process_id
        db.session.commit()
    county_case(net)
    net.capi.complete_first("kw", {"decision": "approve"}, element="accept")
    counts = deliver(net.county.app)
    assert counts["dead"] == 1
    (fwd,) = rows(net.county.app, OutboxMessage, OutboxMessage.kind == "forward")
    assert fwd.status == "dead" and fwd.last_error.startswith("[unknown_matter]")
    assert count(net.city.app, Case) == 0 and count(net.city.app, InboxMessage, InboxMessage.kind == "forward") == 0
    assert count(net.city.app, User, User.kind == "applicant") == 0
    assert [(r.code, r.peer) for r in rows(net.city.app, InboxRefusal)] == [("unknown_matter", COUNTY)]
