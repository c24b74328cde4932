"""The metrics read from the database when /metrics is scraped (never on the hot path): what waits in
the outboxes, the overdue cases, the open incidents, the scheduler heartbeat's age.

Each is a gauge computed by one small query at scrape time, inside the scrape's app context; the
transaction is rolled back afterwards. A failing query does not fail the scrape: the other gauges
are still given and ``yg_metrics_database_up`` is 0.

- ``yg_outbox_pending{channel,peer}``, ``yg_outbox_oldest_age_seconds{channel,peer}`` — outbox.py's
  backlog; a known channel with nothing waiting shows 0, so its series does not vanish.
- ``yg_cases_overdue`` — cases whose statutory or promised limit has passed while their clock runs
  (the same rule as 电子监察's list of overdue cases, clocks.supervision.overdue_cases).
- ``yg_incidents_open`` — incidents waiting for an administrator.
- ``yg_scheduler_heartbeat_age_seconds`` (the youngest beat) and ``yg_schedulers`` (processes whose
  beat is younger than SCHEDULER_STALE_SECONDS) — only when the ``scheduler_heartbeats`` table exists.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, inspect, or_, select

from ...extensions import db
from ...models import Case, Incident
from ..common.clock import clock_now, today_beijing
from .outbox import backlog

try:  # added with migration 0012; absent in a tree without it
    from ...models.ops import SchedulerHeartbeat
except ImportError:  # pragma: no cover - depends on the tree
    SchedulerHeartbeat = None

log = logging.getLogger(__name__)

#: the outbox channels shown even when nothing waits in them: (channel, peer) as outbox.backlog gives them
KNOWN_CHANNELS = (("internal", "local"), ("sms", "twilio"))
#: how long "the heartbeat table is missing" is believed before it is looked for again (seconds)
TABLE_RECHECK_SECONDS = 60.0


class DatabaseCollector:
    """A prometheus_client collector for ``metrics.exposition``; call it inside an app context."""

    def collect(self):
        families = []
        up = 1
        for part in (_outbox, _overdue, _incidents, _heartbeat):
            try:
                families += part()
            except Exception:  # noqa: BLE001 - one query failing must not lose the others or the scrape
                up = 0
                log.warning("metrics: %s failed", part.__name__, exc_info=True)
            finally:
                db.session.rollback()  # a read-only scrape; and a failed statement must not poison the next
        gauge = GaugeMetricFamily("yg_metrics_database_up", "1 when every database metric could be read")
        gauge.add_metric([], up)
        return [*families, gauge]


def _outbox() -> list:
    now = clock_now()
    pending = GaugeMetricFamily("yg_outbox_pending", "Outbox rows waiting to be delivered, by channel and peer",
                                labels=["channel", "peer"])
    oldest = GaugeMetricFamily("yg_outbox_oldest_age_seconds", "Age of the oldest waiting outbox row, by channel "
                               "and peer (0 when none waits)", labels=["channel", "peer"])
    rows = {(b.channel, b.peer): b for b in backlog()}
    for key in sorted(set(rows) | set(KNOWN_CHANNELS)):
        b = rows.get(key)
        pending.add_metric(list(key), b.pending if b else 0)
        oldest.add_metric(list(key), round(b.oldest_age_seconds(now), 3) if b else 0.0)
    return [pending, oldest]


def _overdue() -> list:
    today = today_beijing()
    n = db.session.execute(select(func.count()).select_from(Case).where(
        Case.clock_state == "running", or_(Case.statutory_due < today, Case.promised_due < today))).scalar_one()
    gauge = GaugeMetricFamily("yg_cases_overdue", "Cases past their statutory or promised limit whose clock runs")
    gauge.add_metric([], n)
    return [gauge]


def _incidents() -> list:
    n = db.session.execute(select(func.count()).select_from(Incident).where(Incident.status == "open")).scalar_one()
    gauge = GaugeMetricFamily("yg_incidents_open", "Incidents open (waiting for an administrator's retry)")
    gauge.add_metric([], n)
    return [gauge]


def _heartbeat_table() -> bool:
    """Whether ``scheduler_heartbeats`` exists (once found, believed for the life of the process)."""
    cache = current_app.extensions.setdefault("metrics_heartbeat_table", {})
    if cache.get("found"):
        return True
    if time.monotonic() < cache.get("recheck_at", 0.0):
        return False
    found = SchedulerHeartbeat is not None and inspect(db.session.connection()).has_table("scheduler_heartbeats")
    cache.update(found=found, recheck_at=time.monotonic() + TABLE_RECHECK_SECONDS)
    return found


def _heartbeat() -> list:
    if not _heartbeat_table():
        return []
    now = clock_now()
    youngest = db.session.execute(select(func.max(SchedulerHeartbeat.beat_at))).scalar()
    stale = float(current_app.config.get("SCHEDULER_STALE_SECONDS", 30))
    alive = db.session.execute(select(func.count()).select_from(SchedulerHeartbeat).where(
        SchedulerHeartbeat.beat_at >= now - timedelta(seconds=stale))).scalar_one()
    families = []
    if youngest is not None:
        age = GaugeMetricFamily("yg_scheduler_heartbeat_age_seconds", "Seconds since the youngest scheduler "
                                "heartbeat")
        age.add_metric([], round(max(0.0, (now - youngest).total_seconds()), 3))
        families.append(age)
    count = GaugeMetricFamily("yg_schedulers", "Scheduler processes whose heartbeat is younger than "
                              "SCHEDULER_STALE_SECONDS")
    count.add_metric([], alive)
    families.append(count)
    return families
