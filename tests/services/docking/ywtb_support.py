"""What the 一张网 tests share: the stand-in gateway, an app docked to it (the shipped matters deployed,
a FakeClock), driving a shipped matter's steps through the API, and draining the outbox."""
from __future__ import annotations

import base64
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, User
from app.models.docking_ywtb import YwtbApplication, YwtbRating
from app.models.feedback import Evaluation, Rectification
from app.models.exchange import InboxMessage, InboxRefusal, OutboxMessage
from app.services.common.clock import FakeClock
from app.services.messaging import outbox
from tests.conftest import ROOT, add_user, deploy_all, make_app
from tests.fakes.ywtb_standin import YwtbStandIn
from tests.web.api.helpers import Api

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SCENARIOS = {pid: json.loads((ROOT / "processes" / f"{pid}.scenarios.json").read_text("utf-8"))["scenarios"]
             for pid in ("xmgl_beian", "xmgl_hezhun")}


def scenario(process_id: str, name_part: str) -> dict:
    return next(s for s in SCENARIOS[process_id] if name_part in s["name"])


@pytest.fixture
def gateway():
    standin = YwtbStandIn().start()
    standin.hang_seconds = 1.0
    yield standin
    standin.stop()


def docked(db_url, gateway, **config) -> Api:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    cfg = gateway.config(YWTB_TIMEOUT_SECONDS=2, DOCKING_RETRY_SECONDS=1)
    cfg.update(config)
    app = make_app(db_url, CLOCK=clock, **cfg)
    deploy_all(app)
    api = Api(app)
    api.clock = clock
    api.user("applicant_1", "applicant")
    return api


@pytest.fixture
def api(db_url, gateway):
    a = docked(db_url, gateway)
    yield a
    with a.app.app_context():
        db.session.remove()
        db.engine.dispose()


def staff_for(api: Api, task: dict, region: str = "320000") -> str:
    if task.get("assignee"):
        return task["assignee"]
    group = task["candidate_groups"][0]
    name = f"u_{group}"
    if name not in api.headers:
        api.headers[name] = add_user(api.app, name, "staff", [group], region_code=region)
    return name


def submit(api: Api, process_id: str, start: dict, who: str = "applicant_1") -> dict:
    r = api.post(who, "/api/cases", json={"process_id": process_id, "data": start})
    assert r.status_code == 201, r.json
    return r.json


def step(api: Api, case: dict, task_id: str, data: dict) -> dict:
    tasks = [t for t in case["current_tasks"] if t["element_id"] == task_id]
    assert tasks, f"{task_id} not open: {[t['element_id'] for t in case['current_tasks']]}"
    who = staff_for(api, tasks[0])
    r = api.post(who, f"/api/tasks/{tasks[0]['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.json
    return r.json


def drive(api: Api, process_id: str, sc: dict, upto: int | None = None) -> dict:
    case = submit(api, process_id, sc["start"])
    for s in sc["steps"][:upto]:
        case = step(api, case, s["task"], s["data"])
    return case


def deliver(api: Api, rounds: int = 200, advance_seconds: float = 3600) -> dict:
    """Run the outbox's sender until nothing is waiting (the clock moved past every backoff)."""
    totals: dict = {}
    with api.app.app_context():
        for _ in range(rounds):
            counts = outbox.deliver_due(limit=1000, channel="ywtb")
            for k, v in counts.items():
                totals[k] = totals.get(k, 0) + v
            waiting = db.session.execute(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.channel == "ywtb", OutboxMessage.status.in_(("pending", "sending")))).scalar()
            db.session.rollback()
            if not waiting:
                return totals
            api.clock.advance(seconds=advance_seconds)
    raise AssertionError(f"the outbox did not drain: {totals}")


def messages(api: Api, kind: str | None = None) -> list[OutboxMessage]:
    with api.app.app_context():
        q = select(OutboxMessage).where(OutboxMessage.channel == "ywtb").order_by(OutboxMessage.id)
        if kind:
            q = q.where(OutboxMessage.kind == kind)
        rows = list(db.session.execute(q).scalars())
        db.session.expunge_all()
        return rows


def counts(api: Api) -> dict:
    """Rows of the tables a refused call must not touch."""
    with api.app.app_context():
        out = {m.__tablename__: db.session.execute(select(func.count()).select_from(m)).scalar()
               for m in (Case, User, InboxMessage, YwtbApplication, YwtbRating, Evaluation, Rectification, OutboxMessage)}
        out["refusals"] = db.session.execute(select(func.count()).select_from(InboxRefusal)).scalar()
        db.session.rollback()
        return out


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
