"""Two platforms over real HTTP: a city (320500) sends signed messages through its outbox to the
province (320000), served by a real server on a loopback port. Delivered once, refused with the
reason and nothing applied when forged, stale, from an unknown peer or of an unsupported kind."""
import threading
import uuid

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.extensions import db
from app.models import Notification
from app.models.exchange import InboxMessage, InboxRefusal, OutboxMessage
from app.services.federation import peers as peer_svc
from app.services.federation import transport
from app.services.federation.protocol import new_seed, public_key_text, private_key_from_seed, seal
from app.services.messaging import inbox, outbox
from tests.conftest import make_app

PROVINCE, CITY = "320000", "320500"


class Served:
    """An app on a loopback port, in a thread; stop() and start() again on the same port."""

    def __init__(self, app):
        self.app, self.server = app, None
        self.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0):
        self.server = make_server("127.0.0.1", port or getattr(self, "port", 0), self.app, threaded=True)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def platform(db_url, region, seed, **config):
    return make_app(db_url, REGION_CODE=region, FEDERATION_SIGNING_KEY=seed, AGENCY_NAME=f"{region} 发改委", **config)


@pytest.fixture
def net(db_url):
    seeds = {PROVINCE: new_seed(), CITY: new_seed()}
    province = Served(platform(db_url, PROVINCE, seeds[PROVINCE]))
    city = Served(platform(db_url, CITY, seeds[CITY]))
    key = {r: public_key_text(private_key_from_seed(s).public_key()) for r, s in seeds.items()}
    with province.app.app_context():
        peer_svc.add_peer(peer_svc.PeerIn(CITY, "苏州市发展和改革委员会", "city", city.url, key[CITY]))
    with city.app.app_context():
        peer_svc.add_peer(peer_svc.PeerIn(PROVINCE, "江苏省发展和改革委员会", "province", province.url, key[PROVINCE]))

    inbox.forget_recorded()  # each test sees its first unverified refusal recorded
    shipped = transport.HANDLERS.get("progress")  # the forwarding's handler, put back afterwards

    @transport.handles("progress")
    def progress(env):
        db.session.add(Notification(key=str(uuid.uuid4()), channel="internal", recipient="x", template="effect",
                                    text=env.body.get("status", "")))
        return {"received": env.body.get("case_no")}, None

    class Net:
        pass
    n = Net()
    n.province, n.city, n.seeds, n.key = province, city, seeds, key
    yield n
    transport.HANDLERS.pop("progress", None)
    if shipped is not None:
        transport.HANDLERS["progress"] = shipped
    for s in (province, city):
        s.stop()
        with s.app.app_context():
            db.session.remove()
            db.engine.dispose()


def send(app, kind="progress", **body):
    with app.app_context():
        m = outbox.enqueue("federation", PROVINCE, kind, body or {"case_no": "C1", "status": "accepted"})
        db.session.commit()
        counts = outbox.deliver_due()
        row = db.session.execute(select(OutboxMessage).where(OutboxMessage.id == m.id)).scalar_one()
        return counts, row


def count(app, model, *where):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def effects(app):
    return count(app, Notification, Notification.template == "effect")


def refusals(app):
    with app.app_context():
        return [(r.code, r.peer) for r in db.session.execute(select(InboxRefusal).order_by(InboxRefusal.id)).scalars()]


def test_a_message_is_signed_delivered_and_applied_once_even_when_sent_again(net):
    counts, row = send(net.city.app)
    assert counts["delivered"] == 1 and row.status == "delivered"
    assert row.reply == {"answer": {"received": "C1"}, "duplicate": False}
    assert effects(net.province.app) == 1
    with net.city.app.app_context():  # an operator re-sends it (as after a lost answer): same id
        m = db.session.get(OutboxMessage, row.id)
        m.status = "dead"
        db.session.commit()
        outbox.resend(row.message_id)
        assert outbox.deliver_due()["delivered"] == 1
        assert db.session.get(OutboxMessage, row.id).reply == {"answer": {"received": "C1"}, "duplicate": True}
    assert effects(net.province.app) == 1 and count(net.province.app, InboxMessage) == 1


def test_a_forged_signature_is_refused_recorded_and_changes_nothing(net, db_url):
    forger = platform(db_url, CITY, new_seed())  # claims to be the city, signs with another key
    try:
        counts, row = send(forger)
    finally:
        with forger.app_context():
            db.session.remove()
            db.engine.dispose()
    assert counts["dead"] == 1 and row.last_error.startswith("[bad_signature]")
    assert refusals(net.province.app) == [("bad_signature", CITY)]
    assert effects(net.province.app) == 0 and count(net.province.app, InboxMessage) == 0


def test_an_unknown_or_disabled_peer_is_refused_and_the_sender_tries_again_later(net):
    with net.province.app.app_context():
        peer_svc.set_enabled(CITY, False)
    counts, row = send(net.city.app)  # the province's operators may register or enable us later
    assert counts["retry"] == 1 and row.status == "pending" and "[unknown_peer]" in row.last_error
    assert refusals(net.province.app) == [("unknown_peer", CITY)] and effects(net.province.app) == 0
    with net.province.app.app_context():
        peer_svc.set_enabled(CITY, True)
    with net.city.app.app_context():
        net.city.app.extensions["clock"].advance(seconds=15)
        assert outbox.deliver_due()["delivered"] == 1
    assert effects(net.province.app) == 1


def test_a_peer_disabled_here_keeps_its_messages_without_counting_failures(net):
    with net.city.app.app_context():
        peer_svc.set_enabled(PROVINCE, False)
    clock = net.city.app.extensions["clock"]
    send(net.city.app)
    for _ in range(30):  # more passes than the channel's 20 attempts
        with net.city.app.app_context():
            clock.advance(seconds=16)
            net.province.app.extensions["clock"].advance(seconds=16)  # (the two platforms' clocks agree)
            outbox.deliver_due()
    with net.city.app.app_context():
        m = db.session.execute(select(OutboxMessage)).scalar_one()
        assert (m.status, m.failures) == ("pending", 0) and "[peer_disabled]" in m.last_error
        peer_svc.set_enabled(PROVINCE, True)
        clock.advance(seconds=16)
        net.province.app.extensions["clock"].advance(seconds=16)
        counts = outbox.deliver_due()
        assert counts["delivered"] == 1, (counts, db.session.execute(select(OutboxMessage.last_error)).scalar())
    assert effects(net.province.app) == 1


def test_a_stale_timestamp_is_refused_and_the_sender_signs_again_later(net):
    net.city.app.extensions["clock"].advance(minutes=6)
    counts, row = send(net.city.app)
    assert counts["retry"] == 1 and "[stale]" in row.last_error and effects(net.province.app) == 0
    assert refusals(net.province.app) == [("stale", CITY)]


def test_a_replayed_envelope_changes_nothing_and_a_reused_sequence_number_is_refused(net):
    key = private_key_from_seed(net.seeds[CITY])
    ts = net.city.app.extensions["clock"]()
    env = seal(key, message_id=str(uuid.uuid4()), sender=CITY, recipient=PROVINCE, seq=41, ts=ts, kind="progress",
               body={"case_no": "C9", "status": "accepted"})
    url = net.province.url + transport.PATH
    first, again = requests.post(url, json=env, timeout=5), requests.post(url, json=env, timeout=5)
    assert (first.status_code, first.json()["duplicate"]) == (200, False)
    assert (again.status_code, again.json()) == (200, {"answer": {"received": "C9"}, "duplicate": True})
    other = seal(key, message_id=str(uuid.uuid4()), sender=CITY, recipient=PROVINCE, seq=41, ts=ts, kind="progress",
                 body={"case_no": "C9", "status": "approved"})
    r = requests.post(url, json=other, timeout=5)
    assert r.status_code == 409 and r.json()["error"] == "replay"
    assert effects(net.province.app) == 1


def test_a_peer_that_is_down_gets_the_message_when_it_comes_back(net):
    net.province.stop()
    counts, row = send(net.city.app)
    assert counts["retry"] == 1 and row.status == "pending" and "[network]" in row.last_error
    net.province.start()
    with net.city.app.app_context():
        net.city.app.extensions["clock"].advance(seconds=15)
        assert outbox.deliver_due()["delivered"] == 1
    assert effects(net.province.app) == 1


def test_a_kind_the_receiver_does_not_handle_is_a_dead_letter_with_the_reason(net):
    shipped = transport.HANDLERS.pop("recall")  # a receiver (another vendor's) that takes no recalls
    try:
        counts, row = send(net.city.app, kind="recall", case_no="C1")
    finally:
        transport.HANDLERS["recall"] = shipped
    assert counts["dead"] == 1 and "[unsupported_kind]" in row.last_error
    assert refusals(net.province.app) == [("unsupported_kind", CITY)]


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"v": 1}', b"null"])
def test_junk_is_a_clear_422_and_no_500(net, body):
    r = requests.post(net.province.url + transport.PATH, data=body, headers={"Content-Type": "application/json"},
                      timeout=5)
    assert r.status_code == 422 and r.json()["error"] == "bad_envelope", r.text


def test_ping_checks_both_keys_and_whoami_tells_a_peer_what_to_register(net):
    with net.city.app.app_context():
        result = transport.ping(PROVINCE)
        assert result["ok"] and result["answer"]["level"] == "province", result
        peer_svc.update_peer(peer_svc.PeerIn(PROVINCE, "江苏省发展和改革委员会", "province", net.province.url,
                                             net.key[CITY]))  # the wrong key registered for the province
        bad = transport.ping(PROVINCE)
        assert not bad["ok"] and bad["error"].startswith("[bad_signature]")
        assert db.session.get(peer_svc.FederationPeer, PROVINCE).last_ping_error == bad["error"]
    who = requests.get(net.province.url + "/api/federation/whoami", timeout=5).json()
    assert who == {"region": PROVINCE, "level": "province", "name": "320000 发改委", "base_url": None,
                   "public_key": net.key[PROVINCE]}


def test_a_peer_with_bad_settings_is_refused_field_by_field(net):
    with net.city.app.app_context():
        with pytest.raises(peer_svc.PeerError) as err:
            peer_svc.add_peer(peer_svc.PeerIn("32050", "", "town", "ftp://x?y=1", "ed25519:AAAA"))
        assert set(err.value.errors) == {"region", "name", "level", "base_url", "public_key"}
        with pytest.raises(peer_svc.PeerError) as err:
            peer_svc.add_peer(peer_svc.PeerIn(CITY, "自己", "city", "http://x", net.key[CITY]))
        assert "自己" in err.value.errors["region"]
        with pytest.raises(peer_svc.PeerError):
            peer_svc.add_peer(peer_svc.PeerIn(PROVINCE, "again", "province", "http://x", net.key[PROVINCE]))


def test_the_scheduler_delivers_the_outbox_without_any_other_command(net):
    from app.jobs.scheduler import run
    with net.city.app.app_context():
        mid = outbox.enqueue("federation", PROVINCE, "progress", {"case_no": "C7", "status": "accepted"}).message_id
        db.session.commit()
    net.city.app.config.update(OUTBOX_SEND_SECONDS=0.2, SCHEDULER_HEARTBEAT_SECONDS=1)
    run(net.city.app, max_seconds=2)
    with net.city.app.app_context():
        assert db.session.execute(select(OutboxMessage.status).where(OutboxMessage.message_id == mid)).scalar() \
            == "delivered"
    assert effects(net.province.app) == 1


class Impostor:
    """A server at the peer's registered URL that answers 200 with something else, or redirects."""

    def __init__(self, status, body=b"{}", headers=None):
        from werkzeug.wrappers import Response
        self.hits = []

        def app(environ, start_response):
            self.hits.append(environ["PATH_INFO"])
            return Response(body, status=status, headers=headers or {}, content_type="application/json")(
                environ, start_response)
        self.served = Served(app)


@pytest.mark.parametrize("status, body, headers", [
    (200, b'{"internal": "secret"}', None),
    (307, b"", {"Location": "http://127.0.0.1:9/elsewhere"}),
    (302, b"", {"Location": "/api/federation/messages"}),
])
def test_a_redirect_is_never_followed_and_a_200_of_another_shape_is_not_a_delivery(net, status, body, headers):
    impostor = Impostor(status, body, headers)
    try:
        with net.city.app.app_context():
            peer_svc.update_peer(peer_svc.PeerIn(PROVINCE, "江苏省发展和改革委员会", "province", impostor.served.url,
                                                 net.key[PROVINCE]))
        counts, row = send(net.city.app)
        assert counts["retry"] == 1 and row.status == "pending", row.last_error
        assert impostor.hits == ["/api/federation/messages"]  # one request, nothing followed
    finally:
        impostor.served.stop()


def test_a_peer_that_answers_too_slowly_or_too_much_does_not_hold_the_sender(net):
    import time as _time

    def drip(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])

        def body():
            for _ in range(100):
                _time.sleep(0.2)
                yield b" " * 8
        return body()
    slow = Served(drip)
    try:
        with net.city.app.app_context():
            peer_svc.update_peer(peer_svc.PeerIn(PROVINCE, "江苏省发展和改革委员会", "province", slow.url,
                                                 net.key[PROVINCE]))
        net.city.app.config["FEDERATION_TIMEOUT_SECONDS"] = 0.5
        started = _time.monotonic()
        counts, row = send(net.city.app)
        assert counts["retry"] == 1 and _time.monotonic() - started < 5, row.last_error
    finally:
        slow.stop()
