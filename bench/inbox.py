"""Benchmark: the staff 待办 inbox with 1,000,000 open tasks on PostgreSQL, and the cost of completing a
task on a full inbox index vs an almost empty one.

    .venv/bin/python bench/inbox.py [--tasks 1000000] [--small 1000] [--n 200] [--completions 60]
                                    [--pg-url postgresql://postgres@127.0.0.1:5432/bench_inbox] [--verbose]

Two databases are (re)created: ``bench_inbox`` (filled with --tasks open tasks) and
``bench_inbox_small`` (the same fill with --small tasks); their ``public`` schemas are DROPPED, recreated
and migrated. See bench/README.md for what every figure means.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APP_ENV", "development")  # a bench is no production server: the demo SECRET_KEY will do
os.environ.setdefault("LOG_LEVEL", "WARNING")  # the JSON log lines of every request would drown the figures

from sqlalchemy import event, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from tests.fixtures.build import write_linear  # noqa: E402

FORBIDDEN = {"test", "test_lead", "test_b", "test_c", "bench", "postgres", "template0", "template1"}
MATTERS = ["xmgl_hezhun", "xmgl_beian", "jnsc_jieneng", "xhd_rending", "zjsq_zhongyang"]
#: candidate-group codes (22 x 14 regions = 308 group keys); the first three are the measured user's
GROUPS = ["window", "investment_chief", "leader", "investment", "investment_liaison", "energy", "energy_chief",
          "industry", "industry_chief", "regional", "regional_chief", "foreign", "foreign_chief", "cs_ecology",
          "cs_finance", "cs_water", "cs_land", "cs_housing", "cs_transport", "cs_safety", "inspector",
          "cs_culture"]
REGIONS = ["320000", "320100", "320200", "320300", "320400", "320500", "320600", "320700", "320800", "320900",
           "321000", "321100", "321200", "321300"]
ME = "bench_me"                  # staff, region 320000, groups window / investment_chief / leader
MY_GROUPS = ["window", "investment_chief", "leader"]
#: share of all tasks on the measured user's keys (of 1,000,000: 20,000 / 2,500 / 1,200 / 60)
SHARE = {"window": 0.02, "investment_chief": 0.0025, "leader": 0.0012, "me": 0.00006}
BOTH = 0.015                     # of the window tasks, also offered to investment_chief (de-duplicated)
STAFF = 2000
LINEAR = "bench_inbox_linear"    # the real process whose tasks are completed (group window, 320000)
LINEAR_TASKS = 12
TARGET_MS = 50.0
START_DATA = {"title": "收件箱基准"}
STEP_DATA = {"opinion": "同意，按程序办理。", "decision": "approve"}


# -- statistics helpers (as engine_submit.py) -------------------------------------------------------
from benchstats import median, p95  # noqa: E402  (bench/ is on sys.path when run as a script)


# -- database setup --------------------------------------------------------------------------------
def make_app(url, procs, forms):
    return create_app({"DATABASE_URL": url, "DEPLOY_ON_START": False, "PROCESSES_DIR": str(procs),
                       "FORMS_DIR": str(forms)})


def reset(url: str, linear_dir: Path):
    """Create the database if missing, drop/recreate ``public``, migrate, seed the calendar, deploy the
    shipped matters and the linear bench process, add the measured user and an applicant."""
    import psycopg
    from flask_migrate import upgrade

    from app.models import User
    from app.services.clocks.calendar import seed_from_package
    from app.services.cases.registry import deploy_directory
    base, dbname = url.rsplit("/", 1)
    if dbname in FORBIDDEN:
        raise SystemExit(f"refusing to use database {dbname!r}")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (dbname,)).fetchone():
            conn.execute(f'CREATE DATABASE "{dbname}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    app = make_app(url, ROOT / "processes", ROOT / "forms")
    with app.app_context():
        upgrade()
        seed_from_package()
        db.session.commit()
        deploy_directory(ROOT / "processes", ROOT / "forms")
        deploy_directory(linear_dir / "processes", linear_dir / "forms")
        db.session.add(User(username=ME, display_name="基准处理人", kind="staff", groups=sorted(MY_GROUPS),
                            region_code="320000"))
        db.session.add(User(username="bench_applicant", display_name="基准申请人", kind="applicant", groups=[]))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return app


def _arr(values) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


FILL_SQL = """
SELECT setseed(0.4242);
DROP TABLE IF EXISTS bench_fill;
INSERT INTO users (username, display_name, kind, groups, region_code, active, failed_logins, totp_enabled, created_at)
SELECT 's' || lpad(i::text, 4, '0'), '工作人员' || i, 'staff',
       json_build_array(({G})[1 + i % 22], ({G})[1 + (i * 7) % 22]), ({R})[1 + i % 14], true, 0, false, now()
FROM generate_series(1, {staff}) AS i;
INSERT INTO process_instances (version_id, process_id, status, revision, state, serializer_version, created_at,
                               updated_at)
SELECT id, process_id, 'running', 0, '{{}}', 'bench-fill', now(), now() FROM process_versions
WHERE process_id = ANY({M});
CREATE UNLOGGED TABLE bench_fill AS
WITH base AS (
    SELECT n, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
           CASE WHEN n <= {c_win} THEN 'win' WHEN n <= {c_win} + {c_chief} THEN 'chief'
                WHEN n <= {c_win} + {c_chief} + {c_leader} THEN 'leader'
                WHEN n <= {c_win} + {c_chief} + {c_leader} + {c_me} THEN 'me' ELSE 'rest' END AS kind
    FROM generate_series(1, {n}) AS n),
picked AS (
    SELECT n, kind, r1, r4, r5,
           CASE kind WHEN 'win' THEN 0 WHEN 'chief' THEN 1 WHEN 'leader' THEN 2 WHEN 'me' THEN 0
                     ELSE floor(22 * power(r2, 1.4))::int END AS gi,
           CASE WHEN kind <> 'rest' THEN 0 ELSE floor(14 * power(r3, 1.2))::int END AS ri0
    FROM base),
placed AS (
    SELECT n, kind, r1, r4, r5, gi,
           CASE WHEN kind = 'rest' AND ri0 = 0 AND gi < 3 THEN 1 + n % 13 ELSE ri0 END AS ri
    FROM picked)
SELECT n, kind,
       md5(n::text || '-bench-inbox')::uuid::text AS task_id,
       ({G})[gi + 1] AS g1,
       NULLIF(CASE WHEN kind = 'win' AND n <= {c_both} THEN 'investment_chief'
            WHEN kind = 'rest' AND r1 >= 0.08 AND r4 < 0.05 THEN
                 ({G})[1 + CASE WHEN ri = 0 AND (gi + 1 + floor(r5 * 21)::int) % 22 < 3
                                THEN 3 + n % 19 ELSE (gi + 1 + floor(r5 * 21)::int) % 22 END] END,
              ({G})[gi + 1]) AS g2,
       CASE WHEN kind = 'me' THEN '{me}'
            WHEN kind = 'rest' AND r1 < 0.08 THEN 's' || lpad((1 + floor(r5 * {staff}))::int::text, 4, '0') END
           AS assignee,
       ({R})[ri + 1] AS region,
       ({M})[1 + floor(random() * 5)::int] AS process_id,
       CASE WHEN random() < 0.1 THEN NULL
            ELSE (now() AT TIME ZONE 'Asia/Shanghai')::date + (floor(random() * 61)::int - 20) END AS due,
       now() - interval '1 day' - random() * interval '59 days' AS created_at,
       gi
FROM placed;
INSERT INTO cases (id, case_no, process_id, version_id, instance_id, applicant_id, applicant_name, project_code,
                   project_name, status, data, current_step, clock_state, suspended_days, extended_days,
                   region_code, created_at, submitted_at, accepted_at, updated_at)
SELECT f.n, f.region || '-' || to_char(f.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-'
              || lpad((f.n % 1000000)::text, 6, '0'),
       f.process_id, v.id, NULL, (SELECT id FROM users WHERE username = 'bench_applicant'),
       ({CITY})[1 + floor(random() * 10)::int] || ({NAME})[1 + floor(random() * 12)::int]
           || ({TRADE})[1 + floor(random() * 10)::int] || '有限公司',
       to_char(f.created_at, 'YYMM') || '-' || f.region || '-' || lpad((10 + f.n % 89)::text, 2, '0') || '-'
           || lpad((1 + f.n % 7)::text, 2, '0') || '-' || lpad((f.n % 1000000)::text, 6, '0'),
       '基准项目' || f.n, 'accepted', '{{}}', '审查中', 'running', 0, 0, f.region, f.created_at, f.created_at,
       f.created_at, f.created_at
FROM bench_fill f JOIN process_versions v ON v.process_id = f.process_id;
SELECT setval('cases_id_seq', (SELECT max(id) FROM cases));
INSERT INTO human_tasks (id, instance_id, case_id, element_id, name, candidate_groups, candidate_users, assignee,
                         state, due_date, created_at, process_id, region_code, kind, blocked, urge_count)
SELECT f.task_id, i.id, f.n, (ARRAY['window_review', 'chief_review', 'leader_decision', 'division_review'])[LEAST(f.gi, 3) + 1],
       (ARRAY['窗口收件审查', '处长审核', '委领导审定', '处室审查'])[LEAST(f.gi, 3) + 1],
       CASE WHEN f.g2 IS NULL THEN json_build_array(f.g1) ELSE json_build_array(f.g1, f.g2) END, '[]',
       f.assignee, 'ready', f.due, f.created_at, f.process_id, f.region, 'user', 0, 0
FROM bench_fill f JOIN process_instances i ON i.process_id = f.process_id AND i.serializer_version = 'bench-fill';
INSERT INTO task_candidates (task_id, key, due_sort, created_at, process_id)
SELECT task_id, CASE WHEN assignee IS NOT NULL THEN 'u:' || assignee ELSE 'g:' || g1 || '@' || region END,
       coalesce(due, DATE '9999-12-31'), created_at, process_id FROM bench_fill
UNION ALL
SELECT task_id, 'g:' || g2 || '@' || region, coalesce(due, DATE '9999-12-31'), created_at, process_id
FROM bench_fill WHERE g2 IS NOT NULL AND assignee IS NULL;
DROP TABLE bench_fill;
"""


def fill(url: str, n: int) -> float:
    """n open tasks (with cases and task_candidates rows) in plain SQL, then VACUUM ANALYZE. Seconds."""
    import psycopg
    counts = {k: max(1, round(n * v)) for k, v in SHARE.items()}
    sql = FILL_SQL.format(
        G=_arr(GROUPS), R=_arr(REGIONS), M=_arr(MATTERS), me=ME, staff=STAFF, n=n,
        c_win=counts["window"], c_chief=counts["investment_chief"], c_leader=counts["leader"], c_me=counts["me"],
        c_both=max(1, round(counts["window"] * BOTH)),
        CITY=_arr(["江苏", "南京", "苏州", "无锡", "常州", "南通", "徐州", "扬州", "盐城", "泰州"]),
        NAME=_arr(["恒信", "华东", "新能", "金陵", "苏宁", "长江", "海港", "中天", "天合", "协鑫", "远景", "润扬"]),
        TRADE=_arr(["能源", "化工", "电力", "交通", "建设", "投资", "置业", "光伏", "钢铁", "物流"]))
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("SET work_mem = '64MB'")
        with conn.transaction():
            for stmt in [s.strip() for s in sql.split(";\n") if s.strip()]:
                conn.execute(stmt)
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - t0


# -- measuring -------------------------------------------------------------------------------------
class Db:
    """One database with its own app (engine, pool, workflow cache)."""

    def __init__(self, label, url, linear_dir):
        from app.models import User
        from app.services.identity.actors import actor_from_user
        self.label, self.url = label, url
        self.app = make_app(url, linear_dir / "processes", linear_dir / "forms")
        with self.app.app_context():
            users = {u.username: u for u in db.session.execute(
                select(User).where(User.username.in_([ME, "bench_applicant"]))).scalars()}
            self.me = actor_from_user(users[ME])
            self.applicant = actor_from_user(users["bench_applicant"])
            db.session.remove()
        self.cases, self.done, self.stmts = [], [], []
        self.n_stmts = 0
        with self.app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._count)

    def _count(self, *args):
        self.n_stmts += 1

    def timed(self, fn):
        """ms of fn() in a fresh session, as one request would see it (teardown not timed)."""
        with self.app.app_context():
            t0 = time.perf_counter()
            out = fn()
            dt = (time.perf_counter() - t0) * 1000.0
            db.session.remove()
        return dt, out

    def run(self, fn):
        with self.app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()

    def close(self):
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def inbox_queries(big: Db, small: Db):
    """name -> (db, callable) of everything timed in part 1."""
    from app.models import HumanTask
    from app.services.inbox.lists import Filters, counts, list_inbox
    from app.domain.org import inbox_keys
    me = big.me
    keys = inbox_keys(me.username, me.groups, me.region_code)
    # a case deep in the big group (last in urgency order): the case_no lookup must find it anyway
    case_no = big.run(lambda: db.session.execute(text(
        "SELECT c.case_no FROM task_candidates t JOIN human_tasks h ON h.id = t.task_id JOIN cases c ON "
        "c.id = h.case_id WHERE t.key = 'g:window@320000' ORDER BY t.due_sort DESC, t.created_at DESC LIMIT 1"
    )).scalar_one())
    some_task = big.run(lambda: db.session.execute(text(
        "SELECT id FROM human_tasks WHERE case_id = (SELECT max(id) / 2 FROM cases)")).scalar_one())
    todo_count = text("SELECT count(DISTINCT task_id) FROM task_candidates WHERE key = ANY(:k)")
    capped = text("SELECT count(*) FROM (SELECT DISTINCT task_id FROM task_candidates WHERE key = ANY(:k) "
                  "LIMIT 1000) s")
    red = Filters(process_id="xmgl_hezhun", colour="red")
    q = {
        "SELECT 1 (round trip)": (big, lambda: db.session.execute(text("SELECT 1")).scalar_one()),
        "PK lookup human_tasks": (big, lambda: db.session.execute(
            select(HumanTask).where(HumanTask.id == some_task)).scalar_one()),
        "first page + counts": (big, lambda: list_inbox(me, "todo", Filters(), page=1, per_page=20)),
        "first page, no counts": (big, lambda: list_inbox(me, "todo", Filters(), page=1, per_page=20,
                                                         with_counts=False)),
        "counts() alone": (big, lambda: counts(me)),
        "todo count(distinct) SQL": (big, lambda: db.session.execute(todo_count, {"k": keys}).scalar_one()),
        "  (info) capped count <=1000": (big, lambda: db.session.execute(capped, {"k": keys}).scalar_one()),
        "filter process+red + counts": (big, lambda: list_inbox(me, "todo", red, page=1, per_page=20)),
        "filter case_no + counts": (big, lambda: list_inbox(me, "todo", Filters(case_no=case_no), page=1,
                                                           per_page=20)),
        "page 10 + counts": (big, lambda: list_inbox(me, "todo", Filters(), page=10, per_page=20)),
        "small DB: first page + counts": (small, lambda: list_inbox(small.me, "todo", Filters(), page=1,
                                                                   per_page=20)),
    }
    return q, case_no


def check_pages(big: Db, case_no: str) -> list[str]:
    """Sanity checks on what the timed calls return (not timed)."""
    from app.services.inbox.lists import Filters, colour_of, list_inbox
    out = []

    def go():
        p1 = list_inbox(big.me, "todo", Filters(), page=1, per_page=20)
        out.append(f"first page: {len(p1.rows)} rows, has_next={p1.has_next}, counts={p1.counts}, "
                   f"first due {p1.rows[0]['task'].due_date}, last due {p1.rows[-1]['task'].due_date}")
        pr = list_inbox(big.me, "todo", Filters(process_id="xmgl_hezhun", colour="red"), page=1, per_page=20)
        assert all(r["task"].process_id == "xmgl_hezhun" and r["colour"] == "red" for r in pr.rows), "filter"
        out.append(f"process+red page: {len(pr.rows)} rows, all xmgl_hezhun and red")
        pc = list_inbox(big.me, "todo", Filters(case_no=case_no), page=1, per_page=20)
        assert [r["case"].case_no for r in pc.rows] == [case_no], "case_no lookup"
        out.append(f"case_no {case_no}: found its task ({colour_of(pc.rows[0]['task'].due_date)})")
        p10 = list_inbox(big.me, "todo", Filters(), page=10, per_page=20)
        out.append(f"page 10: {len(p10.rows)} rows")
    big.run(go)
    return out


def measure_inbox(big: Db, small: Db, n: int, warm: int):
    q, case_no = inbox_queries(big, small)
    checks = check_pages(big, case_no)
    times = {name: [] for name in q}
    names = list(q)
    for i in range(warm + n):
        order = names[i % len(names):] + names[:i % len(names)]       # rotate: drift hits all alike
        for name in order:
            dbx, fn = q[name]
            dt, _ = dbx.timed(fn)
            if i >= warm:
                times[name].append(dt)
    return times, checks


def explain_first_page(big: Db, verbose: bool) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement of one first page with counts."""
    from app.services.inbox.lists import Filters, list_inbox
    captured = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))
    with big.app.app_context():
        event.listen(db.engine, "before_cursor_execute", grab)
        list_inbox(big.me, "todo", Filters(), page=1, per_page=20)
        event.remove(db.engine, "before_cursor_execute", grab)
        db.session.remove()
        lines = []
        conn = db.session.connection()
        for k, (stmt, params) in enumerate(captured, 1):
            plan = [r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params)]
            exec_line = next((p for p in plan if p.startswith("Execution Time")), "")
            lines.append(f"  statement {k}: {' '.join(stmt.split())[:110]}… -> {exec_line}")
            if verbose:
                lines.append("    SQL: " + " ".join(stmt.split()))
                lines.append(f"    params: {params}")
                lines += ["    " + p for p in plan]
        db.session.remove()
    return lines


def measure_completions(dbs: list[Db], n: int):
    """n completions per database through operations.complete, interleaved across the databases at the
    same process positions; a warm-up case of 3 steps first (untimed)."""
    from app.models import HumanTask
    from app.services.cases.lifecycle import create_case
    from app.services.inbox.operations import complete

    def ready_of(case_id):
        return db.session.execute(select(HumanTask.id).where(HumanTask.case_id == case_id,
                                                             HumanTask.state == "ready")).scalar_one()
    steps = LINEAR_TASKS - 2                     # positions 1..10 of a 12-task process: none ends it
    n_cases = math.ceil(n / steps)
    for d in dbs:
        warm = d.run(lambda: create_case(d.applicant, LINEAR, START_DATA).id)
        for _ in range(3):
            d.run(lambda: complete(d.me, ready_of(warm), dict(STEP_DATA)))
        d.cases = [d.run(lambda: create_case(d.applicant, LINEAR, START_DATA).id) for _ in range(n_cases)]
    count = 0
    for pos in range(steps):
        for ci in range(n_cases):
            if count >= n:
                break
            for d in (dbs[count % len(dbs):] + dbs[:count % len(dbs)]):
                tid = d.run(lambda: ready_of(d.cases[ci]))
                d.n_stmts = 0
                dt, _ = d.timed(lambda: complete(d.me, tid, dict(STEP_DATA)))
                d.done.append(dt)
                d.stmts.append(d.n_stmts)
            count += 1


def size_of(d: Db) -> dict:
    return d.run(lambda: dict(db.session.execute(text(
        "SELECT (SELECT count(*) FROM human_tasks WHERE state = 'ready') AS open_tasks, "
        "(SELECT count(*) FROM task_candidates) AS candidates, (SELECT count(*) FROM cases) AS cases")
    ).mappings().one()))


# -- main --------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=1_000_000, help="open tasks in the big database")
    ap.add_argument("--small", type=int, default=1000, help="open tasks in the small database")
    ap.add_argument("--n", type=int, default=200, help="timed runs of every inbox query (default 200)")
    ap.add_argument("--warm", type=int, default=20, help="untimed warm-up rounds (default 20)")
    ap.add_argument("--completions", type=int, default=60, help="timed completions per database (default 60)")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/bench_inbox")
    ap.add_argument("--verbose", action="store_true", help="print the EXPLAIN (ANALYZE, BUFFERS) plans")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    t_all = time.perf_counter()
    big_url, small_url = args.pg_url, args.pg_url + "_small"
    tmp = Path(tempfile.mkdtemp(prefix="bench_inbox_"))
    print(f"inbox: {args.tasks:,} open tasks vs {args.small:,}; N={args.n} runs per query, "
          f"{args.completions} completions per database; python {sys.version.split()[0]}, {os.cpu_count()} CPUs",
          flush=True)
    dbs = []
    try:
        write_linear(tmp / "processes", tmp / "forms", LINEAR, LINEAR_TASKS)
        fills = {}
        for url, n in ((small_url, args.small), (big_url, args.tasks)):
            reset(url, tmp)
            fills[url] = fill(url, n)
            print(f"  {url.rsplit('/', 1)[1]}: migrated and filled with {n:,} open tasks in {fills[url]:.0f}s "
                  "(incl. VACUUM ANALYZE)", flush=True)
        small, big = Db("small", small_url, tmp), Db("big", big_url, tmp)
        dbs = [small, big]
        sizes = {d.label: size_of(d) for d in dbs}
        for d in dbs:
            s = sizes[d.label]
            print(f"  {d.label:5}: {s['open_tasks']:,} open tasks, {s['candidates']:,} task_candidates rows, "
                  f"{s['cases']:,} cases", flush=True)
        from app.domain.org import inbox_keys
        keys = inbox_keys(big.me.username, big.me.groups, big.me.region_code)
        per_key = big.run(lambda: db.session.execute(text(
            "SELECT key, count(*) FROM task_candidates WHERE key = ANY(:k) GROUP BY key ORDER BY key"),
            {"k": keys}).all())
        print(f"  measured user {ME} (region 320000): " + ", ".join(f"{k} {c:,}" for k, c in per_key), flush=True)

        t0 = time.perf_counter()
        times, checks = measure_inbox(big, small, args.n, args.warm)
        print(f"  part 1 (inbox queries) measured in {time.perf_counter() - t0:.0f}s", flush=True)
        for line in checks:
            print("    check: " + line)
        t0 = time.perf_counter()
        measure_completions(dbs, args.completions)
        print(f"  part 2 ({args.completions} completions x 2 databases) measured in "
              f"{time.perf_counter() - t0:.0f}s", flush=True)
        plans = explain_first_page(big, args.verbose)
    finally:
        for d in dbs:
            d.close()
        shutil.rmtree(tmp, ignore_errors=True)

    W = 100
    base = median(times["SELECT 1 (round trip)"])
    pk = median(times["PK lookup human_tasks"])
    print()
    print("=" * W)
    print(f"1. Inbox of {ME} on {args.tasks:,} open tasks (ms, N={args.n} each, interleaved; per_page=20)")
    print("-" * W)
    print(f"{'':34}{'p50':>9}{'p95':>9}{'max':>9}{'p50/SELECT1':>13}{'p50/PK':>9}   target p95<=50")
    for name, xs in times.items():
        tgt = ""
        if name.startswith(("first", "filter", "page", "small")):
            tgt = "PASS" if p95(xs) <= TARGET_MS else "FAIL"
        print(f"{name:34}{median(xs):>9.2f}{p95(xs):>9.2f}{max(xs):>9.2f}{median(xs) / base:>12.1f}x"
              f"{median(xs) / pk:>8.1f}x   {tgt}")
    fp, fs = median(times["first page + counts"]), median(times["small DB: first page + counts"])
    print(f"first page + counts, {args.tasks:,} vs {args.small:,} open tasks: x{fp / fs:.2f}")
    print()
    print("EXPLAIN (ANALYZE, BUFFERS) of the statements of one first page + counts:")
    for line in plans:
        print(line)
    print()
    print("=" * W)
    print("2. Task completion (operations.complete, incl. commit) on a 12-step process, group window@320000")
    print("-" * W)
    for d in dbs:
        s = sizes[d.label]
        print(f"  {d.label:5} ({s['open_tasks']:>9,} open tasks): median {median(d.done):6.2f}  p95 "
              f"{p95(d.done):6.2f}  (n={len(d.done)}; SQL statements {min(d.stmts)}-{max(d.stmts)})")
    ratio = median(big.done) / median(small.done)
    ratio95 = p95(big.done) / p95(small.done)
    print(f"  ratio large/small: median x{ratio:.2f}, p95 x{ratio95:.2f}")
    print()
    print("=" * W)
    print("SUMMARY")
    print("-" * W)
    for name in ("first page + counts", "first page, no counts", "filter process+red + counts",
                 "filter case_no + counts", "page 10 + counts"):
        xs = times[name]
        print(f"  {name:32} p50 {median(xs):6.2f} ms  p95 {p95(xs):6.2f} ms  "
              f"{'PASS' if p95(xs) <= TARGET_MS else 'FAIL'} (p95 <= {TARGET_MS:.0f} ms)")
    print(f"  counts() alone                   p50 {median(times['counts() alone']):6.2f} ms  "
          f"p95 {p95(times['counts() alone']):6.2f} ms")
    print(f"  baseline SELECT 1 {base:.2f} ms, PK lookup {pk:.2f} ms (p50)")
    print(f"  completion median {median(small.done):.2f} ms ({sizes['small']['open_tasks']:,} open) vs "
          f"{median(big.done):.2f} ms ({sizes['big']['open_tasks']:,} open): x{ratio:.2f}")
    print(f"  fill {fills[big_url]:.0f}s; total run time {time.perf_counter() - t_all:.0f}s")


if __name__ == "__main__":
    main()
