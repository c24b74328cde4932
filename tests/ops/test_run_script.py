"""`scripts/run` from a fresh copy of the project: one command serves the app and runs the scheduler
(a due timer fires with no other command, /readyz reports the scheduler), Ctrl-C stops both and
leaves no process behind; `scripts/run --prod` refuses development secrets before starting anything
and otherwise serves with gunicorn.

Real processes on a real port. The copy holds the tracked and untracked-not-ignored files (what a
fresh clone plus the work in progress has); .venv and node_modules are symlinks to this checkout's, so
scripts/setup finds its stamps and installs nothing. scripts/run serves the embedded SQLite default,
whatever database the suite runs on: these tests run in the SQLite pass only.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import FIXTURES, ROOT, _url

pytestmark = pytest.mark.skipif(
    _url() != "sqlite", reason="scripts/run serves the embedded SQLite default whatever the suite's "
                               "database: its slow real-process tests run once, in the SQLite pass")

URL_LINE = re.compile(r"running at (http://\S+/)")
#: settings of the calling environment that would point the copy elsewhere
CLEARED = ("DATABASE_URL", "SECRET_KEY", "APP_ENV", "FLASK_APP", "FLASK_DEBUG", "PROMETHEUS_MULTIPROC_DIR",
           "HOST", "PORT", "WEB_CONCURRENCY", "DEPLOY_ON_START", "PROCESSES_DIR", "FORMS_DIR", "FILES_DIR",
           "SCRIPT_ISOLATION", "PROXY_HOPS", "LOG_FORMAT")


# -- a fresh copy and the script running in it ---------------------------------------------------------

def _digest(*paths: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()[:16]


def setup_stamps_missing(copy: Path) -> list[str]:
    """The stamps scripts/setup will look for in ``copy`` (from the copy's pyproject.toml and lock file)
    that this checkout's .venv and node_modules lack. The copy shares them: without its stamps, the
    copy's scripts/setup would install into them (pip install -e of the copy, npm ci)."""
    lock, entry = copy / "package-lock.json", copy / "app/web/designer/static/js/designer-lint.src.js"
    stamps = [ROOT / ".venv" / f".installed-{_digest(copy / 'pyproject.toml')}",
              ROOT / "node_modules" / f".installed-{_digest(lock)}"]
    if (ROOT / "node_modules/.bin/esbuild").exists():
        stamps.append(ROOT / "node_modules/.build" / f".built-{_digest(lock, entry)}")
    stamps.append(ROOT / ".venv" / ".base-python")   # else the copy's scripts/setup would make .venv again
    return [str(s.relative_to(ROOT)) for s in stamps if not s.exists()]


@pytest.fixture
def project(tmp_path) -> Path:
    """The project as a fresh clone has it (plus the files not yet committed), with this checkout's
    .venv and node_modules."""
    dest = tmp_path / "copy"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if rel == ".env":  # this machine's settings, not the project's
            continue
        src = ROOT / rel
        if src.is_file() and not src.is_symlink():  # a tracked file deleted in the work tree is gone
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    missing = setup_stamps_missing(dest)
    if missing:
        pytest.fail(f"run scripts/setup first: {', '.join(missing)} missing, and the copy's scripts/setup "
                    "would install into the shared .venv / node_modules")
    for shared in (".venv", "node_modules"):
        if (ROOT / shared).exists():
            (dest / shared).symlink_to(ROOT / shared)
    return dest


def free_port() -> int:
    """A PORT for ``scripts/run`` whose web port and stand-in ports (PORT + 100 …) are free, below the
    kernel's ephemeral range: a port the kernel hands out (bind to 0, every client connection of the
    other database's suite running beside this one) could be taken again between this check and the
    stand-ins' bind."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(500):
        port = rng.randrange(20000, max(20001, low - 120))
        if all(port_free(p) for p in (port, *range(port + 100, port + 110))):
            return port
    raise RuntimeError("no free port below the ephemeral range")


def port_free(port: int) -> bool:
    """Nobody listens on ``port`` (connections of the run in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Run:
    """``scripts/run`` started in ``project``: its output collected by a thread."""

    def __init__(self, project: Path, *args: str, **env: str):
        self.port = free_port()
        full = {k: v for k, v in os.environ.items() if k not in CLEARED}
        full.update(HOST="127.0.0.1", PORT=str(self.port), **env)
        self.lines: list[str] = []
        self.proc = subprocess.Popen([str(project / "scripts" / "run"), *args], cwd=project, env=full,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.seen: set[int] = set()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_url(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = URL_LINE.search(line)
                if m:
                    return m.group(1)
            assert self.proc.poll() is None, f"scripts/run exited ({self.proc.returncode}):\n{self.output}"
            time.sleep(0.1)
        raise AssertionError(f"no URL printed within {timeout}s:\n{self.output}")

    def tree(self) -> list[psutil.Process]:
        """The script's processes below it (honcho's, the web server's, the scheduler's, their workers),
        remembered for the checks after the stop."""
        try:
            found = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        self.seen |= {p.pid for p in found}
        return found

    def commands(self) -> list[str]:
        out = []
        for p in self.tree():
            try:
                out.append(" ".join(p.cmdline()))
            except psutil.Error:
                pass
        return out

    def running(self, program: str, *args: str) -> list[psutil.Process]:
        """The processes of ``program`` (a console script of .venv/bin) with ``args`` first. By the
        script's name, never by a substring: the copy's path (the test's name) is in every command line."""
        found = []
        for p in self.tree():
            try:
                argv = p.cmdline()
            except psutil.Error:
                continue
            for i, arg in enumerate(argv[:2]):
                if Path(arg).name == program and argv[i + 1:i + 1 + len(args)] == list(args):
                    found.append(p)
                    break
        return found

    def stop(self, sig: int, timeout: float = 45) -> int:
        self.tree()
        os.kill(self.proc.pid, sig)
        return self.proc.wait(timeout=timeout)

    def left(self) -> list[int]:
        """The processes seen below the script that still run."""
        return sorted(pid for pid in self.seen if alive(pid))

    def cleanup(self) -> None:
        """Whatever a failed test left running: only the processes this run started."""
        self.tree()
        for pid in [self.proc.pid, *self.seen]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def http(method: str, url: str, token: str | None = None, body: dict | None = None, timeout: float = 10):
    """(status, JSON or text) of one real HTTP request."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw, headers = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, headers = e.code, e.read(), e.headers
    text = raw.decode("utf-8", "replace")
    if "json" in (headers.get("Content-Type") or ""):
        return status, json.loads(text)
    return status, text


def wait_for(what: str, check, timeout: float, run: Run):
    """Poll ``check`` until it returns something truthy; fail with the last value and the output."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (urllib.error.URLError, ConnectionError, socket.timeout) as exc:
            last = exc
        else:
            if last:
                return last
        assert run.proc.poll() is None, f"scripts/run exited ({run.proc.returncode}) while waiting for " \
                                        f"{what}:\n{run.output}"
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})\n{run.output[-4000:]}")


def add_timer_matter(project: Path) -> None:
    """A matter with a short timer (tests/fixtures t_timer: review, then a 公示期 of ``wait_seconds``),
    put next to the shipped ones, as an operator adds a matter: `flask demo seed` deploys it."""
    for name in ("t_timer.bpmn", "t_timer.matter.json"):
        shutil.copy(FIXTURES / "processes" / name, project / "processes" / name)
    for name in ("t_start.form.json", "t_review.form.json"):
        shutil.copy(FIXTURES / "forms" / name, project / "forms" / name)


# -- development: scripts/run -------------------------------------------------------------------------

def test_scripts_run_serves_fires_a_due_timer_reports_the_scheduler_and_stops_on_ctrl_c(project):
    add_timer_matter(project)
    run = Run(project)
    try:
        base = run.wait_url()
        assert base == f"http://127.0.0.1:{run.port}/"
        wait_for("the web server", lambda: http("GET", base + "api/matters")[0] == 200, 90, run)
        assert len(run.running("flask", "run")) == 1, run.commands()
        assert len(run.running("flask", "scheduler", "run")) == 1, run.commands()

        # an application, reviewed by the window: the case then waits 3 s (its 公示期 timer)
        status, case = http("POST", base + "api/cases", "demo-demo_applicant", {
            "process_id": "t_timer", "data": {"amount": 1, "project_name": "一条命令", "wait_seconds": 3}})
        assert status in (200, 201), case
        status, tasks = http("GET", base + "api/tasks", "demo-window1")
        assert status == 200, tasks
        task = next(t for t in tasks if t["case_id"] == case["id"])
        status, done = http("POST", base + f"api/tasks/{task['id']}/complete", "demo-window1",
                            {"data": {"decision": "approve"}})
        assert status == 200 and done["instance_status"] == "waiting", done

        # nobody does anything more: the scheduler started by scripts/run fires the timer
        def finished():
            s, c = http("GET", base + f"api/cases/{case['id']}", "demo-demo_applicant")
            return c if s == 200 and c["instance_status"] == "complete" else None
        final = wait_for("the timer to fire", finished, 60, run)
        assert final["end_event"] == "end_done"
        db = sqlite3.connect(f"file:{project / 'instance' / 'app.sqlite3'}?mode=ro", uri=True)
        try:
            timer = db.execute("SELECT t.status, t.due_at, t.fired_at FROM timers t JOIN cases c ON "
                               "c.instance_id = t.instance_id WHERE c.id = ? AND t.element_id = 'cooling'",
                               (case["id"],)).fetchone()
            events = db.execute("SELECT actor FROM case_events WHERE case_id = ? AND action = 'timer' "
                                "AND element_id = 'cooling'", (case["id"],)).fetchall()
        finally:
            db.close()
        assert timer is not None and timer[0] == "fired" and timer[2] >= timer[1], timer
        assert len(events) == 1, events

        # /readyz reports the scheduler that scripts/run started
        def scheduler_ready():
            s, body = http("GET", base + "readyz")
            return body if isinstance(body, dict) and body.get("checks", {}).get("scheduler", {}).get("ok") \
                else None
        ready = wait_for("/readyz to report the scheduler", scheduler_ready, 60, run)
        assert ready["checks"]["scheduler"]["age_seconds"] < 30, ready
        status, body = http("GET", base + "readyz")
        assert status == 200 and body["status"] == "ready", body

        # Ctrl-C: both processes (and everything below them) stop, the port is free again
        scheduler = run.running("flask", "scheduler", "run")
        assert len(scheduler) == 1
        rc = run.stop(signal.SIGINT)
        assert rc != 0  # honcho reports the interruption (130)
        deadline = time.monotonic() + 30
        while (run.left() or not port_free(run.port)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run.left() == [], run.output[-2000:]
        assert not alive(scheduler[0].pid)
        assert port_free(run.port)
        assert "SIGINT received" in run.output
        # the scheduler was stopped, not killed: it had time to take its heartbeat away
        db = sqlite3.connect(f"file:{project / 'instance' / 'app.sqlite3'}?mode=ro", uri=True)
        try:
            assert db.execute("SELECT count(*) FROM scheduler_heartbeats").fetchone()[0] == 0
        finally:
            db.close()
    finally:
        run.cleanup()


# -- production: scripts/run --prod --------------------------------------------------------------------

@pytest.mark.parametrize("how", [("--prod",), ()], ids=["--prod", "APP_ENV=production"])
@pytest.mark.parametrize("secret", [None, "dev-insecure-change-me", "short-but-not-default"])
def test_prod_refuses_development_secrets_before_starting_anything(project, how, secret):
    env = {"SECRET_KEY": secret} if secret else {}
    if not how:
        env["APP_ENV"] = "production"
    run = Run(project, *how, **env)
    try:
        rc = run.proc.wait(timeout=60)
        run._reader.join(timeout=5)
    finally:
        run.cleanup()
    assert rc == 2, run.output
    assert "refusing to start" in run.output and "SECRET_KEY" in run.output, run.output
    assert "running at" not in run.output
    # nothing migrated, started or prepared: no database, no metrics directory, the port unused
    assert not (project / "instance" / "app.sqlite3").exists()
    assert not (project / "instance" / "prometheus").exists()
    assert port_free(run.port)


def test_prod_serves_with_gunicorn_workers_and_the_scheduler_and_stops_on_sigterm(project):
    run = Run(project, "--prod", SECRET_KEY="k" * 20 + "-a-long-random-production-secret", WEB_CONCURRENCY="2")
    try:
        base = run.wait_url()
        assert "production" in run.output and "gunicorn" in run.output
        assert "demo_users" not in run.output  # no demo seed in production

        def served():
            s, matters = http("GET", base + "api/matters")
            return matters if s == 200 else None
        matters = wait_for("gunicorn to serve", served, 90, run)
        assert {"xmgl_hezhun", "xmgl_beian"} <= {m["process_id"] for m in matters}  # processes/ deployed
        status, _ = http("GET", base + "api/tasks", "demo-window1")
        assert status == 401  # no demo tokens

        def gunicorn_ready():
            procs = run.running("gunicorn")
            masters = [p for p in procs if p.ppid() not in {q.pid for q in procs}]
            workers = [p for p in procs if p not in masters]
            return (masters, workers) if len(masters) == 1 and len(workers) == 2 else None
        masters, workers = wait_for("one gunicorn master with 2 workers", gunicorn_ready, 60, run)
        assert all(w.ppid() == masters[0].pid for w in workers)
        assert len(run.running("flask", "scheduler", "run")) == 1, run.commands()
        req = urllib.request.Request(base + "api/matters")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert "gunicorn" in (r.headers.get("Server") or "")
        metrics_dir = project / "instance" / "prometheus" / str(run.port)
        assert metrics_dir.is_dir()

        rc = run.stop(signal.SIGTERM)
        assert rc != 0  # honcho reports the termination (143)
        deadline = time.monotonic() + 30
        while (run.left() or not port_free(run.port)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run.left() == []
        assert port_free(run.port)
    finally:
        run.cleanup()


def test_the_demo_is_not_loaded_into_another_database_without_being_asked(project):
    """A DATABASE_URL left in the environment without APP_ENV: the development mode would load users
    with public passwords into it. Refused before anything starts."""
    run = Run(project, DATABASE_URL="postgresql://postgres@127.0.0.1:5432/production_db")
    try:
        rc = run.proc.wait(timeout=60)
        run._reader.join(timeout=5)
    finally:
        run.cleanup()
    assert rc == 2 and "refusing to load the demo data" in run.output and "--demo" in run.output, run.output
    assert "running at" not in run.output and port_free(run.port)
