"""Several nodes on one PostgreSQL: two gunicorn servers (2 workers each) and two schedulers, real
processes on loopback, a mixed load through both servers; then nothing is lost or doubled.

The database is a fresh one next to TEST_DATABASE_URL (``<name>_nodes``, dropped at the end),
migrated and seeded with the CLI (``flask db upgrade``, ``flask demo seed``, ``flask users add``).
Every process runs as in production (``APP_ENV=production``, a random 48-character SECRET_KEY,
plain HTTP so ``SESSION_COOKIE_SECURE=0``), with ``DEPLOY_ON_START=0``: ``demo seed`` deployed the
matters once, and six processes starting together would only serialize on the matter rows to
find every version unchanged. SMS go to the Twilio stand-in (tests/fakes) over real HTTP.

The load (threads, ``requests``), alternating the two servers request by request:
* applicants apply to the shipped matters: on the portal (password sign-in, one PDF per required
  material, submit, the case page) and over the API;
* clerks of every group work their 待办 from both nodes at once (list, claim, read, complete), so
  they meet on the same tasks; and a few tasks are raced on purpose: two clerks claim one task on
  the two nodes at the same instant (exactly one wins), then the winner completes it on both nodes
  at the same instant (exactly one completion);
* the 催办 timer of 项目核准 (``division_review_remind``, 4 working days after the step opens) is
  made due by moving its ``due_at`` to now — four working days pass — and the two schedulers fire
  it while the clerks work on; the step itself is left open until every reminder fired.

Then every process is stopped and the database must show: every case approved; one completion
(human_tasks + one ``complete`` trail row) per task and as many as the clients were told 200; at
most one claim row per task; every timer fired once with one ``timer`` and one ``urge`` trail row
and its notices once; every SMS of the outbox sent, and received by the stand-in exactly once; no
answer 5xx, no incident.
"""
from __future__ import annotations

import os
import random
import secrets
import socket
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import _url
from tests.fakes.twilio_standin import TwilioStandIn
from tests.ops import loadmix as lm

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(not _url().startswith("postgresql"),
                                reason="several nodes share one PostgreSQL database (TEST_DATABASE_URL=postgresql://…)")

REMINDED = "xmgl_hezhun"                  # the matter with a 催办 boundary timer
REMINDER = "division_review_remind"
PORTAL_CASES = ["xmgl_hezhun", "xmgl_beian", "jnsc_jieneng", "xmgl_hezhun"]   # per portal applicant
API_CASES = ["xmgl_hezhun", "xhd_rending", "zjsq_zhongyang", "xmgl_beian"]    # per API applicant
RACES = 4                                 # tasks raced on purpose across the two nodes
DEADLINE = 75                             # seconds for the whole load (the test fails past it)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """The database, the processes, their logs; ``stop()`` leaves nothing running."""

    def __init__(self, tmp: Path, standin: TwilioStandIn):
        base, name = _url().rsplit("/", 1)
        self.admin_url = f"{base}/postgres"
        self.dbname = f"{name}_nodes"
        self.url = f"{base}/{self.dbname}"
        self.tmp = tmp
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.env = dict(os.environ, APP_ENV="production", SECRET_KEY=secrets.token_urlsafe(36),
                        SESSION_COOKIE_SECURE="0", DATABASE_URL=self.url, DEPLOY_ON_START="0",
                        FILES_DIR=str(tmp / "files"), SCRIPT_WORKERS="1", LOG_LEVEL="WARNING",
                        SCHEDULER_POLL_SECONDS="0.5", SUPERVISION_SECONDS="3", SMS_SEND_SECONDS="1",
                        SCHEDULER_HEARTBEAT_SECONDS="2", TWILIO_TIMEOUT_SECONDS="5",
                        **{k: str(v) for k, v in standin.config().items()})
        for key in ("TEST_DATABASE_URL", "FLASK_APP", "PROCESSES_DIR", "FORMS_DIR"):
            self.env.pop(key, None)
        self.env["PYTHONPATH"] = str(ROOT)
        # the matters the load applies for and its desks staff: the demo seeds one case per deployed
        # matter, and every case must get through
        only = tmp / "processes"
        only.mkdir(exist_ok=True)
        for pid in sorted(set(PORTAL_CASES + API_CASES)):
            for suffix in (".bpmn", ".matter.json", ".scenarios.json"):
                shutil.copy(ROOT / "processes" / f"{pid}{suffix}", only)
        self.env["PROCESSES_DIR"] = str(only)

    # -- database ---------------------------------------------------------------------------------
    def _admin(self, sql: str) -> None:
        import psycopg
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.dbname}"')

    def drop_database(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')

    def sql(self, query: str, *args) -> list[tuple]:
        import psycopg
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, args)
            return cur.fetchall() if cur.description else [(cur.rowcount,)]

    def flask(self, *args: str) -> str:
        r = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"flask {' '.join(args)}: {r.stdout[-2000:]}\n{r.stderr[-3000:]}"
        return r.stdout

    # -- processes --------------------------------------------------------------------------------
    def spawn(self, label: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{label}.log", "wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs.append((label, proc))
        return proc

    def server(self, label: str) -> str:
        port = _free_port()
        # each master its own control socket: two on one host would share ~/.gunicorn/gunicorn.ctl
        self.spawn(label, [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "60",
                           "--graceful-timeout", "5", "--control-socket", str(self.tmp / f"{label}.ctl"),
                           "wsgi:app"])
        return f"http://127.0.0.1:{port}"

    def scheduler(self, label: str) -> None:
        self.spawn(label, [str(BIN / "flask"), "--app", "wsgi", "scheduler", "run"])

    def wait_ready(self, urls: list[str], timeout: float = 45) -> None:
        import requests
        pending, end = set(urls), time.monotonic() + timeout
        while pending and time.monotonic() < end:
            for label, proc in self.procs:
                assert proc.poll() is None, f"{label} exited ({proc.returncode}):\n{self.log(label)}"
            for url in list(pending):
                try:
                    if requests.get(url + "/api/matters", timeout=2).status_code == 200:
                        pending.discard(url)
                except requests.RequestException:
                    pass
            time.sleep(0.3)
        assert not pending, f"servers not up after {timeout}s: {pending}\n" + \
            "\n".join(self.log(label) for label, _ in self.procs)

    def log(self, label: str, tail: int = 3000) -> str:
        path = self.tmp / f"{label}.log"
        return f"--- {label}\n" + (path.read_bytes()[-tail:].decode("utf-8", "replace") if path.exists() else "")

    def stop(self) -> None:
        lm.stop_processes([proc for _, proc in self.procs])


@pytest.fixture
def cluster(tmp_path):
    standin = TwilioStandIn().start()
    c = Cluster(tmp_path, standin)
    c.standin = standin
    c.create_database()
    try:
        yield c
    finally:
        try:
            c.stop()
        finally:
            standin.stop()
            c.drop_database()


class Load:
    """The clients' shared state: the log of every answer, errors, the counts the DB must match."""

    def __init__(self, nodes: list[str]):
        self.nodes = nodes
        self.log: list = []
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.cases: list[dict] = []
        self.applicants_done = threading.Event()
        self.reminders_fired = threading.Event()
        self.stop = threading.Event()

    def http(self, i: int) -> lm.RequestsHttp:
        return lm.RequestsHttp(self.nodes[i % len(self.nodes)], self.log, self.lock)

    def run(self, fn, *args):
        try:
            fn(self, *args)
        except Exception as exc:  # reported by the test
            self.errors.append(f"{fn.__name__}{args[:1]}: {type(exc).__name__}: {str(exc)[:800]}")
            self.stop.set()


def portal_applicant(load: Load, i: int, plans) -> None:
    """Signs in on one node; every request after alternates the nodes (the session cookie is
    signed with the shared SECRET_KEY and checked against the shared database)."""
    a, b = load.http(i), load.http(i + 1)
    b.session.cookies = a.session.cookies
    csrf = lm.portal_login(a)
    for n, pid in enumerate(PORTAL_CASES):
        http = (a, b)[n % 2]
        case = lm.portal_apply(http, csrf, plans[pid])
        lm.portal_progress((b, a)[n % 2], case["case_id"])
        with load.lock:
            load.cases.append(dict(case, process_id=pid))


def api_applicant(load: Load, i: int, plans) -> None:
    for n, pid in enumerate(API_CASES):
        case = lm.api_apply(load.http(i + n), plans[pid])
        with load.lock:
            load.cases.append(dict(case, process_id=pid))


def clerk(load: Load, i: int, users: list[str], plans) -> None:
    """Works the 待办 of ``users`` on node i % 2 until every case is through. The reminded step
    waits for its reminder."""
    http, rng = load.http(i), random.Random(i)
    session = load.http(i)
    lm.staff_login(session, users[0])

    def hold(task):
        return task["process_id"] == REMINDED and task["element_id"] == "division_review" \
            and not load.reminders_fired.is_set()

    idle = 0
    while not load.stop.is_set():
        did = False
        for user in rng.sample(users, len(users)):
            did |= lm.work_one(http, user, plans, rng=rng, skip=hold) is not None
        if idle % 5 == 0:
            lm.inbox_page(session)
        idle = 0 if did else idle + 1
        if not did:
            time.sleep(0.05)


def racer(load: Load, plans) -> None:
    """Race RACES window tasks across the nodes: window2 on one node and window3 on the other
    claim at the same instant (one 200, one 409), then the winner completes on both at once (one
    200, one 409). The clerk threads work as window1: they may take a task first (then it is not
    raced), never one of the racers'."""
    nodes = [load.http(0), load.http(1)]
    results = load.race_results = []
    raced: set[str] = set()
    end = time.monotonic() + DEADLINE
    while len(results) < RACES and time.monotonic() < end and not load.stop.is_set():
        tasks = [t for t in lm.todo(nodes[0], "window2")
                 if t["element_id"] == "window_review" and not t["assignee"] and t["id"] not in raced]
        if not tasks:
            time.sleep(0.05)
            continue
        task = tasks[0]
        raced.add(task["id"])
        barrier = threading.Barrier(2)
        claims = {}

        def claim(who, http):
            barrier.wait()
            claims[who] = lm.claim(http, who, task["id"], expect=(200, 403, 409))

        pair = (("window2", nodes[0]), ("window3", nodes[1])) if len(results) % 2 else \
            (("window3", nodes[0]), ("window2", nodes[1]))
        threads = [threading.Thread(target=claim, args=pair_) for pair_ in pair]
        [t.start() for t in threads]
        [t.join() for t in threads]
        if not any(code == 200 for code in claims.values()) or any(code == 403 for code in claims.values()):
            # a clerk thread took it first (or it was closed): not a race between the two
            continue
        who = detail = None
        for w in (w for w, code in claims.items() if code == 200):  # one (the test asserts it below)
            detail = lm.read_task(nodes[0], w, task["id"])
            if detail is not None and detail["state"] == "ready" and detail["assignee"] == w:
                who = w
                break
        if who is None:
            continue
        data = plans[task["process_id"]].steps["window_review"]
        completes = []

        def finish(http):
            barrier.wait()
            completes.append(lm.complete(http, who, task["id"], data, detail["revision"]))

        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=finish, args=(h,)) for h in nodes]
        [t.start() for t in threads]
        [t.join() for t in threads]
        results.append({"task": task["id"], "claims": sorted(claims.values()), "completes": sorted(completes)})


def open_work(cluster) -> int:
    return cluster.sql("SELECT count(*) FROM human_tasks WHERE state = 'ready'")[0][0]


def test_two_servers_and_two_schedulers_lose_and_double_nothing(cluster):
    started = time.monotonic()
    cluster.flask("db", "upgrade")
    seeded = cluster.flask("demo", "seed")
    assert "demo_cases" in seeded
    # two more window clerks (the CLI prints their API tokens) who race each other for the same tasks
    for name, display in (("window2", "窗口 李娜"), ("window3", "窗口 陈晨")):
        out = cluster.flask("users", "add", name, "--name", display, "--kind", "staff", "--group", "window",
                            "--password", lm.password(name))
        lm.TOKENS[name] = out.strip().splitlines()[-1]
    nodes = [cluster.server("web-a"), cluster.server("web-b")]
    cluster.scheduler("scheduler-1")
    cluster.scheduler("scheduler-2")
    cluster.wait_ready(nodes)
    phases = {"up": time.monotonic() - started}
    load_started = time.monotonic()  # the deadline is the load's: a slow start on a busy machine is not
    plans = lm.plans()
    groups = lm.staff_by_group()

    load = Load(nodes)
    threads = [threading.Thread(target=load.run, args=(portal_applicant, i, plans)) for i in range(2)]
    threads += [threading.Thread(target=load.run, args=(api_applicant, i, plans)) for i in range(2)]
    applicants = list(threads)
    desks = [["window1"], ["invest1", "invest_chief", "leader1"],
             ["energy1", "energy_chief", "power1", "power_chief"],
             [u for g, us in groups.items() if g.startswith("cs_") for u in us]]
    clerks = [threading.Thread(target=load.run, args=(clerk, i, desks[i % len(desks)], plans))
              for i in range(2 * len(desks))]
    race = threading.Thread(target=load.run, args=(racer, plans))
    for t in threads + clerks + [race]:
        t.start()
    try:
        for t in applicants:
            t.join(timeout=DEADLINE)
        load.applicants_done.set()
        phases["applied"] = time.monotonic() - started
        expected = len(load.cases) + len(set(PORTAL_CASES + API_CASES))  # + the demo's one case per matter
        hezhun = [c for c in load.cases if c["process_id"] == REMINDED] + [None]  # + the demo case
        end = load_started + DEADLINE
        # four working days pass for the reminded step: once every 核准 case waits there
        while time.monotonic() < end and not load.stop.is_set():
            waiting = cluster.sql("SELECT count(*) FROM timers WHERE element_id = %s AND status = 'waiting'",
                                  REMINDER)[0][0]
            if waiting == len(hezhun):
                break
            time.sleep(0.2)
        phases["reminded steps reached"] = time.monotonic() - started
        # only the 催办: the deemed steps' timers (视为受理 / 视为同意) must not fire under the clerks
        cluster.sql("UPDATE timers SET due_at = now() - interval '1 second' WHERE status = 'waiting' "
                    "AND element_id = %s", REMINDER)
        while time.monotonic() < end and not load.stop.is_set():
            if cluster.sql("SELECT count(*) FROM timers WHERE status = 'waiting' AND element_id = %s",
                           REMINDER)[0][0] == 0:
                break
            time.sleep(0.2)
        phases["reminders due"] = time.monotonic() - started
        load.reminders_fired.set()
        while time.monotonic() < end and not load.stop.is_set():
            done = cluster.sql("SELECT count(*) FROM cases WHERE status IN ('approved', 'rejected')")[0][0]
            if done == expected and open_work(cluster) == 0:
                break
            time.sleep(0.3)
        race.join(timeout=max(1, end - time.monotonic()))
        # the outbox drains (the schedulers send every second)
        while time.monotonic() < end + 10:
            if not cluster.sql("SELECT count(*) FROM notifications WHERE channel = 'sms' "
                               "AND status IN ('pending', 'sending')")[0][0]:
                break
            time.sleep(0.3)
    finally:
        load.stop.set()
        for t in threads + clerks + [race]:
            t.join(timeout=15)
        alive = {label: proc.poll() is None for label, proc in cluster.procs}
        cluster.stop()
    logs = "\n".join(cluster.log(label) for label, _ in cluster.procs)
    assert all(alive.values()), f"a process died during the load: {alive}\n{logs}"
    assert not load.errors, "\n".join(load.errors[:5]) + "\n" + logs

    # -- no answer 5xx, and the load really went through both nodes -------------------------------
    statuses = Counter(code for _, _, code, _, _ in load.log)
    assert not [row for row in load.log if row[2] >= 500], [row for row in load.log if row[2] >= 500][:5]
    per_node = Counter(next(n for n in nodes if url.startswith(n)) for *_, url in load.log)
    assert all(per_node[n] > 50 for n in nodes), per_node

    # -- every case through, no incident ---------------------------------------------------------
    expected = len(load.cases) + len(set(PORTAL_CASES + API_CASES))
    assert len(load.cases) == 2 * len(PORTAL_CASES) + 2 * len(API_CASES)
    assert {s for s, _ in cluster.sql("SELECT status, count(*) FROM cases GROUP BY status")} <= {
        "approved", "rejected"} and cluster.sql("SELECT count(*) FROM cases")[0][0] == expected, (
        phases, cluster.sql("SELECT process_id, element_id, assignee, count(*) FROM human_tasks WHERE state = 'ready' "
                            "GROUP BY 1, 2, 3"), cluster.sql("SELECT element_id, status, count(*) FROM timers GROUP BY 1, 2"))
    assert cluster.sql("SELECT count(*) FROM incidents")[0][0] == 0
    assert cluster.sql("SELECT count(*) FROM human_tasks WHERE state NOT IN ('completed', 'cancelled')")[0][0] == 0

    # -- one completion per task, one trail row per completion, as many as the clients got 200 -----
    completed = cluster.sql("SELECT id FROM human_tasks WHERE state = 'completed'")
    rows = Counter(tid for (tid,) in cluster.sql("SELECT task_id FROM case_events WHERE action = 'complete'"))
    assert sorted(rows) == sorted(tid for (tid,) in completed)
    assert set(rows.values()) == {1}, [t for t, n in rows.items() if n > 1]
    ok = sum(1 for name, _, code, _, _ in load.log if name == "complete" and code == 200)
    assert ok == len(completed)
    assert cluster.sql("SELECT count(*) FROM human_tasks WHERE state = 'completed' "
                       "AND (completed_by IS NULL OR completed_by <> assignee)")[0][0] == 0


    # -- every timer fired once: its row, one timer and one urge trail row, its notices once --------
    timers = cluster.sql("SELECT id, instance_id, status, fired_at IS NOT NULL FROM timers WHERE element_id = %s",
                         REMINDER)
    assert cluster.sql("SELECT count(*) FROM timers WHERE element_id <> %s AND status <> 'cancelled'",
                       REMINDER)[0][0] == 0  # every deemed step was done by a clerk first
    assert len(timers) == len(hezhun) and {(s, f) for _, _, s, f in timers} == {("fired", True)}
    per_case = cluster.sql(
        "SELECT c.id, (SELECT count(*) FROM case_events e WHERE e.case_id = c.id AND e.action = 'timer' "
        "AND e.element_id = %s), (SELECT count(*) FROM case_events e WHERE e.case_id = c.id "
        "AND e.action = 'urge' AND e.actor = 'system') FROM cases c WHERE c.process_id = %s", REMINDER, REMINDED)
    assert len(per_case) == len(hezhun) and {(t, u) for _, t, u in per_case} == {(1, 1)}, per_case
    urges = cluster.sql("SELECT case_id, count(*) FROM notifications WHERE template = 'urge' GROUP BY case_id")
    assert len(urges) == len(hezhun) and len({n for _, n in urges}) == 1 and urges[0][1] >= 2, urges

    # -- every SMS sent, and received exactly once ------------------------------------------------
    sms = cluster.sql("SELECT recipient, text, status, provider_sid FROM notifications WHERE channel = 'sms'")
    assert len(sms) >= 3 * expected, len(sms)   # submitted, accepted, decided: per case
    assert {s for _, _, s, _ in sms} == {"sent"}, Counter(s for _, _, s, _ in sms)
    received = cluster.standin.sent
    assert Counter((m["to"], m["body"]) for m in received) == Counter((r, t) for r, t, _, _ in sms)
    assert sorted(m["sid"] for m in received) == sorted(sid for *_, sid in sms)
    assert time.monotonic() - load_started < DEADLINE + 40, statuses

    # -- the races across the nodes: one claim and one completion won each -----------------------
    results = getattr(load, "race_results", [])
    assert len(results) == RACES, results
    for r in results:
        assert rows[r["task"]] == 1 and r["completes"] == [200, 409], r
        assert r["claims"] == [200, 409], r
    claims = Counter(tid for (tid,) in cluster.sql("SELECT task_id FROM case_events WHERE action = 'claim'"))
    assert claims and set(claims.values()) == {1}, [t for t, n in claims.items() if n > 1]

    # -- every department agreed, so no case went to 协调 (coordinate) and every case was approved --
    assert cluster.sql("SELECT count(*) FROM human_tasks WHERE element_id = 'coordinate'")[0][0] == 0
    assert cluster.sql("SELECT status, count(*) FROM cases GROUP BY status") == [("approved", expected)]
