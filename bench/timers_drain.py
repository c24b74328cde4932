"""Timer drain benchmark: N timers of the fixture process ``t_sleep`` due within one minute, fired by
P real scheduler processes (``flask scheduler run``) on PostgreSQL.

    .venv/bin/python bench/timers_drain.py [--n 10000] [--procs 2]
                                           [--pg-url postgresql://postgres@127.0.0.1:5432/bench_timers]

One run does: calibration of case creation, a baseline (1 scheduler process, N/5 timers, same arrival
rate), the main run (P processes, N timers over --window seconds), an in-process cost breakdown of one
timer firing; and prints a final table. Each phase starts from a freshly recreated schema (the
database's ``public`` schema is DROPPED). See bench/README.md.
"""
from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APP_ENV", "development")  # a bench is no production server: the demo SECRET_KEY will do
os.environ.setdefault("LOG_LEVEL", "WARNING")  # the JSON log lines of every request would drown the figures
FIX = ROOT / "tests" / "fixtures"
PROCESSES_DIR, FORMS_DIR = str(FIX / "processes"), str(FIX / "forms")
USER = "bench_applicant"
FORBIDDEN = {"test", "bench", "postgres", "template0", "template1"}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def make_app(url, **extra):
    from app import create_app
    cfg = {"DATABASE_URL": url, "DEPLOY_ON_START": False, "PROCESSES_DIR": PROCESSES_DIR,
           "FORMS_DIR": FORMS_DIR, "CLOCK": utc_now, "APP_ENV": "development"}
    cfg.update(extra)
    return create_app(cfg)


# --------------------------------------------------------------------------------------------- schema
def reset_schema(url: str) -> float:
    """Drop and recreate ``public``, migrate, seed the calendar, deploy the fixtures, add the applicant."""
    import psycopg
    t0 = time.perf_counter()
    base, dbname = url.rsplit("/", 1)
    if dbname in FORBIDDEN:
        raise SystemExit(f"refusing to use database {dbname!r}")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (dbname,)).fetchone():
            conn.execute(f'CREATE DATABASE "{dbname}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    from flask_migrate import upgrade
    from app.extensions import db
    from app.models import User
    from app.services.clocks.calendar import seed_from_package
    from app.services.cases.registry import deploy_directory
    app = make_app(url)
    with app.app_context():
        upgrade()
        seed_from_package()
        db.session.commit()
        deploy_directory(PROCESSES_DIR, FORMS_DIR)
        db.session.add(User(username=USER, display_name="基准申请人", kind="applicant", groups=[]))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------ creation workers
def _worker(url: str, conn) -> None:
    """A case-creating process: its own app, engine and DB pool. Commands come over ``conn``."""
    import logging
    logging.disable(logging.WARNING)
    from sqlalchemy import select
    from app.extensions import db
    from app.models import User
    from app.services.identity.actors import actor_from_user
    from app.services.cases.lifecycle import create_case
    app = make_app(url, WORKFLOW_CACHE_SIZE=0)
    with app.app_context():
        actor = actor_from_user(db.session.execute(select(User).where(User.username == USER)).scalar_one())
        db.session.rollback()
        conn.send("ready")
        while True:
            cmd = conn.recv()
            if cmd is None:
                break
            t0 = time.perf_counter()
            for i, fire_at in cmd:
                create_case(actor, "t_sleep", {"amount": i, "project_name": f"定时基准{i}", "fire_at": fire_at})
            conn.send((len(cmd), time.perf_counter() - t0))
        db.session.remove()
        db.engine.dispose()


class Creators:
    def __init__(self, url: str, k: int):
        ctx = mp.get_context("spawn")
        self.pipes, self.procs = [], []
        for _ in range(k):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(url, child), daemon=True)
            p.start()
            self.pipes.append(parent)
            self.procs.append(p)
        for c in self.pipes:
            if c.recv() != "ready":
                raise RuntimeError("creation worker failed to start")

    def create(self, items: list[tuple[int, str]]) -> tuple[float, list[float]]:
        """Create the cases round-robin over the workers; (wall seconds, per-worker seconds)."""
        t0 = time.perf_counter()
        k = len(self.pipes)
        for w, c in enumerate(self.pipes):
            c.send(items[w::k])
        per = []
        for c in self.pipes:
            _, secs = c.recv()
            per.append(secs)
        return time.perf_counter() - t0, per

    def close(self) -> None:
        for c in self.pipes:
            c.send(None)
        for p in self.procs:
            p.join(timeout=30)


def calibrate(url: str, workers: int, per_worker: int) -> float:
    """Steady creation rate (cases/s, all workers together) on a fresh schema, after worker start-up."""
    reset_schema(url)
    cr = Creators(url, workers)
    far = (utc_now() + timedelta(days=2)).isoformat()
    cr.create([(i, far) for i in range(workers * 10)])  # warm-up
    wall, _ = cr.create([(i, far) for i in range(workers * per_worker)])
    cr.close()
    return workers * per_worker / wall


# ---------------------------------------------------------------------------------------- measurement
def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def machine_busy() -> tuple[int, int]:
    vals = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every local postgres process (server on this machine), by pid."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "postgres":
                    out[int(d.name)] = cpu_seconds(int(d.name)) or 0.0
            except OSError:
                pass
    return out


CLAIM_SQL = (  # what timers._claim_instance sends, for EXPLAIN
    "SELECT process_instances.* FROM process_instances JOIN timers ON timers.instance_id = process_instances.id "
    "WHERE timers.status = 'waiting' AND timers.due_at <= '{0}' "
    "AND (timers.next_attempt_at IS NULL OR timers.next_attempt_at <= '{0}') "
    "ORDER BY timers.due_at, timers.id LIMIT 1 FOR UPDATE OF process_instances SKIP LOCKED")


def pct(sorted_vals: list[float], q: float) -> float:
    return sorted_vals[max(0, math.ceil(q * len(sorted_vals)) - 1)]


def parse_log(text: str) -> dict:
    fired = [int(m) for m in re.findall(r"fired (\d+) timers", text)]
    skipped = re.findall(r"^(\S+ \S+) \d+ WARNING Execution of job \"run\.<locals>\.timers_job.*skipped: maximum "
                         r"number of running instances", text, re.M)
    runs = re.findall(r"^(\S+ \S+) \d+ INFO Running job \"run\.<locals>\.timers_job", text, re.M)
    last_run = runs[-1] if runs else None
    started = re.search(r"^(\S+ \S+) \d+ INFO scheduler started", text, re.M)
    # the timer loop is lost when a timers_job was skipped and never ran again afterwards
    lost_at = skipped[-1] if skipped and (last_run is None or last_run < skipped[-1]) else None
    return {"fired": sum(fired), "drains": len(fired), "skipped": len(skipped), "lost_at": lost_at,
            "started": datetime.strptime(started.group(1), "%Y-%m-%d %H:%M:%S,%f").astimezone() if started else None,
            "tracebacks": text.count("Traceback"), "lines": text.count("\n"),
            "spiff_lines": text.count("State changed to")}


def run_phase(url: str, label: str, n: int, procs: int, window: float, workers: int, rate: float,
              logdir: Path, stall_s: float) -> dict:
    import psycopg
    print(f"[{label}] resetting schema …", flush=True)
    reset_schema(url)
    cr = Creators(url, workers)
    estimate = n / rate
    margin = max(10.0, 0.25 * estimate)
    T = utc_now() + timedelta(seconds=estimate + margin)
    print(f"[{label}] creating {n} cases with {workers} workers (estimate {estimate:.0f} s); "
          f"first timer due at T={T:%H:%M:%S} UTC, last at T+{window:.0f} s", flush=True)
    # fire_at spread uniformly over [T, T + window); shuffled round-robin over workers by index
    items = [(i, (T + timedelta(seconds=window * i / n)).isoformat()) for i in range(n)]
    create_wall, per_worker = cr.create(items)
    cr.close()
    overrun = (utc_now() - T).total_seconds()
    print(f"[{label}] created in {create_wall:.1f} s ({n / create_wall:.1f} cases/s); "
          f"{'OVERRAN T by %.1f s' % overrun if overrun > 0 else 'T in %.1f s' % -overrun}", flush=True)

    # What the schedulers get to do is what waits now. On a slow machine creation may overrun the
    # first due times: those timers fire inside their case's creation (with their row and trail
    # entry) and are counted apart, not measured as the schedulers' work; a missing row is a bug.
    with psycopg.connect(url, autocommit=True) as conn:
        made = dict(conn.execute("SELECT status, count(*) FROM timers GROUP BY status").fetchall())
        scheduled = {r[0] for r in conn.execute("SELECT id FROM timers WHERE status='waiting'").fetchall()}
    inline, missing = made.get("fired", 0), n - sum(made.values())
    if inline or missing:
        print(f"[{label}] {inline} timers were due before their case was created and fired inside the creation; "
              f"{missing} cases have no timer row", flush=True)

    with psycopg.connect(url) as conn:  # plan of the claim query with every timer due (rolled back)
        plan = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + CLAIM_SQL.format(
            (T + timedelta(seconds=window + 1)).isoformat())).fetchall()]
        conn.rollback()
    claim_ms = next((float(m.group(1)) for m in (re.search(r"Execution Time: ([\d.]+)", x) for x in plan) if m), None)
    claim_nodes = [x.strip().split("  (")[0].lstrip("-> ") for x in plan
                   if "Scan" in x or "Join" in x or "Semi" in x or "Nested" in x]

    lead = 5.0  # seconds before T: the scheduler processes need ~2 s to import and start
    pause = (T - utc_now()).total_seconds() - lead
    if pause > 0:
        time.sleep(pause)
    env = {**os.environ, "DATABASE_URL": url, "PROCESSES_DIR": PROCESSES_DIR, "FORMS_DIR": FORMS_DIR,
           "DEPLOY_ON_START": "0", "SUPERVISION_SECONDS": "3600", "PYTHONUNBUFFERED": "1", "APP_ENV": "development"}
    bound = max(lead, (T - utc_now()).total_seconds()) + window + max(300.0, n / 10)
    logs = [open(logdir / f"{label}_sched{i}.log", "w+") for i in range(procs)]
    sched = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run",
                               "--max-seconds", f"{bound + 60:.0f}"], cwd=ROOT, env=env,
                              stdout=logs[i], stderr=subprocess.STDOUT) for i in range(procs)]
    spawned = utc_now()
    wait_T = (T - utc_now()).total_seconds()
    if wait_T > 0:
        time.sleep(wait_T)  # CPU and machine load are counted from T (scheduler start-up excluded)
    cpu0 = [cpu_seconds(p.pid) for p in sched]
    pg0 = postgres_cpu()
    busy0 = machine_busy()
    started = time.perf_counter()
    window_end = T + timedelta(seconds=window)
    gave_up = None
    last_count, last_change = len(scheduled), time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            left = conn.execute("SELECT count(*) FROM timers WHERE status='waiting'").fetchone()[0]
            if left == 0:
                break
            nowp = time.perf_counter()
            if left != last_count:
                last_count, last_change = left, nowp
            if all(p.poll() is not None for p in sched):
                gave_up = f"all scheduler processes exited with {left} timers waiting"
                break
            if utc_now() > window_end and nowp - last_change > stall_s:
                gave_up = f"no progress for {stall_s:.0f} s after the last due time; {left} timers still waiting"
                break
            if nowp - started > bound:
                gave_up = f"gave up after {bound:.0f} s with {left} timers still waiting"
                break
            time.sleep(0.5)
    observed_done = utc_now()
    time.sleep(2.0)  # let the last drain() return and log "fired N timers"
    busy1 = machine_busy()
    pg1 = postgres_cpu()
    pg_cpu = sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items() if v >= pg0.get(pid, 0.0))
    cpu = [(c1 - c0) if c0 is not None and c1 is not None else None
           for c0, c1 in zip(cpu0, (cpu_seconds(p.pid) for p in sched))]
    for p in sched:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in sched:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    parsed = []
    for f in logs:
        f.seek(0)
        parsed.append(parse_log(f.read()))
        f.close()

    # timers due before every scheduler ran (their log says so; else assume `lead`) were a backlog when
    # they started: their lateness measures the catch-up, not how punctual a running scheduler is
    starts = [p["started"] for p in parsed]
    ready_at = max([T] + (starts if all(starts) else [spawned + timedelta(seconds=lead)]))
    with psycopg.connect(url, autocommit=True) as conn:
        rows = [(d, f, st) for i, d, f, st in conn.execute("SELECT id, due_at, fired_at, status FROM timers")
                if i in scheduled]  # the schedulers' timers (not those fired inside a creation)
        statuses = dict(conn.execute("SELECT status, count(*) FROM timers GROUP BY status").fetchall())
        ev = conn.execute("SELECT count(*), count(DISTINCT case_id), "
                          "(SELECT count(*) FROM cases) FROM case_events WHERE action='timer'").fetchone()
        ev_multi = conn.execute("SELECT count(*) FROM (SELECT case_id FROM case_events WHERE action='timer' "
                                "GROUP BY case_id HAVING count(*) > 1) s").fetchone()[0]
        after = conn.execute("SELECT count(*), count(DISTINCT case_id) FROM human_tasks "
                             "WHERE element_id='after'").fetchone()
        after_multi = conn.execute("SELECT count(*) FROM (SELECT case_id FROM human_tasks WHERE element_id='after' "
                                   "GROUP BY case_id HAVING count(*) > 1) s").fetchone()[0]
        incidents = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
    fired = [(d, f) for d, f, s in rows if s == "fired"]
    lateness = sorted((f - d).total_seconds() for d, f in fired if d >= ready_at)
    catch_up = sorted((f - d).total_seconds() for d, f in fired if d < ready_at)
    first_due = min((d for d, _, _ in rows), default=T)
    last_due = max((d for d, _, _ in rows), default=T)
    last_fired = max((f for _, f in fired), default=None)
    # the schedulers' work starts once they run and something is due (not at a due time they were not up for)
    drain_from = max(first_due, ready_at)
    drain = (last_fired - drain_from).total_seconds() if last_fired and last_fired > drain_from else float("nan")
    # backlog rate: what was fired after the last timer became due (and the schedulers ran), per second
    backlog_from = max(last_due, ready_at)
    after_last_due = [f for _, f in fired if f > backlog_from]
    backlog_rate = (len(after_last_due) / (last_fired - backlog_from).total_seconds()
                    if last_fired and len(after_last_due) >= 20 else None)
    exactly_once = (missing == 0 and statuses == {"fired": n} and ev[0] == n and ev[1] == n and ev_multi == 0
                    and after[0] == n and after[1] == n and after_multi == 0)
    busy = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
    return {
        "label": label, "n": n, "procs": procs, "window": window, "workers": workers,
        "create_s": create_wall, "create_rate": n / create_wall,
        "worker_rates": [round(len(items[w::workers]) / s, 1) for w, s in enumerate(per_worker)],
        "overrun": overrun, "gave_up": gave_up, "T": T, "first_due": first_due,
        "drain": drain, "throughput": len(fired) / drain if drain and drain == drain else 0.0,
        "backlog_rate": backlog_rate, "backlog_n": len(after_last_due),
        "late_med": statistics.median(lateness) if lateness else float("nan"),
        "late_p95": pct(lateness, 0.95) if lateness else float("nan"),
        "late_max": lateness[-1] if lateness else float("nan"),
        "late_min": lateness[0] if lateness else float("nan"),
        "on_time_n": len(lateness), "catch_up_n": len(catch_up),
        "catch_up_max": catch_up[-1] if catch_up else float("nan"), "inline": inline, "missing": missing,
        "observed_done_s": (observed_done - first_due).total_seconds(),
        "per_proc": parsed, "cpu": cpu, "busy": busy, "pg_cpu": pg_cpu, "claim_ms": claim_ms,
        "claim_nodes": claim_nodes,
        "statuses": statuses, "events": ev, "ev_multi": ev_multi, "after": after, "after_multi": after_multi,
        "incidents": incidents, "exactly_once": exactly_once, "fired": len(fired),
    }


# ----------------------------------------------------------------------------- in-process cost profile
def profile(url: str, k: int) -> dict:
    """Fire k timers in this process with timers.fire_next (as the scheduler does, empty workflow cache),
    timing its parts by wrapping the names timers.py calls. FakeClock: due times are passed by moving it."""
    from sqlalchemy import event, select
    import app.services.cases.timers as timers_mod
    from app.extensions import db
    from app.models import User
    from app.services.identity.actors import actor_from_user
    from app.services.cases.lifecycle import create_case
    from app.services.common.clock import FakeClock
    reset_schema(url)
    start = utc_now()
    clock = FakeClock(start)
    maker = make_app(url, CLOCK=clock, WORKFLOW_CACHE_SIZE=0)
    fire_at = (start + timedelta(hours=1)).isoformat()
    with maker.app_context():
        actor = actor_from_user(db.session.execute(select(User).where(User.username == USER)).scalar_one())
        for i in range(k + 10):
            create_case(actor, "t_sleep", {"amount": i, "project_name": f"剖析{i}", "fire_at": fire_at})
        db.session.remove()
        db.engine.dispose()
    clock.set(start + timedelta(hours=2))
    firer = make_app(url, CLOCK=clock)  # default WORKFLOW_CACHE_SIZE, cache empty: like a scheduler
    parts = {"load_workflow": 0.0, "engine.fire_due_timers": 0.0, "apply_step": 0.0}
    sql = {"n": 0, "t": 0.0}
    commit = {"t": 0.0, "start": None}
    orig_load, orig_apply = timers_mod.load_workflow, timers_mod.apply_step

    def timed(name, fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                parts[name] += time.perf_counter() - t0
        return wrapper

    with firer.app_context():
        eng = firer.extensions["engine"]
        orig_fire = eng.fire_due_timers
        stamps = {}

        def before(conn, cursor, statement, params, context, many):
            stamps[id(cursor)] = time.perf_counter()

        def after(conn, cursor, statement, params, context, many):
            sql["n"] += 1
            sql["t"] += time.perf_counter() - stamps.pop(id(cursor), time.perf_counter())

        def on_commit(conn):
            commit["start"] = time.perf_counter()

        def on_after_commit(session):
            if commit["start"] is not None:
                commit["t"] += time.perf_counter() - commit["start"]
                commit["start"] = None

        for _ in range(10):  # warm-up (spec parse, first queries)
            timers_mod.fire_next()
        timers_mod.load_workflow = timed("load_workflow", orig_load)
        timers_mod.apply_step = timed("apply_step", orig_apply)
        eng.fire_due_timers = timed("engine.fire_due_timers", orig_fire)
        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
        event.listen(db.engine, "commit", on_commit)
        event.listen(db.session, "after_commit", on_after_commit)
        try:
            t0 = time.perf_counter()
            fired = 0
            for _ in range(k):
                fired += timers_mod.fire_next()
            total = time.perf_counter() - t0
        finally:
            timers_mod.load_workflow, timers_mod.apply_step = orig_load, orig_apply
            eng.fire_due_timers = orig_fire
            event.remove(db.engine, "before_cursor_execute", before)
            event.remove(db.engine, "after_cursor_execute", after)
            event.remove(db.engine, "commit", on_commit)
            event.remove(db.session, "after_commit", on_after_commit)
        db.session.remove()
        db.engine.dispose()
    ms = lambda s: 1000 * s / max(1, fired)  # noqa: E731
    return {"k": fired, "total_ms": ms(total), "parts_ms": {n: ms(v) for n, v in parts.items()},
            "sql_n": sql["n"] / max(1, fired), "sql_ms": ms(sql["t"]), "commit_ms": ms(commit["t"])}


# ------------------------------------------------------------------------------------------- printing
def fmt_phase(r: dict) -> list[str]:
    when = f"due over {r['window']:.0f} s" if r["window"] else "all due at the same instant"
    out = [f"  {r['label']}: {r['n']} timers {when}, {r['procs']} scheduler process(es)"]
    out.append(f"    creation        {r['create_s']:.1f} s, {r['create_rate']:.1f} cases/s with {r['workers']} workers "
               f"(per worker {r['worker_rates']}); "
               + (f"OVERRAN first due time by {r['overrun']:.1f} s" if r['overrun'] > 0
                  else f"finished {-r['overrun']:.1f} s before the first due time"))
    out.append(f"    drain time      {r['drain']:.1f} s (first due, or the schedulers' start if later -> last fired; "
               f"ideal = window {r['window']:.0f} s); "
               f"poller saw 0 waiting at +{r['observed_done_s']:.1f} s")
    out.append(f"    throughput      {r['throughput']:.1f} timers/s over the drain time; after the last due time "
               + (f"{r['backlog_rate']:.1f} timers/s ({r['backlog_n']} backlog timers)" if r['backlog_rate']
                  else "no backlog left"))
    out.append(f"    lateness        median {r['late_med']:.2f} s, p95 {r['late_p95']:.2f} s, max {r['late_max']:.2f} s "
               f"(min {r['late_min']:.3f} s) over the {r['on_time_n']} timers due once the schedulers ran")
    if r["catch_up_n"] or r["inline"] or r["missing"]:
        out.append(f"    before start    {r['catch_up_n']} timers due before the schedulers ran, fired at most "
                   f"{r['catch_up_max']:.1f} s late; {r['inline']} fired inside their case's creation (due before "
                   f"it); {r['missing']} cases without a timer row")
    for i, (p, c) in enumerate(zip(r["per_proc"], r["cpu"])):
        cpu_txt = f", CPU from T {c:.1f} s = {1000 * c / p['fired']:.1f} ms/timer" if c and p["fired"] else \
            (f", CPU {c:.1f} s" if c else "")
        lost = f"; TIMER LOOP LOST at {p['lost_at']} (apscheduler 'skipped: max instances')" if p["lost_at"] else ""
        out.append(f"    process {i}       fired {p['fired']} in {p['drains']} drain() calls{cpu_txt}; "
                   f"skipped timers_job {p['skipped']}x{lost}; tracebacks {p['tracebacks']}; "
                   f"{p['lines'] / max(1, p['fired']):.1f} log lines/timer "
                   f"({p['spiff_lines'] / max(1, p['fired']):.1f} SpiffWorkflow 'State changed')")
    out.append(f"    machine CPU busy {100 * r['busy']:.0f}% of {os.cpu_count()} cores from T to the end; PostgreSQL "
               f"processes {r['pg_cpu']:.1f} s CPU = {1000 * r['pg_cpu'] / max(1, r['fired']):.1f} ms/timer")
    out.append(f"    claim query     {r['claim_ms']:.2f} ms with all {r['n']} timers due (EXPLAIN ANALYZE: "
               f"{' / '.join(r['claim_nodes'])})")
    out.append(f"    exactly once    {'YES' if r['exactly_once'] else 'NO'}: timers {r['statuses']}; timer events "
               f"{r['events'][0]} over {r['events'][1]} cases (of {r['events'][2]}), {r['ev_multi']} cases with >1; "
               f"'after' tasks {r['after'][0]} over {r['after'][1]} cases, {r['after_multi']} with >1; "
               f"incidents {r['incidents']}")
    if r["gave_up"]:
        out.append(f"    GAVE UP: {r['gave_up']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/bench_timers")
    ap.add_argument("--window", type=float, default=60.0, help="due times spread over this many seconds")
    ap.add_argument("--base-n", type=int, default=None, help="baseline timers (default N/5)")
    ap.add_argument("--base-window", type=float, default=None,
                    help="baseline window (default window*base_n/N: the same arrival rate as the main run)")
    ap.add_argument("--workers", type=int, default=3, help="case-creating processes")
    ap.add_argument("--stall", type=float, default=60.0,
                    help="give up when no timer fired for this long after the last due time")
    ap.add_argument("--profile", type=int, default=200, help="timers fired in-process for the cost breakdown (0: skip)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-capacity", action="store_true",
                    help="skip the capacity phase (base-n timers all due at once, --procs processes)")
    a = ap.parse_args()
    if a.pg_url.rsplit("/", 1)[1] in FORBIDDEN:
        raise SystemExit("refusing: that database belongs to someone else")
    base_n = a.base_n or max(1, a.n // 5)
    base_window = a.base_window if a.base_window is not None else a.window * base_n / a.n
    logdir = Path(tempfile.mkdtemp(prefix="timers_drain_"))
    t_start = time.perf_counter()
    print(f"timers_drain: {a.pg_url}; logs in {logdir}", flush=True)

    rate = calibrate(a.pg_url, a.workers, 60)
    print(f"calibration: {rate:.1f} cases/s with {a.workers} workers", flush=True)
    results = {}

    def phase(label, n, procs, window):
        nonlocal rate
        r = run_phase(a.pg_url, label, n, procs, window, a.workers, rate, logdir, a.stall)
        print("\n".join(fmt_phase(r)), flush=True)
        rate = min(rate, r["create_rate"])
        results[label] = r

    if not a.no_baseline:
        phase("baseline", base_n, 1, base_window)
    if not a.no_capacity:
        phase("capacity", base_n, a.procs, 0.0)
    phase("main", a.n, a.procs, a.window)
    prof = profile(a.pg_url, a.profile) if a.profile else None

    print("\n" + "=" * 100)
    print(f"RESULTS  (PostgreSQL {a.pg_url.rsplit('@', 1)[-1]}, {os.cpu_count()} CPUs, "
          f"total run {time.perf_counter() - t_start:.0f} s)")
    for r in results.values():
        print("\n".join(fmt_phase(r)))

    def rate_of(r):  # (timers/s, is it a capacity figure?)
        return (r["backlog_rate"], True) if r["backlog_rate"] else (r["throughput"], False)

    if "baseline" in results:
        rb, cap_b = rate_of(results["baseline"])
        for label in ("capacity", "main"):
            if label in results and results[label]["procs"] != 1:
                rp, cap_p = rate_of(results[label])
                bound = "" if cap_p else ">= "  # it kept up: only the arrival rate was measured
                print(f"  speed-up {results[label]['procs']} processes ({label}) vs 1 (baseline), firing rate with a "
                      f"backlog: {rp:.1f} / {rb:.1f} = {bound}x{rp / rb:.2f}"
                      + ("" if cap_p else f"  [{label} kept up with its arrival rate: a lower bound]")
                      + ("" if cap_b else "  [baseline kept up too: not a capacity figure]"))
    if prof:
        parts = ", ".join(f"{k} {v:.2f}" for k, v in prof["parts_ms"].items())
        print(f"  cost of one firing in-process (fire_next, {prof['k']} timers, ms/timer): total {prof['total_ms']:.2f}; "
              f"{parts}; SQL {prof['sql_n']:.1f} statements {prof['sql_ms']:.2f} (inside the parts above too) + COMMIT {prof['commit_ms']:.2f}; "
              f"other (claim + reads + ORM flush + COMMIT) {prof['total_ms'] - sum(prof['parts_ms'].values()):.2f}"
              f" -> at most {1000 / prof['total_ms']:.0f} timers/s per process without logging")
    print("=" * 100)


if __name__ == "__main__":
    main()
