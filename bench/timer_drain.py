"""Timer drain benchmark: N timers due within the same minute, fired by P scheduler processes on
PostgreSQL. Prints the drain time, throughput, lateness (fired_at - due_at: median, p95, max), the
share of each process, and checks that every timer took effect exactly once.

    .venv/bin/python bench/timer_drain.py [--n 10000] [--procs 2] [--pg-url postgresql://postgres@127.0.0.1:5432/bench_timer_drain]

A baseline with one process and N/5 timers runs first, in the same run.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIX = ROOT / "tests" / "fixtures"


def make(url):
    from app import create_app
    return create_app({"DATABASE_URL": url, "DEPLOY_ON_START": False, "PROCESSES_DIR": str(FIX / "processes"),
                       "FORMS_DIR": str(FIX / "forms"), "WORKFLOW_CACHE_SIZE": 0,
                       "CLOCK": lambda: datetime.now(timezone.utc)})


def reset(url):
    import psycopg
    admin = url.rsplit("/", 1)[0] + "/postgres"
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (dbname,)).fetchone():
            conn.execute(f'CREATE DATABASE "{dbname}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    from flask_migrate import upgrade
    from app.extensions import db
    from app.models import User
    from app.services.calendar import seed_from_package
    from app.services.registry import deploy_directory
    app = make(url)
    with app.app_context():
        upgrade()
        seed_from_package()
        db.session.add(User(username="bench", display_name="bench", kind="applicant", groups=[]))
        db.session.commit()
        deploy_directory(app.config["PROCESSES_DIR"], app.config["FORMS_DIR"])
        db.engine.dispose()


def _create(args):
    url, due_times = args
    import logging
    logging.disable(logging.WARNING)
    from sqlalchemy import select
    from app.extensions import db
    from app.models import User
    from app.services.actors import actor_from_user
    from app.services.cases import create_case
    app = make(url)
    with app.app_context():
        actor = actor_from_user(db.session.execute(select(User).where(User.username == "bench")).scalar_one())
        for i, due in enumerate(due_times):
            create_case(actor, "t_sleep", {"amount": i, "project_name": f"B{i}", "fire_at": due})
        db.engine.dispose()
    return len(due_times)


def create_cases(url, due_times, workers=2):
    chunks = [due_times[i::workers] for i in range(workers)]
    with mp.get_context("spawn").Pool(workers) as pool:
        return sum(pool.map(_create, [(url, c) for c in chunks]))


def waiting(url):
    import psycopg
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM timers WHERE status='waiting'").fetchone()[0]


def run(url, n, procs, calibration_rate, window=60.0):
    reset(url)
    creation_estimate = n / calibration_rate if calibration_rate else 0
    window_start = datetime.now(timezone.utc) + timedelta(seconds=creation_estimate * 1.3 + 15)
    due_times = [(window_start + timedelta(seconds=window * i / n)).isoformat() for i in range(n)]
    t0 = time.perf_counter()
    created = create_cases(url, due_times)
    create_s = time.perf_counter() - t0
    assert created == n
    late_setup = (datetime.now(timezone.utc) - window_start).total_seconds()
    env = {**os.environ, "DATABASE_URL": url, "PROCESSES_DIR": str(FIX / "processes"),
           "FORMS_DIR": str(FIX / "forms"), "DEPLOY_ON_START": "0", "SUPERVISION_SECONDS": "36000"}
    pause = (window_start - datetime.now(timezone.utc)).total_seconds() - 3
    if pause > 0:
        time.sleep(pause)
    logs = [open(f"/tmp/bench_sched_{i}.log", "w+") for i in range(procs)]
    ps = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run",
                            "--max-seconds", "3600"], cwd=ROOT, env=env, stdout=logs[i], stderr=subprocess.STDOUT)
          for i in range(procs)]
    deadline = time.monotonic() + 1800
    while waiting(url) and time.monotonic() < deadline:
        time.sleep(0.5)
    for p in ps:
        p.terminate()
    for p in ps:
        p.wait(timeout=30)
    shares = []
    for f in logs:
        f.seek(0)
        shares.append(sum(int(m) for m in re.findall(r"fired (\d+) timers", f.read())))
        f.close()
    import psycopg
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT due_at, fired_at, status FROM timers").fetchall()
        per_case = conn.execute("SELECT count(*), count(DISTINCT case_id) FROM case_events WHERE action='timer'").fetchone()
        after = conn.execute("SELECT count(*), count(DISTINCT case_id) FROM human_tasks WHERE element_id='after'").fetchone()
    fired = [r for r in rows if r[2] == "fired"]
    lateness = sorted((f - d).total_seconds() for d, f, _ in fired)
    first_due = min(d for d, _, _ in rows)
    last_fired = max(f for _, f, _ in fired) if fired else None
    return {
        "n": n, "procs": procs, "window": window, "create_s": create_s, "create_rate": n / create_s, "setup_late_s": late_setup,
        "drain_s": (last_fired - first_due).total_seconds() if last_fired else None,
        "throughput": len(fired) / max(1e-9, (last_fired - first_due).total_seconds()) if last_fired else 0,
        "median": statistics.median(lateness) if lateness else None,
        "p95": lateness[int(0.95 * (len(lateness) - 1))] if lateness else None,
        "max": lateness[-1] if lateness else None, "shares": shares,
        "exactly_once": len(fired) == n and per_case == (n, n) and after == (n, n),
        "fired": len(fired), "events": per_case, "after_tasks": after,
    }


def calibrate(url, k=200):
    reset(url)
    due = [(datetime.now(timezone.utc) + timedelta(days=1)).isoformat()] * k
    t0 = time.perf_counter()
    create_cases(url, due)
    return k / (time.perf_counter() - t0)


def show(r):
    when = "due within one minute" if r["window"] else "all due at the same instant"
    print(f"  {r['procs']} scheduler process(es), {r['n']} timers {when}")
    print(f"    created in {r['create_s']:.1f} s ({r['create_rate']:.0f} cases/s)"
          + (f"  [setup overran the window start by {r['setup_late_s']:.1f} s]" if r['setup_late_s'] > 0 else ""))
    print(f"    drain time (first due -> last fired): {r['drain_s']:.1f} s; throughput {r['throughput']:.0f} timers/s")
    print(f"    lateness fired_at - due_at: median {r['median']:.2f} s, p95 {r['p95']:.2f} s, max {r['max']:.2f} s")
    print(f"    fired per process: {r['shares']}")
    print(f"    exactly once: {r['exactly_once']} (timers fired {r['fired']}/{r['n']}; timer events "
          f"{r['events'][0]} over {r['events'][1]} cases; next-step tasks {r['after_tasks'][0]} over "
          f"{r['after_tasks'][1]} cases)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/bench_timer_drain")
    a = ap.parse_args()
    rate = calibrate(a.pg_url)
    print(f"timer_drain: PostgreSQL {a.pg_url}; case creation calibrated at {rate:.0f}/s (2 workers)")
    burst = max(1, a.n // 5)
    one = run(a.pg_url, burst, 1, rate, window=0)
    print("capacity, 1 process (burst):")
    show(one)
    many = run(a.pg_url, burst, a.procs, rate, window=0)
    print(f"capacity, {a.procs} processes (burst):")
    show(many)
    main_run = run(a.pg_url, a.n, a.procs, rate)
    print("the issue's figure:")
    show(main_run)
    c1, cp = one["drain_s"] / one["n"] * 1000, many["drain_s"] / many["n"] * 1000
    print(f"SUMMARY: {a.n} timers due in one minute, {a.procs} processes: last fired "
          f"{main_run['drain_s']:.1f} s after the first was due; lateness median {main_run['median']:.2f} s, "
          f"max {main_run['max']:.2f} s; exactly once: {main_run['exactly_once']}")
    print(f"SUMMARY: capacity {1000 / c1:.0f} timers/s with 1 process ({c1:.1f} ms each), {1000 / cp:.0f} "
          f"timers/s with {a.procs} (x{c1 / cp:.2f})")


if __name__ == "__main__":
    main()
