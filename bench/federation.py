"""Benchmark: 转报 between two local platforms over real HTTP, and the drain of a backlog after an outage.

    .venv/bin/python bench/federation.py [--round-trips 20] [--messages 1000] [--baseline 200] [--quick]
                                         [--database-url postgresql://postgres@127.0.0.1:5432/bench_fed]

Two deployments, a county (320583, the lower, origin of the cases) and its city (320500, the upper),
each with its own database and its own Ed25519 key, registered as peers both ways, each served over
real HTTP on a loopback port. Databases: by default one SQLite file each in a temp dir (migrated
once, copied); with ``--database-url`` (PostgreSQL) two schemas of that database, ``bench_fed_lower``
and ``bench_fed_upper``, dropped, recreated and migrated at the start and dropped at the end (the
``public`` schema is not touched; the databases ``test`` and ``postgres`` are refused).

Servers: werkzeug ``make_server(threaded=True)`` in threads of this process (as the tests'
``Served``), with TCP_NODELAY and no access log. Why not gunicorn: the bench drives both platforms'
services directly (``outbox.deliver_due()`` in each app's context, as the scheduler's outbox job
does) and must stop the receiver and start it again on the same port (the peer's registered URL)
at a chosen moment; in one process that is ``shutdown()`` / ``make_server`` again, with nothing to
poll. Client and servers share the GIL, but every exchange here is sequential (the sender waits in
``recv`` while the receiver works), and the baseline is measured through the same servers with the
same client library, so the ratios compare like with like.

Figures (all wall time, ``time.perf_counter``):

* **baseline**: ``GET /api/tasks`` with a bearer token (a staff user without tasks: authentication,
  one small query, JSON; the same answer all along the run), ``--baseline`` times against each
  platform, a fresh connection per request (``requests.get`` without a session, as the outbox's
  ``post`` does). Measured twice, before the round trips and after the drain; the two halves are
  pooled (both halves' medians are printed: the machine's drift shows there).
* **forward round trip**, ``--round-trips`` times (after one untimed warm-up), on the fixture
  processes of tests/fixtures/processes/federation: an applicant's case at the county (one PDF
  material, distinct bytes per case) is accepted by the county's clerk, which reaches the
  ``action=forward`` event and writes the ``forward`` to the outbox (not timed; the county's
  supervision reports of the submission are sent before, not timed either). Then, timed, with
  nothing in between:
  1. *forward leg*: the county's sender (``deliver_due(limit=1)`` until the forward is delivered)
     signs and POSTs the forward; the city fetches the material through the county's signed link and
     checks it, finds or creates the applicant's account, starts and submits its case, which reaches
     its 受理 task (``caseStatus=accepted`` there: the status is set when the task is reached, so the
     ``receipt`` is written in this same transaction), answers ``{"case_no"}``; the county records
     the answer;
  2. *receipt leg*: the city's sender, one message at a time, until the ``receipt`` is delivered: the
     ``progress`` of the submission first (same order key), then the receipt, each applied at the
     county through its inbox (a trail entry "…已受理" on the origin case).
  The **round trip** is 1 + 2: from the forward's first send to the receipt applied at the origin
  (the scheduler's polling interval, ``OUTBOX_SEND_SECONDS``, is not included). Its ratios are to the
  baseline median of both platforms pooled (each leg has a different receiver). After each round
  trip the county case's trail must hold "…已受理", else the bench stops.
* **drain**: the county's server is stopped; ``--messages`` ``progress`` messages of the forwarded
  cases (spread over them, order key the origin case number, as the real ones) are written to the
  city's outbox (time printed; no send is tried while it is down, so no backoff is waited for); the
  county's server starts again on the same port; the city's sender runs ``deliver_due()`` passes (100
  messages each, as the scheduler's job) until none is pending. The channel's ``send`` is wrapped
  with a timer (re-registered, put back afterwards) to split each message's cost between the HTTP
  exchange and the sender's own claim and record. Each message is applied through the county's inbox (row, trail entry, answer in one
  transaction). Printed: seconds, messages/s, ms per message and the ratio of the drain to
  ``messages × baseline median (county)``; then the county's inbox rows for exactly these message ids and the
  trail entries they added (both must equal ``--messages``).

``--quick`` (3 round trips, 100 messages, 30 baseline requests) is the smoke test's run
(tests/bench/test_federation_bench.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APP_ENV", "development")  # a bench is no production server: the demo SECRET_KEY will do
os.environ.setdefault("LOG_LEVEL", "WARNING")  # no JSON line per request

import requests  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Case, CaseEvent, CaseFile, User  # noqa: E402
from app.models.accounts import ApplicantProfile  # noqa: E402
from app.models.exchange import InboxMessage, OutboxMessage  # noqa: E402
from app.services.common.blobs import keep_blob  # noqa: E402
from app.services.cases.registry import deploy_directory  # noqa: E402
from app.services.federation import peers as peer_svc  # noqa: E402
from app.services.federation.protocol import new_seed, private_key_from_seed, public_key_text  # noqa: E402
from app.services.federation.transport import CHANNEL  # noqa: E402
from app.services.identity.actors import hash_token  # noqa: E402
from app.services.messaging import outbox  # noqa: E402

LOWER, UPPER = "320583", "320500"
NAMES = {LOWER: "昆山市发展和改革委员会", UPPER: "苏州市发展和改革委员会"}
LEVELS = {LOWER: "county", UPPER: "city"}
FIXTURES = ROOT / "tests" / "fixtures"
PROCESSES = {LOWER: FIXTURES / "processes" / "federation" / "county",
             UPPER: FIXTURES / "processes" / "federation" / "city"}
FORBIDDEN = {"test", "postgres", "template0", "template1"}
SCHEMAS = {LOWER: "bench_fed_lower", UPPER: "bench_fed_upper"}
START = {"amount": 3, "project_name": "昆山市某储能项目"}
APPROVE = {"data": {"decision": "approve"}}


# -- statistics ---------------------------------------------------------------------------------------
from benchstats import median, p95  # noqa: E402  (bench/ is on sys.path when run as a script)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


# -- databases ----------------------------------------------------------------------------------------
def migrate(url: str) -> None:
    """The schema through the migrations and the calendar seeded, as the app does at start."""
    from flask_migrate import upgrade
    from app.services.clocks.calendar import seed_from_package
    app = create_app({"DATABASE_URL": url, "DEPLOY_ON_START": False})
    with app.app_context():
        upgrade()
        seed_from_package()
        db.session.commit()
        db.engine.dispose()


def _pg_engine(url: str):
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def databases(url: str | None, tmp: Path) -> dict[str, str]:
    """A migrated database per platform: SQLite files in ``tmp``, or two schemas of ``url``."""
    if url is None:
        template = tmp / "template.sqlite3"
        migrate(f"sqlite:///{template}")
        out = {}
        for region in (LOWER, UPPER):
            target = tmp / f"{region}.sqlite3"
            shutil.copy(template, target)
            out[region] = f"sqlite:///{target}"
        return out
    if not url.startswith("postgresql://"):
        raise SystemExit("--database-url: a postgresql:// URL (SQLite files are the default)")
    name = url.split("?", 1)[0].rsplit("/", 1)[-1]
    if name in FORBIDDEN:
        raise SystemExit(f"refusing to use database {name!r}")
    eng = _pg_engine(url)
    with eng.begin() as conn:
        for schema in SCHEMAS.values():
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    out = {}
    for region, schema in SCHEMAS.items():
        out[region] = url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
        migrate(out[region])
    return out


def drop_schemas(url: str | None) -> None:
    if url is None:
        return
    eng = _pg_engine(url)
    with eng.begin() as conn:
        for schema in SCHEMAS.values():
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    eng.dispose()


# -- the two platforms --------------------------------------------------------------------------------
class Handler(WSGIRequestHandler):
    """werkzeug's handler with TCP_NODELAY (as production servers set it: no Nagle/delayed-ACK stall
    between the header and body writes) and no access log line per request."""
    disable_nagle_algorithm = True

    def log_request(self, *args, **kwargs):
        pass


class Platform:
    """One deployment: its app on its own database, served on a loopback port in a thread; ``stop()``
    and ``start()`` again on the same port."""

    def __init__(self, region: str, db_url: str, tmp: Path):
        self.region, self.seed, self.server, self.port = region, new_seed(), None, 0
        self.app = create_app({"DATABASE_URL": db_url, "DEPLOY_ON_START": False, "REGION_CODE": region,
                               "FEDERATION_SIGNING_KEY": self.seed, "AGENCY_NAME": NAMES[region],
                               "PROCESSES_DIR": str(PROCESSES[region]), "FORMS_DIR": str(FIXTURES / "forms"),
                               "FILES_DIR": str(tmp / f"files-{region}")})
        self.start()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app.config["FEDERATION_PUBLIC_URL"] = self.url
        self.key = public_key_text(private_key_from_seed(self.seed).public_key())
        self.tokens: dict[str, str] = {}
        with self.app.app_context():
            deploy_directory(self.app.config["PROCESSES_DIR"], self.app.config["FORMS_DIR"])

    def start(self):
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True, request_handler=Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def close(self):
        self.stop()
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()

    def user(self, name: str, kind: str = "staff", groups=()) -> int:
        token = f"bench-{name}-{secrets.token_hex(8)}"
        with self.app.app_context():
            u = User(username=name, display_name=name, kind=kind, groups=sorted(groups), region_code=self.region,
                     token_hash=hash_token(token))
            db.session.add(u)
            db.session.commit()
            self.tokens[name] = token
            return u.id

    def auth(self, name: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def get(self, name: str, path: str) -> requests.Response:
        return requests.get(self.url + path, headers=self.auth(name), timeout=30)

    def post(self, name: str, path: str, body: dict) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=self.auth(name), timeout=60)

    def task_id(self, name: str, element: str) -> str:
        r = self.get(name, "/api/tasks")
        r.raise_for_status()
        found = [t["id"] for t in r.json() if t["element_id"] == element]
        if not found:
            raise SystemExit(f"{self.region}: {name} has no task {element}")
        return found[0]

    def count(self, model, *where) -> int:
        with self.app.app_context():
            n = db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()
            db.session.rollback()
            return n


def set_up(tmp: Path, url: str | None) -> tuple[Platform, Platform]:
    urls = databases(url, tmp)
    lower, upper = Platform(LOWER, urls[LOWER], tmp), Platform(UPPER, urls[UPPER], tmp)
    for here, there in ((lower, upper), (upper, lower)):
        with here.app.app_context():
            peer_svc.add_peer(peer_svc.PeerIn(there.region, NAMES[there.region], LEVELS[there.region], there.url,
                                              there.key))
    alice = lower.user("alice", kind="applicant")
    with lower.app.app_context():
        db.session.add(ApplicantProfile(user_id=alice, kind="individual", name="王小丽", id_number="320583199001011234",
                                        mobile="13812345678"))
        db.session.commit()
    lower.user("kw", groups=["window"])
    for p in (lower, upper):
        p.user("reader")  # the baseline's user: staff without tasks
    return lower, upper


# -- baseline -----------------------------------------------------------------------------------------
def baseline(p: Platform, user: str, n: int) -> list[float]:
    """``n`` timed ``GET /api/tasks`` with a bearer token, each on a fresh connection (after 5 untimed)."""
    out = []
    for i in range(n + 5):
        t0 = time.perf_counter()
        r = requests.get(p.url + "/api/tasks", headers=p.auth(user), timeout=30)
        elapsed = time.perf_counter() - t0
        if r.status_code != 200:
            raise SystemExit(f"baseline request answered {r.status_code}: {r.text[:200]}")
        if i >= 5:
            out.append(elapsed)
    return out


# -- forward round trip -------------------------------------------------------------------------------
def origin_case(lower: Platform, i: int) -> dict:
    """An applicant's case at the county with one PDF material (distinct bytes: every forward fetches)."""
    r = lower.post("alice", "/api/cases", {"process_id": "t_forward", "data": START})
    if r.status_code != 201:
        raise SystemExit(f"county case not created: {r.status_code} {r.text[:300]}")
    case = r.json()
    pdf = b"%PDF-1.4\n% bench " + f"{i} {secrets.token_hex(16)}".encode() + b"\n" + b"0" * 4000 + b"\n%%EOF\n"
    with lower.app.app_context():
        sha, key = keep_blob(pdf)
        db.session.add(CaseFile(case_id=case["id"], uploaded_by="alice", kind="scan", material="申请表",
                                filename="申请表.pdf", content_type="application/pdf", size=len(pdf), sha256=sha,
                                storage_key=key))
        db.session.commit()
    return case


def flush(p: Platform) -> int:
    """Send everything due (what the scheduler would have sent between two steps); not timed."""
    n = 0
    with p.app.app_context():
        while True:
            counts = outbox.deliver_due()
            if not counts["claimed"]:
                return n
            n += counts["delivered"]


def send_until(p: Platform, kind: str, order_key: str) -> tuple[float, int, dict]:
    """The sender, one message at a time (``deliver_due(limit=1)``), until the message ``kind`` of
    ``order_key`` is delivered: (seconds, messages delivered, its reply)."""
    sent, t0 = 0, time.perf_counter()
    with p.app.app_context():
        while True:
            counts = outbox.deliver_due(limit=1)
            sent += counts["delivered"]
            row = db.session.execute(select(OutboxMessage).where(
                OutboxMessage.kind == kind, OutboxMessage.order_key == order_key)).scalar_one_or_none()
            if row is not None and row.status == "delivered":
                elapsed, reply = time.perf_counter() - t0, dict(row.reply or {})
                db.session.rollback()
                return elapsed, sent, reply
            if not counts["delivered"]:
                raise SystemExit(f"{p.region}: {kind} of {order_key} not delivered: {counts} "
                                 f"{row and (row.status, row.last_error)}")


def round_trip(lower: Platform, upper: Platform, i: int) -> dict:
    case = origin_case(lower, i)
    no = case["case_no"]
    flush(lower)  # the county's own reports of the submission (supervision), sent before the clerk acts
    r = lower.post("kw", f"/api/tasks/{lower.task_id('kw', 'accept')}/complete", APPROVE)
    if r.status_code != 200 or r.json().get("instance_status") != "waiting":
        raise SystemExit(f"county accept did not reach the forward: {r.status_code} {r.text[:300]}")
    # 1. the forward leg: the county's sender until the forward is delivered (the city's case started)
    t_forward, sent_up, reply = send_until(lower, "forward", no)
    upper_no = (reply.get("answer") or {}).get("case_no")
    if not upper_no:
        raise SystemExit(f"the forward's answer has no case number: {reply}")
    # 2. the receipt leg: the city's sender until the receipt is delivered (applied at the county)
    t_receipt, sent_back, _ = send_until(upper, "receipt", no)
    flush(upper)
    flush(lower)
    with lower.app.app_context():
        opinions = list(db.session.execute(select(CaseEvent.opinion).where(
            CaseEvent.case_id == case["id"], CaseEvent.action == "federation")).scalars())
        db.session.rollback()
    if f"{NAMES[UPPER]}已受理" not in opinions:
        raise SystemExit(f"the origin case {no} has no receipt back: {opinions}")
    return {"origin": no, "origin_id": case["id"], "upper": upper_no, "forward": t_forward, "receipt": t_receipt,
            "sent_up": sent_up, "sent_back": sent_back}


# -- drain --------------------------------------------------------------------------------------------
def drain(lower: Platform, upper: Platform, trips: list[dict], n: int) -> dict:
    lower.stop()  # the receiver is down while the backlog is written
    with upper.app.app_context():
        cases = {no: cid for no, cid in db.session.execute(select(Case.case_no, Case.id).where(
            Case.case_no.in_([t["upper"] for t in trips]))).all()}
        t0 = time.perf_counter()
        ids = []
        for j in range(n):
            t = trips[j % len(trips)]
            m = outbox.enqueue(CHANNEL, LOWER, "progress",
                               {"origin_case_no": t["origin"], "case_no": t["upper"], "status": "accepted",
                                "previous": "accepted", "label": f"基准进度 {j}", "seq": 1000 + j,
                                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                               case_id=cases[t["upper"]], order_key=t["origin"], key=f"bench-progress:{j}")
            ids.append(m.message_id)
            if j % 100 == 99:
                db.session.commit()
        db.session.commit()
        t_enqueue = time.perf_counter() - t0
    events0 = lower.count(CaseEvent, CaseEvent.action == "federation")
    try:
        requests.get(lower.url + "/healthz", timeout=2)
        raise SystemExit("the county still answers while stopped")
    except requests.ConnectionError:
        pass
    lower.start()

    channel, exchanges = outbox.channels()[CHANNEL], []

    def timed_send(out):  # the channel's own send, timed: sign, POST, the receiver's work, the answer
        t = time.perf_counter()
        try:
            return channel.send(out)
        finally:
            exchanges.append(time.perf_counter() - t)

    outbox.register_channel(dataclasses.replace(channel, send=timed_send))
    passes, per_pass, totals = 0, [], {"delivered": 0, "retry": 0, "dead": 0, "lost": 0}
    try:
        with upper.app.app_context():
            t0 = time.perf_counter()
            while True:
                tp = time.perf_counter()
                counts = outbox.deliver_due()
                if counts["claimed"]:
                    per_pass.append((time.perf_counter() - tp) / counts["claimed"])
                passes += 1
                for k in totals:
                    totals[k] += counts[k]
                if counts["claimed"] == 0:
                    break
            t_drain = time.perf_counter() - t0
            waiting = db.session.execute(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status.in_(outbox.WAITING))).scalar()
            db.session.rollback()
    finally:
        outbox.register_channel(channel)
    rows = 0
    for k in range(0, n, 500):
        rows += lower.count(InboxMessage, InboxMessage.peer == UPPER, InboxMessage.message_id.in_(ids[k:k + 500]))
    return {"n": n, "enqueue": t_enqueue, "drain": t_drain, "passes": passes, "totals": totals,
            "per_pass": per_pass, "exchanges": sum(exchanges),
            "waiting": waiting, "inbox_rows": rows,
            "trail_entries": lower.count(CaseEvent, CaseEvent.action == "federation") - events0}


# -- the run ------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--round-trips", type=int, default=20)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--baseline", type=int, default=200, help="baseline requests per platform and half")
    ap.add_argument("--database-url", default=None, help="PostgreSQL (two schemas); default: SQLite files")
    ap.add_argument("--quick", action="store_true", help="3 round trips, 100 messages, 30 baseline requests")
    args = ap.parse_args(argv)
    if args.quick:
        args.round_trips, args.messages, args.baseline = 3, 100, 30
    tmp = Path(tempfile.mkdtemp(prefix="bench-federation-"))
    lower = upper = None
    t_start = time.perf_counter()
    try:
        kind = "PostgreSQL (two schemas)" if args.database_url else "SQLite (a file each)"
        print(f"# databases: {kind}; {os.cpu_count()} CPUs; werkzeug threaded servers in-process", flush=True)
        lower, upper = set_up(tmp, args.database_url)
        print(f"# county {LOWER} at {lower.url}, city {UPPER} at {upper.url}", flush=True)
        base = {LOWER: baseline(lower, "reader", args.baseline), UPPER: baseline(upper, "reader", args.baseline)}
        first = {r: median(v) for r, v in base.items()}
        round_trip(lower, upper, 0)  # warm-up, not counted
        trips = []
        for i in range(args.round_trips):
            trips.append(round_trip(lower, upper, i + 1))
        print(f"# {len(trips)} round trips done", flush=True)
        d = drain(lower, upper, trips, args.messages)
        print(f"# drain of {d['n']} done in {d['passes']} passes", flush=True)
        second = {LOWER: baseline(lower, "reader", args.baseline), UPPER: baseline(upper, "reader", args.baseline)}
        for r in base:
            base[r] += second[r]
        halves = {r: (first[r], median(second[r])) for r in base}
    finally:
        for p in (lower, upper):
            if p is not None:
                p.close()
        drop_schemas(args.database_url)
        shutil.rmtree(tmp, ignore_errors=True)
    report(base, halves, trips, d, time.perf_counter() - t_start)
    ok = d["inbox_rows"] == d["n"] and d["trail_entries"] == d["n"] and d["waiting"] == 0
    return 0 if ok else 1


def report(base, halves, trips, d, wall):
    b_low, b_both = median(base[LOWER]), median(base[LOWER] + base[UPPER])
    print()
    print("| baseline GET /api/tasks (bearer) | n | median ms | p95 ms | 1st half / 2nd half median ms |")
    print("|---|---:|---:|---:|---|")
    for r, label in ((UPPER, f"city {UPPER} (forward receiver)"), (LOWER, f"county {LOWER} (drain receiver)")):
        print(f"| {label} | {len(base[r])} | {ms(median(base[r]))} | {ms(p95(base[r]))} | "
              f"{ms(halves[r][0])} / {ms(halves[r][1])} |")
    print(f"| both platforms | {len(base[LOWER]) + len(base[UPPER])} | {ms(b_both)} | "
          f"{ms(p95(base[LOWER] + base[UPPER]))} | |")
    print()
    legs = {"forward leg (county send → city case, answer)": [t["forward"] for t in trips],
            "receipt leg (city sends → receipt applied at county)": [t["receipt"] for t in trips],
            "ROUND TRIP (forward + receipt legs)": [t["forward"] + t["receipt"] for t in trips]}
    print(f"| forward round trip, {len(trips)} cases | median ms | p95 ms | median / baseline median (both platforms) |")
    print("|---|---:|---:|---:|")
    for label, xs in legs.items():
        print(f"| {label} | {ms(median(xs))} | {ms(p95(xs))} | {median(xs) / b_both:.1f}x |")
    print(f"messages sent per leg (median): forward leg {median([t['sent_up'] for t in trips]):.0f}, "
          f"receipt leg {median([t['sent_back'] for t in trips]):.0f} (the receipt goes after the progress "
          f"of the city case's submission: same order key)")
    print()
    rate = d["n"] / d["drain"] if d["drain"] else float("nan")
    print("| drain after the receiver comes back | value |")
    print("|---|---:|")
    print(f"| messages | {d['n']} |")
    print(f"| written to the outbox while down (s) | {d['enqueue']:.2f} |")
    print(f"| drain (s) | {d['drain']:.2f} |")
    print(f"| messages/s | {rate:.1f} |")
    print(f"| ms per message | {d['drain'] * 1000 / d['n']:.2f} |")
    print(f"| drain / ({d['n']} × baseline median (county)) | {d['drain'] / (d['n'] * b_low):.1f}x |")
    print(f"| of which the HTTP exchange (sign, POST, receiver's inbox, answer), ms per message | "
          f"{d['exchanges'] * 1000 / d['n']:.2f} |")
    print(f"| of which the sender's own claim + record (the rest), ms per message | "
          f"{(d['drain'] - d['exchanges']) * 1000 / d['n']:.2f} |")
    pp = d["per_pass"]
    print(f"| ms per message, first / last pass of 100 | {ms(pp[0])} / {ms(pp[-1])} |" if pp else "| passes | - |")
    print(f"| sender passes | {d['passes']} |")
    print(f"| delivered / retry / dead / lost | {d['totals']['delivered']} / {d['totals']['retry']} / "
          f"{d['totals']['dead']} / {d['totals']['lost']} |")
    print(f"| still waiting in the outbox | {d['waiting']} |")
    print(f"| receiver inbox rows for these messages | {d['inbox_rows']} (expected {d['n']}) |")
    print(f"| trail entries added at the origin | {d['trail_entries']} (expected {d['n']}) |")
    print()
    print(f"total wall time {wall:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
