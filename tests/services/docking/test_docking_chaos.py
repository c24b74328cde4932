"""The issue's figure with both outside systems at once: a run of 200 cases of the shipped 企业投资项目备案
(half filed, half refused at the window, over four projects) while the 一张网 and the investment project
platform fail (500s, dropped connections, answers that hang past a short timeout, malformed answers, a
platform down for a while, answers lost after the 一张网 stored the stage). Once they recover, every 办件 stage has reached the 一张网 exactly once and in
order per case, and every decision the investment platform exactly once and in order per project."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.exchange import OutboxMessage
from app.services.messaging import outbox
from tests.fakes.tzxm_standin import TzxmStandIn
from tests.services.docking.ywtb_support import docked, gateway, scenario, step, submit  # noqa: F401 (fixture)

CASES = 200
FILED = scenario("xmgl_beian", "予以备案（含一次补正")
START = FILED["start"]
ACCEPT = FILED["steps"][2]["data"]      # window_review: accept
FILE = FILED["steps"][3]["data"]        # filing_decision: 予以备案
REFUSE = scenario("xmgl_beian", "不予受理")["steps"][0]["data"]
PROJECTS = [f"2603-320214-89-02-70000{i}" for i in range(4)]
YWTB_FAULTS = [500, "close", "hang", 503, "malformed", 502]
TZXM_FAULTS = [500, "hang", "close", "malformed", 503]


@pytest.fixture
def platform():
    standin = TzxmStandIn().start()
    standin.hang_seconds = 0.6
    for code in PROJECTS:
        standin.add_project(code, START["project_name"], (START["applicant_code"], START["applicant_name"]),
                            region_code=START["region_code"])
    yield standin
    standin.stop()


def waiting(api) -> int:
    with api.app.app_context():
        n = db.session.execute(select(func.count()).where(OutboxMessage.status != "delivered")).scalar()
        db.session.rollback()
        return n


def test_every_push_to_both_systems_arrives_once_and_in_order(db_url, gateway, platform):
    gateway.hang_seconds = 0.6
    api = docked(db_url, gateway, **platform.config(), YWTB_TIMEOUT_SECONDS=0.25, TZXM_TIMEOUT_SECONDS=0.25)
    try:
        expected_stages, expected_results = {}, {code: [] for code in PROJECTS}
        for i in range(CASES):
            code = PROJECTS[i % len(PROJECTS)]
            case = submit(api, "xmgl_beian", dict(START, project_code=code))
            if i % 2 == 0:
                case = step(api, case, "window_review", ACCEPT)
                case = step(api, case, "filing_decision", FILE)
                expected_stages[case["case_no"]] = ["SQ", "SL", "BJ"]
                expected_results[code].append((case["case_no"], "approved"))
            else:
                case = step(api, case, "window_review", REFUSE)
                expected_stages[case["case_no"]] = ["SQ", "BYSL"]
                expected_results[code].append((case["case_no"], "not_accepted"))
            if i % 20 == 19:  # the sender works through the queue while both systems misbehave
                gateway.fail_next(*YWTB_FAULTS, path="/exchange/cases")
                platform.fail_next(*TZXM_FAULTS, path="/api/results")
                platform.down = i in (79, 139)
                with api.app.app_context():
                    outbox.deliver_due(limit=40)
                api.clock.advance(seconds=30)
            if i % 50 == 49:  # answers lost after the gateway stored the stage: it gets it again, keeps it once
                gateway.latency = 0.4
                with api.app.app_context():
                    outbox.deliver_due(limit=3, channel="ywtb")
                gateway.latency = 0.0
                api.clock.advance(seconds=30)
        failed = [r for s in (gateway, platform) for r in s.requests if r.get("status") != 200]
        gateway.clear_faults()
        platform.clear_faults()  # both recover
        for _ in range(60):
            with api.app.app_context():
                outbox.deliver_due(limit=2000)
            if not waiting(api):
                break
            api.clock.advance(hours=1)  # past every backoff
        assert waiting(api) == 0
        with api.app.app_context():
            statuses = Counter(db.session.execute(select(OutboxMessage.channel, OutboxMessage.status)).all())
            retried = db.session.execute(select(func.count()).where(OutboxMessage.failures > 0)).scalar()
        assert statuses == {("ywtb", "delivered"): 5 * CASES // 2, ("tzxm", "delivered"): CASES}, statuses
        assert retried > 10 and len(failed) > 20, (retried, len(failed))
        assert {500, 503, "closed", "hung"} <= {r.get("status") for r in failed}
        for no, stages in expected_stages.items():
            assert gateway.stages(no) == stages, no
        assert gateway.flags == [] and sum(len(v) for v in gateway.cases.values()) == 5 * CASES // 2
        assert gateway.repeats, "stages stored before their answer was lost were pushed again"
        for code in PROJECTS:
            assert [(r["case_no"], r["result"]) for r in platform.received(code)] == expected_results[code], code
        assert len(platform.received()) == CASES
    finally:
        with api.app.app_context():
            db.session.remove()
            db.engine.dispose()
