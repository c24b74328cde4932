"""Rate limits in the database: sliding windows, all-or-nothing for several limits, across sessions."""
import pytest

from app.domain.errors import RateLimited
from app.extensions import db
from app.models.sms import RateBucket
from app.services.identity import rate_limit


def test_allows_up_to_the_limit_then_refuses_with_the_wait(app):
    clock = app.config["CLOCK"]
    with app.app_context():
        for _ in range(3):
            rate_limit.hit("k", 3, 60)
        with pytest.raises(RateLimited) as err:
            rate_limit.hit("k", 3, 60)
        assert err.value.retry_after == 60
        assert "60秒" in err.value.message
        clock.advance(seconds=59)
        with pytest.raises(RateLimited) as err:
            rate_limit.hit("k", 3, 60)
        assert err.value.retry_after == 1
        clock.advance(seconds=1)
        rate_limit.hit("k", 3, 60)  # the first hit has left the window


def test_a_refused_hit_is_not_counted_and_limits_are_all_or_nothing(app):
    clock = app.config["CLOCK"]
    with app.app_context():
        rate_limit.hit("b", 1, 60)
        with pytest.raises(RateLimited):
            rate_limit.hit_all([("a", 5, 3600), ("b", 1, 60)])
        clock.advance(seconds=60)
        # "a" was not counted by the refused request: 5 more fit in its hour
        for _ in range(5):
            rate_limit.hit("a", 5, 3600)
        with pytest.raises(RateLimited) as err:
            rate_limit.hit("a", 5, 3600)
        assert err.value.retry_after == 3600
        assert "1小时" in err.value.message


def test_hits_are_committed_and_seen_by_another_session(app):
    with app.app_context():
        rate_limit.hit("shared", 1, 600)
        db.session.remove()  # a new session, as another request or process would have
    with app.app_context():
        with pytest.raises(RateLimited):
            rate_limit.hit("shared", 1, 600)
        assert db.session.get(RateBucket, "shared|600").hits


def test_same_key_with_two_windows_keeps_two_buckets(app):
    clock = app.config["CLOCK"]
    with app.app_context():
        limits = [("p", 1, 60), ("p", 3, 86400)]
        for _ in range(3):
            rate_limit.hit_all(limits)
            clock.advance(seconds=61)
        with pytest.raises(RateLimited) as err:
            rate_limit.hit_all(limits)
        assert err.value.retry_after > 80000


def test_purge_forgets_expired_buckets(app):
    clock = app.config["CLOCK"]
    with app.app_context():
        rate_limit.hit("old", 1, 60)
        clock.advance(seconds=61)
        assert rate_limit.purge_expired() == 1
        db.session.commit()
        rate_limit.hit("old", 1, 60)
