"""A message from the level above (receipt, progress, result) arriving while a step of the origin case
is under way, over real HTTP on the harness of test_forwarding.py, the race staged with
tests/services/cases/lock_race.py: the county's step holds its instance's lock and has written its trail
entry (the case row), the city's sender delivers, the message's transaction waits for a lock, then the
step commits.

The message writes the origin case's trail too, so it must take the locks a step takes, in a step's
order (instance, then case): it then waits for the step and appends after it. Written from a case read
without them, its entry takes the seq the step took (UNIQUE case_id, seq: its transaction fails, the
sender is told 409 and the message goes dead), or, for a ``result``, it holds the case while it waits
for the instance (a deadlock with the step). Either way a message lost to a dead letter. On SQLite
BEGIN IMMEDIATE orders the two transactions whole; the test runs there too."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseEvent, ProcessInstance
from app.models.exchange import InboxMessage, OutboxMessage
from app.services.cases.steps import record_event
from app.services.common.db_support import lock_one
from app.services.trail.verify import verify
from tests.services.cases.lock_race import behind_a_step, in_a_deadlock
from tests.services.federation.test_forwarding import CITY, COUNTY, count, deliver, net, rows  # noqa: F401
from tests.services.federation.test_withdrawals import forwarded


def _race(net, case_id: int, written_first: bool) -> tuple[dict, str | None]:
    """The city's sender delivers what is due while a county step holds the origin case: its instance
    locked and (``written_first``) its trail entry written, or that entry written once the message waits."""
    app = net.county.app

    def lock():   # a step: its instance locked first
        lock_one(ProcessInstance, ProcessInstance.id == db.session.get(Case, case_id).instance_id)

    def write():   # then its trail entry (the case row)
        record_event(db.session.get(Case, case_id), "system", "urge", opinion="流程定时催办")
        db.session.flush()

    if written_first:
        return behind_a_step(app, lambda: (lock(), write()), lambda: deliver(net.city.app), lambda: None, settle=0.3)
    return behind_a_step(app, lock, lambda: deliver(net.city.app), write, settle=0.3)


def _check(net, case_id: int, answer: dict, step_error: str | None) -> None:
    assert step_error is None, step_error
    assert "error" not in answer, answer
    sent = rows(net.city.app, OutboxMessage, OutboxMessage.peer == COUNTY)
    assert [m.status for m in sent] == ["delivered"] * len(sent), \
        [(m.kind, m.status, m.last_error) for m in sent]
    assert count(net.county.app, InboxMessage) == len([m for m in sent if m.reply])   # each applied once
    with net.county.app.app_context():
        found = verify(case_id, files=False)   # (the harness adds its file without a trail entry)
        assert [p for p in found["problems"] if p["kind"] != "file"] == [], found["problems"]
        db.session.remove()


@pytest.mark.parametrize("stage,written_first", [("receipt", True), ("result", True), ("result", False)])
def test_a_message_from_above_waits_for_a_step_of_the_origin_case(net, stage, written_first):
    case, here = forwarded(net)
    if stage == "result":   # the receipt came back before; the city decides
        assert deliver(net.city.app)["dead"] == 0
        net.yapi.complete_first("sw", {"decision": "approve"}, element="accept")
        net.yapi.complete_first("sw", {"decision": "approve"}, element="decide")
        with net.city.app.app_context():   # the decision's progress told already: the result comes first
            for m in db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "progress",
                                                                    OutboxMessage.status == "pending")).scalars():
                if "status" in m.payload:
                    m.status = "delivered"
            db.session.commit()
    assert count(net.city.app, OutboxMessage, OutboxMessage.kind == stage, OutboxMessage.status == "pending") == 1

    answer, step_error = _race(net, case["id"], written_first)
    _check(net, case["id"], answer, step_error)
    origin = rows(net.county.app, Case, Case.id == case["id"])[0]
    if stage == "result":
        assert origin.status == "approved"
        with net.county.app.app_context():
            assert db.session.get(ProcessInstance, origin.instance_id).status == "complete"
            db.session.remove()
    assert count(net.county.app, CaseEvent, CaseEvent.case_id == case["id"], CaseEvent.action == "urge") == 1


def test_a_message_the_database_ends_in_a_deadlock_is_sent_again_not_dead(net, db_url):
    """The net under the lock order: a transaction that takes the locks the other way round (the case,
    then the instance; no path of the app does) deadlocks with a message from above, and PostgreSQL ends
    the message's transaction. Nothing of it was applied, and another attempt will apply it: the receiver
    answers 503 (a 409 is the protocol's refusal of the message as it is, which the sender makes a dead
    letter), the sender retries and the next attempt is applied once."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a deadlock between row locks: PostgreSQL (SQLite's BEGIN IMMEDIATE orders transactions whole)")
    from app.services.messaging import outbox

    case, here = forwarded(net)
    with net.county.app.app_context():
        inst_id = db.session.get(Case, case["id"]).instance_id
        db.session.remove()
    answer = in_a_deadlock(net.county.app, db_url, case["id"], inst_id, lambda: deliver(net.city.app))
    assert "error" not in answer, answer
    (first, *_) = rows(net.city.app, OutboxMessage, OutboxMessage.peer == COUNTY)
    assert (first.status, first.failures) == ("pending", 1), (first.status, first.last_error)
    assert "concurrent_change" in first.last_error
    assert count(net.county.app, InboxMessage) == 0   # nothing of it applied

    with net.city.app.app_context():
        outbox.send_now(first.message_id)
    deliver(net.city.app)
    sent = rows(net.city.app, OutboxMessage, OutboxMessage.peer == COUNTY)
    assert [m.status for m in sent] == ["delivered"] * len(sent), [(m.kind, m.status, m.last_error) for m in sent]
    assert count(net.county.app, InboxMessage) == len(sent)


def _waiting(app) -> int:
    """How many sessions of this database wait for a lock now (PostgreSQL)."""
    from sqlalchemy import text
    with app.app_context():
        try:
            return db.session.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                           "AND datname = current_database()")).scalar()
        finally:
            db.session.remove()


def test_two_deliveries_of_one_result_at_once_apply_it_once(net, db_url):
    """Two workers of the sender send the same message (one retrying while the first still waits) while a
    step of the origin case holds its instance: the first waits for the instance, the second for the
    first's row in inbox_messages; the step commits; the result is applied once, the other attempt is
    answered with the first answer (duplicate)."""
    import threading
    import time

    from app.services.federation.transport import send
    from app.services.messaging.outbox import Outgoing

    case, here = forwarded(net)
    assert deliver(net.city.app)["dead"] == 0
    net.yapi.complete_first("sw", {"decision": "approve"}, element="accept")
    net.yapi.complete_first("sw", {"decision": "approve"}, element="decide")
    with net.city.app.app_context():   # everything but the result delivered; the result as claimed
        for m in db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "progress")).scalars():
            m.status = "delivered"
        m = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "result")).scalar_one()
        out = Outgoing(m.id, m.message_id, m.channel, m.peer, m.seq, m.kind, dict(m.payload), 1, m.created_at)
        db.session.commit()
        db.session.remove()
    answers: list = []

    def attempt():
        with net.city.app.app_context():
            try:
                answers.append(send(out))
            except Exception as exc:   # reported below
                answers.append(repr(exc))
            finally:
                db.session.remove()

    app = net.county.app
    with app.app_context():
        inst_id = db.session.get(Case, case["id"]).instance_id
        lock_one(ProcessInstance, ProcessInstance.id == inst_id)   # a step of the origin case
        record_event(db.session.get(Case, case["id"]), "system", "urge", opinion="流程定时催办")
        db.session.flush()
        threads = [threading.Thread(target=attempt) for _ in range(2)]
        for t in threads:
            t.start()
            if db_url.startswith("postgresql"):
                deadline = time.monotonic() + 20
                while _waiting(app) < len([x for x in threads if x.is_alive() or x is t]) and t.is_alive():
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
            else:
                time.sleep(0.3)
        db.session.commit()
    for t in threads:
        t.join(60)
    assert len(answers) == 2 and all(isinstance(a, dict) for a in answers), answers
    assert sorted(a["duplicate"] for a in answers) == [False, True], answers
    assert answers[0]["answer"] == answers[1]["answer"] == {"ok": True}
    assert count(app, InboxMessage, InboxMessage.message_id == out.message_id) == 1
    assert count(app, CaseEvent, CaseEvent.case_id == case["id"], CaseEvent.action == "message") == 1
    origin = rows(app, Case, Case.id == case["id"])[0]
    assert origin.status == "approved"
    with app.app_context():
        found = verify(case["id"], files=False)
        assert [p for p in found["problems"] if p["kind"] != "file"] == [], found["problems"]
        db.session.remove()


@pytest.mark.parametrize("written_first", [True, False])
def test_a_withdrawal_from_below_waits_for_a_step_of_the_upper_case(net, written_first):
    """The applicant withdraws at the county while a step of the city's case is under way: the city's
    ``withdraw`` takes the case's locks in a step's order, waits, then ends the case after the step."""
    case, here = forwarded(net)
    assert deliver(net.city.app)["dead"] == 0
    r = net.capi.post("alice", f"/api/cases/{case['id']}/withdraw", json={"reason": "撤回"})
    assert r.status_code == 200, r.json
    app = net.city.app

    def lock():
        lock_one(ProcessInstance, ProcessInstance.id == db.session.get(Case, here.id).instance_id)

    def write():
        record_event(db.session.get(Case, here.id), "system", "urge", opinion="流程定时催办")
        db.session.flush()

    op = lambda: deliver(net.county.app)  # noqa: E731
    if written_first:
        answer, step_error = behind_a_step(app, lambda: (lock(), write()), op, lambda: None, settle=0.3)
    else:
        answer, step_error = behind_a_step(app, lock, op, write, settle=0.3)
    assert step_error is None, step_error
    assert "error" not in answer, answer
    sent = rows(net.county.app, OutboxMessage, OutboxMessage.peer == CITY)
    assert [m.status for m in sent] == ["delivered"] * len(sent), [(m.kind, m.status, m.last_error) for m in sent]
    here = rows(app, Case, Case.id == here.id)[0]
    assert here.status == "withdrawn"
    with app.app_context():
        assert db.session.get(ProcessInstance, here.instance_id).status == "cancelled"
        found = verify(here.id, files=False)
        assert found["ok"], found["problems"]
        db.session.remove()
    assert count(app, CaseEvent, CaseEvent.case_id == here.id, CaseEvent.action == "urge") == 1


def test_a_result_for_a_suspended_origin_case_is_sent_again_after_the_resume(net):
    """An administrator suspends (挂起) the origin case while it waits for the upper level's result, and
    the result arrives meanwhile. The case waits for it again once resumed, so the message is not refused
    for good (a 409 is the sender's dead letter, and the resumed case would wait for ever): the receiver
    answers 503 not_ready, the sender tries again, and after the resume the result is applied once."""
    from app.services.messaging import outbox

    case, here = forwarded(net)
    net.capi.user("boss", groups=["admin"], region_code=COUNTY)
    assert deliver(net.city.app)["dead"] == 0
    r = net.capi.post("boss", f"/api/cases/{case['id']}/suspend", json={"reason": "挂起核查"})
    assert r.status_code == 200, r.json
    net.yapi.complete_first("sw", {"decision": "approve"}, element="accept")
    net.yapi.complete_first("sw", {"decision": "approve"}, element="decide")
    deliver(net.city.app)
    (result,) = rows(net.city.app, OutboxMessage, OutboxMessage.kind == "result")
    assert result.status == "pending" and result.last_error.startswith("[not_ready]"), \
        (result.status, result.last_error)
    # a wait is not a failure: a suspension longer than the channel's retries does not make it a dead letter
    assert result.failures == 0
    for _ in range(22):   # more than the channel's max_attempts (20)
        with net.city.app.app_context():
            outbox.send_now(result.message_id)
        deliver(net.city.app)
    (result,) = rows(net.city.app, OutboxMessage, OutboxMessage.kind == "result")
    assert result.status == "pending" and result.failures == 0 and result.attempts >= 23
    with net.city.app.app_context():
        from app.services.common.clock import clock_now
        wait = (result.next_attempt_at - clock_now()).total_seconds()
    assert 3500 < wait <= 3600, wait   # the channel's longest backoff, not its first
    assert count(net.county.app, CaseEvent, CaseEvent.case_id == case["id"], CaseEvent.action == "message") == 0

    r = net.capi.post("boss", f"/api/cases/{case['id']}/resume", json={"reason": "核查完毕"})
    assert r.status_code == 200, r.json
    with net.city.app.app_context():
        outbox.send_now(result.message_id)
    deliver(net.city.app)
    assert rows(net.city.app, OutboxMessage, OutboxMessage.kind == "result")[0].status == "delivered"
    origin = rows(net.county.app, Case, Case.id == case["id"])[0]
    assert origin.status == "approved"
    assert count(net.county.app, CaseEvent, CaseEvent.case_id == case["id"], CaseEvent.action == "message") == 1


def test_a_forward_whose_new_applicant_another_forward_creates_meanwhile_takes_that_account(net):
    """Two forwards of the same applicant arrive at once (two origin platforms, or two sender workers):
    the applicant has no account at the city yet, so both create it. The second's INSERT waits for the
    first's (UNIQUE mobile, certificate) and then finds it taken: it takes the account the first created
    instead of failing (a 500, the message sent again). Staged: a transaction creating the account holds
    it while the forward arrives, then commits."""
    from app.models.accounts import ApplicantProfile
    from app.models import User
    from app.services.common.clock import clock_now
    from tests.services.federation.test_forwarding import ID_NUMBER, MOBILE, county_case

    case = county_case(net)
    net.capi.complete_first("kw", {"decision": "approve"}, element="accept")
    made = {}

    def hold():   # the other forward's transaction: the applicant's account, not committed yet
        ts = clock_now()
        user = User(username="ap-other", display_name="王小丽", kind="applicant", groups=[], phone=MOBILE,
                    created_at=ts, region_code="320500")
        db.session.add(user)
        db.session.flush()
        db.session.add(ApplicantProfile(user_id=user.id, kind="individual", name="王小丽", id_number=ID_NUMBER,
                                        mobile=MOBILE, created_at=ts, updated_at=ts))
        db.session.flush()
        made["user_id"] = user.id

    answer, step_error = behind_a_step(net.city.app, hold, lambda: deliver(net.county.app), lambda: None, settle=0.3)
    assert step_error is None and "error" not in answer, (step_error, answer)
    (fwd,) = rows(net.county.app, OutboxMessage, OutboxMessage.kind == "forward")
    assert (fwd.status, fwd.failures) == ("delivered", 0), (fwd.status, fwd.last_error)
    (here,) = rows(net.city.app, Case)
    assert here.applicant_id == made["user_id"] and here.origin_case_no == case["case_no"]
    assert count(net.city.app, ApplicantProfile) == 1


@pytest.fixture
def net_middle(tmp_path, monkeypatch, request, db_url):
    """The harness with a city that forwards further up: it runs the county's t_forward too (a case
    forwarded in is forwarded to the province and waits for its result), and has the province as its
    peer above (not served: its messages wait; its key is the test's, to sign the province's result)."""
    from tests.services.federation import test_forwarding as harness
    root = tmp_path / "processes"
    shutil.copytree(harness.PROCESSES, root)
    for name in ("t_forward.bpmn", "t_forward.matter.json"):
        shutil.copy(root / "county" / name, root / "city" / name)
    monkeypatch.setattr(harness, "PROCESSES", root)
    net = request.getfixturevalue("net")
    from app.services.federation import peers as peer_svc
    from app.services.federation.protocol import new_seed, private_key_from_seed, public_key_text
    net.province_key = private_key_from_seed(new_seed())
    with net.city.app.app_context():
        peer_svc.add_peer(peer_svc.PeerIn("320000", "江苏省发展和改革委员会", "province", "http://127.0.0.1:9",
                                          public_key_text(net.province_key.public_key())))
    return net


def test_a_result_from_above_takes_the_links_in_a_steps_order(net_middle):
    """At a city between a county and the province: the province's result for a case the county forwarded
    steps the case to its decision, which reports to the province and tells the county, each through the
    outbox (which locks the link's row: its sequence numbers). A step of the city's other cases takes those
    links up first, then down (its report to the province, then its progress to the county). The result
    took them the other way round (its level's line down to the county first): beside such a step each
    waited for the other and PostgreSQL ended one. It now steps the case, then tells the line."""
    import uuid

    import requests

    from app.models.exchange import OutboxLink
    from app.services.common.clock import clock_now
    from app.services.federation.protocol import seal
    from app.services.federation.transport import CHANNEL, PATH

    net = net_middle
    case, here = forwarded(net)
    net.yapi.complete_first("sw", {"decision": "approve"}, element="accept")   # forwarded on to the province
    assert count(net.city.app, OutboxMessage, OutboxMessage.kind == "forward", OutboxMessage.peer == "320000") == 1
    with net.city.app.app_context():
        envelope = seal(net.province_key, message_id=str(uuid.uuid4()), sender="320000", recipient=CITY, seq=1,
                        ts=clock_now(), kind="result",
                        body={"origin_case_no": here.case_no, "case_no": "320000-20260302-000001",
                              "decision": "approved", "doc_no": "苏发改投资〔2026〕1号"})
        db.session.remove()

    def link(peer):   # a step of another case of the city: its report up, then its progress down
        return lambda: lock_one(OutboxLink, OutboxLink.channel == CHANNEL, OutboxLink.peer == peer)

    def post():
        r = requests.post(net.city.url + PATH, json=envelope, timeout=30)
        return {"status": r.status_code, "body": r.json()}

    answer, step_error = behind_a_step(net.city.app, link("320000"), post, link(COUNTY), settle=0.3)
    assert step_error is None, step_error
    assert answer.get("status") == 200, answer
    here = rows(net.city.app, Case, Case.id == here.id)[0]
    assert here.status == "approved"
    down = rows(net.city.app, OutboxMessage, OutboxMessage.peer == COUNTY, OutboxMessage.status == "pending")
    order = ["line " + m.payload["line"]["key"] if "line" in m.payload else m.kind for m in down]
    # the province's step reaches the county before the city's own result (the applicant reads it first)
    assert order.index("line result:320000:approved") < order.index("result"), order
