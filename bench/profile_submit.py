"""Where the time of one task submit (办理) goes: phases and a cProfile, on the bench's own path.

    .venv/bin/python bench/profile_submit.py [--n 200] [--pg-url postgresql://postgres@127.0.0.1:5432/bench]
                                             [--no-pg] [--cprofile 25] [--sort cumulative] [--dump DIR] [--show-sql]

The lanes of bench/engine_submit.py (same app, same werkzeug server with
TCP_NODELAY, same client, same 20-task linear process), with the default workflow cache and with it
off. Every submit is ``POST /api/tasks/<id>/complete``; N submits per lane, interleaved, positions
1…20 round-robin over cases. Two passes:

1. **phases** — the names a submit goes through are wrapped with a timer that keeps *exclusive*
   time (a nested phase's time is taken out of its caller's), and SQL execution is a phase of its
   own (``before/after_cursor_execute``), so the shares add up to the server's time of the request.
2. **cProfile** — the same submits again with ``cProfile`` switched on around the WSGI app in the
   server thread only (neither werkzeug's HTTP handling nor the client is profiled): the functions
   with the most own time.

The phases cover the WSGI app (``Flask.wsgi_app``); what werkzeug's server and the client add is
the client-measured mean minus that.

The PostgreSQL database (default ``bench``, never ``test``) has its ``public`` schema dropped,
recreated and migrated at start, as in engine_submit.py.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engine_submit as es  # noqa: E402  (sets up sys.path, APP_ENV, LOG_LEVEL like the bench)

from sqlalchemy import event  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.extensions import db  # noqa: E402


class Phases:
    """Exclusive time per phase on the current call stack (one server thread per lane)."""

    def __init__(self):
        self.stack: list[list] = []
        self.acc: dict[str, float] = defaultdict(float)
        self.on = False

    def enter(self, name):
        t = time.perf_counter()
        if self.stack:
            top = self.stack[-1]
            self.acc[top[0]] += t - top[1]
        self.stack.append([name, t])

    def leave(self):
        t = time.perf_counter()
        name, t0 = self.stack.pop()
        self.acc[name] += t - t0
        if self.stack:
            self.stack[-1][1] = t

    def wrap(self, fn, name):
        def wrapper(*a, **kw):
            if not self.on:
                return fn(*a, **kw)
            self.enter(name)
            try:
                return fn(*a, **kw)
            finally:
                self.leave()
        wrapper.__wrapped__ = fn
        return wrapper


PH = Phases()
PROFILER: list = [None]
#: the cProfile is on only around the timed submit (not the client's GET of the task list), and the
#: phase wrappers are off then, so the profile's call tree is the app's own
PROFILE_ON = [False]

#: (module, attribute, phase). Nested names are fine: the time is exclusive.
WRAPS = [
    ("flask.app", "Flask.wsgi_app", "Flask (request/response objects, routing, hooks, context, other)"),
    ("webargs.core", "Parser.parse", "request parsing (webargs/marshmallow: TaskCompleteIn)"),
    ("app.web.api.routes", "actor", "auth (token -> actor)"),
    ("app.services.inbox.operations", "_lock", "lock + read (instance, task, case)"),
    ("app.services.inbox.operations", "_open_for", "checks (may act, policy)"),
    ("app.services.inbox.operations", "require", "checks (may act, policy)"),
    ("app.services.inbox.operations", "decision_assurance_required", "checks (may act, policy)"),
    ("app.services.inbox.operations", "version_forms", "form validation"),
    ("app.services.inbox.operations", "_prepare", "form validation"),
    ("app.services.inbox.operations", "before_complete", "form validation"),
    ("app.services.inbox.task_base", "load_workflow", "engine: load (cache hit or state -> workflow)"),
    ("app.engine.runtime", "load_state", "serialization (load_state / dump_state)"),
    ("app.engine.runtime", "dump_state", "serialization (load_state / dump_state)"),
    ("app.engine.runtime", "Engine.complete", "engine: step (SpiffWorkflow run + projections views)"),
    ("app.services.inbox.task_base", "record_event", "trail (case_events row, hash chain)"),
    ("app.services.cases.steps", "record_event", "trail (case_events row, hash chain)"),
    ("app.services.inbox.task_base", "touch", "projections (我经手的 upsert)"),
    ("app.services.inbox.task_base", "apply_step", "projections (tasks, candidates, timers, case, instance)"),
    ("sqlalchemy.orm.session", "Session.flush", "ORM flush (building UPDATE/INSERT from objects)"),
    ("sqlalchemy.orm.session", "Session.commit", "commit (COMMIT, WAL flush)"),
    ("app.web.api.routes", "case_svc.case_state", "response (case state, schema dump, JSON)"),
    ("app.web.api.routes", "_case_out", "response (case state, schema dump, JSON)"),
    ("marshmallow.schema", "Schema.dump", "response (case state, schema dump, JSON)"),
    ("flask.json.provider", "DefaultJSONProvider.response", "response (case state, schema dump, JSON)"),
]
SQL = "SQL execute (driver + server round trip)"


def install(phases=True):
    import importlib
    for mod_name, attr, phase in WRAPS if phases else []:
        mod = importlib.import_module(mod_name)
        owner, _, name = attr.rpartition(".")
        target = mod
        for part in owner.split(".") if owner else []:
            target = getattr(target, part)
        fn = getattr(target, name)
        setattr(target, name, PH.wrap(fn, phase))

    from flask import Flask
    inner = Flask.wsgi_app

    def profiled(self, environ, start_response):
        prof = PROFILER[0]
        if prof is None or not PROFILE_ON[0]:
            return inner(self, environ, start_response)
        prof.enable()
        try:
            return inner(self, environ, start_response)
        finally:
            prof.disable()
    Flask.wsgi_app = profiled


def sql_timer(app):
    with app.app_context():
        eng = db.engine

    @event.listens_for(eng, "before_cursor_execute")
    def _before(*_a):
        if PH.on:
            PH.enter(SQL)

    @event.listens_for(eng, "after_cursor_execute")
    def _after(*_a):
        if PH.on:
            PH.leave()

    @event.listens_for(eng, "handle_error")
    def _error(*_a):
        if PH.on and PH.stack and PH.stack[-1][0] == SQL:
            PH.leave()


def run_submits(lanes, n, start_pos=1, capture_lane=None, profile=False):
    """n submits per lane on fresh cases of the 20-task process; returns the ms per lane."""
    n_cases = math.ceil(n / es.SHORT_TASKS)
    for lane in lanes:
        lane.cases = [lane.new_case(es.PID_SHORT) for _ in range(n_cases)]
    out = {id(lane): [] for lane in lanes}
    count = 0
    for pos in range(1, es.SHORT_TASKS + 1):
        for ci in range(n_cases):
            if count >= n:
                break
            k = count % len(lanes)
            for lane in lanes[k:] + lanes[:k]:
                tid = lane.ready_task_of(lane.cases[ci], es.PID_SHORT)
                capture = lane is capture_lane and pos == es.SHORT_TASKS // 2 and lane.sql_sample is None
                PH.on, PROFILE_ON[0] = not profile, profile
                dt, _, _ = lane.timed_submit(tid, capture)
                PH.on, PROFILE_ON[0] = False, False
                out[id(lane)].append(dt)
            count += 1
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/bench")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--cprofile", type=int, default=25, help="functions listed per cProfile (0: no cProfile pass)")
    ap.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"],
                    help="order of the cProfile's list (own time, or time including the callees)")
    ap.add_argument("--dump", metavar="DIR", help="also write each lane's profile to DIR/<lane>.pstats "
                                                  "(for pstats / snakeviz)")
    ap.add_argument("--profile-only", action="store_true",
                    help="no phase timers (their wrappers would be frames of the cProfile's call tree): "
                         "only the cProfile pass, for --dump")
    ap.add_argument("--show-sql", action="store_true", help="the full SQL of one PostgreSQL submit")
    args = ap.parse_args()
    install(phases=not args.profile_only)
    tmp = Path(tempfile.mkdtemp(prefix="bench_profile_"))
    lanes = []
    try:
        procs, forms = tmp / "processes", tmp / "forms"
        es.write_linear(procs, forms, es.PID_SHORT, es.SHORT_TASKS)
        es.write_linear(procs, forms, es.PID_LONG, es.LONG_TASKS)
        template = tmp / "template.sqlite3"
        es.migrate(f"sqlite:///{template}")
        dbs = [("sqlite", None)]
        if not args.no_pg:
            es.prepare_pg(args.pg_url)
            dbs.append(("postgresql", args.pg_url))
        for kind, url in dbs:
            for cache in (es.DEFAULT_CACHE, 0):
                if kind == "sqlite":
                    dbfile = tmp / f"lane_{cache}.sqlite3"
                    shutil.copy(template, dbfile)
                    url = f"sqlite:///{dbfile}"
                lane = es.Lane(kind, url, cache, procs, forms, f"{kind}_{cache}")
                sql_timer(lane.app)
                lane.acc = {}
                lanes.append(lane)
        for lane in lanes:                                  # warm-up, untimed
            wc = lane.new_case(es.PID_SHORT)
            for _ in range(5):
                lane.submit(lane.ready_task_of(wc, es.PID_SHORT))
        pg_default = next((ln for ln in lanes if ln.kind == "postgresql" and ln.cache), None)

        # pass 1: phases, one lane at a time inside the interleaving (the accumulator is swapped)
        times = {id(ln): [] for ln in lanes}
        n_cases = math.ceil(args.n / es.SHORT_TASKS)
        for lane in lanes:
            lane.cases = [lane.new_case(es.PID_SHORT) for _ in range(n_cases)]
        count = 0
        for pos in range(1, es.SHORT_TASKS + 1):
            for ci in range(n_cases):
                if count >= args.n:
                    break
                k = count % len(lanes)
                for lane in lanes[k:] + lanes[:k]:
                    tid = lane.ready_task_of(lane.cases[ci], es.PID_SHORT)
                    capture = lane is pg_default and pos == es.SHORT_TASKS // 2 and lane.sql_sample is None
                    PH.acc = defaultdict(float)
                    PH.on = True
                    dt, ns, _ = lane.timed_submit(tid, capture)
                    PH.on = False
                    for key, v in PH.acc.items():
                        lane.acc[key] = lane.acc.get(key, 0.0) + v
                    times[id(lane)].append(dt)
                    lane.stmts.append(ns)
                count += 1

        # pass 2: cProfile per database (cache on: the default)
        profiles = {}
        if args.cprofile:
            for lane in [ln for ln in lanes if ln.cache]:
                PROFILER[0] = cProfile.Profile()
                run_submits([lane], args.n, profile=True)
                profiles[lane.label] = PROFILER[0]
                PROFILER[0] = None
    finally:
        for lane in lanes:
            lane.close()
        shutil.rmtree(tmp, ignore_errors=True)

    W = 100
    print("=" * W)
    print(f"profile_submit: N={args.n} submits per lane (20-task linear process), exclusive time per phase, "
          f"share of the server-side time")
    print("-" * W)
    labels = [ln.label for ln in lanes]
    phases = []
    for _, _, phase in WRAPS + [(None, None, SQL)]:
        if phase not in phases:
            phases.append(phase)
    print(f"{'phase (ms per submit | share)':58}" + "".join(f"{lab:>22}" for lab in labels))
    totals = {id(ln): sum(ln.acc.values()) for ln in lanes}
    for phase in phases:
        cells = []
        for ln in lanes:
            ms = ln.acc.get(phase, 0.0) * 1000 / len(times[id(ln)])
            cells.append(f"{ms:7.3f} {100 * ln.acc.get(phase, 0.0) / totals[id(ln)]:5.1f}%")
        print(f"{phase[:58]:58}" + "".join(f"{c:>22}" for c in cells))
    print(f"{'server-side total (WSGI app, ms)':58}" + "".join(
        f"{totals[id(ln)] * 1000 / len(times[id(ln)]):>22.3f}" for ln in lanes))
    print(f"{'client-measured mean (ms)':58}" + "".join(
        f"{sum(times[id(ln)]) / len(times[id(ln)]):>22.3f}" for ln in lanes))
    print(f"{'  of which outside the WSGI app (HTTP, socket, client)':58}" + "".join(
        f"{sum(times[id(ln)]) / len(times[id(ln)]) - totals[id(ln)] * 1000 / len(times[id(ln)]):>22.3f}"
        for ln in lanes))
    print(f"{'client-measured median (ms)':58}" + "".join(f"{es.median(times[id(ln)]):>22.2f}" for ln in lanes))
    print(f"{'SQL statements / submit (median)':58}" + "".join(f"{es.median(ln.stmts):>22.0f}" for ln in lanes))
    if pg_default is not None and pg_default.sql_sample:
        print()
        print(f"SQL of one submit on PostgreSQL (cache on, position {es.SHORT_TASKS // 2}), "
              f"{len(pg_default.sql_sample)} statements:")
        for i, stmt in enumerate(pg_default.sql_sample, 1):
            print(f"  {i:2}. {stmt if args.show_sql else stmt[:150]}")
    for label, prof in profiles.items():
        print()
        print("=" * W)
        print(f"cProfile, {label}: top {args.cprofile} by {'own time' if args.sort == 'tottime' else 'time with callees'}"
              f" (server thread, {args.n} submits)")
        s = io.StringIO()
        pstats.Stats(prof, stream=s).strip_dirs().sort_stats(args.sort).print_stats(args.cprofile)
        if args.dump:
            Path(args.dump).mkdir(parents=True, exist_ok=True)
            prof.dump_stats(str(Path(args.dump) / (label.split()[0] + ".pstats")))
        print("\n".join(line for line in s.getvalue().splitlines()[4:] if line.strip()))


if __name__ == "__main__":
    main()
