"""What the ORM costs in the read of a submit: the lock and the read of instance, task and case three ways.

    .venv/bin/python bench/orm_read.py [--rounds 7] [--n 300] [--pg-url postgresql://postgres@127.0.0.1:5432/bench]

The question it answers (issue 20): would task operations written without the ORM close the gap between
a PostgreSQL submit and the replay of its statements? The read is the ORM's largest part of a submit
(three objects with all their columns, every attribute instrumented). One PostgreSQL lane of
bench/engine_submit.py (its database is dropped, recreated and migrated; never ``test``) starts cases of
the 20-task process over HTTP; then, in the app's context, each way is timed on the same ready tasks,
interleaved, each followed by a ROLLBACK (the lock is released, nothing changes):

* ``app``  — ``task_base._lock``: the lock (Core on the session's connection) and the ORM read
  (``select(ProcessInstance, HumanTask, Case)`` with ``populate_existing``, the stored state deferred when
  the engine keeps the workflow), as a submit does it;
* ``core`` — the same two statements with the same columns through SQLAlchemy Core: rows, no objects;
* ``driver`` — the same two statements as SQL text on the psycopg cursor under the session: no
  SQLAlchemy at all, the floor of the read on this driver.

Prints the median over rounds of each way's mean (ms) and ``app - core`` (what the objects cost) and
``core - driver`` (what SQLAlchemy's execution costs), next to a submit's median measured over HTTP in the
same run.
"""
from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import engine_submit as es   # bench/ is first on sys.path when run as a script
from benchstats import median
from sqlalchemy import bindparam, select

from app.extensions import db


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=300, help="reads per way and round")
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/bench")
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="bench_orm_read_"))
    lane = None
    try:
        procs, forms = tmp / "processes", tmp / "forms"
        es.write_linear(procs, forms, es.PID_SHORT, es.SHORT_TASKS)
        es.prepare_pg(args.pg_url)
        lane = es.Lane("postgresql", args.pg_url, es.DEFAULT_CACHE, procs, forms, "orm_read")
        cases = [lane.new_case(es.PID_SHORT) for _ in range(args.cases)]
        tasks = [lane.ready_task_of(c, es.PID_SHORT) for c in cases]
        submits = []
        for tid in tasks[: args.cases // 2]:          # a submit over HTTP, for scale (then untouched cases)
            submits.append(lane.timed_submit(tid)[0])
        tasks = tasks[args.cases // 2:]
        print(run(lane, tasks, args.rounds, args.n, median(submits)))
    finally:
        if lane is not None:
            lane.close()
        shutil.rmtree(tmp, ignore_errors=True)


def run(lane, tasks, rounds, n, submit_ms):
    from app.models import Case, HumanTask, ProcessInstance
    from app.services.inbox import task_base
    pi, ht, cs = ProcessInstance.__table__, HumanTask.__table__, Case.__table__
    with lane.app.app_context():
        dialect = db.engine.dialect
        # the Core read keeps the stored state out, as the app's read does on a cache hit (every task here
        # follows a committed step the engine kept); the same bind parameter as the app's statements
        read = (select(*[c for c in (*pi.c, *ht.c, *cs.c) if c is not pi.c.state])
                .select_from(pi.join(ht, ht.c.instance_id == pi.c.id).outerjoin(cs, cs.c.id == ht.c.case_id))
                .where(ht.c.id == bindparam("task_id")))
        lock_sql, read_sql = (str(stmt.compile(dialect=dialect)).replace("%(task_id)s", "%s")
                              for stmt in (task_base._LOCK, read))

        def way_app(tid):
            task_base._lock(tid)
            db.session.rollback()

        def way_core(tid):
            conn = db.session.connection()
            conn.execute(task_base._LOCK, {"task_id": tid}).first()
            conn.execute(read, {"task_id": tid}).first()
            db.session.rollback()

        def way_driver(tid):
            cur = db.session.connection().connection.dbapi_connection.cursor()
            cur.execute(lock_sql, (tid,))
            cur.fetchone()
            cur.execute(read_sql, (tid,))
            cur.fetchone()
            cur.close()
            db.session.rollback()

        ways = {"app (ORM read, as a submit)": way_app, "core (same statements, rows)": way_core,
                "driver (SQL text on psycopg)": way_driver}
        for fn in ways.values():                        # warm: compiled cache, prepared statements
            for tid in tasks * 3:
                fn(tid)
        means = {name: [] for name in ways}
        for r in range(rounds):
            order = list(ways.items()) if r % 2 == 0 else list(ways.items())[::-1]
            for name, fn in order:
                t0 = time.perf_counter()
                for i in range(n):
                    fn(tasks[i % len(tasks)])
                means[name].append((time.perf_counter() - t0) / n * 1000.0)
    med = {name: median(v) for name, v in means.items()}
    app_ms, core_ms, drv_ms = med.values()
    lines = [f"orm_read: the lock + read of a submit's task, instance and case on PostgreSQL, {rounds} rounds x {n}, "
             f"each followed by ROLLBACK; median of the rounds' means (ms)"]
    lines += [f"  {name:<32} {ms:6.3f}" for name, ms in med.items()]
    lines.append(f"  {'the objects (app - core)':<32} {app_ms - core_ms:6.3f}  = "
                 f"{100 * (app_ms - core_ms) / submit_ms:.1f} % of a submit over HTTP (median {submit_ms:.2f} ms, same run)")
    lines.append(f"  {'SQLAlchemy Core (core - driver)':<32} {core_ms - drv_ms:6.3f}  = "
                 f"{100 * (core_ms - drv_ms) / submit_ms:.1f} % of it")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
