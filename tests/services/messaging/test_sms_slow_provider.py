"""A slow SMS provider and two senders at once: every SMS goes out exactly once (counted at the
Twilio stand-in).

The two senders are two threads, each with its own app (its own engine, connection pool and
session), against one database — as two scheduler processes. Their app clock runs ``SPEED`` times
faster than the wall clock, so a claim's lease (3 x TWILIO_TIMEOUT_SECONDS + 60 s = 90 s of app
time) passes in 4.5 s of wall time: a batch that outlives its lease shows in seconds, not minutes,
while one send (1 s of wall time = 20 s of app time) stays well inside it, as in reality."""
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Notification
from app.services.messaging.notify import notify_phone
from app.services.messaging.sms import deliver_pending, lease_seconds
from tests.conftest import make_app
from tests.fakes import twilio_standin  # noqa: F401  (fixture)

SPEED = 20


class FastClock:
    """The app clock, running ``speed`` times faster than the wall clock from the moment it is made."""

    def __init__(self, speed: float):
        self.speed = speed
        self.start = datetime.now(timezone.utc)
        self.wall = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.wall) * self.speed)


@pytest.fixture
def senders(db_url, twilio_standin):
    """Two apps on the same database and the same (fast) clock, pointed at the stand-in."""
    clock = FastClock(SPEED)
    apps = [make_app(db_url, CLOCK=clock, **twilio_standin.config(TWILIO_TIMEOUT_SECONDS=10)) for _ in range(2)]
    yield apps
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def queue(app, n: int) -> list[str]:
    with app.app_context():
        phones = [f"+861390000{i:04d}" for i in range(n)]
        for i, phone in enumerate(phones):
            notify_phone(phone, "accepted", f"slow{i}", promised_due="2026年3月30日")
        db.session.commit()
    return phones


def open_rows(app) -> int:
    with app.app_context():
        count = db.session.execute(select(func.count()).select_from(Notification).where(
            Notification.channel == "sms", Notification.status.in_(("pending", "sending")))).scalar()
        db.session.rollback()
        return count


def run_sender(app, results: list, errors: list, deadline: float) -> None:
    """A sender's loop (the scheduler's SMS job, back to back) until the outbox is done."""
    try:
        with app.app_context():
            while time.monotonic() < deadline:
                counts = deliver_pending()
                results.append(counts)
                if not counts["claimed"]:
                    if open_rows(app) == 0:
                        return
                    time.sleep(0.2)
    except Exception as exc:  # pragma: no cover - reported by the test
        errors.append(exc)


def test_a_slow_provider_and_two_senders_send_each_sms_exactly_once(senders, twilio_standin):
    with senders[0].app_context():
        assert lease_seconds() / SPEED < 5  # the lease passes within the run (see the module's docstring)
    twilio_standin.latency = 1.0  # seconds per message
    phones = queue(senders[0], 16)
    results, errors = [[], []], []
    deadline = time.monotonic() + 120
    threads = [threading.Thread(target=run_sender, args=(app, results[i], errors, deadline))
               for i, app in enumerate(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert not errors, errors

    per_phone = Counter(m["to"] for m in twilio_standin.sent)
    assert per_phone == Counter(phones), {p: c for p, c in per_phone.items() if c != 1}
    with senders[0].app_context():
        rows = db.session.execute(select(Notification)).scalars().all()
        assert {(n.status, n.attempts) for n in rows} == {("sent", 1)}
        assert {n.provider_sid for n in rows} == {m["sid"] for m in twilio_standin.sent}
    assert all(sum(c["sent"] for c in r) > 0 for r in results)  # both senders took part


def test_a_send_that_outlives_its_lease_does_not_overwrite_the_sender_that_took_over(db_url, twilio_standin):
    """Should a send ever outlast the lease, the row belongs to the sender that took it again: the
    late one finds its claim gone and records nothing."""
    clock = FastClock(60)  # the lease (90 s) passes in 1.5 s of wall time
    apps = [make_app(db_url, CLOCK=clock, **twilio_standin.config(TWILIO_TIMEOUT_SECONDS=10)) for _ in range(2)]
    queue(apps[0], 1)
    twilio_standin.delay_next(2.5)  # the first send hangs past the lease; the second is quick
    first = []
    late = threading.Thread(target=lambda: first.append(_deliver(apps[0])))
    late.start()
    time.sleep(1.8)
    second = _deliver(apps[1])
    late.join(30)
    assert second["sent"] == 1 and first[0]["lost"] == 1 and first[0]["sent"] == 0
    hung, quick = twilio_standin.requests  # in the order they arrived; both went out (a lease shorter
    assert hung["status"] == quick["status"] == 201  # than a send is what the lease length rules out)
    with apps[0].app_context():
        row = db.session.execute(select(Notification)).scalar_one()
        assert row.status == "sent" and row.attempts == 2 and row.provider_sid == quick["message"]["sid"]
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _deliver(app) -> dict:
    with app.app_context():
        return deliver_pending()
