"""撤回 across levels over real HTTP between a county (320583) and its city (320500), on the harness of
test_forwarding.py: the applicant's withdrawal at the county reaches the city's case once (``withdraw``,
relayed further up when the city forwarded its case too); a decided case does not change; an unknown
origin case is refused with nothing stored. The county's staff take a forward back (``recall``) while
the city has not accepted it: the city's case ends, is unlinked and a ``result`` ``recalled`` goes back;
once accepted the recall is answered ``recalled: false``. The staff action's permissions and refusals."""
from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseEvent, HumanTask, ProcessInstance, User
from app.models.exchange import InboxMessage, InboxRefusal, OutboxMessage
from app.services.federation.transport import CHANNEL
from app.services.identity.auth import set_password
from app.services.messaging import outbox
from tests.services.federation import test_forwarding as harness
from tests.services.federation.test_forwarding import CITY, COUNTY, count, county_case, deliver, net, rows  # noqa: F401

PROVINCE = "320000"
REASON = "项目建设内容调整，撤回申请"
PASSWORD = "correct horse battery"


@pytest.fixture
def net_收件(tmp_path, monkeypatch, request, db_url):
    """The harness with a city whose process receives (收件, status ``received``) before it accepts (the
    fixture's city accepts when its first step is reached): a variant of the fixture, in tmp_path."""
    root = tmp_path / "processes"
    shutil.copytree(harness.PROCESSES, root)
    bpmn = root / "city" / "t_forwarded.bpmn"
    text = bpmn.read_text("utf-8")
    for old, new in (('<camunda:property name="caseStatus" value="accepted"/>',
                      '<camunda:property name="caseStatus" value="received"/>'),
                     ('<camunda:property name="action" value="decide"/>',
                      '<camunda:property name="caseStatus" value="accepted"/>\n        '
                      '<camunda:property name="action" value="decide"/>')):
        assert text.count(old) == 1
        text = text.replace(old, new)
    bpmn.write_text(text, "utf-8")
    monkeypatch.setattr(harness, "PROCESSES", root)
    return request.getfixturevalue("net")


def forwarded(net) -> tuple[dict, Case]:
    """A county case accepted and forwarded; the forward delivered: (the county case, the city's case)."""
    case = county_case(net)
    net.capi.complete_first("kw", {"decision": "approve"}, element="accept")
    deliver(net.county.app)
    assert [m.status for m in outbox_rows(net.county.app, "forward")] == ["delivered"]
    (here,) = rows(net.city.app, Case)
    return case, here


def outbox_rows(app, kind: str) -> list[OutboxMessage]:
    """The messages of one kind (other kinds — the levels' supervision reports — come and go too)."""
    return rows(app, OutboxMessage, OutboxMessage.kind == kind)


def delivered(app, kind: str) -> list[str]:
    """Deliver what is due; the statuses of the messages of ``kind``."""
    deliver(app)
    return [m.status for m in outbox_rows(app, kind)]


def city_case(net, case_id: int) -> Case:
    with net.city.app.app_context():
        return db.session.get(Case, case_id)


def instance_status(app, case: Case) -> str:
    with app.app_context():
        return db.session.get(ProcessInstance, case.instance_id).status


def resend_all(app, kind: str) -> list[str]:
    """Send every message of ``kind`` again (same message ids); their statuses after delivery."""
    with app.app_context():
        for m in db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == kind)).scalars():
            m.status = "dead"
        db.session.commit()
        for mid in list(db.session.execute(select(OutboxMessage.message_id).where(OutboxMessage.kind == kind))
                        .scalars()):
            outbox.resend(mid)
    return delivered(app, kind)


def test_the_applicants_withdrawal_reaches_the_upper_case_once_and_is_relayed_up(net):
    case, here = forwarded(net)
    with net.city.app.app_context():  # the city forwarded its case to the province too (its forward is out)
        fwd = outbox.enqueue(CHANNEL, PROVINCE, "forward", {"origin": {"region": CITY, "case_no": here.case_no}},
                             case_id=here.id, order_key=here.case_no, key=f"forward:{here.case_no}:t")
        fwd.status = "delivered"
        db.session.commit()

    r = net.capi.post("alice", f"/api/cases/{case['id']}/withdraw", json={"reason": REASON})
    assert r.status_code == 200, r.json
    (w,) = outbox_rows(net.county.app, "withdraw")
    assert (w.peer, w.key, w.order_key) == (CITY, f"withdraw:{case['case_no']}", case["case_no"])
    assert w.payload == {"origin_case_no": case["case_no"], "reason": REASON}
    assert [e.opinion for e in rows(net.county.app, CaseEvent, CaseEvent.action == "federation")] == \
        ["已通知苏州市发展和改革委员会：申请人撤回申请"]

    assert delivered(net.county.app, "withdraw") == ["delivered"]
    (w,) = outbox_rows(net.county.app, "withdraw")
    assert w.reply["answer"] == {"withdrawn": True, "case_no": here.case_no}
    here = city_case(net, here.id)
    assert here.status == "withdrawn" and here.origin_case_no == case["case_no"]
    assert instance_status(net.city.app, here) == "cancelled"
    assert count(net.city.app, HumanTask, HumanTask.case_id == here.id, HumanTask.state == "ready") == 0
    (entry,) = rows(net.city.app, CaseEvent, CaseEvent.case_id == here.id, CaseEvent.action == "withdraw")
    assert (entry.actor, entry.opinion) == (f"fed:{COUNTY}", f"原办件申请人撤回申请：{REASON}")
    # relayed up with the applicant's reason, after the city's forward
    (up,) = outbox_rows(net.city.app, "withdraw")
    assert (up.peer, up.order_key, up.key) == (PROVINCE, here.case_no, f"withdraw:{here.case_no}")
    assert up.payload == {"origin_case_no": here.case_no, "reason": REASON}

    # the same message again (a lost answer, an operator's re-send): applied once
    assert resend_all(net.county.app, "withdraw") == ["delivered"]
    assert outbox_rows(net.county.app, "withdraw")[0].reply["duplicate"] is True
    assert count(net.city.app, CaseEvent, CaseEvent.case_id == here.id, CaseEvent.action == "withdraw") == 1
    assert count(net.city.app, CaseEvent, CaseEvent.to_status == "withdrawn") == 1
    assert len(outbox_rows(net.city.app, "withdraw")) == 1
    # another message of the same withdrawal: nothing more to do
    with net.county.app.app_context():
        outbox.enqueue(CHANNEL, CITY, "withdraw", w.payload, order_key=case["case_no"], key="withdraw:again")
        db.session.commit()
    assert delivered(net.county.app, "withdraw") == ["delivered", "delivered"]
    assert outbox_rows(net.county.app, "withdraw")[-1].reply["answer"] == \
        {"withdrawn": False, "status": "withdrawn", "case_no": here.case_no}
    assert count(net.city.app, CaseEvent, CaseEvent.to_status == "withdrawn") == 1

    # the city's status change went back to the county as progress
    deliver(net.city.app)
    opinions = [e.opinion for e in rows(net.county.app, CaseEvent, CaseEvent.action == "federation")]
    assert "苏州市发展和改革委员会：已撤回" in opinions


def test_a_decided_upper_case_is_not_withdrawn(net):
    case, here = forwarded(net)
    net.yapi.complete_first("sw", {"decision": "approve"}, element="accept")
    net.yapi.complete_first("sw", {"decision": "approve"}, element="decide")
    before = count(net.city.app, CaseEvent, CaseEvent.case_id == here.id)
    r = net.capi.post("alice", f"/api/cases/{case['id']}/withdraw", json={"reason": REASON})
    assert r.status_code == 200, r.json  # the county does not know yet
    assert delivered(net.county.app, "withdraw") == ["delivered"]
    (w,) = outbox_rows(net.county.app, "withdraw")
    assert w.reply["answer"] == {"withdrawn": False, "status": "approved", "case_no": here.case_no}
    here = city_case(net, here.id)
    assert here.status == "approved" and count(net.city.app, CaseEvent, CaseEvent.case_id == here.id) == before
    assert outbox_rows(net.city.app, "withdraw") == []


def test_an_unknown_or_malformed_withdrawal_is_refused_and_nothing_is_stored(net):
    case, here = forwarded(net)
    events_before = count(net.city.app, CaseEvent)
    with net.county.app.app_context():  # messages no case of the county sent (an operator's mistake, a bug)
        outbox.enqueue(CHANNEL, CITY, "withdraw", {"origin_case_no": "320583202601019999", "reason": "x"},
                       order_key="a", key="w:unknown")
        outbox.enqueue(CHANNEL, CITY, "withdraw", {"origin_case_no": 5, "reason": "x"}, order_key="b", key="w:bad")
        outbox.enqueue(CHANNEL, CITY, "recall", {"origin_case_no": case["case_no"], "reason": ["x"]},
                       order_key="c", key="r:bad")
        db.session.commit()
    deliver(net.county.app)
    sent = rows(net.county.app, OutboxMessage, OutboxMessage.kind.in_(("withdraw", "recall")))
    assert [(m.key, m.status, m.last_error.split("]")[0]) for m in sent] == [
        ("w:unknown", "dead", "[unknown_case"), ("w:bad", "dead", "[bad_withdraw"), ("r:bad", "dead", "[bad_recall")]
    kinds = ("withdraw", "recall")
    assert sorted((r.code, r.peer, r.kind) for r in rows(net.city.app, InboxRefusal, InboxRefusal.kind.in_(kinds))) \
        == [("bad_recall", COUNTY, "recall"), ("bad_withdraw", COUNTY, "withdraw"), ("unknown_case", COUNTY, "withdraw")]
    assert count(net.city.app, InboxMessage, InboxMessage.kind.in_(kinds)) == 0
    assert count(net.city.app, CaseEvent) == events_before
    assert city_case(net, here.id).status == here.status


def test_a_recall_before_acceptance_ends_and_unlinks_the_upper_case(net_收件):
    net = net_收件
    case, here = forwarded(net)
    assert here.status == "received"
    r = net.capi.post("kw", f"/api/cases/{case['id']}/recall-forward", json={"reason": "材料有误，需重新报送"})
    assert r.status_code == 200, r.json
    assert r.json["case_no"] == case["case_no"] and r.json["status"] == "accepted"
    (m,) = outbox_rows(net.county.app, "recall")
    assert (m.peer, m.key, m.order_key) == (CITY, f"recall:{case['case_no']}:1", case["case_no"])
    assert m.payload == {"origin_case_no": case["case_no"], "reason": "材料有误，需重新报送"}
    (entry,) = rows(net.county.app, CaseEvent, CaseEvent.action == "recall_forward")
    assert (entry.actor, entry.opinion) == ("kw", "撤回转报：材料有误，需重新报送")
    # a second recall while the first is on its way: refused, nothing written
    r = net.capi.post("kw", f"/api/cases/{case['id']}/recall-forward", json={"reason": "再次撤回"})
    assert r.status_code == 409, r.json
    assert len(outbox_rows(net.county.app, "recall")) == 1

    assert delivered(net.county.app, "recall") == ["delivered"]
    assert outbox_rows(net.county.app, "recall")[0].reply["answer"] == {"recalled": True, "case_no": here.case_no}
    here = city_case(net, here.id)
    assert here.status == "terminated" and here.origin_region == COUNTY
    assert here.origin_case_no == f"{case['case_no']}~r{here.id}"
    assert instance_status(net.city.app, here) == "cancelled"
    assert count(net.city.app, HumanTask, HumanTask.case_id == here.id, HumanTask.state == "ready") == 0
    (entry,) = rows(net.city.app, CaseEvent, CaseEvent.case_id == here.id, CaseEvent.action == "terminate")
    assert (entry.actor, entry.opinion) == (f"fed:{COUNTY}", "下级撤回转报：材料有误，需重新报送")
    # back to the county: the status change as progress, then the result "recalled", in that order
    back = [m for m in rows(net.city.app, OutboxMessage, OutboxMessage.kind.in_(("progress", "result")))
            if m.kind == "result" or "status" in m.payload]  # not the supervision reports nor the level lines
    assert [(m.kind, m.payload.get("status")) for m in back][-2:] == [("progress", "terminated"), ("result", None)]
    result = back[-1]
    assert (result.peer, result.order_key, result.key) == (COUNTY, case["case_no"], f"result:{here.case_no}")
    assert result.payload == {"origin_case_no": case["case_no"], "case_no": here.case_no, "decision": "recalled",
                              "doc_no": None}
    # the county's case still waits (it moves when the result arrives); no second recall meanwhile
    with net.county.app.app_context():
        origin = db.session.get(Case, case["id"])
        assert db.session.get(ProcessInstance, origin.instance_id).status == "waiting"
    r = net.capi.post("kw", f"/api/cases/{case['id']}/recall-forward", json={"reason": "再次撤回"})
    assert r.status_code == 409 and "确认" in r.json["message"], r.json

    # the same recall again: answered as the first time; another recall message: nothing to take back
    assert resend_all(net.county.app, "recall") == ["delivered"]
    with net.county.app.app_context():
        outbox.enqueue(CHANNEL, CITY, "recall", m.payload, order_key=case["case_no"], key="recall:again")
        db.session.commit()
    assert delivered(net.county.app, "recall") == ["delivered", "delivered"]
    assert outbox_rows(net.county.app, "recall")[-1].reply["answer"] == \
        {"recalled": False, "status": "terminated", "case_no": here.case_no}
    assert count(net.city.app, CaseEvent, CaseEvent.to_status == "terminated") == 1

    # unlinked: the same origin case forwarded again starts a new case
    with net.county.app.app_context():
        first = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "forward")).scalar_one()
        outbox.enqueue(CHANNEL, CITY, "forward", first.payload, case_id=case["id"], order_key=case["case_no"],
                       key=f"forward:{case['case_no']}:again")
        db.session.commit()
    assert delivered(net.county.app, "forward") == ["delivered", "delivered"]
    fresh = rows(net.city.app, Case, Case.origin_case_no == case["case_no"])
    assert len(fresh) == 1 and fresh[0].id != here.id and fresh[0].status == "received"


def test_a_recall_after_acceptance_is_answered_not_recalled(net_收件):
    net = net_收件
    case, here = forwarded(net)
    net.yapi.complete_first("sw", {"decision": "approve"}, element="accept")
    assert city_case(net, here.id).status == "accepted"
    before = count(net.city.app, CaseEvent, CaseEvent.case_id == here.id)
    r = net.capi.post("kw", f"/api/cases/{case['id']}/recall-forward", json={"reason": "撤回"})
    assert r.status_code == 200, r.json  # the county has not heard of the acceptance yet
    assert delivered(net.county.app, "recall") == ["delivered"]
    assert outbox_rows(net.county.app, "recall")[0].reply["answer"] == \
        {"recalled": False, "status": "accepted", "case_no": here.case_no}
    here = city_case(net, here.id)
    assert (here.status, here.origin_case_no) == ("accepted", case["case_no"])
    assert count(net.city.app, CaseEvent, CaseEvent.case_id == here.id) == before
    assert outbox_rows(net.city.app, "result") == []
    assert [t.element_id for t in rows(net.city.app, HumanTask, HumanTask.case_id == here.id,
                                       HumanTask.state == "ready")] == ["decide"]
    # refused, the county may ask again later
    r = net.capi.post("kw", f"/api/cases/{case['id']}/recall-forward", json={"reason": "再次撤回"})
    assert r.status_code == 200, r.json
    assert [m.key for m in outbox_rows(net.county.app, "recall")][-1] == f"recall:{case['case_no']}:2"


def page_login(app, username):
    with app.app_context():
        set_password(db.session.execute(select(User).where(User.username == username)).scalar_one(), PASSWORD)
        db.session.commit()
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    return client


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_who_may_recall_and_bad_input(net_收件):
    net = net_收件
    case = county_case(net)
    api, url = net.capi, f"/api/cases/{case['id']}/recall-forward"
    api.user("leader1", groups=["leader"], region_code=COUNTY)  # reads every case of the region, handles none
    api.user("other", groups=["investment"], region_code=COUNTY)
    api.user("root", groups=["admin"], region_code=COUNTY)
    # not forwarded yet: the case does not wait for a result
    r = api.post("kw", url, json={"reason": "撤回"})
    assert r.status_code == 409, r.json
    net.capi.complete_first("kw", {"decision": "approve"}, element="accept")
    events = count(net.county.app, CaseEvent)
    for who, body, status in (("kw", {"reason": "   "}, 422), ("kw", {}, 422), ("kw", {"reason": "x" * 501}, 422),
                              ("kw", {"reason": 5}, 422), ("kw", {"reason": "撤回", "x": 1}, 422),
                              ("alice", {"reason": "撤回"}, 404), ("other", {"reason": "撤回"}, 404),
                              ("leader1", {"reason": "撤回"}, 403), (None, {"reason": "撤回"}, 401)):
        r = api.post(who, url, json=body)
        assert r.status_code == status, (who, body, r.status_code, r.json)
    assert api.post("kw", "/api/cases/999999/recall-forward", json={"reason": "撤回"}).status_code == 404
    assert outbox_rows(net.county.app, "recall") == [] and count(net.county.app, CaseEvent) == events

    # the staff case page offers it to the window clerk, not to the leader
    leader = page_login(net.county.app, "leader1")
    assert 'id="recall-forward"' not in leader.get(f"/inbox/cases/{case['id']}").get_data(as_text=True)
    clerk = page_login(net.county.app, "kw")
    html = clerk.get(f"/inbox/cases/{case['id']}").get_data(as_text=True)
    assert 'id="recall-forward"' in html and f"/inbox/cases/{case['id']}/recall-forward" in html
    r = clerk.post(f"/inbox/cases/{case['id']}/recall-forward", data={"reason": " ", "csrf_token": csrf(html)})
    assert r.status_code == 302 and outbox_rows(net.county.app, "recall") == []
    r = clerk.post(f"/inbox/cases/{case['id']}/recall-forward", data={"reason": "页面撤回", "csrf_token": csrf(html)},
                   follow_redirects=True)
    assert "已向上级平台发送撤回转报请求" in r.get_data(as_text=True)
    html = clerk.get(f"/inbox/cases/{case['id']}").get_data(as_text=True)
    assert "待送达上级平台" in html and f"/inbox/cases/{case['id']}/recall-forward" not in html
    # an administrator may too, once the first is answered
    deliver(net.county.app)
    assert api.post("root", url, json={"reason": "管理员撤回"}).status_code == 409  # granted: waits for the result
    assert [m.payload["reason"] for m in outbox_rows(net.county.app, "recall")] == ["页面撤回"]
