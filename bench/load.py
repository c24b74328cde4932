"""Load benchmark: locust (as a library, headless) against a real gunicorn server and a scheduler.

    .venv/bin/python bench/load.py [--seconds 20] [--users 1,8,32] [--workers 2] [--db postgresql|sqlite]
                                   [--worker-class sync|gthread] [--threads 1]
                                   [--pg-url postgresql://postgres@127.0.0.1:5432/bench_load] [--no-pgbench]

One run: a fresh database (PostgreSQL: the database of --pg-url is dropped and recreated — names the
test suite owns are refused; SQLite: a temporary file), migrated and seeded with the CLI
(``flask db upgrade``, ``flask demo seed``); ``gunicorn -w WORKERS wsgi:app`` and one
``flask scheduler run`` as subprocesses (APP_ENV=development, DEPLOY_ON_START=0: the seed deployed);
a backlog of applications over the API so the clerks have work from the first second; then one
phase per user count, each ``--seconds`` long after the users have started and signed in:

* ``Applicant`` (weight 1): signs in on the portal (mobile + password), then applies to a random
  shipped matter (draft, one PDF upload per required material, submit) and reads its case page
  (progress) a few times;
* ``Clerk`` (weight 3): signs in at /login as the first user of its desk (window; investment;
  energy and power; the countersigning departments — desks taken in turn), reads the HTML inbox,
  and works the desk's 待办: list, claim, read, complete with the matter's path-test data.
  A lost race (409) is an expected answer, not a failure.

The clients are tests/ops/loadmix.py, the same as the several-nodes test. Think time: 0.2–1 s.

Printed: per phase users, completions/s (200s of complete), requests/s, failures, p50/p95 per
request type; PostgreSQL's single-client commit rate measured in the same run with pgbench (a small
pgbench database, ``pgbench -c 1 -j 1 -T 10 -N``) and completions/s at 8 users as a ratio to it;
the CPU seconds of each phase (psutil cpu_times deltas) split between the web workers (the gunicorn
master's children), the scheduler, the script workers (children of both), the PostgreSQL backends
of the bench database, PostgreSQL's other processes, and the load generator.
"""
from __future__ import annotations

# locust patches the standard library for gevent: import it before everything else
from gevent import monkey  # noqa: E402

monkey.patch_all()

import argparse  # noqa: E402
import itertools  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402
import requests  # noqa: E402
from locust import HttpUser, between, constant, events, task  # noqa: E402
from locust.contrib.fasthttp import FastHttpUser  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.exception import RescheduleTask  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APP_ENV", "development")  # a bench is no production server: the demo SECRET_KEY will do

from tests.fixtures.build import write_linear  # noqa: E402
from tests.ops import loadmix as lm  # noqa: E402

BIN = Path(sys.executable).parent
FORBIDDEN = {"test", "postgres", "template0", "template1"}
PLANS = lm.plans(standalone=True)   # the matters applied for without a prior approval
GROUPS = lm.staff_by_group()
DESKS = [["window1"], ["invest1", "invest_chief", "leader1"],
         ["energy1", "energy_chief", "power1", "power_chief"],
         sorted(u for g, us in GROUPS.items() if g.startswith("cs_") for u in us)]
COMPLETIONS = {"n": 0}
READY = {"n": 0}   # users past on_start (signed in): a phase is measured once all are


# -- locust users ------------------------------------------------------------------------------------
class LocustHttp:
    """The loadmix adapter over locust's HttpSession: statistics by request type; a status outside
    ``expect`` is a failure and ends the task (RescheduleTask)."""

    def __init__(self, client):
        self.client = client

    def call(self, method, path, name, expect=(200,), **kw):
        kw.setdefault("allow_redirects", False)
        with self.client.request(method, path, name=name, catch_response=True, **kw) as r:
            if r.status_code in expect:
                r.success()
                if name == "complete" and r.status_code == 200:
                    COMPLETIONS["n"] += 1
            else:
                r.failure(f"{r.status_code}: {r.text[:120]}")
                raise RescheduleTask()
        return r


class Applicant(HttpUser):
    weight = 1
    wait_time = between(0.2, 1.0)

    def on_start(self):
        self.http = LocustHttp(self.client)
        self.mine: list[int] = []
        try:
            self.csrf = lm.portal_login(self.http)
        finally:
            READY["n"] += 1

    @task(1)
    def apply(self):
        case = lm.portal_apply(self.http, self.csrf, PLANS[random.choice(sorted(PLANS))])
        self.mine.append(case["case_id"])

    @task(3)
    def progress(self):
        if self.mine:
            lm.portal_progress(self.http, random.choice(self.mine[-10:]))


_desks = itertools.count()


class Clerk(HttpUser):
    weight = 3
    wait_time = between(0.2, 1.0)

    def on_start(self):
        self.http = LocustHttp(self.client)
        self.desk = DESKS[next(_desks) % len(DESKS)]
        try:
            lm.staff_login(self.http, self.desk[0])
        finally:
            READY["n"] += 1

    @task(1)
    def inbox(self):
        lm.inbox_page(self.http)

    @task(4)
    def work(self):
        for user in random.sample(self.desk, len(self.desk)):
            if lm.work_one(self.http, user, PLANS) is not None:
                return


HOT_PID = "bench_linear20"          # --hot: the 20-task linear process of bench/engine_submit.py
HOT_STEP = {"data": {"opinion": "同意，按程序办理。", "decision": "approve"}}
HOT_TOKENS: dict[str, str] = {}     # --hot: "applicant" / "staff" -> API token (flask users add)


class Completer(FastHttpUser):
    """--hot: completes tasks back to back, no think time: a case of the 20-task linear process is
    started over the API, then each ``POST /api/tasks/<id>/complete`` names the next task in its answer
    (where the case stands now); at the end of a case the next one is started."""
    wait_time = constant(0)

    def on_start(self):
        self.task_id = None
        self.staff = {"Authorization": f"Bearer {HOT_TOKENS['staff']}"}
        self.applicant = {"Authorization": f"Bearer {HOT_TOKENS['applicant']}"}
        READY["n"] += 1

    def _post(self, path, name, headers, body, expect):
        with self.client.request("POST", path, name=name, headers=headers, json=body, catch_response=True) as r:
            if r.status_code != expect:
                r.failure(f"{r.status_code}: {(r.text or '')[:120]}")
                self.task_id = None
                raise RescheduleTask()
            r.success()
            return r.json()

    @task
    def step(self):
        if self.task_id is None:
            case = self._post("/api/cases", "hot apply", self.applicant,
                              {"process_id": HOT_PID, "data": {"title": "基准测试项目"}}, 201)
        else:
            case = self._post(f"/api/tasks/{self.task_id}/complete", "complete", self.staff, HOT_STEP, 200)
            COMPLETIONS["n"] += 1
        tasks = case.get("current_tasks") or []
        self.task_id = tasks[0]["id"] if tasks else None


# -- processes -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, args, tmp: Path):
        self.args, self.tmp, self.procs = args, tmp, []
        if args.db == "sqlite":
            self.url, self.dbname = f"sqlite:///{tmp / 'bench.sqlite3'}", None
        else:
            base, self.dbname = args.pg_url.rsplit("/", 1)
            if self.dbname in FORBIDDEN:
                raise SystemExit(f"refusing to use database {self.dbname!r}")
            self.url, self.admin_url = args.pg_url, f"{base}/postgres"
        self.env = dict(os.environ, APP_ENV="development", DATABASE_URL=self.url, DEPLOY_ON_START="0",
                        FILES_DIR=str(tmp / "files"), LOG_LEVEL="WARNING", SUPERVISION_SECONDS="10",
                        PYTHONPATH=str(ROOT))
        for key in ("TWILIO_ACCOUNT_SID", "FLASK_APP", "PROCESSES_DIR", "FORMS_DIR"):
            self.env.pop(key, None)
        if args.hot:   # only the linear process of the bench: no shipped matters, no demo data
            write_linear(tmp / "processes", tmp / "forms", HOT_PID, 20)
            self.env.update(PROCESSES_DIR=str(tmp / "processes"), FORMS_DIR=str(tmp / "forms"))

    def create_database(self):
        if self.dbname is None:
            return
        import psycopg
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.dbname}"')

    def flask(self, *args):
        r = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                           capture_output=True, text=True, timeout=300)
        if r.returncode:
            raise SystemExit(f"flask {' '.join(args)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
        return r.stdout

    def spawn(self, label, argv):
        log = open(self.tmp / f"{label}.log", "wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs.append((label, proc))
        return proc

    def start(self):
        port = free_port()
        self.web = self.spawn("web", [str(BIN / "gunicorn"), "-w", str(self.args.workers), "-b",
                                      f"127.0.0.1:{port}", "--control-socket", str(self.tmp / "web.ctl"),
                                      "-k", self.args.worker_class, "--threads", str(self.args.threads),
                                      "wsgi:app"])
        self.scheduler = self.spawn("scheduler", [str(BIN / "flask"), "--app", "wsgi", "scheduler", "run"])
        self.host = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 60
        while time.monotonic() < end:
            for label, proc in self.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"{label} exited:\n" + (self.tmp / f"{label}.log").read_text()[-3000:])
            try:
                if requests.get(self.host + "/api/matters", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise SystemExit("the server did not answer within 60 s")

    def stop(self):
        lm.stop_processes([proc for _, proc in self.procs])

    def drop_database(self):
        if self.dbname is None:
            return
        import psycopg
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')

    # -- CPU accounting ------------------------------------------------------------------------------
    def groups(self) -> dict[str, list[psutil.Process]]:
        """Processes by role, now (script workers and database connections come and go)."""
        out = {k: [] for k in ("web workers", "scheduler", "script workers", "postgres backends",
                               "postgres other", "load generator")}
        try:
            web = psutil.Process(self.web.pid)
            workers = web.children()
            out["web workers"] = [web] + workers
            for w in workers:
                out["script workers"] += w.children(recursive=True)
            sched = psutil.Process(self.scheduler.pid)
            out["scheduler"] = [sched]
            out["script workers"] += sched.children(recursive=True)
        except psutil.NoSuchProcess:
            pass
        if self.dbname is not None:
            for p in psutil.process_iter(["name", "cmdline"]):
                if p.info["name"] in ("postgres", "postmaster"):
                    cmd = " ".join(p.info["cmdline"] or [])
                    # a backend's title: "postgres: [15/main: ]<user> <database> <host>(<port>) <state>"
                    backend = re.search(r": (\S+) (\S+) (?:\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\])", cmd)
                    if backend and backend.group(2) == self.dbname:
                        out["postgres backends"].append(p)
                    elif not backend:
                        out["postgres other"].append(p)   # postmaster, walwriter, checkpointer …
        out["load generator"] = [psutil.Process()]
        return out

    def cpu(self) -> dict[tuple[str, int], float]:
        snap = {}
        for role, procs in self.groups().items():
            for p in procs:
                try:
                    t = p.cpu_times()
                    snap[(role, p.pid)] = t.user + t.system
                except psutil.NoSuchProcess:
                    pass
        return snap


def cpu_delta(before: dict, after: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in after.items():
        out[key[0]] = out.get(key[0], 0.0) + value - before.get(key, 0.0)
    return out


# -- pgbench ------------------------------------------------------------------------------------------
def pgbench(admin_url: str, seconds: int = 10) -> float | None:
    """Single-client commit rate: ``pgbench -c 1 -j 1 -T seconds -N`` on a scale-1 database."""
    exe = shutil.which("pgbench") or "/usr/bin/pgbench"
    if not Path(exe).exists():
        return None
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
    info = conninfo_to_dict(admin_url)
    name = "bench_load_pgbench"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    common = ["-h", info.get("host", "127.0.0.1"), "-p", str(info.get("port", 5432)), "-U", info.get("user", "postgres")]
    env = dict(os.environ, PGPASSWORD=info.get("password", "") or "")
    try:
        subprocess.run([exe, "-i", "-s", "1", "-q", *common, name], check=True, capture_output=True, env=env, timeout=120)
        r = subprocess.run([exe, "-c", "1", "-j", "1", "-T", str(seconds), "-N", *common, name],
                           check=True, capture_output=True, text=True, env=env, timeout=seconds + 60)
        m = re.search(r"tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)",
                      r.stdout)
        return float(m.group(1)) if m else None
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the run -------------------------------------------------------------------------------------------
def backlog(host: str, n: int) -> None:
    """``n`` applications over the API (a pool of threads), so the clerks have work at once."""
    log: list = []
    pids = sorted(PLANS)

    def one(i):
        lm.api_apply(lm.RequestsHttp(host, log), PLANS[pids[i % len(pids)]])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(n)))


def phase(env, stack, users: int, seconds: float) -> dict:
    runner = env.runner
    READY["n"] = 0
    runner.start(users, spawn_rate=max(4, users), wait=False)
    end = time.monotonic() + 120
    while READY["n"] < users and time.monotonic() < end:   # everyone started and signed in
        gevent.sleep(0.2)
    gevent.sleep(1.0)
    env.stats.reset_all()
    done0, cpu0, t0 = COMPLETIONS["n"], stack.cpu(), time.monotonic()
    gevent.sleep(seconds)
    elapsed = time.monotonic() - t0
    cpu1, done1 = stack.cpu(), COMPLETIONS["n"]
    rows = []
    for (name, method), e in sorted(env.stats.entries.items()):
        if e.num_requests:
            rows.append((name, e.num_requests, e.num_failures, e.get_response_time_percentile(0.5),
                         e.get_response_time_percentile(0.95)))
    total = env.stats.total
    result = {"users": users, "seconds": elapsed, "completions_s": (done1 - done0) / elapsed,
              "rps": total.num_requests / elapsed, "failures": total.num_failures, "rows": rows,
              "cpu": cpu_delta(cpu0, cpu1),
              "errors": [f"{e.method} {e.name}: {e.error} x{e.occurrences}" for e in env.stats.errors.values()]}
    runner.stop()
    gevent.sleep(1)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--users", default="1,8,32")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--worker-class", default="sync", choices=["sync", "gthread"],
                    help="gunicorn worker class (sync: scripts/gunicorn.conf.py's; gthread keeps connections alive)")
    ap.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (gthread)")
    ap.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/bench_load")
    ap.add_argument("--no-pgbench", action="store_true")
    ap.add_argument("--hot", action="store_true",
                    help="the hot path only: each user completes tasks of a 20-task linear process back to back, "
                         "no think time (issue 20: >= 300 completions/s with 8 users, p95 <= 50 ms)")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.users.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    stack = Stack(args, tmp)
    results, tps = [], None
    try:
        print(f"# database: {args.db}; gunicorn workers: {args.workers} ({args.worker_class}, {args.threads} thread(s) "
              f"each); {os.cpu_count()} CPUs", flush=True)
        stack.create_database()
        stack.flask("db", "upgrade")
        if args.hot:
            stack.flask("processes", "deploy")
            HOT_TOKENS["applicant"] = stack.flask("users", "add", "hot_applicant", "--name", "基准申请人",
                                                  "--kind", "applicant").strip().splitlines()[-1]
            HOT_TOKENS["staff"] = stack.flask("users", "add", "hot_window", "--name", "基准窗口",
                                              "--kind", "staff", "--group", "window").strip().splitlines()[-1]
        else:
            stack.flask("demo", "seed")
        stack.start()
        print(f"# server {stack.host} up; scheduler pid {stack.scheduler.pid}", flush=True)
        env = Environment(user_classes=[Completer] if args.hot else [Applicant, Clerk], host=stack.host,
                          events=events)
        env.create_local_runner()
        for users in counts:
            if not args.hot:
                n = max(20, int(users * args.seconds * 0.6))
                t0 = time.monotonic()
                backlog(stack.host, n)
                print(f"# {users} users: backlog of {n} applications in {time.monotonic() - t0:.1f}s; "
                      f"running {args.seconds:.0f}s", flush=True)
            else:
                print(f"# {users} users completing back to back; running {args.seconds:.0f}s", flush=True)
            results.append(phase(env, stack, users, args.seconds))
        env.runner.quit()
        if args.db == "postgresql" and not args.no_pgbench:
            tps = pgbench(stack.admin_url)
    finally:
        stack.stop()
        stack.drop_database()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, tps, args)


def report(results, tps, args):
    print()
    print("| users | completions/s | requests/s | failures |")
    print("|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['users']} | {r['completions_s']:.1f} | {r['rps']:.1f} | {r['failures']} |")
    print()
    names = sorted({row[0] for r in results for row in r["rows"]})
    print("p50 / p95 (ms) per request type")
    print()
    print("| request | " + " | ".join(f"{r['users']} users" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for name in names:
        cells = []
        for r in results:
            row = next((x for x in r["rows"] if x[0] == name), None)
            cells.append(f"{row[3]:.0f} / {row[4]:.0f} (n={row[1]})" if row else "-")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    roles = ["web workers", "scheduler", "script workers", "postgres backends", "postgres other", "load generator"]
    print("CPU seconds per phase (share of the total)")
    print()
    print("| role | " + " | ".join(f"{r['users']} users" for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for role in roles:
        cells = []
        for r in results:
            total = sum(r["cpu"].values()) or 1.0
            v = r["cpu"].get(role, 0.0)
            cells.append(f"{v:.1f} ({100 * v / total:.0f}%)")
        print(f"| {role} | " + " | ".join(cells) + " |")
    print()
    if tps:
        print(f"pgbench single-client commit rate (-c 1 -j 1 -T 10 -N): {tps:.0f} tps")
        at8 = next((r for r in results if r["users"] == 8), None)
        if at8:
            print(f"completions/s at 8 users: {at8['completions_s']:.1f} = {at8['completions_s'] / tps:.4f} of it "
                  f"(1 : {tps / max(at8['completions_s'], 1e-9):.0f})")
    if args.hot:
        for r in results:
            row = next((x for x in r["rows"] if x[0] == "complete"), None)
            p95 = row[4] if row else float("nan")
            if r["users"] == 8:
                print(f"issue 20, {args.db}, 8 users: {r['completions_s']:.0f} completions/s "
                      f"({'PASS' if r['completions_s'] >= 300 else 'FAIL'}, target >= 300), complete p95 {p95:.0f} ms "
                      f"({'PASS' if p95 <= 50 else 'FAIL'}, target <= 50)")
    for r in results:
        if r["errors"]:
            print(f"failures at {r['users']} users: " + "; ".join(r["errors"][:5]))


if __name__ == "__main__":
    main()
