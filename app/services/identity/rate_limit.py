"""Rate limits kept in the database, so they hold across web processes and on SQLite and PostgreSQL.

Each key is a sliding window: the times of its recent hits (at most ``limit`` of them) in one row of
``rate_buckets``, locked while it is read and written (SELECT … FOR UPDATE on PostgreSQL; SQLite
transactions hold the write lock from their start).

A hit counts whether or not the rest of the request then succeeds (a wrong password or code must
use up the allowance too), so ``hit`` and ``hit_all`` **commit** the current session: call them
first in a service, before changing anything else. A refused hit records nothing (the session is
rolled back) and raises RateLimited with the seconds until the key is free again.

Where only failures should use up an allowance (sign-in attempts per IP: an office behind one address
signs in all morning), the caller counts the attempt *before* it is checked — so parallel attempts
cannot all slip under the limit — and ``refund``s it once it succeeded."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from ...domain.errors import RateLimited
from ...extensions import db
from ...models.sms import RateBucket
from ..common.clock import clock_now
from ..common.db_support import insert_once, lock_one

DEFAULT_MESSAGE = "操作过于频繁，请{wait}后再试"


def _wait_text(seconds: int) -> str:
    if seconds <= 60:
        return f"{seconds}秒"
    if seconds < 3600:
        return f"{(seconds + 59) // 60}分钟"
    return f"{(seconds + 3599) // 3600}小时"


def _bucket_key(key: str, window_seconds: int) -> str:
    return f"{key}|{window_seconds}"[:200]


def hit(key: str, limit: int, window_seconds: int, *, message: str | None = None) -> float:
    """Count one hit on ``key``: at most ``limit`` hits in any ``window_seconds``. Returns the time
    the hit was counted at (for ``refund``).

    Raises RateLimited(message, retry_after=seconds) when the limit is reached (the hit is not
    counted). Commits (see the module docstring)."""
    return hit_all([(key, limit, window_seconds)], message=message)


def hit_all(limits: list[tuple[str, int, int]], *, message: str | None = None) -> float:
    """Several limits for one request, all or nothing: if any is reached none is counted.
    ``limits`` is a list of ``(key, limit, window_seconds)``. Returns the time of the hit; raises
    RateLimited; commits."""
    now = clock_now()
    try:
        retry_after = check_and_count(limits, now=now)
        if retry_after:
            raise refusal(retry_after, message)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return now.timestamp()


def refund(key: str, window_seconds: int, at: float) -> None:
    """Take back the hit counted on ``key`` at ``at`` (the value ``hit`` returned), e.g. a sign-in
    attempt that succeeded. In the caller's transaction (the bucket is locked); a hit already gone
    (its window passed, the bucket was purged) is nothing to take back."""
    bucket = lock_one(RateBucket, RateBucket.key == _bucket_key(key, window_seconds))
    if bucket is None or at not in (bucket.hits or []):
        return
    hits = list(bucket.hits)
    hits.remove(at)
    bucket.hits = hits
    db.session.flush()


def refusal(retry_after: int, message: str | None = None) -> RateLimited:
    """The RateLimited error for a wait of ``retry_after`` seconds; ``message`` may hold ``{wait}``."""
    return RateLimited((message or DEFAULT_MESSAGE).format(wait=_wait_text(retry_after)),
                       retry_after=retry_after, details={"retry_after": retry_after})


def check_and_count(limits: list[tuple[str, int, int]], *, now=None) -> int:
    """Inside the caller's transaction: lock the buckets, and if every limit allows one more hit,
    count it on each (at ``now``, default the app clock) and return 0; otherwise change nothing and
    return the seconds to wait."""
    now = now or clock_now()
    ts = now.timestamp()
    buckets = []
    wait = 0
    for key, limit, window in sorted(limits, key=lambda x: _bucket_key(x[0], x[2])):  # one lock order
        if limit <= 0 or window <= 0:
            raise ValueError("rate limit and window must be positive")
        bkey = _bucket_key(key, window)
        bucket = lock_one(RateBucket, RateBucket.key == bkey)
        if bucket is None:
            insert_once(RateBucket, "key", key=bkey, hits=[], expires_at=now)
            bucket = lock_one(RateBucket, RateBucket.key == bkey)
        recent = sorted(t for t in (bucket.hits or []) if t > ts - window)
        if len(recent) >= limit:
            wait = max(wait, int(recent[-limit] + window - ts + 0.999))
        buckets.append((bucket, recent, limit, window))
    if wait:
        return max(1, wait)
    for bucket, recent, limit, window in buckets:
        bucket.hits = (recent + [ts])[-limit:]
        bucket.expires_at = now + timedelta(seconds=window)
    db.session.flush()
    return 0


def reset(key: str, window_seconds: int) -> None:
    """Forget a key's hits (e.g. after a successful sign-in). In the caller's transaction."""
    db.session.execute(delete(RateBucket).where(RateBucket.key == _bucket_key(key, window_seconds)))


def purge_expired() -> int:
    """Delete buckets whose window has passed. In the caller's transaction; returns rows deleted."""
    return db.session.execute(delete(RateBucket).where(RateBucket.expires_at < clock_now())).rowcount or 0
