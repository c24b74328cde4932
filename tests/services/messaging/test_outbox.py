"""The transactional outbox and the inbox: written with the step or not at all, retried with backoff,
dead after the last attempt or a refusal, sent again by hand, in order per order key, and applied once
by the receiver whatever the retries — over real HTTP with a peer that loses its answers."""
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import requests
from flask import Flask, jsonify, request
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.extensions import db
from app.models import Notification
from app.models.exchange import InboxMessage, InboxRefusal, OutboxMessage
from app.services.messaging import inbox, outbox
from app.services.messaging.outbox import Channel, Refused, Retry, Wait
from tests.conftest import make_app


class Peer:
    """What the test's channel does on each send: a list of outcomes to play, then success."""

    def __init__(self):
        self.plan: list = []
        self.sent: list[tuple[str, int]] = []

    def send(self, out):
        self.sent.append((out.message_id, out.attempt))
        if self.plan:
            outcome = self.plan.pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
        return {"ok": True, "seq": out.seq}


@pytest.fixture
def peer():
    p = Peer()
    outbox.register_channel(Channel("t", p.send, max_attempts=3, base_seconds=10, max_backoff_seconds=25))
    yield p
    outbox._CHANNELS.pop("t", None)


@pytest.fixture
def app(db_url):
    a = make_app(db_url)
    yield a
    with a.app_context():
        db.session.remove()
        db.engine.dispose()


def put(app, n=1, **kw):
    with app.app_context():
        ids = [outbox.enqueue("t", kw.get("peer", "p1"), "note", {"i": i}, order_key=kw.get("order_key", ""),
                              key=kw.get("key")) for i in range(n)]
        db.session.commit()
        return [m.message_id if m else None for m in ids]


def rows(app):
    with app.app_context():
        return {m.message_id: (m.status, m.attempts, m.seq) for m in db.session.execute(
            select(OutboxMessage).order_by(OutboxMessage.id)).scalars()}


def test_a_message_is_written_with_its_transaction_or_not_at_all(app, peer):
    with app.app_context():
        outbox.enqueue("t", "p1", "note", {"x": 1})
        db.session.rollback()
        assert db.session.execute(select(func.count()).select_from(OutboxMessage)).scalar() == 0
    a, b = put(app, 2)
    (c,) = put(app, 1, peer="p2")
    assert rows(app) == {a: ("pending", 0, 1), b: ("pending", 0, 2), c: ("pending", 0, 1)}  # seq per link


def test_a_key_writes_once_and_an_unknown_channel_is_refused(app, peer):
    assert put(app, 1, key="result:1")[0] is not None
    assert put(app, 1, key="result:1") == [None]
    with app.app_context():
        with pytest.raises(ValueError):
            outbox.enqueue("nope", "p1", "note", {})
        with pytest.raises(ValueError):
            outbox.enqueue("t", "", "note", {})
    assert len(rows(app)) == 1


def test_retries_back_off_then_the_message_is_dead_and_can_be_sent_again_under_its_id(app, peer):
    (mid,) = put(app)
    peer.plan = [Retry("down"), ConnectionError("reset"), Retry("busy")]
    with app.app_context():
        clock = app.extensions["clock"]
        assert outbox.deliver_due()["retry"] == 1
        m = db.session.execute(select(OutboxMessage)).scalar_one()
        assert m.next_attempt_at == clock() + timedelta(seconds=10) and m.last_error == "[error] down"
        assert outbox.deliver_due()["claimed"] == 0  # not before its time
        clock.advance(seconds=10)
        assert outbox.deliver_due()["retry"] == 1
        db.session.expire_all()
        assert db.session.execute(select(OutboxMessage.next_attempt_at)).scalar() == clock() + timedelta(seconds=20)
        clock.advance(seconds=20)
        assert outbox.deliver_due() == {"claimed": 1, "delivered": 0, "retry": 0, "dead": 1, "lost": 0}
        clock.advance(days=1)
        assert outbox.deliver_due()["claimed"] == 0
        outbox.resend(mid)
        with pytest.raises(ValueError):  # pending again: only a dead message is sent again
            outbox.resend(mid)
        assert outbox.deliver_due()["delivered"] == 1
    assert [m for m, _ in peer.sent] == [mid] * 4
    assert rows(app)[mid][0] == "delivered"


def test_a_peer_that_asks_to_wait_is_tried_at_the_longest_backoff_for_as_long_as_it_asks(app, peer):
    """``Wait`` (the peer's case is suspended: 503 not_ready) counts no failure: more waits than the
    channel's ``max_attempts`` leave the message pending, each next attempt at the longest backoff.
    An operator's send_again makes it due at once; delivered, it cannot be sent again."""
    (mid,) = put(app)
    peer.plan = [Wait("case suspended", "not_ready")] * 5
    with app.app_context():
        clock = app.extensions["clock"]
        for _ in range(4):
            assert outbox.deliver_due()["retry"] == 1
            m = db.session.execute(select(OutboxMessage)).scalar_one()
            assert (m.status, m.failures) == ("pending", 0)
            assert m.next_attempt_at == clock() + timedelta(seconds=25) and m.last_error == "[not_ready] case suspended"
            db.session.rollback()
            clock.advance(seconds=25)
        assert outbox.deliver_due()["retry"] == 1
        assert outbox.deliver_due()["claimed"] == 0
        outbox.send_again(mid)   # the case there was resumed
        assert outbox.deliver_due()["delivered"] == 1
        with pytest.raises(ValueError):
            outbox.send_again(mid)
        with pytest.raises(LookupError):
            outbox.send_again("no-such-id")
    assert [m for m, _ in peer.sent] == [mid] * 6


def test_a_refusal_kills_the_message_at_once(app, peer):
    (mid,) = put(app)
    peer.plan = [Refused("bad signature", "bad_signature")]
    with app.app_context():
        assert outbox.deliver_due()["dead"] == 1
        m = db.session.execute(select(OutboxMessage)).scalar_one()
        assert (m.status, m.attempts, m.last_error) == ("dead", 1, "[bad_signature] bad signature")
        stats = outbox.link_stats("t")
        assert stats[0]["dead"] == 1 and stats[0]["waiting"] == 0 and "bad signature" in stats[0]["last_error"]
        with pytest.raises(LookupError):
            outbox.resend("no-such-id")


def test_one_order_key_leaves_in_order_and_others_are_not_held_up(app, peer):
    a, b = put(app, 2, order_key="case-1")
    (c,) = put(app, 1, order_key="case-2")
    peer.plan = [Refused("no")]  # a goes dead
    with app.app_context():
        counts = outbox.deliver_due()
        assert counts["dead"] == 1 and counts["delivered"] == 1  # a dead, c delivered, b held behind a
    assert rows(app)[b][0] == "pending" and rows(app)[c][0] == "delivered"
    with app.app_context():
        outbox.resend(a)
        assert outbox.deliver_due()["delivered"] == 2
    assert [m for m, _ in peer.sent] == [a, c, a, b]


def test_a_claim_whose_sender_died_is_taken_again_after_its_lease(app, peer):
    (mid,) = put(app)
    with app.app_context():
        assert outbox._claim(None).message_id == mid  # claimed; the sender dies here
        assert outbox.deliver_due()["claimed"] == 0
        app.extensions["clock"].advance(seconds=121)
        assert outbox.deliver_due()["delivered"] == 1
    assert rows(app)[mid] == ("delivered", 2, 1)


# -- the inbox --------------------------------------------------------------------------------------

def effects(app):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Notification)
                                  .where(Notification.template == "effect")).scalar()


def effect(answer):
    def apply():
        db.session.add(Notification(key=str(uuid.uuid4()), channel="internal", recipient="x", template="effect",
                                    text="t"))
        return answer, None
    return apply


def test_the_inbox_applies_a_message_once_and_answers_a_repeat_with_the_first_answer(app):
    with app.app_context():
        mid = str(uuid.uuid4())
        assert inbox.receive("t", "p1", mid, 1, "note", effect({"n": 1})) == ({"n": 1}, False)
        assert inbox.receive("t", "p1", mid, 1, "note", effect({"n": 2})) == ({"n": 1}, True)
        assert inbox.receive("t", "p2", mid, 1, "note", effect({"n": 3})) == ({"n": 3}, False)  # another link
    assert effects(app) == 2


def test_a_sequence_number_reused_by_another_message_is_a_replay_and_stores_nothing(app):
    with app.app_context():
        inbox.receive("t", "p1", str(uuid.uuid4()), 7, "note", effect({}))
        with pytest.raises(inbox.Refusal) as err:
            inbox.receive("t", "p1", str(uuid.uuid4()), 7, "note", effect({}), remote_addr="10.0.0.9")
        assert err.value.code == "replay" and err.value.status == 409
        refusal = db.session.execute(select(InboxRefusal)).scalar_one()
        assert (refusal.code, refusal.peer, refusal.remote_addr) == ("replay", "p1", "10.0.0.9")
        assert db.session.execute(select(func.count()).select_from(InboxMessage)).scalar() == 1
    assert effects(app) == 1


def test_a_refusal_from_the_effect_rolls_everything_back(app):
    def bad():
        effect({})()
        raise inbox.Refusal("unknown_matter", "事项编码 X 在本平台不存在", 422)
    with app.app_context():
        with pytest.raises(inbox.Refusal):
            inbox.receive("t", "p1", str(uuid.uuid4()), 1, "forward", bad)
        assert db.session.execute(select(func.count()).select_from(InboxMessage)).scalar() == 0
        assert [r.code for r in inbox.refusals("t")] == ["unknown_matter"]
    assert effects(app) == 0


# -- over real HTTP: a peer that loses its answers, two senders -------------------------------------

class LossyPeer:
    """A receiving platform on a loopback port: it applies each message through the inbox, then for
    the first ``lose`` requests drops the answer (the sender sees a 502 and retries)."""

    def __init__(self, db_url, lose: int):
        self.app = make_app(db_url)
        self.lose, self.lock, self.seen = lose, threading.Lock(), Counter()
        web = Flask("peer")

        @web.post("/in")
        def receive():
            body = request.get_json()
            with self.app.app_context():
                answer, duplicate = inbox.receive("t", body["from"], body["id"], body["seq"], "note", effect({"ok": 1}))
            with self.lock:
                self.seen[body["id"]] += 1
                lost = self.lose > 0
                self.lose -= lost
            return (jsonify(error="answer lost"), 502) if lost else jsonify(answer=answer, duplicate=duplicate)

        self.server = make_server("127.0.0.1", 0, web, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/in"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_every_message_takes_effect_once_over_http_with_lost_answers_and_two_senders(db_url):
    receiver = LossyPeer(db_url, lose=15)

    def send(out):
        r = requests.post(receiver.url, json={"id": out.message_id, "from": "320500", "seq": out.seq}, timeout=5)
        if r.status_code >= 500:
            raise Retry(f"HTTP {r.status_code}")
        return r.json()

    outbox.register_channel(Channel("t", send, max_attempts=20, base_seconds=0.001, max_backoff_seconds=0.001))
    wall = lambda: datetime.now(timezone.utc)  # noqa: E731  (one clock for both senders, as two processes have)
    senders = [make_app(db_url, CLOCK=wall) for _ in range(2)]
    try:
        with senders[0].app_context():
            ids = [outbox.enqueue("t", "320000", "note", {"i": i}).message_id for i in range(40)]
            db.session.commit()

        def run(app):
            deadline = time.monotonic() + 45
            with app.app_context():
                while time.monotonic() < deadline:
                    if outbox.deliver_due(limit=10)["claimed"] == 0:
                        waiting = _waiting()
                        db.session.rollback()  # on SQLite a transaction holds the write lock
                        if not waiting:
                            return
                        time.sleep(0.02)

        threads = [threading.Thread(target=run, args=(a,)) for a in senders]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with senders[0].app_context():
            statuses = Counter(db.session.execute(select(OutboxMessage.status)).scalars())
            applied = db.session.execute(select(func.count()).select_from(InboxMessage)).scalar()
        assert statuses == {"delivered": 40}
        assert applied == 40 and effects(receiver.app) == 40
        assert sum(receiver.seen.values()) >= 40 + 15 and set(receiver.seen) == set(ids)
    finally:
        outbox._CHANNELS.pop("t", None)
        receiver.close()
        for a in senders:
            with a.app_context():
                db.session.remove()
                db.engine.dispose()


def _waiting() -> bool:
    return db.session.execute(select(OutboxMessage.id).where(OutboxMessage.status.in_(outbox.WAITING))).first() is not None


def test_messages_without_an_order_key_are_not_held_up_by_a_dead_one(app, peer):
    a, b = put(app, 2)  # no order key: no order to keep
    peer.plan = [Refused("no")]
    with app.app_context():
        counts = outbox.deliver_due()
    assert counts["dead"] == 1 and counts["delivered"] == 1
    assert rows(app)[a][0] == "dead" and rows(app)[b][0] == "delivered"
