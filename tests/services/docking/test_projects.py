"""The investment project platform (全国投资项目在线审批监管平台), over real HTTP against its stand-in:
the 项目代码 lookup, the owner check at every submission (unknown code, another enterprise's project,
the platform down: refused, nothing written), and each decision reported back on the shipped
matters — exactly once and in order per project, also through 500s, dropped connections, hangs and
malformed answers."""
import json
import sqlite3
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import Case
from app.models.docking_projects import DockingProject
from app.models.exchange import OutboxMessage
from app.services.common.clock import FakeClock
from app.services.docking import projects, tzxm
from app.services.messaging import outbox
from app.services.messaging.outbox import Outgoing
from tests.conftest import ROOT, add_user, deploy_all, make_app
from tests.fakes.tzxm_standin import DEMO_OWNER, OTHER_OWNER, TzxmStandIn
from tests.web.api.helpers import Api
from tests.web.api.test_shipped_processes import drive, user_for

SCENARIOS = {p.name.split(".")[0]: json.loads(p.read_text(encoding="utf-8"))["scenarios"]
             for p in ROOT.glob("processes/*.scenarios.json")}
HEZHUN, BEIAN = SCENARIOS["xmgl_hezhun"][0], SCENARIOS["xmgl_beian"][0]
OWN = "2603-320111-04-01-900001"
OTHERS = "2603-320100-04-01-900009"
UNKNOWN = "2603-320111-04-01-999999"


class Env:
    pass


@pytest.fixture
def env(db_url):
    standin = TzxmStandIn().seed_demo().start()
    standin.hang_seconds = 4.0
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    app = make_app(db_url, WORKFLOW_CACHE_SIZE=0, CLOCK=clock,
                   **standin.config(TZXM_TIMEOUT_SECONDS=1.5, DOCKING_RETRY_SECONDS=1))
    deploy_all(app)
    api = Api(app)
    # the demo enterprise's account (its verified credit code is the projects' owner on the stand-in)
    api.headers["applicant_1"] = add_user(app, "applicant_1", "applicant", org_code=DEMO_OWNER[0])
    e = Env()
    e.app, e.api, e.standin, e.clock = app, api, standin, clock
    yield e
    standin.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def count(app, model, *where):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


def apply(e, start, code, who="applicant_1"):
    return e.api.post(who, "/api/cases", json={"process_id": "xmgl_hezhun" if "catalog_item" in start else "xmgl_beian",
                                               "data": dict(start, project_code=code)})


# -- the lookup ------------------------------------------------------------------------------------

def test_lookup_gives_the_platforms_project_and_signs_the_request(env):
    with env.app.app_context():
        p = tzxm.lookup(OWN)
    assert (p.name, p.owner_code, p.owner_name) == ("江苏示范能源 20MW 分布式光伏发电项目", *DEMO_OWNER)
    assert (p.region_code, p.total_investment, p.industry_code, p.industry) == ("320111", 9600.0, "D4411", "energy")
    assert p.location.startswith("南京市江北新区") and "光伏" in p.construction_content
    req = env.standin.requests[-1]
    assert req["path"] == f"/api/projects/{OWN}" and req["status"] == 200
    assert req["headers"]["X-Access-Key"] == env.standin.app_id and req["headers"]["X-Signature"]
    with env.app.app_context():  # a lookup writes nothing
        assert db.session.execute(select(func.count()).select_from(DockingProject)).scalar() == 0


def test_lookup_errors_are_clear(env):
    with env.app.app_context():
        with pytest.raises(tzxm.ProjectNotFound) as err:
            tzxm.lookup(UNKNOWN)
        assert err.value.code == "project_not_found" and UNKNOWN in err.value.message
        with pytest.raises(tzxm.ProjectError) as err:
            tzxm.lookup("2603-32")
        assert err.value.code == "project_code_format"
        for fault in (500, "close", "hang", "malformed"):
            env.standin.fail_next(fault)
            with pytest.raises(tzxm.ProjectUnavailable) as err:
                tzxm.lookup(OWN)
            assert err.value.code == "project_unverifiable" and "暂时无法核验" in err.value.message
    # a wrong secret: the platform refuses the signature; the applicant is told to try later
    app = make_app(env.app.config["DATABASE_URL"], **env.standin.config(TZXM_SECRET="wrong"))
    with app.app_context():
        with pytest.raises(tzxm.ProjectUnavailable) as err:
            tzxm.lookup(OWN)
        assert "bad_signature" in err.value.reason
        db.engine.dispose()


# -- the submission check ----------------------------------------------------------------------------

def test_submission_takes_the_platforms_project_name_and_keeps_its_record(env):
    r = apply(env, dict(BEIAN["start"], project_name="随手写的名称"), OWN)
    assert r.status_code == 201, r.json
    with env.app.app_context():
        case = db.session.get(Case, r.json["id"])
        assert case.project_name == "江苏示范能源 20MW 分布式光伏发电项目" and case.case_no
        row = db.session.get(DockingProject, OWN)
        assert row.owner_code == DEMO_OWNER[0] and row.fetched_at == env.clock() and float(row.total_investment) == 9600


@pytest.mark.parametrize("code,status,error", [(UNKNOWN, 422, "project_not_found"),
                                               (OTHERS, 403, "project_owner_mismatch")])
def test_unknown_or_another_enterprises_project_is_refused_with_nothing_written(env, code, status, error):
    r = apply(env, HEZHUN["start"], code)
    assert r.status_code == status and r.json["error"] == error, r.json
    assert r.json["errors"]["project_code"] and ("项目单位与申请人不一致" in r.json["message"]
                                                 if error == "project_owner_mismatch" else code in r.json["message"])
    assert count(env.app, Case) == count(env.app, DockingProject) == count(env.app, OutboxMessage) == 0


def test_a_draft_submitted_later_is_checked_too(env):
    r = env.api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_beian", "submit": False,
                                                        "data": dict(BEIAN["start"], project_code=OTHERS)})
    assert r.status_code == 201 and r.json["status"] == "draft"
    r2 = env.api.post("applicant_1", f"/api/cases/{r.json['id']}/submit", json={})
    assert r2.status_code == 403 and r2.json["error"] == "project_owner_mismatch"
    with env.app.app_context():
        case = db.session.get(Case, r.json["id"])
        assert case.status == "draft" and case.case_no is None and case.instance_id is None


def test_an_account_without_a_credit_code_is_checked_against_the_form(env):
    env.api.headers["person"] = add_user(env.app, "person", "applicant")
    assert apply(env, dict(BEIAN["start"], applicant_code=OTHER_OWNER[0]), OWN, who="person").status_code == 403
    r = apply(env, dict(BEIAN["start"], applicant_code=DEMO_OWNER[0]), OWN, who="person")
    assert r.status_code == 201, r.json


def test_platform_down_refuses_unless_a_recent_record_is_kept(env):
    env.standin.down = True
    r = apply(env, BEIAN["start"], OWN)
    assert r.status_code == 503 and r.json["error"] == "project_unverifiable" and "暂时无法核验" in r.json["message"]
    assert count(env.app, Case) == 0
    env.standin.down = False
    assert apply(env, BEIAN["start"], OWN).status_code == 201  # keeps the record
    env.standin.down = True
    env.clock.advance(hours=23)
    assert apply(env, BEIAN["start"], OWN).status_code == 201  # a short outage: the record serves
    env.clock.advance(hours=2)
    assert apply(env, BEIAN["start"], OWN).status_code == 503  # too old to stand for the platform
    assert count(env.app, Case) == 2


def _database_writable(app, case_id: int) -> bool:
    """Whether another connection can take the write lock (SQLite) or lock the case's row
    (PostgreSQL) within half a second."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() == "sqlite":
        con = sqlite3.connect(url.database, timeout=0.5, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            con.close()
    eng = create_engine(url)
    try:
        with eng.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '500ms'"))
            conn.execute(text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": case_id})
        return True
    except OperationalError:
        return False
    finally:
        eng.dispose()


@pytest.mark.parametrize("draft_first", [False, True])
def test_no_lock_is_held_while_the_platform_answers(env, draft_first):
    """The 项目代码 is looked up before the submission's transaction begins (cases/hooks.prepare_submit):
    while the platform takes its time, the database stays writable for everyone else."""
    env.app.config["TZXM_TIMEOUT_SECONDS"] = 5
    case_id = 0
    if draft_first:
        r = env.api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_beian", "submit": False,
                                                            "data": dict(BEIAN["start"], project_code=OWN)})
        case_id = r.json["id"]
    env.standin.latency = 1.5
    answers = []
    call = (lambda: env.api.post("applicant_1", f"/api/cases/{case_id}/submit", json={})) if draft_first else \
        (lambda: apply(env, BEIAN["start"], OWN))
    worker = threading.Thread(target=lambda: answers.append(call()))
    worker.start()
    time.sleep(0.7)  # the platform is answering now
    writable = _database_writable(env.app, case_id)
    worker.join()
    env.standin.latency = 0
    assert answers[0].status_code in (200, 201), answers[0].json
    assert answers[0].json["status"] != "draft" and answers[0].json["case_no"]
    assert writable
    assert [r["path"] for r in env.standin.requests if r["path"].startswith("/api/projects/")] == [f"/api/projects/{OWN}"]


def test_without_the_platform_configured_only_the_shape_is_checked(db_url):
    app = make_app(db_url)
    deploy_all(app)
    api = Api(app)
    api.user("applicant_1", "applicant")
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_beian", "data": dict(BEIAN["start"], project_code=UNKNOWN)})
    assert r.status_code == 201 and r.json["status"] != "draft"
    with app.app_context():
        case = db.session.get(Case, r.json["id"])
        assert case.project_name == BEIAN["start"]["project_name"]
        assert db.session.execute(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "tzxm")).scalar() == 0
        db.session.remove()
        db.engine.dispose()


# -- results back ----------------------------------------------------------------------------------

def deliver(app):
    with app.app_context():
        return outbox.deliver_due(channel="tzxm")


def test_a_decision_on_the_shipped_hezhun_matter_reaches_the_platform(env):
    case = drive(env.api, "xmgl_hezhun", HEZHUN)
    assert case["status"] == "approved"
    assert deliver(env.app)["delivered"] == 1
    [got] = env.standin.received(HEZHUN["start"]["project_code"])
    assert got["case_no"] == case["case_no"] and got["result"] == "approved" and got["result_name"] == "准予许可"
    assert got["matter"]["basic_code"] == "0001720150" and got["matter"]["name"] == "企业投资项目核准"
    assert got["doc_no"] == "苏发改许发〔2025〕1021号" and got["document"] == "企业投资项目核准批复文件"
    assert got["department"]["name"] == "江苏省发展和改革委员会" and got["department"]["credit_code"] == "113200000140003784"
    assert got["region"] == {"code": "320000", "name": "江苏省"}
    assert got["project_name"] == HEZHUN["start"]["project_name"] and got["decided_at"].endswith("+08:00")
    assert got["message_id"]


def test_a_refusal_at_the_window_and_a_filing_report_their_results(env):
    refused = [sc for sc in SCENARIOS["xmgl_beian"] if sc["name"] == "不予受理"][0]
    a = drive(env.api, "xmgl_beian", refused)
    b = drive(env.api, "xmgl_beian", BEIAN)
    deliver(env.app)
    got = env.standin.received(BEIAN["start"]["project_code"])
    assert [(g["case_no"], g["result"], g["result_name"]) for g in got] == [
        (a["case_no"], "not_accepted", "不予受理"), (b["case_no"], "approved", "准予许可")]
    assert got[0]["doc_no"] is None and got[1]["doc_no"] == "苏发改备〔2025〕3217号"


def test_a_withdrawal_is_reported_once(env):
    r = apply(env, BEIAN["start"], OWN)
    w = env.api.post("applicant_1", f"/api/cases/{r.json['id']}/withdraw", json={"reason": "项目调整"})
    assert w.status_code == 200, w.json
    deliver(env.app)
    assert [(g["result"], g["result_name"]) for g in env.standin.received(OWN)] == [("withdrawn", "撤回")]


def test_a_repeated_result_is_answered_duplicate_and_kept_once(env):
    r = apply(env, BEIAN["start"], OWN)
    env.api.post("applicant_1", f"/api/cases/{r.json['id']}/withdraw", json={"reason": "项目调整"})
    with env.app.app_context():
        m = db.session.execute(select(OutboxMessage).where(OutboxMessage.channel == "tzxm")).scalar_one()
        out = Outgoing(m.id, m.message_id, m.channel, m.peer, m.seq, m.kind, dict(m.payload), 1, m.created_at)
        assert projects.send(out)["status"] == "accepted"
        assert projects.send(out)["status"] == "duplicate"
    assert len(env.standin.received(OWN)) == 1 and env.standin.duplicates == 1


def test_a_result_the_platform_refuses_is_a_dead_letter_with_its_reason(env):
    r = apply(env, BEIAN["start"], OWN)
    env.standin.projects.pop(OWN)  # the platform no longer knows the project
    env.api.post("applicant_1", f"/api/cases/{r.json['id']}/withdraw", json={"reason": "项目调整"})
    assert deliver(env.app)["dead"] == 1
    with env.app.app_context():
        m = db.session.execute(select(OutboxMessage).where(OutboxMessage.channel == "tzxm")).scalar_one()
        assert m.status == "dead" and "project_not_found" in m.last_error


def _decide(e, i: int, code: str) -> dict:
    """Case ``i`` of the run: applied for ``code``, then withdrawn, refused at the window, or filed."""
    if i % 3 == 0:
        r = apply(e, BEIAN["start"], code)
        assert r.status_code == 201, r.json
        w = e.api.post("applicant_1", f"/api/cases/{r.json['id']}/withdraw", json={"reason": f"撤回 {i}"})
        assert w.status_code == 200, w.json
        return w.json
    if i % 5 == 0:
        pid, scenario = "xmgl_beian", BEIAN
    else:
        pid = "xmgl_beian" if i % 2 else "xmgl_hezhun"
        scenario = [sc for sc in SCENARIOS[pid] if sc["name"] == "不予受理"][0]
    r = e.api.post("applicant_1", "/api/cases", json={"process_id": pid, "data": dict(scenario["start"], project_code=code)})
    assert r.status_code == 201, r.json
    case = r.json
    for step in scenario["steps"]:
        task = [t for t in case["current_tasks"] if t["element_id"] == step["task"]][0]
        r = e.api.post(user_for(e.api, task), f"/api/tasks/{task['id']}/complete", json={"data": step["data"]})
        assert r.status_code == 200, r.json
        case = r.json
    return case


def test_results_arrive_exactly_once_and_in_order_per_project_through_faults(env):
    codes = [OWN, "2603-320111-04-01-900002", HEZHUN["start"]["project_code"], BEIAN["start"]["project_code"]]
    decided: dict[str, list[tuple[str, str]]] = {c: [] for c in codes}
    faults = [500, "close", "hang", "malformed", 503, "close", 500, "malformed"]
    for i in range(32):
        code = codes[i % len(codes)]
        case = _decide(env, i, code)
        decided[code].append((case["case_no"], case["status"]))
        if i % 4 == 3:  # the platform misbehaves while the sender works through the queue
            env.standin.fail_next(*faults[(i // 4) % len(faults):] or faults, path="/api/results")
            env.standin.down = i in (11, 23)
            deliver(env.app)
            env.clock.advance(seconds=3)
    env.standin.clear_faults()  # recovered
    for _ in range(40):
        env.clock.advance(hours=2)  # past every backoff
        deliver(env.app)
        if not count(env.app, OutboxMessage, OutboxMessage.channel == "tzxm", OutboxMessage.status != "delivered"):
            break
    assert count(env.app, OutboxMessage, OutboxMessage.channel == "tzxm", OutboxMessage.status != "delivered") == 0
    failed = [r for r in env.standin.requests if r["path"] == "/api/results" and r.get("status") != 200]
    assert len(failed) >= 8 and {500, 503, "closed", "hung"} <= {r["status"] for r in failed}  # the faults did happen
    results = {"approved": "approved", "rejected": "not_accepted", "withdrawn": "withdrawn"}
    for code in codes:
        got = [(g["case_no"], g["result"]) for g in env.standin.received(code)]
        assert got == [(no, results[s]) for no, s in decided[code]], code
    assert sum(len(v) for v in decided.values()) == 32 == len(env.standin.received())
