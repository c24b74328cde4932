"""Every shipped matter, driven through the API from start to every end event along the path tests
in ``processes/<id>.scenarios.json``. The engine cache is off, so every step loads the instance from
the database; after every step the stored state is also reloaded and re-saved to prove it round-trips."""
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.services.common.clock import FakeClock
from app.extensions import db
from app.models import ProcessInstance, ProcessVersion
from app.services.cases.steps import engine, spec_pair
from app.engine.serializer import dump_state
from sqlalchemy import select

from app.models import Case
from app.models.exchange import OutboxMessage
from app.services.cases.messages import deliver_message
from app.services.federation import peers as peer_svc
from app.services.federation.protocol import new_seed, private_key_from_seed, public_key_text
from tests.web.api.helpers import Api
from tests.conftest import ROOT, add_user, deploy_all, make_app

SCENARIOS = sorted(ROOT.glob("processes/*.scenarios.json"))
CASES = [(path.name.split(".")[0], sc) for path in SCENARIOS
         for sc in json.loads(path.read_text(encoding="utf-8"))["scenarios"]]
#: the paths of a city's or a county's platform (转报 up, the upper level's result as a message step)
FORWARDING = [(pid, sc) for pid, sc in CASES if sc.get("platform_level", "province") != "province"]
REGIONS = {"city": ("320500", "320000", "province"), "county": ("320505", "320500", "city")}


def test_every_matter_of_the_catalog_is_shipped_with_path_tests():
    # the 5 first matters and the 22 of issue 16 (应上尽上), each with its path tests
    bpmn = {p.stem for p in ROOT.glob("processes/*.bpmn")}
    assert len(bpmn) >= 25
    assert {p.name.split(".")[0] for p in SCENARIOS} == bpmn


@pytest.mark.parametrize("process_id", sorted({pid for pid, _ in CASES}))
def test_every_end_event_is_covered_by_a_path_test(process_id):
    from lxml import etree
    root = etree.parse(str(ROOT / "processes" / f"{process_id}.bpmn")).getroot()
    # ends that finish the case carry a caseStatus; branch ends (e.g. after a 催办 reminder) do not
    ends = {e.get("id") for e in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}endEvent")
            if e.find(".//{http://camunda.org/schema/1.0/bpmn}property[@name='caseStatus']") is not None}
    covered = {sc["end"] for pid, sc in CASES if pid == process_id}
    assert ends == covered


@pytest.fixture
def api(db_url):
    # a fixed working day: deadlines and 催办 timers need calendar data for the days they reach
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    app = make_app(db_url, WORKFLOW_CACHE_SIZE=0, CLOCK=clock)
    deploy_all(app)
    a = Api(app)
    a.user("applicant_1", "applicant")
    yield a
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def user_for(api, task, region="320000"):
    if task["assignee"]:
        return task["assignee"]
    group = task["candidate_groups"][0]
    name = f"u_{group}"
    if name not in api.headers:
        api.headers[name] = add_user(api.app, name, "staff", [group], region_code=region)
    return name


def assert_state_round_trips(app, case_id):
    with app.app_context():
        from app.models import Case
        case = db.session.get(Case, case_id)
        inst = db.session.get(ProcessInstance, case.instance_id)
        version = db.session.get(ProcessVersion, inst.version_id)
        wf = engine().load(spec_pair(version), inst.state)
        assert json.loads(dump_state(wf)) == json.loads(inst.state)


@pytest.mark.parametrize("process_id,scenario", [c for c in CASES if c not in FORWARDING],
                         ids=[f"{p}:{s['name']}" for p, s in CASES if (p, s) not in FORWARDING])
def test_path(api, process_id, scenario):
    satisfy_requirements(api, process_id, scenario["start"].get("project_code"))
    drive(api, process_id, scenario)


def satisfy_requirements(api, process_id, project_code, region="320000") -> None:
    """A matter with 前置事项 (matter.json ``requires``, e.g. the 可研 needs the approved 项目建议书) is
    applied for after its prerequisites: each is driven first, along its first path that grants it,
    for the same 项目代码 and applicant (and theirs before them)."""
    meta = json.loads((ROOT / "processes" / f"{process_id}.matter.json").read_text(encoding="utf-8"))
    for req in meta.get("requires") or ():
        granted = next(sc for pid, sc in CASES if pid == req["matter"]
                       and sc.get("status") == req.get("status", "approved")
                       and sc.get("platform_level", "province") == "province")
        satisfy_requirements(api, req["matter"], project_code, region)
        drive(api, req["matter"], dict(granted, start=dict(granted["start"], project_code=project_code)), region)


@pytest.mark.parametrize("process_id,scenario", FORWARDING, ids=[f"{p}:{s['name']}" for p, s in FORWARDING])
def test_forwarding_path(db_url, process_id, scenario):
    """A city's or a county's platform: the case is forwarded up (the forward waits in the outbox for
    the peer above) and the upper level's result arrives as the message ``result``."""
    region, upper, upper_level = REGIONS[scenario["platform_level"]]
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    app = make_app(db_url, WORKFLOW_CACHE_SIZE=0, CLOCK=clock, REGION_CODE=region, FEDERATION_SIGNING_KEY=new_seed())
    deploy_all(app)
    with app.app_context():
        key = public_key_text(private_key_from_seed(new_seed()).public_key())
        peer_svc.add_peer(peer_svc.PeerIn(upper, "上级发展和改革委员会", upper_level, "http://127.0.0.1:9", key))
    a = Api(app)
    a.user("applicant_1", "applicant", region_code=region)
    try:
        case = drive(a, process_id, scenario, region)
        with app.app_context():
            forwards = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "forward")).scalars().all()
        assert case["status"] == scenario["status"]
        # one forward per time the case went up (a recalled case goes up again)
        assert [f.peer for f in forwards] == [upper] * sum(1 for step in scenario["steps"] if "message" in step)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def drive(api, process_id, scenario, region="320000") -> dict:
    r = api.post("applicant_1", "/api/cases", json={"process_id": process_id, "data": scenario["start"]})
    assert r.status_code == 201, r.json
    case = r.json
    for i, step in enumerate(scenario["steps"]):
        if "message" in step:  # what the upper level's platform sends
            with api.app.app_context():
                deliver_message(db.session.get(Case, case["id"]).instance_id, step["message"], step["data"],
                                actor="fed:upper")
                db.session.commit()
            case = api.get("applicant_1", f"/api/cases/{case['id']}").json
            continue
        open_tasks = [t for t in case["current_tasks"] if t["element_id"] == step["task"]]
        assert open_tasks, f"step {i}: {step['task']} not open; open: {[t['element_id'] for t in case['current_tasks']]}"
        task = open_tasks[0]
        who = user_for(api, task, region)
        r = api.post(who, f"/api/tasks/{task['id']}/complete", json={"data": step["data"]})
        assert r.status_code == 200, (i, step["task"], r.json)
        case = r.json
        assert not case["incidents"], case["incidents"]
        assert_state_round_trips(api.app, case["id"])
    assert case["current_tasks"] == []
    assert case["instance_status"] == "complete"
    assert case["end_event"] == scenario["end"]
    assert case["status"] == scenario["status"]
    history = api.get("applicant_1", f"/api/cases/{case['id']}").json["history"]
    visited = [h["to_status"] for h in history if h["action"] == "status"]
    assert visited[0] == "submitted"
    return case
