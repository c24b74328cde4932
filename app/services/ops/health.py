"""Is this deployment alive and ready? The scheduler's heartbeat, and the checks behind /readyz.

Heartbeat: every scheduler process (app/jobs/scheduler.py) upserts its row of ``scheduler_heartbeats``
(named ``<hostname>:<pid>``) every SCHEDULER_HEARTBEAT_SECONDS — one INSERT … ON CONFLICT DO UPDATE
and one commit, so any number of schedulers beat at once on SQLite and PostgreSQL without a race —
and deletes it when it stops cleanly. A process killed without that leaves its row behind; the beats
of the others delete such rows once they are a day old (checked at most once an hour), so the table
stays small.

Readiness: the database answers, its schema is at the head of migrations/, and the youngest heartbeat
is younger than SCHEDULER_STALE_SECONDS. The outboxes' backlog is reported but never makes the
deployment not ready (a slow SMS provider is no reason to take web nodes out of the load balancer).
What is returned is public (load balancers read it): no URL, no setting, no exception text — an
error is named by its exception class only.

Times are the app's clock (app/services/common/clock.py): wall time in production, the test's clock
in tests. Ages below zero (a scheduler host whose clock runs ahead) count as zero."""
from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ...config import ROOT
from ...extensions import db
from ...models.ops import SchedulerHeartbeat
from ..common.clock import clock_now
from ..common.db_support import is_sqlite
from . import outbox

log = logging.getLogger(__name__)

MIGRATIONS_DIR = ROOT / "migrations"
#: a heartbeat row this old belongs to a scheduler that stopped without deleting it
FORGET_AFTER = timedelta(days=1)
#: how often one scheduler looks for such rows
PRUNE_EVERY = timedelta(hours=1)
#: how long scheduler_stale() answers from memory (seconds of monotonic time)
STALE_CACHE_SECONDS = 5.0
#: most schedulers listed by /readyz (the youngest first)
LIST_LIMIT = 50


# -- heartbeat ----------------------------------------------------------------------------------------

@dataclass
class SchedulerIdentity:
    """This scheduler process: its row's name and what the row says about it."""
    name: str
    host: str
    pid: int
    started_at: datetime | None = None
    pruned_at: datetime | None = None

    @classmethod
    def of_this_process(cls) -> SchedulerIdentity:
        host, pid = socket.gethostname()[:180] or "localhost", os.getpid()
        return cls(name=f"{host}:{pid}"[:200], host=host, pid=pid)


def beat(me: SchedulerIdentity, now: datetime | None = None) -> None:
    """Write this scheduler's heartbeat (insert its row, or move its beat_at) and commit. At the first
    beat, and at most every PRUNE_EVERY after, also delete the rows of schedulers gone for a day."""
    now = now or clock_now()
    if me.started_at is None:
        me.started_at = now
    ins = (sqlite_insert if is_sqlite() else pg_insert)(SchedulerHeartbeat).values(
        name=me.name, host=me.host, pid=me.pid, started_at=me.started_at, beat_at=now)
    prune = me.pruned_at is None or not timedelta(0) <= now - me.pruned_at < PRUNE_EVERY
    try:
        db.session.execute(ins.on_conflict_do_update(index_elements=["name"], set_={
            "beat_at": ins.excluded.beat_at, "started_at": ins.excluded.started_at}))  # a reused pid: this process
        pruned = db.session.execute(delete(SchedulerHeartbeat).where(
            SchedulerHeartbeat.beat_at < now - FORGET_AFTER, SchedulerHeartbeat.name != me.name)).rowcount \
            if prune else 0
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if prune:
        me.pruned_at = now
    if pruned:
        log.info("forgot %d heartbeat rows of schedulers stopped more than a day ago", pruned)


def forget(me: SchedulerIdentity) -> None:
    """This scheduler stops: delete its row (commits)."""
    try:
        db.session.execute(delete(SchedulerHeartbeat).where(SchedulerHeartbeat.name == me.name))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round(max(0.0, (now - then).total_seconds()), 1)


def last_beat() -> datetime | None:
    """The youngest heartbeat of any scheduler, or None when none beats (or ever did)."""
    return db.session.execute(select(func.max(SchedulerHeartbeat.beat_at))).scalar()


def scheduler_age(now: datetime | None = None) -> float | None:
    """Seconds since the youngest heartbeat (None: no scheduler ever beat), read from the database at
    most every STALE_CACHE_SECONDS per app and process — pages ask on every render."""
    now = now or clock_now()
    cache = current_app.extensions.setdefault("ops_health", {})
    if "beat" not in cache or time.monotonic() - cache["read_at"] >= STALE_CACHE_SECONDS:
        cache["beat"], cache["read_at"] = last_beat(), time.monotonic()
    return _age(now, cache["beat"])


def scheduler_stale(now: datetime | None = None) -> bool:
    """No scheduler beat within SCHEDULER_STALE_SECONDS (see scheduler_age for the caching)."""
    age = scheduler_age(now)
    return age is None or age >= float(current_app.config["SCHEDULER_STALE_SECONDS"])


# -- readiness ----------------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def head_revisions(directory: str = str(MIGRATIONS_DIR)) -> tuple[str, ...]:
    """The head revision(s) of the migrations shipped with this code, read once per process."""
    return tuple(sorted(ScriptDirectory(directory).get_heads()))


def _failed(exc: BaseException) -> dict:
    try:
        db.session.rollback()
    except Exception:  # the connection may be gone; the next request gets a new one
        pass
    log.warning("readiness check failed: %r", exc)
    return {"ok": False, "error": type(exc).__name__}


def _database() -> dict:
    try:
        db.session.execute(text("SELECT 1")).scalar()
        return {"ok": True}
    except Exception as exc:
        return _failed(exc)


def _migrations() -> dict:
    head = head_revisions()
    out = {"ok": False, "current": None, "head": ",".join(head)}
    try:
        current = tuple(sorted(db.session.execute(text("SELECT version_num FROM alembic_version")).scalars()))
    except Exception as exc:
        return {**out, **_failed(exc)}
    return {**out, "ok": bool(current) and current == head, "current": ",".join(current) or None}


def _scheduler(now: datetime) -> dict:
    out = {"ok": False, "age_seconds": None, "schedulers": []}
    try:
        rows = db.session.execute(select(SchedulerHeartbeat.name, SchedulerHeartbeat.beat_at)
                                  .order_by(SchedulerHeartbeat.beat_at.desc()).limit(LIST_LIMIT)).all()
    except Exception as exc:
        return {**out, **_failed(exc)}
    schedulers = [{"name": name, "age_seconds": _age(now, beat_at)} for name, beat_at in rows]
    age = schedulers[0]["age_seconds"] if schedulers else None
    stale_after = float(current_app.config["SCHEDULER_STALE_SECONDS"])
    return {"ok": age is not None and age < stale_after, "age_seconds": age, "schedulers": schedulers}


def _outbox(now: datetime) -> dict:
    try:
        return {"ok": True, "channels": outbox.summary(now)}
    except Exception as exc:
        return {**_failed(exc), "channels": {}}


def readiness(now: datetime | None = None) -> dict:
    """What /readyz answers: ``status`` "ready" when the database, the migrations and the scheduler
    are ok (the outbox is informational); "degraded" when only the scheduler is stale — this node
    serves requests, but timers, warnings and SMS are paused: a load balancer must keep sending it
    requests (a stopped scheduler must not take every web node out), monitoring alerts on it —;
    "not_ready" when the database or the migrations are not (503). Each check's findings."""
    now = now or clock_now()
    database = _database()
    if database["ok"]:
        checks = {"database": database, "migrations": _migrations(), "scheduler": _scheduler(now),
                  "outbox": _outbox(now)}
    else:  # nothing else can be read: say so without waiting for the database three more times
        gone = {"ok": False, "error": "DatabaseUnavailable"}
        checks = {"database": database,
                  "migrations": {**gone, "current": None, "head": ",".join(head_revisions())},
                  "scheduler": {**gone, "age_seconds": None, "schedulers": []},
                  "outbox": {**gone, "channels": {}}}
    try:
        db.session.rollback()  # end the read transaction (on SQLite it holds the write lock)
    except Exception:
        pass
    if not (checks["database"]["ok"] and checks["migrations"]["ok"]):
        status = "not_ready"
    else:
        status = "ready" if checks["scheduler"]["ok"] else "degraded"
    return {"status": status, "checks": checks}
