"""The cost of a submit by its position in a long case: does a step cost more as the history grows?

    .venv/bin/python bench/positions.py [--db sqlite|postgresql] [--cases 8] [--tasks 100]
                                        [--pg-url postgresql://postgres@127.0.0.1:5432/bench]

One lane of bench/engine_submit.py (same app, same werkzeug server, same client,
workflow cache on): ``--cases`` cases of a ``--tasks``-task linear process, each
``POST /api/tasks/<id>/complete`` timed at the client. The cases are staggered (case i starts
i/cases of the way in, a case that ends is followed by a new one), so that each round of submits
covers the whole range of positions and a slow phase of the machine hits them alike. Printed: the
median by range of positions, SQL statements per submit (median and range), the stored state of a
finished case, and how many texts of the step's one statement were compiled (PostgreSQL; one per
shape of step). The last task ends the process (the end event, the case closed): its line shows what
that adds. The PostgreSQL database (never ``test``) has its ``public`` schema dropped, recreated and
migrated at start.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_submit as es  # noqa: E402  (sets up sys.path, APP_ENV, LOG_LEVEL like the bench)

from sqlalchemy import select  # noqa: E402

from app.extensions import db  # noqa: E402
from app.models import ProcessInstance  # noqa: E402
from app.services.common import one_write  # noqa: E402
from tests.fixtures.build import write_linear  # noqa: E402


def ranges(n: int) -> list[tuple[int, int]]:
    cuts = sorted({1, 2, 3, n // 10 + 1, n * 3 // 10 + 1, n * 6 // 10 + 1, n * 9 // 10 + 1, n - 1, n})
    cuts = [c for c in cuts if 1 <= c <= n]
    return [(a, (cuts[i + 1] - 1) if i + 1 < len(cuts) else n) for i, a in enumerate(cuts)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--cases", type=int, default=8)
    ap.add_argument("--tasks", type=int, default=100)
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/bench")
    args = ap.parse_args()
    if args.tasks < 4 or args.cases < 1:
        raise SystemExit("--tasks must be at least 4 and --cases at least 1")
    pid = f"bench_linear{args.tasks}"
    tmp = Path(tempfile.mkdtemp(prefix="bench_positions_"))
    try:
        procs, forms = tmp / "processes", tmp / "forms"
        write_linear(procs, forms, pid, args.tasks)
        if args.db == "sqlite":
            url = f"sqlite:///{tmp / 'positions.sqlite3'}"
            es.migrate(url)
        else:
            url = args.pg_url
            es.prepare_pg(url)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        lane = es.Lane(args.db, url, es.DEFAULT_CACHE, procs, forms, "positions")
        try:
            # staggered: case i starts i/cases of the way in, so every round of submits covers positions
            # across the whole case and a slow phase of the machine hits them alike
            running = []                                    # [case id, open task id, its position]
            for i in range(args.cases):
                case = lane.new_case(pid)
                tid = lane.ready_task_of(case, pid)
                for _ in range(i * args.tasks // args.cases):
                    tid = lane.submit(tid)["current_tasks"][0]["id"]
                running.append([case, tid, i * args.tasks // args.cases + 1])
            times: dict[int, list[float]] = {}
            stmts: dict[int, list[int]] = {}
            for _round in range(args.tasks):
                for c in running:
                    case, tid, pos = c
                    dt, n, body = lane.timed_submit(tid)
                    times.setdefault(pos, []).append(dt)
                    stmts.setdefault(pos, []).append(n)
                    if body["current_tasks"]:
                        c[1], c[2] = body["current_tasks"][0]["id"], pos + 1
                    elif pos != args.tasks:
                        raise SystemExit(f"case {case} ended at task {pos}")
                    else:
                        c[0] = lane.new_case(pid)
                        c[1], c[2] = lane.ready_task_of(c[0], pid), 1
            # after the run: a read from this thread while the server's thread still holds its connection
            # would open a second one, and the server's next statements would not be prepared on it
            with lane.app.app_context():
                size = max(len(s) for s in db.session.execute(select(ProcessInstance.state).where(
                    ProcessInstance.status == "complete")).scalars())
                db.session.remove()
        finally:
            lane.close()
        print(f"positions: {args.db}, workflow cache on, {args.cases} cases of a {args.tasks}-task linear process; "
              f"ms per submit (client), median by position")
        for a, b in ranges(args.tasks):
            xs = [t for p in range(a, b + 1) for t in times[p]]
            ns = [n for p in range(a, b + 1) for n in stmts[p]]
            label = f"task {a}" if a == b else f"tasks {a}-{b}"
            print(f"  {label:<14} median {statistics.median(xs):6.2f} ms   statements {statistics.median(ns):.0f} "
                  f"({min(ns)}-{max(ns)})   n={len(xs)}")
        t1, last = statistics.median(times[1]), statistics.median(times[args.tasks])
        before = statistics.median(times[args.tasks - 1])
        print(f"  task {args.tasks} / task 1 x{last / t1:.2f}; task {args.tasks - 1} / task 1 x{before / t1:.2f} "
              f"(the last task also ends the process)")
        print(f"  stored state of a finished case (after task {args.tasks}): {size / 1024:.1f} KiB")
        if args.db == "postgresql":
            print(f"  texts of the step's one statement compiled: {len(one_write._SHAPES)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
