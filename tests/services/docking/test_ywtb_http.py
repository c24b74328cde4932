"""Through the stand-in over real HTTP: an application from the unified entry becomes a case that is then
pushed. The 200-case figure with both outside systems failing is tests/services/docking/test_docking_chaos.py."""
from __future__ import annotations

import hashlib
import threading

from werkzeug.serving import make_server

from app.extensions import db
from tests.services.docking.ywtb_support import PDF, b64, deliver, docked, gateway, scenario, step  # noqa: F401

ACCEPT = scenario("xmgl_beian", "予以备案（含一次补正")["steps"][2]["data"]   # window_review: accept
START = scenario("xmgl_beian", "予以备案（含一次补正")["start"]


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
