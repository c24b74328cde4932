"""The shipped matter 中央预算内投资资金申请 (processes/zjsq_zhongyang.bpmn) forwarded by a county (320583)
to its city (320500) over real HTTP (the harness of test_forwarding.py with the shipped process and
forms), along its scenario "县级平台：撤回转报后重新审查，再次转报获批": the county's staff recall the forward
(撤回转报), the city ends its case and answers ``result`` ``recalled``, and that result reaches the county
while a step of the county case holds it (staged with lock_race). Then the county's workflow as the
message stored it is the one its next step runs on (the workflow cache keeps it under the stored
revision), the stored state's ready tasks are its ``human_tasks`` rows, and the forward sent again
starts a new case at the city."""
from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import select

from app.engine.runtime import Engine
from app.extensions import db
from app.models import Case, HumanTask, ProcessInstance, ProcessVersion, User
from app.models.accounts import ApplicantProfile
from app.models.exchange import OutboxMessage
from app.services.cases.steps import engine, record_event
from app.services.common.db_support import lock_one
from app.services.federation import peers as peer_svc
from app.services.federation.protocol import new_seed, private_key_from_seed, public_key_text
from app.services.cases.registry import deploy_directory
from app.services.trail.verify import verify
from tests.conftest import ROOT
from tests.services.cases.lock_race import behind_a_step
from tests.services.federation.test_forwarding import CITY, COUNTY, city_database, count, deliver, platform, rows
from tests.services.federation.test_transport import Served
from tests.web.api.helpers import Api

SCENARIO = next(s for s in json.loads((ROOT / "processes" / "zjsq_zhongyang.scenarios.json").read_text("utf-8"))
                ["scenarios"] if s["name"].startswith("县级平台：撤回转报"))
DOER = {"window_review": "win", "division_review": "inv", "coordinate": "inv", "chief_review": "chief",
        "leader_decision": "leader"}
DEPTS = {"cs_finance": "fin", "cs_water": "water"}


@pytest.fixture
def shipped(db_url, tmp_path):
    procs = tmp_path / "processes"
    procs.mkdir()
    for name in ("zjsq_zhongyang.bpmn", "zjsq_zhongyang.matter.json"):
        shutil.copy(ROOT / "processes" / name, procs / name)
    seeds = {COUNTY: new_seed(), CITY: new_seed()}
    county = Served(platform(db_url, COUNTY, seeds[COUNTY], procs))
    city = Served(platform(city_database(db_url, tmp_path), CITY, seeds[CITY], procs))
    key = {r: public_key_text(private_key_from_seed(s).public_key()) for r, s in seeds.items()}
    for s in (county, city):
        s.app.config["FEDERATION_PUBLIC_URL"] = s.url
        s.app.config["FORMS_DIR"] = str(ROOT / "forms")
        with s.app.app_context():
            deploy_directory(str(procs), str(ROOT / "forms"))
    with county.app.app_context():
        peer_svc.add_peer(peer_svc.PeerIn(CITY, "苏州市发展和改革委员会", "city", city.url, key[CITY]))
    with city.app.app_context():
        peer_svc.add_peer(peer_svc.PeerIn(COUNTY, "昆山市发展和改革委员会", "county", county.url, key[COUNTY]))
    capi = Api(county.app)
    capi.user("applicant_1", "applicant", region_code=COUNTY)
    with county.app.app_context():
        user = db.session.execute(select(User).where(User.username == "applicant_1")).scalar_one()
        db.session.add(ApplicantProfile(user_id=user.id, kind="enterprise", name="盐城市大丰区农业农村局",
                                        credit_code="11320982014005193N", mobile="13815598706"))
        db.session.commit()
    for name, group in (("win", "window"), ("inv", "investment"), ("chief", "investment_chief"),
                        ("leader", "leader"), ("fin", "cs_finance"), ("water", "cs_water")):
        capi.user(name, groups=[group], region_code=COUNTY)
    yield county, city, capi
    for s in (county, city):
        s.stop()
        with s.app.app_context():
            db.session.remove()
            db.engine.dispose()


def _step(api, element, data):
    if element == "countersign":
        who, tasks = next((w, t) for w in DEPTS.values() if (t := [x for x in api.tasks(w) if x["element_id"] == element]))
    else:
        who = DOER[element]
        tasks = [x for x in api.tasks(who) if x["element_id"] == element]
    assert tasks, f"{who} has no open {element}"
    r = api.post(who, f"/api/tasks/{tasks[0]['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    assert not r.json["incidents"], r.json["incidents"]
    return r.json


def _ready_match(app, case_id: int) -> tuple[list, list]:
    """(the ready user tasks of the stored state, loaded by a fresh engine; the ``human_tasks`` ready rows)."""
    with app.app_context():
        inst = db.session.get(ProcessInstance, db.session.get(Case, case_id).instance_id)
        version = db.session.get(ProcessVersion, inst.version_id)
        fresh = Engine(isolation="inline")
        wf = fresh.load(fresh.spec(version.id, lambda: version.spec_json), inst.state)
        stored = sorted(str(t.id) for t in wf.get_tasks() if t.state == 16 and t.task_spec.manual)
        ready = sorted(t.id for t in db.session.execute(select(HumanTask).where(
            HumanTask.instance_id == inst.id, HumanTask.state == "ready")).scalars())
        db.session.remove()
        return stored, ready


def test_the_recalled_result_waits_for_a_county_step_and_the_case_goes_on(shipped):
    county, city, capi = shipped
    r = capi.post("applicant_1", "/api/cases", json={"process_id": "zjsq_zhongyang", "data": SCENARIO["start"]})
    assert r.status_code == 201, r.json
    case_id = r.json["id"]
    steps = SCENARIO["steps"]
    first_message = next(i for i, s in enumerate(steps) if "message" in s)
    for s in steps[:first_message]:
        done = _step(capi, s["task"], s["data"])
    assert done["instance_status"] == "waiting", done
    deliver(county.app)
    (fwd,) = rows(county.app, OutboxMessage, OutboxMessage.kind == "forward")
    assert fwd.status == "delivered", fwd.last_error
    (upper,) = rows(city.app, Case)
    assert upper.status in ("submitted", "received")

    r = capi.post("inv", f"/api/cases/{case_id}/recall-forward", json={"reason": "材料有误，需重新报送"})
    assert r.status_code == 200, r.json
    deliver(county.app)
    (recall,) = rows(county.app, OutboxMessage, OutboxMessage.kind == "recall")
    assert recall.status == "delivered" and recall.reply["answer"]["recalled"] is True, (recall.status, recall.reply)

    def lock():
        lock_one(ProcessInstance, ProcessInstance.id == db.session.get(Case, case_id).instance_id)

    def write():
        record_event(db.session.get(Case, case_id), "system", "urge", opinion="流程定时催办")
        db.session.flush()

    answer, step_error = behind_a_step(county.app, lock, lambda: deliver(city.app), write, settle=0.3)
    assert step_error is None and "error" not in answer, (step_error, answer)
    sent = rows(city.app, OutboxMessage, OutboxMessage.peer == COUNTY)
    assert [m.status for m in sent] == ["delivered"] * len(sent), [(m.kind, m.status, m.last_error) for m in sent]

    stored, ready = _ready_match(county.app, case_id)
    assert stored == ready and len(ready) == 1, (stored, ready)
    with county.app.app_context():   # kept for the next step under the revision the message stored
        inst = db.session.get(ProcessInstance, db.session.get(Case, case_id).instance_id)
        assert engine().holds(inst.id, inst.revision)
        db.session.remove()
    for s in steps[first_message + 1:]:   # reviewed again and forwarded again
        if "message" in s:
            break
        _step(capi, s["task"], s["data"])
    stored, ready = _ready_match(county.app, case_id)
    assert stored == ready == [], (stored, ready)
    deliver(county.app)
    forwards = rows(county.app, OutboxMessage, OutboxMessage.kind == "forward")
    assert [m.status for m in forwards] == ["delivered", "delivered"], [(m.status, m.last_error) for m in forwards]
    assert count(city.app, Case) == 2   # the recalled case stays unlinked; the new forward is a new case
    with county.app.app_context():
        found = verify(case_id, files=False)
        assert found["ok"], found["problems"]
        db.session.remove()
