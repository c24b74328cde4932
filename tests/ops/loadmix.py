"""The mixed load of real clients against running servers, shared by the several-nodes test
(tests/ops/test_two_nodes.py) and the load benchmark (bench/load.py).

Everything here speaks HTTP only, through an ``Http`` adapter (``call(method, path, name, expect,
**requests_kwargs)`` → a ``requests.Response``): ``RequestsHttp`` for plain threads (the test) and
the locust adapter of bench/load.py. ``name`` groups requests by type in the statistics; ``expect``
lists the statuses that are a normal answer (a lost race is a 409, not a failure).

What a client does:

* **applicant, portal** (session cookie): sign in with mobile + password (``/portal/login``), start an
  application (``/portal/apply/<id>``), upload one PDF per required material, submit the draft with
  the matter's path-test start data, read the case page (``/portal/cases/<id>``, the progress).
* **applicant, API** (bearer token): ``POST /api/cases`` with the same data.
* **staff** (bearer token; the HTML inbox through a session): the 待办 list (``/api/inbox``), claim
  (签收), read the task with its revision, complete it with the data the matter's path tests give
  that step (``processes/<id>.scenarios.json``: the steps of the scenarios that end ``approved``, the
  last data of each step winning — so the window accepts and a chief approves; a step only other
  paths reach gets the data those paths give it)."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent.parent
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DEMO_MOBILE = "13800138000"            # the demo enterprise (flask demo seed)
DEMO_APPLICANT = "demo_applicant"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


#: API tokens of users that are not demo users (``flask users add`` prints one)
TOKENS: dict[str, str] = {}


def token(username: str) -> str:
    """The API token ``flask demo seed`` gives a demo user (or the one registered in TOKENS)."""
    return TOKENS.get(username) or f"demo-{username}"


def password(username: str) -> str:
    """The sign-in password ``flask demo seed`` gives a demo user."""
    return f"demo-{username}-pass"


def bearer(username: str) -> dict:
    return {"Authorization": f"Bearer {token(username)}"}


# -- what the matters need ---------------------------------------------------------------------------
@dataclass
class Plan:
    """How to take a case of one matter to its approval: the start data and the data of each step."""
    process_id: str
    start: dict
    steps: dict = field(default_factory=dict)   # element id → form data


def needs_prior(process_id: str) -> bool:
    """Whether applying for the matter needs an earlier case of the same 项目代码 granted first
    (matter.json ``requires``: the 可研 after the approved 项目建议书 …), which a load client does not drive."""
    matter = json.loads((ROOT / "processes" / f"{process_id}.matter.json").read_text(encoding="utf-8"))
    return bool(matter.get("requires"))


def plans(*, standalone: bool = False) -> dict[str, Plan]:
    """One plan per shipped matter, from its path tests; with ``standalone`` only the matters a case
    can be applied for on its own (``needs_prior`` false)."""
    out = {}
    for path in sorted((ROOT / "processes").glob("*.scenarios.json")):
        pid = path.name.split(".")[0]
        if standalone and needs_prior(pid):
            continue
        scenarios = json.loads(path.read_text(encoding="utf-8"))["scenarios"]
        approved = [s for s in scenarios if s.get("status") == "approved"]
        if not approved:
            continue
        plan = Plan(pid, approved[0]["start"])
        for scenario in approved:
            for step in scenario["steps"]:
                if "task" in step:  # (a message step is what another platform sends)
                    plan.steps[step["task"]] = step["data"]
        for scenario in scenarios:  # steps only other paths reach (协调 after a disagreement …)
            for step in scenario["steps"]:
                if "task" in step:
                    plan.steps.setdefault(step["task"], step["data"])
        out[pid] = plan
    return out


def required_materials(process_id: str) -> list[int]:
    """Indexes of the materials-list entries a submission needs (the upload slots)."""
    matter = json.loads((ROOT / "processes" / f"{process_id}.matter.json").read_text(encoding="utf-8"))
    return [i for i, m in enumerate(matter.get("materials") or []) if m.get("required")]


def staff_by_group() -> dict[str, list[str]]:
    """The demo staff users of the province by group (``app.cli.DEMO_USERS``)."""
    from app.cli import DEMO_USERS
    out: dict[str, list[str]] = {}
    for username, _name, kind, groups, _org in DEMO_USERS:
        if kind == "staff":
            for g in groups:
                out.setdefault(g, []).append(username)
    return out


# -- the HTTP adapter ----------------------------------------------------------------------------------
class Unexpected(AssertionError):
    """A status outside ``expect``: a broken flow (the test fails; the bench counts a failure)."""


class RequestsHttp:
    """``requests`` with a base URL and its own cookie jar, recording every answer in ``log``
    (name, method, status, seconds) — shared between clients, appended under a lock."""

    def __init__(self, base_url: str, log: list, lock: threading.Lock | None = None, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.log, self.lock, self.timeout = log, lock or threading.Lock(), timeout

    def call(self, method: str, path: str, name: str, expect=(200,), **kw) -> requests.Response:
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", self.timeout)
        t0 = time.perf_counter()
        r = self.session.request(method, self.base_url + path, **kw)
        with self.lock:
            self.log.append((name, method, r.status_code, time.perf_counter() - t0, self.base_url + path))
        if r.status_code not in expect:
            raise Unexpected(f"{method} {path} ({name}): {r.status_code} not in {expect}: {r.text[:300]}")
        return r


def _csrf(html: str) -> str:
    m = CSRF.search(html)
    if not m:
        raise Unexpected("no CSRF token in the page")
    return m.group(1)


# -- applicants ----------------------------------------------------------------------------------------
def portal_login(http, mobile: str = DEMO_MOBILE, pw: str | None = None) -> str:
    """Sign in on the portal with mobile + password; returns the session's CSRF token."""
    page = http.call("GET", "/portal/login?mode=password", "portal login page").text
    http.call("POST", "/portal/login?mode=password", "portal login", expect=(302,),
              data={"csrf_token": _csrf(page), "mode": "password", "mobile": mobile,
                    "password": pw or password(DEMO_APPLICANT)})
    return _csrf(http.call("GET", "/portal/", "portal catalog").text)


def portal_apply(http, csrf: str, plan: Plan, upload: bool = True) -> dict:
    """Apply online: a draft, one PDF per required material, submit with the plan's start data.
    Returns {case_id, case_no}."""
    r = http.call("POST", f"/portal/apply/{plan.process_id}", "portal apply", expect=(302,),
                  data={"csrf_token": csrf})
    case_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    if upload:
        for index in required_materials(plan.process_id):
            http.call("POST", f"/portal/drafts/{case_id}/materials/{index}", "portal upload", expect=(302,),
                      data={"csrf_token": csrf}, files={"file": (f"material-{index}.pdf", PDF, "application/pdf")})
    r = http.call("POST", f"/portal/drafts/{case_id}/submit", "portal submit",
                  json={"data": plan.start}, headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
    return {"case_id": case_id, "case_no": r.json()["case_no"]}


def portal_progress(http, case_id: int) -> None:
    """The applicant's case page (progress, timeline, receipt link) and its JSON twin."""
    http.call("GET", f"/portal/cases/{case_id}", "portal case page")
    http.call("GET", f"/api/portal/cases/{case_id}", "portal case json", headers=bearer(DEMO_APPLICANT))


def api_apply(http, plan: Plan, applicant: str = DEMO_APPLICANT) -> dict:
    r = http.call("POST", "/api/cases", "api apply", expect=(201,), headers=bearer(applicant),
                  json={"process_id": plan.process_id, "data": plan.start})
    body = r.json()
    return {"case_id": body["id"], "case_no": body["case_no"]}


# -- staff ---------------------------------------------------------------------------------------------
def staff_login(http, username: str) -> None:
    """Sign in at /login (a session for the HTML inbox)."""
    page = http.call("GET", "/login", "staff login page").text
    http.call("POST", "/login", "staff login", expect=(302,),
              data={"csrf_token": _csrf(page), "username": username, "password": password(username)})


def inbox_page(http) -> None:
    http.call("GET", "/inbox", "inbox page")


def todo(http, username: str, per_page: int = 50) -> list[dict]:
    """The user's 待办: rows with the task (id, element_id, process_id, assignee …)."""
    r = http.call("GET", f"/api/inbox?tab=todo&per_page={per_page}", "inbox todo json", headers=bearer(username))
    return [row["task"] for row in r.json()["rows"] if row.get("task")]


def claim(http, username: str, task_id: str, expect=(200, 409)) -> int:
    return http.call("POST", f"/api/tasks/{task_id}/claim", "claim", expect=expect, json={},
                     headers=bearer(username)).status_code


def read_task(http, username: str, task_id: str, expect=(200, 403, 404, 409)):
    """The task with its form and revision (None when it is gone or no longer the user's)."""
    r = http.call("GET", f"/api/tasks/{task_id}", "task json", expect=expect, headers=bearer(username))
    return r.json() if r.status_code == 200 else None


def complete(http, username: str, task_id: str, data: dict, revision: int | None,
             expect=(200, 403, 409)) -> int:
    """办理 with the form data; 409 (closed or stale revision) and 403 (someone else claimed it) are
    the answers of a lost race."""
    return http.call("POST", f"/api/tasks/{task_id}/complete", "complete", expect=expect,
                     json={"data": data, "revision": revision}, headers=bearer(username)).status_code


def work_one(http, username: str, plans_by_pid: dict[str, Plan], *, rng: random.Random | None = None,
             skip=None) -> str | None:
    """One round of a clerk: the 待办 list, then one task of it claimed, read and completed. Returns
    "done" (completed), "lost" (a race lost: claimed, closed or changed by someone else), or None
    (nothing to do). ``skip(task)`` leaves a task alone."""
    rng = rng or random
    tasks = [t for t in todo(http, username)
             if t.get("process_id") in plans_by_pid and t["element_id"] in plans_by_pid[t["process_id"]].steps
             and (t.get("assignee") in (None, username)) and not (skip and skip(t))]
    if not tasks:
        return None
    task = rng.choice(tasks[:4])   # the most urgent few: clerks of several nodes meet on the same ones
    if claim(http, username, task["id"]) != 200:
        return "lost"
    detail = read_task(http, username, task["id"])
    if detail is None or detail.get("state") != "ready":
        return "lost"
    data = plans_by_pid[task["process_id"]].steps[task["element_id"]]
    return "done" if complete(http, username, task["id"], data, detail.get("revision")) == 200 else "lost"


def stop_processes(procs: list[subprocess.Popen]) -> None:
    """Stop servers started in process groups of their own: SIGTERM to each group (gunicorn stops its
    workers), SIGKILL after 10 s; then their descendants that started sessions of their own (the
    script workers) by pid. No process is left behind."""
    import psutil
    descendants = []
    for proc in procs:
        try:
            descendants += psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    end = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
    _, alive = psutil.wait_procs(descendants, timeout=3)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=3)
