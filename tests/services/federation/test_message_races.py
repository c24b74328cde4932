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

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseEvent, ProcessInstance
from app.models.exchange import InboxMessage, OutboxMessage
from app.services.cases.steps import record_event
from app.services.common.db_support import lock_one
from app.services.trail.verify import verify
from tests.services.cases.lock_race import behind_a_step
from tests.services.federation.test_forwarding import COUNTY, count, deliver, net, rows  # noqa: F401
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
    import threading
    import time

    import psycopg

    from app.services.messaging import outbox
    from tests.services.cases.lock_race import waiting_for_lock

    case, here = forwarded(net)
    with net.county.app.app_context():
        inst_id = db.session.get(Case, case["id"]).instance_id
        db.session.remove()
    answer: dict = {}

    def run():
        try:
            answer.update(deliver(net.city.app))
        except Exception as exc:   # reported below
            answer["error"] = repr(exc)

    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as other:
        other.execute("SET deadlock_timeout = '30s'")
        other.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case["id"],))
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 20
        while not waiting_for_lock(net.county.app):   # the message waits for the case
            assert time.monotonic() < deadline and thread.is_alive(), answer
            time.sleep(0.02)
        other.execute("SELECT id FROM process_instances WHERE id = %s FOR UPDATE", (inst_id,))
        other.rollback()
    thread.join(60)
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
