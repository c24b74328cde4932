"""The scheduler process: ``flask scheduler run``.

It fires timers at their due time (it sleeps until the earliest due timer, and at most
``SCHEDULER_POLL_SECONDS`` so that timers created meanwhile by other processes are seen), fires
on start everything missed while no scheduler ran, runs electronic supervision every
``SUPERVISION_SECONDS``, sends the SMS outbox every ``SMS_SEND_SECONDS`` (app/services/sms.py) and the
outbox to other platforms and systems every ``OUTBOX_SEND_SECONDS`` (app/services/messaging/outbox.py),
signs the trail's daily roots
not yet signed up to yesterday (app/services/trail/roots.py seal_due) every ``TRAIL_SEAL_SECONDS`` (default 3600),
deletes the stored files no row references every ``FILES_SWEEP_SECONDS`` (the first time one interval
after start: app/services/common/blobs.py sweep_files), and writes its heartbeat every
``SCHEDULER_HEARTBEAT_SECONDS`` (the first at start; app/services/ops/health.py: /readyz and the
administrators' banner read it). The heartbeat row is deleted when the process stops cleanly: Ctrl-C,
SIGTERM (a supervisor such as honcho or systemd stopping it) or ``max_seconds``.
Several scheduler processes may run at once: each timer fires once, each SMS is sent once, a file is
deleted once, each beats under its own name.
"""
from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler

log = logging.getLogger(__name__)


def _fresh_log_context(job):
    """A job's log lines carry only what the job itself binds: the pool's threads run one job after
    another, and a case number bound by one (a case event) must not label the next one's lines."""
    from ..observability import logs

    @functools.wraps(job)
    def run_job():
        with logs.scope(case_no=None, user=None, request_id=None):
            return job()
    return run_job


def run(app, *, max_seconds: float | None = None) -> None:
    from ..services.ops.health import SchedulerIdentity, beat, forget
    poll = float(app.config["SCHEDULER_POLL_SECONDS"])
    scheduler = BlockingScheduler(timezone=timezone.utc, job_defaults={"coalesce": True, "max_instances": 1,
                                                                        "misfire_grace_time": None})
    stopping = threading.Event()
    me = SchedulerIdentity.of_this_process()
    beat_lock = threading.Lock()  # no beat is written after the row's deletion at stop

    def timers_job() -> float:
        """Fire what is due; return how long to sleep before the next run."""
        from ..services.cases.timers import drain, next_due
        from ..services.common.clock import clock_now
        with app.app_context():
            try:
                fired = drain()
                if fired:
                    log.info("fired %d timers", fired)
                due = next_due()
                now = clock_now()
            except Exception:  # keep the scheduler alive; the next run retries
                log.exception("timer run failed")
                return poll
        return poll if due is None else min(poll, max(0.0, (due - now).total_seconds()))

    def schedule_timers(wait: float) -> None:
        if not stopping.is_set():
            scheduler.add_job(_fresh_log_context(timers_job), "date", id="timers", replace_existing=True,
                              run_date=datetime.now(timezone.utc) + timedelta(seconds=wait))

    def after_timers(event) -> None:
        # The next run is planned once this one has finished (its instance count is released
        # before the event), so a run is never skipped for "max instances" and the chain never breaks.
        if event.job_id == "timers":
            retval = getattr(event, "retval", None)
            wait = retval if event.code == EVENT_JOB_EXECUTED and retval is not None else poll
            schedule_timers(wait)

    def supervision_job():
        from ..services.clocks.supervision import run_supervision
        with app.app_context():
            try:
                run_supervision()
            except Exception:
                log.exception("supervision run failed")

    def sms_job():
        from ..services.messaging.sms import deliver_pending
        with app.app_context():
            try:
                counts = deliver_pending()
                if counts["claimed"]:
                    log.info("SMS: %(sent)d sent, %(retry)d to retry, %(failed)d failed", counts)
            except Exception:
                log.exception("SMS sender run failed")

    def files_sweep_job():
        from ..services.common.blobs import sweep_files
        with app.app_context():
            try:
                sweep_files()
            except Exception:
                log.exception("file sweep failed")

    def outbox_job():
        from ..services.messaging.outbox import deliver_due
        with app.app_context():
            try:
                counts = deliver_due()
                if counts["claimed"]:
                    log.info("outbox: %(delivered)d delivered, %(retry)d to retry, %(dead)d dead", counts)
            except Exception:
                log.exception("outbox sender run failed")

    def trail_seal_job():
        from ..services.trail.roots import seal_due
        with app.app_context():
            try:
                for row in seal_due():
                    log.info("trail: signed the root of %s (%d cases)", row.day, row.tree_size)
            except Exception:
                log.exception("trail root signing failed")

    def heartbeat_job():
        # its own job and thread: a long timer run never delays it, and it never touches the timer chain
        with beat_lock:
            if stopping.is_set():
                return
            with app.app_context():
                try:
                    beat(me)
                except Exception:
                    log.exception("heartbeat failed")

    def on_sigterm(_signum, _frame):
        if not stopping.is_set():  # a second SIGTERM while stopping does not break the cleanup
            raise SystemExit(0)

    scheduler.add_listener(after_timers, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED |
                           EVENT_JOB_MAX_INSTANCES)
    scheduler.add_job(_fresh_log_context(timers_job), "date", id="timers", run_date=datetime.now(timezone.utc))
    scheduler.add_job(_fresh_log_context(supervision_job), "interval", id="supervision",
                      seconds=float(app.config["SUPERVISION_SECONDS"]), next_run_time=datetime.now(timezone.utc))
    scheduler.add_job(_fresh_log_context(sms_job), "interval", id="sms",
                      seconds=float(app.config["SMS_SEND_SECONDS"]),
                      next_run_time=datetime.now(timezone.utc))
    scheduler.add_job(_fresh_log_context(outbox_job), "interval", id="outbox",
                      seconds=float(app.config["OUTBOX_SEND_SECONDS"]),
                      next_run_time=datetime.now(timezone.utc))
    # the trail's daily root (issue 17): yesterday's is signed once, by whichever scheduler comes first
    scheduler.add_job(_fresh_log_context(trail_seal_job), "interval", id="trail_seal",
                      seconds=float(app.config.get("TRAIL_SEAL_SECONDS", 3600)),
                      next_run_time=datetime.now(timezone.utc))
    beat_every = float(app.config["SCHEDULER_HEARTBEAT_SECONDS"])
    scheduler.add_job(_fresh_log_context(heartbeat_job), "interval", id="heartbeat", seconds=beat_every,
                      next_run_time=datetime.now(timezone.utc))
    sweep_every = float(app.config["FILES_SWEEP_SECONDS"])
    if sweep_every > 0:
        scheduler.add_job(_fresh_log_context(files_sweep_job), "interval", id="files_sweep", seconds=sweep_every)
    if max_seconds is not None:
        def stop():
            time.sleep(max_seconds)
            stopping.set()
            try:
                scheduler.shutdown(wait=False)
            except SchedulerNotRunningError:  # stopped by a signal meanwhile
                pass
        threading.Thread(target=stop, daemon=True).start()
    in_main_thread = threading.current_thread() is threading.main_thread()  # signals reach only that one
    if in_main_thread:
        previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
    log.info("scheduler %s started (poll %.1fs)", me.name, poll)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        stopping.set()
        try:
            scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:  # max_seconds stopped it already
            pass
        with beat_lock, app.app_context():
            try:
                forget(me)
            except Exception:
                log.exception("could not delete the heartbeat row %s", me.name)
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous_sigterm)
        log.info("scheduler %s stopped", me.name)
