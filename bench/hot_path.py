"""Part 7 of bench/engine_submit.py (issue 20): the writes of a step as one statement on PostgreSQL,
and a submit against the replay of its own statements.

* one statement on / off: two PostgreSQL lanes (``STEP_ONE_STATEMENT`` on and off, cache on), the
  20-task process, timed interleaved as parts 1 and 6: medians, ratio, statements per submit.
* replay: pairs of cases of the 20-task process, both brought to the same position by untimed
  submits. Case A's submit is timed over HTTP and its statements are captured with their parameters
  as the driver got them; the same statements are then sent for case B over a plain psycopg
  connection, with a COMMIT, and timed: A's case, instance and task ids replaced by B's, the id of the
  task the step creates by a new one. What is left between the two is Python: Flask, the engine, the
  ORM, JSON. Target (issue 20): submit median <= 2x the replay median. SQLite's submits are replayed
  the same way (over a plain sqlite3 connection with the app's pragmas), for the floor below.
* floor: what a submit cannot go below in this stack, each part measured in the same run: the replay
  of its statements, the engine's step on a kept workflow (``Engine.complete``, with the dump: a cache
  hit's engine work) and an empty request (``GET /healthz``: the harness, Flask and the app's hooks).
  Printed against the ratio targets, to show what each target leaves for everything else."""
from __future__ import annotations

import time
import uuid

from benchstats import median, p95

REPLAY_TARGET = 2.0
STATEMENTS_TARGET = 6


def mark(ok):
    return "PASS" if ok else "FAIL"


def _ids(lane, case_id):
    from app.extensions import db
    from app.models import Case
    with lane.app.app_context():
        inst = db.session.get(Case, case_id).instance_id
        db.session.remove()
    return inst


def _swap(value, strings: dict, ints: dict):
    if isinstance(value, str):
        return strings.get(value, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return ints.get(value, value)
    if isinstance(value, dict):
        return {k: _swap(v, strings, ints) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_swap(v, strings, ints) for v in value)
    return value


def measure_replay(lane, url: str, pairs: int, pid: str, position: int):
    """``pairs`` timed submits on ``lane`` (PostgreSQL or SQLite) and the replay of each one's statements."""
    while lane.new_case(pid) < 100:   # ids above any revision or sequence number of the swap below
        pass
    conn = _replay_connection(lane, url)
    try:
        for _ in range(pairs):
            a, b = lane.new_case(pid), lane.new_case(pid)
            for cid in (a, b):
                for _ in range(position - 1):
                    lane.submit(lane.ready_task_of(cid, pid))
            ta, tb = lane.ready_task_of(a, pid), lane.ready_task_of(b, pid)
            ia, ib = _ids(lane, a), _ids(lane, b)
            if (a == ia) != (b == ib) or min(a, b, ia, ib) < 100:
                print(f"  part 7: ids {a, b, ia, ib} not used", flush=True)
                continue   # an id that could be taken for a revision or a sequence number: not a fair swap
            lane.counter.raw = []
            dt, _, body = lane.timed_submit(ta)
            captured, lane.counter.raw = lane.counter.raw, None
            new_a = [t["id"] for t in body["current_tasks"]]
            strings = {ta: tb, **{t: str(uuid.uuid4()) for t in new_a}}
            ints = {a: b, ia: ib}
            stmts = [(s, _swap(p, strings, ints), many) for s, p, many in captured]
            t0 = time.perf_counter()
            cur = conn.cursor()
            for stmt, params, many in stmts:   # SQLite: the first is the app's BEGIN IMMEDIATE
                if many:
                    cur.executemany(stmt, params)
                else:
                    cur.execute(stmt, params)
                    if cur.description is not None:
                        cur.fetchall()
            cur.close()
            conn.commit()
            rt = (time.perf_counter() - t0) * 1000.0
            lane.replay.append((dt, rt, len(stmts)))
    finally:
        conn.close()
    print(f"  part 7: {len(lane.replay)} {lane.kind} submits replayed", flush=True)


def _replay_connection(lane, url):
    """A plain driver connection to the lane's database, set up as the app's connections are."""
    if lane.kind != "sqlite":
        import psycopg
        return psycopg.connect(url)
    import sqlite3

    from app import SQLITE_PRAGMAS
    path = lane.app.config["SQLALCHEMY_DATABASE_URI"].split("sqlite:///", 1)[1]
    conn = sqlite3.connect(path, isolation_level=None)  # the captured BEGIN IMMEDIATE opens the transaction
    for pragma in SQLITE_PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    return conn


def measure_empty(lane, n: int):
    """``n`` timed ``GET /healthz`` through the lane's harness: server, client, Flask and every hook."""
    lane.empty = [lane.cli.timed_get("/healthz") for _ in range(n)]


def report_hot_path(one_lanes, replay_lanes, tasks: int):
    """7. What issue 20 asks of PostgreSQL: the statements of a submit and the time over their replay."""
    print()
    print("7. Issue 20: the writes of a step as one statement (STEP_ONE_STATEMENT; SQLite: one each, built once "
          "per shape) on vs off, cache on, interleaved; and the PostgreSQL submit vs the replay of its own statements")
    for kind in ("postgresql", "sqlite"):
        by = {lane.one_statement: lane for lane in one_lanes if lane.kind == kind}
        if len(by) < 2:
            continue
        on, off = by[True], by[False]
        s_on, s_off = median(on.s_pos[tasks // 2]), median(off.s_pos[tasks // 2])
        print(f"  {kind:10} submit median on {median(on.times):6.2f} ms  off {median(off.times):6.2f} ms  "
              f"p95 {p95(on.times):6.2f} / {p95(off.times):6.2f}  on / off x{median(on.times) / median(off.times):.3f}")
        target = f"{mark(s_on <= STATEMENTS_TARGET)} (target <= {STATEMENTS_TARGET})" if kind == "postgresql" else \
            "(one each: SQLite has no DML in a CTE; incl. BEGIN IMMEDIATE)"
        print(f"  {'':10} SQL statements / submit (position {tasks // 2}): on {s_on:.0f}  off {s_off:.0f}  "
              f"{target}; all submits {min(on.stmts)}-{max(on.stmts)} vs {min(off.stmts)}-{max(off.stmts)}")
    for lane in replay_lanes:
        if lane.replay:
            _report_replay(lane)


def _report_replay(lane):
    dts, rts = [d for d, _, _ in lane.replay], [r for _, r, _ in lane.replay]
    head = (f"  {lane.kind}: submit over HTTP median {median(dts):6.2f} ms, replay of its "
            f"{median([n for *_, n in lane.replay]):.0f} statements + COMMIT median {median(rts):6.2f} ms")
    if lane.kind == "postgresql":
        ratio = median(dts) / median(rts)
        print(f"{head}: x{ratio:.2f} {mark(ratio <= REPLAY_TARGET)} (target <= x{REPLAY_TARGET}; n={len(dts)})")
    else:
        print(f"{head} (n={len(dts)}; no target: for the floor, part 8)")


def report_floor(lanes, engine_cached: float, raw: float, raw_target: float):
    """8. The floor of a submit in this stack, each part measured in this run, against issue 20's ratios.
    ``lanes``: the replayed lanes (one per database, ``empty`` measured); ``engine_cached``: the median of
    ``Engine.complete`` on a kept workflow; ``raw``: the raw step (the SQLite target's unit)."""
    if not any(lane.replay for lane in lanes):
        return   # --no-pg: part 7 did not run
    print()
    print("8. The floor of a submit here: its statements replayed + COMMIT, the engine's step on a kept workflow "
          "(Engine.complete with the dump), an empty request through the same harness (GET /healthz)")
    for lane in lanes:
        if not lane.replay or not lane.empty:
            continue
        sub = median([d for d, _, _ in lane.replay])
        rep = median([r for _, r, _ in lane.replay])
        empty = median(lane.empty)
        floor = rep + engine_cached + empty
        unit, target, name = (raw, raw_target, "raw") if lane.kind == "sqlite" else (rep, REPLAY_TARGET, "replay")
        allowed = target * unit
        print(f"  {lane.kind:10} replay {rep:5.2f} + engine {engine_cached:5.2f} + empty request {empty:5.2f} = floor "
              f"{floor:5.2f} ms = x{floor / unit:.2f} {name}; target x{target:g} {name} = {allowed:5.2f} ms leaves "
              f"{allowed - floor:5.2f} ms for the rest (read, auth, checks, trail, projections, answer), "
              f"which takes {sub - floor:5.2f} ms today (submit {sub:5.2f} ms)")
