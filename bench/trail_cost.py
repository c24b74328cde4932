"""Part 6 of bench/engine_submit.py: the tamper-evident trail's cost per step (issue 17). Two lanes per
database, the same process, the hash chain on and TRAIL_CHAIN=False (record_event writes no seq /
prev_hash / row_hash and moves no head), timed interleaved like part 1; printed: the submit medians,
their ratio and the SQL statements per submit with the extra ones the chain costs (target <= +1)."""
from __future__ import annotations

import math

from benchstats import median, p95


def mark(ok):
    return "PASS" if ok else "FAIL"


def measure_trail(lanes, n, pid, tasks, part=6):
    """N timed submits on the 20-task process per lane (trail chain on / off), interleaved like part 1;
    the SQL of one submit at position 10 kept per lane."""
    def rotated(i):
        k = i % len(lanes)
        return lanes[k:] + lanes[:k]

    for lane in lanes:
        wc = lane.new_case(pid)
        for _ in range(5):
            lane.submit(lane.ready_task_of(wc, pid))
    n_cases = math.ceil(n / tasks)
    for lane in lanes:
        lane.cases = [lane.new_case(pid) for _ in range(n_cases)]
    count = 0
    for pos in range(1, tasks + 1):
        for ci in range(n_cases):
            if count >= n:
                break
            for lane in rotated(count):
                capture = lane.sql_sample is None and pos == tasks // 2
                dt, ns, _ = lane.timed_submit(lane.ready_task_of(lane.cases[ci], pid), capture)
                lane.times.append(dt)
                lane.stmts.append(ns)
                lane.s_pos.setdefault(pos, []).append(ns)
            count += 1
    print(f"  part {part}: {count} positions x {len(lanes)} lanes timed", flush=True)


def report_trail(trail_lanes, dbs, show_sql, tasks):
    """6. The tamper-evident trail's cost per step (issue 17): the chain on vs off (TRAIL_CHAIN)."""
    short = {"sqlite": "SQLite", "postgresql": "PG"}
    print()
    print("6. Trail chain (issue 17): submit with the hash chain on vs TRAIL_CHAIN=False (cache on), "
          "same process, interleaved")
    for kind, _ in dbs:
        by = {lane.trail: lane for lane in trail_lanes if lane.kind == kind}
        on, off = by[True], by[False]
        s_on, s_off = median(on.s_pos[tasks // 2]), median(off.s_pos[tasks // 2])
        print(f"  {short[kind]:8} submit median on {median(on.times):6.2f} ms  off {median(off.times):6.2f} ms  "
              f"p95 {p95(on.times):6.2f} / {p95(off.times):6.2f}  on / off x{median(on.times) / median(off.times):.3f}  "
              f"(+{median(on.times) - median(off.times):.2f} ms)")
        print(f"  {'':8} SQL statements / submit (position {tasks // 2}) on {s_on:.0f}  off {s_off:.0f}  "
              f"extra {s_on - s_off:+.0f} {mark(s_on - s_off <= 1)} (target <= +1 per step); "
              f"all submits {min(on.stmts)}-{max(on.stmts)} vs {min(off.stmts)}-{max(off.stmts)}")
        if show_sql:
            for lane in (on, off):
                print(f"    SQL of one submit, chain {'on' if lane.trail else 'off'} ({len(lane.sql_sample or [])}):")
                for stmt in lane.sql_sample or []:
                    print(f"      {stmt}")
