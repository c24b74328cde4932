"""The platform's Prometheus metrics (prefix ``yg_``) and the small functions the rest of the code
records into them. Every recording function is cheap — a label lookup and an increment, no I/O, no
database — and never raises into its caller: a metric is never worth a failed step.

Recorded where it happens:

- ``yg_http_request_duration_seconds{endpoint,method,status}`` — every request (hooks.py), labelled by
  the Flask endpoint name (never the raw path: bounded), the method and the status class (``2xx`` …);
  ``yg_http_requests_in_progress``.
- ``yg_engine_step_duration_seconds{process_id}`` and ``yg_engine_step_sql_statements{process_id}`` —
  one observation per committed transaction that saved an engine step (``step_applied``, called by
  ``services.cases.steps.apply_step``): from the transaction's first statement to its commit, and the
  statements the connection ran meanwhile (a ``before_cursor_execute`` listener counting into a
  context variable; see ``instrument_sqlalchemy``). A rolled-back step is not observed.
- ``yg_incidents_total{kind,error_type}`` — incidents recorded (counted when their transaction
  commits): ``kind`` is ``script`` (the engine's), ``status`` (a status the model may not reach) or
  ``timer`` (the scheduler could not fire an instance's timers).
- ``yg_timer_lag_seconds`` — fire time − due time of every timer the scheduler fires.
- ``yg_sandbox_breaches_total{kind}`` — script workers stopped by a limit: ``time``, ``memory``,
  ``crash``.

Read at scrape time from the database (app/services/ops/metrics.py, passed to ``exposition``): the
outbox backlog, overdue cases, the scheduler heartbeat's age.

One process, or several (gunicorn workers and scheduler processes): with ``PROMETHEUS_MULTIPROC_DIR``
set *before* this module is first imported, every process writes its samples to files in that
directory and a scrape of any web worker merges them all (``MultiProcessCollector``). The directory
must be emptied when the whole set starts (scripts/run does), and gunicorn calls ``child_exit`` when
a worker exits so its live gauges go with it.
"""
from __future__ import annotations

import logging
import os
import time
from contextvars import ContextVar

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import disable_created_metrics, generate_latest, multiprocess
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


disable_created_metrics()  # no ``*_created`` series: a restart is visible in the counters themselves

if multiprocess_dir():  # a missing directory would make every first sample of a label set raise
    os.makedirs(multiprocess_dir(), exist_ok=True)

REQUEST_BUCKETS = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1.0, 2.5, 5.0, 10.0, 30.0)
STEP_BUCKETS = (.002, .005, .01, .02, .035, .05, .075, .1, .2, .5, 1.0, 2.0, 5.0, 10.0, 30.0)
SQL_BUCKETS = (1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200, 400)
LAG_BUCKETS = (.05, .1, .25, .5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)

#: distinct values one label may take in this process; later ones are counted under ``other``
#: (a matter deployed by designers, an exception class a script raised: bounded in practice, capped
#: here so that no input can grow the series without end)
LABEL_CAP = 200
OTHER = "other"

REQUEST_LATENCY = Histogram("yg_http_request_duration_seconds", "HTTP requests by Flask endpoint, method and "
                            "status class", ["endpoint", "method", "status"], buckets=REQUEST_BUCKETS)
REQUESTS_IN_PROGRESS = Gauge("yg_http_requests_in_progress", "HTTP requests being served",
                             multiprocess_mode="livesum")
STEP_LATENCY = Histogram("yg_engine_step_duration_seconds", "Engine steps (one transaction each: lock, load, "
                         "run, save, commit) by process id", ["process_id"], buckets=STEP_BUCKETS)
STEP_SQL = Histogram("yg_engine_step_sql_statements", "SQL statements run by one engine step's transaction",
                     ["process_id"], buckets=SQL_BUCKETS)
INCIDENTS = Counter("yg_incidents", "Incidents recorded, by kind (script, status, timer) and error type",
                    ["kind", "error_type"])
TIMER_LAG = Histogram("yg_timer_lag_seconds", "Timers fired by the scheduler: fire time minus due time",
                      buckets=LAG_BUCKETS)
SANDBOX_BREACHES = Counter("yg_sandbox_breaches", "Script workers stopped by a limit (time, memory) or found "
                           "dead (crash)", ["kind"])

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BREACH_KINDS = frozenset({"time", "memory", "crash"})
INCIDENT_KINDS = frozenset({"script", "status", "timer"})

_seen: dict[str, set[str]] = {}


def bounded(label: str, value) -> str:
    """``value`` as a label value, or ``other`` once ``label`` has LABEL_CAP distinct values here."""
    text = str(value)[:100] if value is not None else "none"
    seen = _seen.setdefault(label, set())
    if text in seen:
        return text
    if len(seen) >= LABEL_CAP:
        return OTHER
    seen.add(text)
    return text


# -- recording -----------------------------------------------------------------------------------------
def observe_request(endpoint: str | None, method: str, status: int, seconds: float) -> None:
    try:
        REQUEST_LATENCY.labels(bounded("endpoint", endpoint or "unmatched"),
                               method if method in METHODS else "OTHER", f"{int(status) // 100}xx").observe(seconds)
    except Exception:  # noqa: BLE001 - never into the caller
        log.debug("request metric not recorded", exc_info=True)


def request_started() -> None:
    try:
        REQUESTS_IN_PROGRESS.inc()
    except Exception:  # noqa: BLE001
        log.debug("in-progress gauge not updated", exc_info=True)


def request_finished() -> None:
    try:
        REQUESTS_IN_PROGRESS.dec()
    except Exception:  # noqa: BLE001
        log.debug("in-progress gauge not updated", exc_info=True)


def timer_fired(lag_seconds: float) -> None:
    try:
        TIMER_LAG.observe(max(0.0, float(lag_seconds)))
    except Exception:  # noqa: BLE001
        log.debug("timer lag not recorded", exc_info=True)


def sandbox_breach(kind: str) -> None:
    try:
        SANDBOX_BREACHES.labels(kind if kind in BREACH_KINDS else "crash").inc()
    except Exception:  # noqa: BLE001
        log.debug("sandbox breach not recorded", exc_info=True)


def incident_recorded(kind: str, error_type: str | None) -> None:
    """An incident was added in the current transaction: counted when it commits (at once when no
    transaction is being watched)."""
    try:
        labels = (kind if kind in INCIDENT_KINDS else "script", bounded("error_type", error_type or "unknown"))
        tx = _tx.get()
        if tx is not None:
            tx.incidents.append(labels)
        else:
            INCIDENTS.labels(*labels).inc()
    except Exception:  # noqa: BLE001
        log.debug("incident not counted", exc_info=True)


def step_applied(process_id: str | None) -> None:
    """The current transaction saves an engine step of ``process_id``: observe its duration and SQL
    statements when it commits."""
    tx = _tx.get()
    if tx is not None:
        try:
            tx.process_id = bounded("process_id", process_id or "none")
        except Exception:  # noqa: BLE001
            log.debug("step not marked", exc_info=True)


# -- one transaction, watched: its start, its statements, the step and incidents it records ------------
class _Tx:
    __slots__ = ("started", "statements", "process_id", "incidents")

    def __init__(self):
        self.started = time.perf_counter()
        self.statements = 0
        self.process_id: str | None = None
        self.incidents: list[tuple[str, str]] = []


_tx: ContextVar[_Tx | None] = ContextVar("yg_metrics_tx", default=None)


def _count_statement(conn, cursor, statement, parameters, context, executemany) -> None:
    tx = _tx.get()
    if tx is not None:
        tx.statements += 1


def _begun(session, transaction, connection) -> None:
    if transaction.parent is None and not transaction.nested:  # the root transaction, not a savepoint
        _tx.set(_Tx())


def _committed(session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    tx = _tx.get()
    if tx is None:
        return
    _tx.set(None)
    try:
        if tx.process_id is not None:
            STEP_LATENCY.labels(tx.process_id).observe(time.perf_counter() - tx.started)
            STEP_SQL.labels(tx.process_id).observe(tx.statements)
        for labels in tx.incidents:
            INCIDENTS.labels(*labels).inc()
    except Exception:  # noqa: BLE001
        log.debug("step metrics not recorded", exc_info=True)


def _rolled_back(session) -> None:
    tx = _tx.get()
    if tx is None:
        return
    if session.in_nested_transaction():  # back to a savepoint: what was done since is undone
        tx.process_id = None
        tx.incidents.clear()
        return
    _tx.set(None)


def instrument_sqlalchemy(engine) -> None:
    """Count ``engine``'s statements into the watched transaction, and watch every ORM session's
    root transactions. Idempotent (an app made twice on one engine, tests making many apps)."""
    if not event.contains(engine, "before_cursor_execute", _count_statement):
        event.listen(engine, "before_cursor_execute", _count_statement)
    for name, fn in (("after_begin", _begun), ("after_commit", _committed), ("after_rollback", _rolled_back)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


# -- scrape ----------------------------------------------------------------------------------------
class _Union:
    """Several collectors as one: what ``generate_latest`` is given."""

    def __init__(self, parts):
        self.parts = parts

    def collect(self):
        for part in self.parts:
            yield from part.collect()


def exposition(*collectors, multiproc_dir: str | None = None) -> tuple[bytes, str]:
    """The text exposition of every metric — this process's, or all processes' in multiprocess mode
    (``multiproc_dir``, by default PROMETHEUS_MULTIPROC_DIR) — plus ``collectors`` (scrape-time ones).
    Returns the body and its content type."""
    path = multiproc_dir or multiprocess_dir()
    if path:
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=path)
        parts = [merged]
    else:
        parts = [REGISTRY]
    return generate_latest(_Union([*parts, *collectors])), CONTENT_TYPE_PLAIN_0_0_4


def child_exit(server, worker) -> None:
    """gunicorn's ``child_exit`` hook (scripts/gunicorn.conf.py): a worker's live gauges go with it."""
    path = multiprocess_dir()
    if path:
        try:
            multiprocess.mark_process_dead(worker.pid, path)
        except OSError:
            log.warning("could not clear the metrics of worker %s", worker.pid, exc_info=True)
