"""省市县三级联动 with three real deployments: a province (320000), a city (320500) and a county of that
city (320505), each a gunicorn server and a scheduler process on loopback with its own database
(SQLite files on the SQLite run; three fresh databases next to TEST_DATABASE_URL on PostgreSQL),
set up with the CLI as an operator would (``flask db upgrade``, ``flask demo seed``, ``flask federation
peer-add``), in production mode, SMS to the Twilio stand-in over real HTTP.

The journey, on the shipped matter 中央预算内投资资金申请 (processes/zjsq_zhongyang.bpmn):
* the county's applicant applies on the portal with one PDF per required material;
* the county's staff work the case through their API up to the leader's 同意转报: the case's
  ``action=forward`` event sends it to the city, and the case waits for the result;
* the city receives it (the materials fetched by content), its staff work the case the same way, and
  **the city's processes are killed with SIGKILL** right after its leader's decision, while its forward
  to the province and its messages to the county are in its outbox (or being sent), then started
  again;
* the province's staff work it to the manual 转报国家发展改革委 and its end: the decision goes down to
  the city, whose case ends and sends its decision down to the county, whose case ends.

Then, in the three databases: one case per level, linked to its origin; every outbox message
delivered, none dead; the county's trail and the applicant's progress page show each level's step
once; the applicant got one SMS per moment (and none from the city or the province); the files are
the same bytes at every level. Last, what a stranger sends (a forged signature, an unknown peer) and
what the city signs but must not be applied (a replayed sequence number, a matter the province does
not have, a material its link does not give) are refused with nothing stored, and shown on the
province's /admin/federation.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from app.services.federation.protocol import private_key_from_seed, seal
from tests.conftest import _url
from tests.fakes.twilio_standin import TwilioStandIn
from tests.ops import loadmix as lm

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
MATTER = "zjsq_zhongyang"
LEVELS = {  # region, level, agency
    "province": ("320000", "江苏省发展和改革委员会"),
    "city": ("320500", "苏州市发展和改革委员会"),
    "county": ("320505", "苏州市虎丘区发展和改革委员会"),
}
DEADLINE = 360  # seconds for any one wait (a noisy 2-core machine runs six processes)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


class Level:
    """One deployment: its database, its key, its server and scheduler."""

    def __init__(self, name: str, tmp: Path, standin: TwilioStandIn):
        self.name = name
        self.region, self.agency = LEVELS[name]
        self.tmp, self.port = tmp, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = _url()
        if base.startswith("postgresql"):
            server, dbname = base.rsplit("/", 1)
            self.dbname, self.admin_url = f"{dbname}_fed_{name}", f"{server}/postgres"
            self.db_url = f"{server}/{self.dbname}"
        else:
            self.dbname, self.admin_url = None, None
            self.db_url = f"sqlite:///{tmp / f'{name}.sqlite3'}"
        self.env = dict(os.environ, APP_ENV="production", SECRET_KEY=secrets.token_urlsafe(36),
                        SESSION_COOKIE_SECURE="0", DATABASE_URL=self.db_url, DEPLOY_ON_START="0",
                        FILES_DIR=str(tmp / f"files-{name}"), SCRIPT_WORKERS="1", LOG_LEVEL="WARNING",
                        REGION_CODE=self.region, AGENCY_NAME=self.agency, FEDERATION_SIGNING_KEY=_seed(),
                        FEDERATION_PUBLIC_URL=self.url, FEDERATION_RETRY_SECONDS="1", FEDERATION_TIMEOUT_SECONDS="3",
                        SCHEDULER_POLL_SECONDS="0.5", OUTBOX_SEND_SECONDS="0.5", SMS_SEND_SECONDS="0.5",
                        SCHEDULER_HEARTBEAT_SECONDS="2", TWILIO_TIMEOUT_SECONDS="5",
                        **{k: str(v) for k, v in standin.config().items()})
        for key in ("TEST_DATABASE_URL", "FLASK_APP", "PROCESSES_DIR", "FORMS_DIR", "FEDERATION_LEVEL"):
            self.env.pop(key, None)
        self.env["PYTHONPATH"] = str(ROOT)
        self.procs: list[subprocess.Popen] = []
        self.engine = None

    # -- database ---------------------------------------------------------------------------------
    def create_database(self) -> None:
        if self.dbname:
            eng = create_engine(self.admin_url.replace("postgresql://", "postgresql+psycopg://"),
                                isolation_level="AUTOCOMMIT")
            with eng.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{self.dbname}"'))
            eng.dispose()

    def drop_database(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        if self.dbname:
            eng = create_engine(self.admin_url.replace("postgresql://", "postgresql+psycopg://"),
                                isolation_level="AUTOCOMMIT")
            with eng.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)'))
            eng.dispose()

    def sql(self, query: str, **params) -> list:
        if self.engine is None:
            url = self.db_url.replace("postgresql://", "postgresql+psycopg://")
            self.engine = create_engine(url)
        with self.engine.connect() as conn:
            return list(conn.execute(text(query), params))

    def flask(self, *args: str) -> str:
        r = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=self.env,
                           capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, f"{self.name}: flask {' '.join(args)}: {r.stdout[-2000:]}\n{r.stderr[-3000:]}"
        return r.stdout

    # -- processes --------------------------------------------------------------------------------
    def _spawn(self, label: str, argv: list[str]) -> None:
        with open(self.tmp / f"{self.name}-{label}.log", "ab") as log:
            self.procs.append(subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, start_new_session=True))

    def start(self) -> None:
        self._spawn("web", [str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{self.port}", "--timeout", "60",
                            "--graceful-timeout", "3", "--control-socket", str(self.tmp / f"{self.name}.ctl"),
                            "wsgi:app"])
        self._spawn("scheduler", [str(BIN / "flask"), "--app", "wsgi", "scheduler", "run"])

    def kill(self) -> None:
        """SIGKILL, as a power cut: no process of this level gets to finish anything."""
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            proc.wait(timeout=10)
        self.procs = []

    def stop(self) -> None:
        lm.stop_processes(self.procs)
        self.procs = []

    def wait_ready(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for proc in self.procs:
                assert proc.poll() is None, f"{self.name} exited ({proc.returncode}):\n{self.log()}"
            try:
                if requests.get(self.url + "/api/matters", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{self.name} not up after {timeout}s\n{self.log()}")

    def incidents(self) -> str:
        try:
            rows = self.sql("select error_type, element_id, message, details from incidents where status = 'open'")
        except Exception as exc:  # the failure message must still be printed
            return f"(could not read: {exc})"
        return "\n".join(" | ".join(str(v)[:1500] for v in row) for row in rows) or "(none)"

    def log(self, tail: int = 4000) -> str:
        out = []
        for label in ("web", "scheduler"):
            path = self.tmp / f"{self.name}-{label}.log"
            if path.exists():
                out.append(f"--- {self.name} {label}\n" + path.read_bytes()[-tail:].decode("utf-8", "replace"))
        return "\n".join(out)


@pytest.fixture
def net(tmp_path):
    standin = TwilioStandIn().start()
    levels = {name: Level(name, tmp_path, standin) for name in LEVELS}
    # the city sends every 10 s, and is killed right after the completion that wrote its forward: what
    # it wrote is still in its outbox (2 s and a check after a whole round of inboxes let it through)
    levels["city"].env["OUTBOX_SEND_SECONDS"] = "10"
    try:
        for lv in levels.values():
            lv.create_database()
            lv.flask("db", "upgrade")
            lv.flask("demo", "seed")
        keys = {name: json.loads(lv.flask("federation", "whoami"))["public_key"]
                for name, lv in levels.items()}
        links = {"county": ["city"], "city": ["county", "province"], "province": ["city"]}
        for name, others in links.items():
            for other in others:
                o = levels[other]
                levels[name].flask("federation", "peer-add", o.region, o.agency, other, o.url, keys[other])
        for lv in levels.values():
            lv.start()
        for lv in levels.values():
            lv.wait_ready()
        yield levels, standin
    finally:
        try:
            for lv in levels.values():
                lv.stop()
        finally:
            standin.stop()
            for lv in levels.values():
                lv.drop_database()


# -- what people do -----------------------------------------------------------------------------------

def staff_users() -> list[str]:
    return sorted({u for users in lm.staff_by_group().values() for u in users})


def work(lv: Level, case_no: str, plan: lm.Plan, *, until, log: list) -> None:
    """The level's staff work the case's tasks (claim, read, complete with the path tests' data) until
    ``until()`` holds."""
    http = lm.RequestsHttp(lv.url, log)
    end = time.monotonic() + DEADLINE
    while not until():
        assert time.monotonic() < end, f"{lv.name}: the case did not get there\n{lv.log()}"
        did = False
        for user in staff_users():
            r = http.call("GET", "/api/inbox?tab=todo&per_page=50", "todo", headers=lm.bearer(user))
            for row in r.json()["rows"]:
                task, case = row.get("task"), row.get("case") or {}
                if not task or case.get("case_no") != case_no or task["element_id"] not in plan.steps:
                    continue
                if lm.claim(http, user, task["id"]) != 200:
                    continue
                detail = lm.read_task(http, user, task["id"])
                if detail and detail.get("state") == "ready":
                    status = lm.complete(http, user, task["id"], plan.steps[task["element_id"]], detail.get("revision"))
                    did = did or status == 200
                    if status == 200 and until():  # at once: the city is killed with its messages unsent
                        return
        if not did:
            time.sleep(0.5)


def wait_for(what: str, cond, levels: dict, timeout: float = DEADLINE):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(lv.log() for lv in levels.values())
                         + "\n" + "\n".join(f"--- {lv.name} incidents\n{lv.incidents()}" for lv in levels.values()))


def case_row(lv: Level, **where):
    clause = " and ".join(f"{k} = :{k}" for k in where)
    rows = lv.sql(f"select id, case_no, status, origin_region, origin_case_no from cases where {clause}", **where)
    return rows[0] if rows else None


def waits_for_result(lv: Level, case_no: str) -> bool:
    """The case's process waits at 等待上级批复 with the forward in the outbox."""
    return bool(lv.sql("select 1 from outbox_messages where kind = 'forward' and order_key = :no", no=case_no))


# -- the test -----------------------------------------------------------------------------------------

def test_a_county_case_goes_up_to_the_province_and_its_decision_comes_back_exactly_once(net):
    levels, standin = net
    county, city, province = levels["county"], levels["city"], levels["province"]
    plan = lm.plans()[MATTER]
    log: list = []

    # the county's applicant applies on the portal, with the materials
    applicant = lm.RequestsHttp(county.url, log)
    csrf = lm.portal_login(applicant)
    mine = lm.portal_apply(applicant, csrf, plan)
    no = mine["case_no"]
    assert no.startswith(county.region)

    work(county, no, plan, until=lambda: waits_for_result(county, no), log=log)
    city_case = wait_for("the city's case", lambda: case_row(city, origin_region=county.region, origin_case_no=no),
                         levels)

    # the city works it; right after its leader's decision its processes are killed with SIGKILL
    work(city, city_case.case_no, plan, until=lambda: waits_for_result(city, city_case.case_no), log=log)
    time.sleep(random.uniform(0, 0.3))
    city.kill()
    in_flight = city.sql("select count(*) from outbox_messages where status = 'pending'")[0][0]
    time.sleep(1)
    city.start()
    city.wait_ready()

    province_case = wait_for("the province's case", lambda: case_row(
        province, origin_region=city.region, origin_case_no=city_case.case_no), levels)
    work(province, province_case.case_no, plan,
         until=lambda: case_row(province, case_no=province_case.case_no).status == "approved", log=log)

    wait_for("the county's case decided",
             lambda: case_row(county, case_no=no).status == "approved", levels)

    # exactly once, in all three databases
    assert case_row(city, case_no=city_case.case_no).status == "approved"
    for lv, origin, origin_no in ((city, county, no), (province, city, city_case.case_no)):
        linked = lv.sql("select count(*) from cases where origin_region = :r and origin_case_no = :n",
                        r=origin.region, n=origin_no)[0][0]
        assert linked == 1, lv.name
    assert county.sql("select count(*) from cases where origin_region is not null")[0][0] == 0
    assert province.sql("select count(*) from cases where origin_region is not null")[0][0] == 1
    for lv in levels.values():
        wait_for(f"{lv.name}'s outbox empty", lambda lv=lv: lv.sql(
            "select count(*) from outbox_messages where status <> 'delivered'")[0][0] == 0, levels, timeout=60)
        assert lv.sql("select count(*) from outbox_messages where status = 'dead'")[0][0] == 0
        dup = lv.sql("select message_id, count(*) from outbox_messages group by message_id having count(*) > 1")
        assert not dup, (lv.name, dup)
        assert lv.sql("select count(*) from incidents where status = 'open'")[0][0] == 0, lv.name
    results = {lv.name: lv.sql("select count(*) from inbox_messages where kind = 'result'")[0][0]
               for lv in (county, city)}
    assert results == {"county": 1, "city": 1}, results
    forwards = {lv.name: lv.sql("select count(*) from inbox_messages where kind = 'forward'")[0][0]
                for lv in (city, province)}
    assert forwards == {"city": 1, "province": 1}, forwards

    # the materials: the same bytes at every level
    def shas(lv, case_no):
        return sorted(r[0] for r in lv.sql("select f.sha256 from case_files f join cases c on c.id = f.case_id "
                                           "where c.case_no = :n and f.kind <> 'result'", n=case_no))
    assert shas(county, no) and shas(county, no) == shas(city, city_case.case_no) == \
        shas(province, province_case.case_no)

    # each level's step, once, on the county's trail and on the applicant's progress page
    lines = [r[0] for r in county.sql("select e.opinion from case_events e join cases c on c.id = e.case_id "
                                      "where c.case_no = :n and e.action = 'level_step' order by e.id", n=no)]
    expected = ["已转报苏州市发展和改革委员会", "市级已受理（苏州市发展和改革委员会）", "市级已转报江苏省发展和改革委员会",
                "省级已受理（江苏省发展和改革委员会）"]
    assert lines[:4] == expected, lines
    assert len(lines) == 6 and lines[4].startswith("省级已批复（江苏省发展和改革委员会") and \
        lines[5].startswith("市级已批复（苏州市发展和改革委员会"), lines
    page = applicant.call("GET", f"/portal/cases/{mine['case_id']}", "case page").text
    for line in lines:
        assert line.split("（")[0] in page

    # one SMS per moment, to the applicant, from the county only
    def county_sms():
        return [m["body"] for m in standin.sent if no in m["body"]]
    wait_for("the decision's SMS", lambda: any("已办结" in b for b in county_sms()), levels, timeout=60)
    sms = county_sms()
    assert not [b for b, n in Counter(sms).items() if n > 1], sms
    for line in lines:
        assert sum(line in b for b in sms) == 1, (line, sms)
    for other in (city_case.case_no, province_case.case_no):
        assert not [m for m in standin.sent if other in m["body"]]
    assert in_flight >= 1  # the kill did find messages of the city not yet delivered

    # what a stranger sends is refused, stored nowhere, and shown to the province's operators
    before = province.sql("select count(*) from inbox_messages")[0][0]
    envelope = {"v": 1, "alg": "ed25519", "id": str(uuid.uuid4()), "from": city.region, "to": province.region,
                "seq": 10_000, "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "kind": "progress",
                "body": {"origin_case_no": "X", "case_no": "Y", "status": "accepted"},
                "sig": base64.b64encode(secrets.token_bytes(64)).decode()}
    r = requests.post(province.url + "/api/federation/messages", json=envelope, timeout=10)
    assert r.status_code == 401 and r.json()["status"] == "bad_signature", r.text
    r = requests.post(province.url + "/api/federation/messages", json=dict(envelope, **{"from": "330000"}), timeout=10)
    assert r.status_code == 403 and r.json()["status"] == "unknown_peer", r.text
    # and what the city itself signs but should not be applied: a sequence number used already (a
    # replay), a matter the province does not have, a material the link does not give
    city_key = private_key_from_seed(city.env["FEDERATION_SIGNING_KEY"])

    def post_signed(kind, body, seq):
        env = seal(city_key, message_id=str(uuid.uuid4()), sender=city.region, recipient=province.region, seq=seq,
                   ts=datetime.now(timezone.utc), kind=kind, body=body)
        return requests.post(province.url + "/api/federation/messages", json=env, timeout=60)
    used = province.sql("select max(seq) from inbox_messages where peer = :p", p=city.region)[0][0]
    r = post_signed("progress", {"origin_case_no": city_case.case_no, "case_no": "Y", "status": "accepted"}, used)
    assert r.status_code == 409 and r.json()["status"] == "replay", r.text
    forward = {"matter": {"process_id": "no_such_matter", "basic_code": "9999999999", "name": "无此事项"},
               "origin": {"region": city.region, "case_no": "320500-20260101-999999"},
               "project": {"code": None, "name": "测试"}, "data": {}, "materials": [], "trail": [],
               "applicant": {"name": "某公司", "kind": "enterprise", "cert_type": "统一社会信用代码",
                             "cert_no": "91320000MA1XY00001", "mobile": "13800138000"}}
    r = post_signed("forward", forward, used + 1000)
    assert r.status_code == 422 and r.json()["status"] == "unknown_matter", r.text
    sha, exp = hashlib.sha256(b"never stored").hexdigest(), int(time.time()) + 3600
    sig = base64.urlsafe_b64encode(city_key.sign(f"yg-file:v1:{sha}:{province.region}:{exp}".encode())).rstrip(b"=")
    forward = dict(forward, matter={"process_id": MATTER, "basic_code": "", "name": ""}, materials=[{
        "sha256": sha, "size": 100, "name": "申请报告.pdf", "content_type": "application/pdf",
        "url": f"{city.url}/api/federation/files/{sha}?to={province.region}&exp={exp}&sig={sig.decode()}"}])
    r = post_signed("forward", forward, used + 1001)
    assert r.status_code == 422 and r.json()["status"] == "bad_material", r.text
    assert province.sql("select count(*) from inbox_messages")[0][0] == before
    assert province.sql("select count(*) from cases where origin_region is not null")[0][0] == 1
    admin = lm.RequestsHttp(province.url, log)
    lm.staff_login(admin, "admin")
    page = admin.call("GET", "/admin/federation", "federation admin").text
    for code in ("bad_signature", "unknown_peer", "replay", "unknown_matter", "bad_material"):
        assert code in page, code
    assert not [entry for entry in log if entry[2] >= 500], [e for e in log if e[2] >= 500]
