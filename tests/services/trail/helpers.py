"""A shipped matter (xmgl_beian 企业投资项目备案) driven through its steps over the API, for the trail tests."""
from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from app.extensions import db
from app.models import Case
from app.services.common.clock import FakeClock
from app.services.federation.protocol import new_seed
from tests.conftest import ROOT, deploy_all, make_app
from tests.web.api.helpers import Api
from tests.web.api.test_shipped_processes import drive

BEIAN = json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text(encoding="utf-8"))["scenarios"][0]
PDF = b"%PDF-1.4\n% trail test\n" + b"x" * 200


def trail_api(db_url) -> Api:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    app = make_app(db_url, CLOCK=clock, FEDERATION_SIGNING_KEY=new_seed())
    deploy_all(app)
    api = Api(app)
    api.user("applicant_1", "applicant")
    api.clock = clock
    return api


def close(api: Api) -> None:
    with api.app.app_context():
        db.session.remove()
        db.engine.dispose()


def drive_beian(api: Api) -> dict:
    """The case driven to its end (予以备案, with one 补正), and a scan attached by the window."""
    case = drive(api, "xmgl_beian", BEIAN)
    r = api.client.post(f"/api/cases/{case['id']}/files", headers=api.headers["u_window"],
                        data={"file": (io.BytesIO(PDF), "会议纪要.pdf"), "kind": "other"},
                        content_type="multipart/form-data")
    assert r.status_code in (200, 201), r.json
    with api.app.app_context():
        return {"id": case["id"], "case_no": db.session.get(Case, case["id"]).case_no}


def run_verify(api: Api, *args) -> tuple[int, str]:
    out = api.app.test_cli_runner().invoke(args=["trail", "verify", *args])
    return out.exit_code, out.output
