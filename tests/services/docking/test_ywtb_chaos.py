"""The issue's figure: with the 一张网 failing (500s, connections dropped, answers that hang past a short
YWTB_TIMEOUT_SECONDS, malformed answers, answers lost after the gateway stored the stage) during a
run of 200 cases of a shipped 即办件 matter, every push arrives exactly once and in order per case once
it recovers. And an application from the unified entry over real HTTP, through the stand-in."""
from __future__ import annotations

import hashlib
import threading
from collections import Counter

from sqlalchemy import func, select
from werkzeug.serving import make_server

from app.extensions import db
from app.models import Case
from app.models.exchange import OutboxMessage
from app.services.messaging import outbox
from tests.services.docking.ywtb_support import PDF, b64, deliver, docked, gateway, scenario, step, submit  # noqa: F401

CASES = 200
ACCEPT = scenario("xmgl_beian", "予以备案（含一次补正")["steps"][2]["data"]   # window_review: accept
REFUSE = scenario("xmgl_beian", "不予受理")["steps"][0]["data"]              # window_review: refuse
START = scenario("xmgl_beian", "予以备案（含一次补正")["start"]
FAULTS = [500, "close", "hang", 503, "malformed", 500, "close", 502, "hang", "malformed"]


def send(api, limit: int) -> None:
    with api.app.app_context():
        outbox.deliver_due(limit=limit, channel="ywtb")
    api.clock.advance(seconds=30)


def test_every_push_arrives_once_and_in_order_through_a_failing_gateway(db_url, gateway):
    api = docked(db_url, gateway, YWTB_TIMEOUT_SECONDS=0.25)
    gateway.hang_seconds = 0.6
    try:
        numbers = []
        for i in range(CASES):
            case = submit(api, "xmgl_beian", START)
            case = step(api, case, "window_review", ACCEPT if i % 2 == 0 else REFUSE)
            numbers.append(case["case_no"])
            if i % 20 == 19:  # the sender runs meanwhile, into a failing gateway
                gateway.fail_next(*FAULTS, path="/exchange/cases")
                send(api, 25)
            if i % 50 == 49:  # answers lost after the gateway stored the stage: it gets them again
                gateway.latency = 0.4
                send(api, 3)
                gateway.latency = 0.0
        failed_before = sum(1 for r in gateway.requests if r.get("status") != 200)
        gateway.clear_faults()  # the gateway recovers
        deliver(api)
        with api.app.app_context():
            statuses = Counter(db.session.execute(select(OutboxMessage.status)).scalars())
            retried = db.session.execute(select(func.count()).where(OutboxMessage.failures > 0)).scalar()
            assert db.session.execute(select(func.count()).select_from(Case)).scalar() == CASES
        assert statuses == {"delivered": 2 * CASES}
        assert retried > 10 and failed_before > 10, (retried, failed_before)
        for i, no in enumerate(numbers):  # exactly once each, 申请 before 受理 / 不予受理
            assert gateway.stages(no) == (["SQ", "SL"] if i % 2 == 0 else ["SQ", "BYSL"]), (no, gateway.stages(no))
        assert gateway.flags == []
        assert sum(len(v) for v in gateway.cases.values()) == 2 * CASES
        assert gateway.repeats, "some stages were stored before their answer was lost, and pushed again"
    finally:
        with api.app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_an_application_sent_by_the_gateway_over_http_becomes_a_case_that_is_then_pushed(db_url, gateway):
    api = docked(db_url, gateway)
    server = make_server("127.0.0.1", 0, api.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url, sha = gateway.add_file(PDF + b"2", "2.pdf")
        payload = {"serial_no": "YW-HTTP-1", "matter_code": "0001720160",
                   "applicant": {"type": "enterprise", "name": START["applicant_name"], "credit_code": START["applicant_code"],
                                 "mobile": START["contact_phone"]},
                   "form": START,
                   "materials": [{"name": "企业投资项目备案信息表", "sha256": hashlib.sha256(PDF).hexdigest(), "content": b64(PDF)},
                                 {"name": "项目符合产业政策的声明", "sha256": sha, "url": url}]}
        app_url = f"http://127.0.0.1:{server.server_port}"
        r = gateway.send_application(payload, app_url)
        assert r.status_code == 200, r.text
        case_no = r.json()["case_no"]
        assert gateway.send_application(payload, app_url).json() == {**r.json(), "duplicate": True}
        api.user("boss", groups=["admin"])
        case = api.get("boss", f"/api/cases/{case_no}").json
        assert case["status"] == "received", case
        step(api, case, "window_review", ACCEPT)
        deliver(api)
        assert gateway.stages(case_no) == ["SQ", "SL"]
        assert gateway.stage(case_no, "SQ")["SBLSH"] == "YW-HTTP-1"
        assert [c["CLMC"] for c in gateway.stage(case_no, "SQ")["fields"]["CLXX"]] == ["企业投资项目备案信息表", "项目符合产业政策的声明"]
    finally:
        server.shutdown()
        with api.app.app_context():
            db.session.remove()
            db.engine.dispose()
