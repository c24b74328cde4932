"""Sign-in under attack (issue 12, visitors): the lockout holds under parallel attempts (real threads,
each with its own database connection), an unknown user, a wrong password and a locked account get
one answer, failed attempts per IP address are limited on every sign-in path while successful ones
use up nothing, and a refunded rate-limit hit is really gone."""
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.domain import totp
from app.domain.errors import NotAuthenticated, RateLimited
from app.extensions import db
from app.models import User
from app.services.common.clock import FakeClock
from app.services.identity import org, rate_limit
from app.services.identity.actors import SYSTEM
from app.services.identity.auth import (BAD_CREDENTIALS, MAX_FAILURES, SIGN_IN_IP_LIMIT, BadCredentials,
                                        SecondFactorRequired, authenticate, verify_second_factor)
from tests.conftest import make_app

PASSWORD = "correct horse battery"
PARALLEL = 40


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.fixture
def app(db_url, clock):
    app = make_app(db_url, CLOCK=clock, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10, "max_overflow": 35})
    with app.app_context():
        org.seed_reference_data()
        org.create_user(SYSTEM, "target", "被攻击的账户", "320000", PASSWORD)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def user_row(app, name="target") -> User:
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == name)).scalar_one()
        db.session.expunge(user)
        return user


def attempt(app, username, password, ip=None):
    """One sign-in in its own app context (its own session and connection): 'ok' or the error."""
    with app.app_context():
        try:
            authenticate(username, password, ip)
            return "ok"
        except (NotAuthenticated, RateLimited) as exc:
            return exc
        finally:
            db.session.remove()


def test_the_lockout_holds_under_forty_parallel_wrong_passwords(app, clock):
    """40 threads try wrong passwords at once. Before the fix every one read 0 failures and wrote 1:
    the account stayed open. Each attempt now locks the user row while it judges, so the fifth
    failure locks the account and the right password is refused afterwards."""
    barrier = threading.Barrier(PARALLEL)
    results = [None] * PARALLEL

    def run(i):
        barrier.wait()
        results[i] = attempt(app, "target", f"wrong password {i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(r, BadCredentials) for r in results), results
    user = user_row(app)
    assert user.locked_until is not None and user.locked_until > clock()
    assert isinstance(attempt(app, "target", PASSWORD), BadCredentials)  # the lock holds
    clock.advance(minutes=16)
    assert attempt(app, "target", PASSWORD) == "ok"


def test_attempts_after_the_lock_in_the_same_burst_are_not_even_tried(app, clock):
    """43 parallel wrong passwords: judged one after the other, the fifth locks the account and the
    other 38 are refused without their password being tried or counted — the count stays at 0.
    (Counted without the row lock, 43 failures would lock eight times and leave 3 on the count.)"""
    burst = 43
    barrier = threading.Barrier(burst)
    results = [None] * burst

    def run(i):
        barrier.wait()
        results[i] = attempt(app, "target", f"wrong again {i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(burst)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(r, BadCredentials) for r in results), results
    user = user_row(app)
    assert user.locked_until > clock() and user.failed_logins == 0


def test_unknown_wrong_and_locked_get_one_answer(app):
    unknown = attempt(app, "nobody-here", PASSWORD)
    wrong = attempt(app, "target", "wrong password!")
    for _ in range(MAX_FAILURES - 1):
        attempt(app, "target", "wrong password!")
    locked = attempt(app, "target", PASSWORD)  # right password, locked account
    inactive_name = "retired"
    with app.app_context():
        org.create_user(SYSTEM, inactive_name, "停用", "320000", PASSWORD)
        org.set_active(SYSTEM, inactive_name, False)
    inactive = attempt(app, inactive_name, PASSWORD)
    answers = {(type(e).__name__, e.status, e.message) for e in (unknown, wrong, locked, inactive)}
    assert answers == {("BadCredentials", 401, BAD_CREDENTIALS)}


def test_failed_attempts_per_ip_are_limited_and_successes_are_forgiven(app, clock):
    limit, window = SIGN_IN_IP_LIMIT
    for _ in range(limit + 5):  # an office signing in all morning uses up nothing
        assert attempt(app, "target", PASSWORD, ip="10.0.0.1") == "ok"
    for i in range(limit):  # a spray over many user names from one address
        assert isinstance(attempt(app, f"user{i}", "guess-123456", ip="10.0.0.2"), BadCredentials)
    refused = attempt(app, "target", PASSWORD, ip="10.0.0.2")
    assert isinstance(refused, RateLimited) and refused.status == 429
    assert attempt(app, "target", PASSWORD, ip="10.0.0.3") == "ok"  # other addresses are not affected
    clock.advance(seconds=window)
    assert attempt(app, "target", PASSWORD, ip="10.0.0.2") == "ok"


def test_the_second_factor_step_counts_towards_the_same_ip_limit(app, clock):
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    with app.app_context():
        for name in ("t1", "t2", "t3", "t4", "t5"):
            u = org.create_user(SYSTEM, name, name, "320000", PASSWORD)
            u.totp_secret, u.totp_enabled = secret, True
        db.session.commit()
    limit, _ = SIGN_IN_IP_LIMIT
    bad = "000000" if totp.code_at(secret, clock().timestamp()) != "000000" else "111111"
    failures = 0
    for name in ("t1", "t2", "t3", "t4", "t5"):
        with app.app_context():
            with pytest.raises(SecondFactorRequired) as pending:  # the right password: forgiven
                authenticate(name, PASSWORD, "10.9.9.9")
            for _ in range(MAX_FAILURES - 1):
                if failures == limit:
                    break
                with pytest.raises(NotAuthenticated):
                    verify_second_factor(pending.value.user_id, bad, "10.9.9.9", pending.value.version)
                failures += 1
    assert failures == limit
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == "t5")).scalar_one()
        with pytest.raises(RateLimited):
            verify_second_factor(uid, totp.code_at(secret, clock().timestamp()), "10.9.9.9")


def test_a_refunded_hit_frees_its_place(app):
    with app.app_context():
        at = rate_limit.hit("r", 2, 60)
        rate_limit.hit("r", 2, 60)
        with pytest.raises(RateLimited):
            rate_limit.hit("r", 2, 60)
        rate_limit.refund("r", 60, at)
        db.session.commit()
        rate_limit.hit("r", 2, 60)
        rate_limit.refund("r", 60, 12345.0)  # nothing counted then: nothing to take back
        rate_limit.refund("never-used", 60, at)
        db.session.commit()
