"""A case start (申请: ``POST /api/cases`` with ``submit``): its time over HTTP and its SQL statements.

The lanes of bench/engine_submit.py (its ``create_app()``, werkzeug server, http.client client and
20-task linear process), one on SQLite and one on PostgreSQL; N starts per lane, interleaved, after 20
untimed ones. A start inserts the case, takes its 办件编号, writes its trail, runs the status hooks
(the applicant's SMS notice, the federation report's look-up of the upper peer), starts the process
and answers the whole case; in the bench's hot mix (bench/load.py --hot) it is one request in 21.

    .venv/bin/python bench/case_start.py [--n 200] [--pg-url postgresql://postgres@127.0.0.1:5432/bench]
                                         [--no-pg] [--show-sql]

Prints per lane the median and p95 of a start (client-measured, ms) and the statements of one start
(``before_cursor_execute`` on the app's engine: SQLite's BEGIN IMMEDIATE counts, its COMMIT does not)."""
from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import engine_submit as es   # bench/ is first on sys.path when run as a script
from benchstats import median, p95


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help="timed starts per lane (default 200)")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/bench")
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--show-sql", action="store_true", help="print the statements of one start per lane")
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench_start_"))
    lanes = []
    try:
        procs, forms = tmp / "processes", tmp / "forms"
        es.write_linear(procs, forms, es.PID_SHORT, es.SHORT_TASKS)
        dbfile = tmp / "start.sqlite3"
        es.migrate(f"sqlite:///{dbfile}")
        lanes.append(es.Lane("sqlite", f"sqlite:///{dbfile}", es.DEFAULT_CACHE, procs, forms, "start_sqlite"))
        if not args.no_pg:
            es.prepare_pg(args.pg_url)
            lanes.append(es.Lane("postgresql", args.pg_url, es.DEFAULT_CACHE, procs, forms, "start_pg"))
        for lane in lanes:   # warm: compiled statements, prepared statements (psycopg's fifth run), caches
            for _ in range(20):
                lane.new_case(es.PID_SHORT)
        times = {lane.label: [] for lane in lanes}
        counts = {lane.label: [] for lane in lanes}
        for i in range(args.n):
            for lane in (lanes if i % 2 == 0 else lanes[::-1]):
                lane.counter.n = 0
                lane.counter.capture = [] if args.show_sql and i == args.n - 1 else None
                t0 = time.perf_counter()
                lane.new_case(es.PID_SHORT)
                times[lane.label].append((time.perf_counter() - t0) * 1000.0)
                counts[lane.label].append(lane.counter.n)
                if lane.counter.capture is not None:
                    print(f"\nSQL of one start, {lane.label}:")
                    for n, sql in enumerate(lane.counter.capture, 1):
                        print(f"  {n:2}. {sql[:150]}")
                    lane.counter.capture = None
        print(f"\ncase_start: N={args.n} starts per lane ({es.SHORT_TASKS}-task linear process), interleaved")
        print(f"{'lane':<28} {'median ms':>10} {'p95 ms':>8} {'statements':>11}")
        for lane in lanes:
            t = times[lane.label]
            print(f"{lane.label:<28} {median(t):>10.2f} {p95(t):>8.2f} {median(counts[lane.label]):>11.0f}")
    finally:
        for lane in lanes:
            lane.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
