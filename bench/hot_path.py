"""Part 7 of bench/engine_submit.py (issue 20): the writes of a step as one statement on PostgreSQL,
and a submit against the replay of its own statements.

* one statement on / off: two PostgreSQL lanes (``STEP_ONE_STATEMENT`` on and off, cache on), the
  20-task process, timed interleaved as parts 1 and 6: medians, ratio, statements per submit.
* replay: pairs of cases of the 20-task process, both brought to the same position by untimed
  submits. Case A's submit is timed over HTTP and its statements are captured with their parameters
  as the driver got them; the same statements are then sent for case B over a plain psycopg
  connection, with a COMMIT, and timed: A's case, instance and task ids replaced by B's, the id of the
  task the step creates by a new one. What is left between the two is Python: Flask, the engine, the
  ORM, JSON. Target (issue 20): submit median <= 2x the replay median."""
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
    """``pairs`` timed submits on ``lane`` (PostgreSQL) and the replay of each one's statements."""
    import psycopg
    while lane.new_case(pid) < 100:   # ids above any revision or sequence number of the swap below
        pass
    conn = psycopg.connect(url)
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
            with conn.cursor() as cur:
                for stmt, params, many in stmts:
                    if many:
                        cur.executemany(stmt, params)
                    else:
                        cur.execute(stmt, params)
                        if cur.description is not None:
                            cur.fetchall()
            conn.commit()
            rt = (time.perf_counter() - t0) * 1000.0
            lane.replay.append((dt, rt, len(stmts)))
    finally:
        conn.close()
    print(f"  part 7: {len(lane.replay)} submits replayed", flush=True)


def report_hot_path(one_lanes, replay_lane, tasks: int):
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
    if replay_lane is not None and replay_lane.replay:
        dts = [d for d, _, _ in replay_lane.replay]
        rts = [r for _, r, _ in replay_lane.replay]
        ratio = median(dts) / median(rts)
        print(f"  submit over HTTP median {median(dts):6.2f} ms, replay of its {median([n for *_, n in replay_lane.replay]):.0f} "
              f"statements + COMMIT median {median(rts):6.2f} ms: x{ratio:.2f} {mark(ratio <= REPLAY_TARGET)} "
              f"(target <= x{REPLAY_TARGET}; n={len(dts)})")
