"""The investment project in the portal: the start form's prefill from the platform (JSON, for the
signed-in applicant whose enterprise owns the project; clear errors otherwise, nothing written) on
the shipped 核准 and 备案 forms, and the project's page (every case of the project code, for its owner
only), linked from the case page."""
import json

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import User
from app.models.docking_projects import DockingProject
from app.services.identity.actors import hash_token
from tests.conftest import ROOT, add_user, deploy_all, make_app
from tests.fakes.tzxm_standin import DEMO_OWNER, OTHER_OWNER, TzxmStandIn
from tests.services.portal.helpers import make_applicant, signed_in
from tests.web.api.helpers import Api
from tests.web.api.test_shipped_processes import drive

OWN = "2603-320111-04-01-900001"
OTHERS = "2603-320100-04-01-900009"
BEIAN = json.loads((ROOT / "processes/xmgl_beian.scenarios.json").read_text(encoding="utf-8"))["scenarios"][0]

#: what the draft page's script sends: refusals come as the Error body
JSON = {"Accept": "application/json"}


@pytest.fixture
def standin():
    s = TzxmStandIn().seed_demo().start()
    yield s
    s.stop()


@pytest.fixture
def app(db_url, standin):
    app = make_app(db_url, **standin.config(TZXM_TIMEOUT_SECONDS=2))
    deploy_all(app)
    app.uid = make_applicant(app, "13900000001", name=DEMO_OWNER[1], code=DEMO_OWNER[0])
    app.other = make_applicant(app, "13900000002", name=OTHER_OWNER[1], code=OTHER_OWNER[0])
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def kept(app) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(DockingProject)).scalar()


def staff_id(app) -> int:
    add_user(app, "window1", "staff", ["window"])
    with app.app_context():
        return db.session.execute(select(User.id).where(User.username == "window1")).scalar_one()


def form_fields(process_id: str) -> dict:
    def walk(components):
        for c in components:
            if c.get("key"):
                yield c["key"], c
            yield from walk(c.get("components") or [])
    form = json.loads((ROOT / f"forms/{process_id}_apply.form.json").read_text(encoding="utf-8"))
    return dict(walk(form["components"]))


# -- prefill -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("process_id", ["xmgl_hezhun", "xmgl_beian"])
def test_prefill_fills_the_shipped_start_forms(app, process_id):
    r = signed_in(app, app.uid).get(f"/portal/projects/lookup?code={OWN}", headers=JSON)
    assert r.status_code == 200, r.json
    fill = r.json["prefill"]
    assert fill == {"project_code": OWN, "project_name": "江苏示范能源 20MW 分布式光伏发电项目",
                    "applicant_name": DEMO_OWNER[1], "applicant_code": DEMO_OWNER[0], "industry": "energy",
                    "region_code": "320111", "location_detail": "南京市江北新区示范路 8 号", "total_investment": 9600.0,
                    "construction_content": "利用厂房屋顶建设 20MW 分布式光伏电站及配套升压设施。"}
    fields = form_fields(process_id)
    assert set(fill) <= set(fields)  # every value has its field on the shipped form …
    assert fill["industry"] in [v["value"] for v in fields["industry"]["values"]]  # … and a valid option
    assert r.json["project"]["owner_code"] == DEMO_OWNER[0] and r.json["from_cache"] is False
    assert kept(app) == 1


def test_prefill_errors_are_clear_and_write_nothing(app, standin):
    c = signed_in(app, app.uid)
    r = c.get("/portal/projects/lookup?code=2603-320111-04-01-999999", headers=JSON)
    assert r.status_code == 422 and r.json["error"] == "project_not_found" and "请核对项目代码" in r.json["message"]
    r = c.get(f"/portal/projects/lookup?code={OTHERS}", headers=JSON)
    assert r.status_code == 403 and r.json["error"] == "project_owner_mismatch"
    assert "项目单位与申请人不一致" in r.json["message"] and "南京他方" not in json.dumps(r.json, ensure_ascii=False)
    r = c.get("/portal/projects/lookup?code=12-34", headers=JSON)
    assert r.status_code == 422 and r.json["error"] == "project_code_format"
    standin.down = True
    r = c.get(f"/portal/projects/lookup?code={OWN}", headers=JSON)
    assert r.status_code == 503 and r.json["error"] == "project_unverifiable" and "暂时无法核验" in r.json["message"]
    assert kept(app) == 0
    assert app.test_client().get(f"/portal/projects/lookup?code={OWN}", headers=JSON).status_code == 401
    r = signed_in(app, staff_id(app)).get(f"/portal/projects/lookup?code={OWN}", headers=JSON)
    assert r.status_code == 403 and r.json["error"] == "forbidden"


def test_prefill_during_an_outage_uses_a_recent_record(app, standin):
    c = signed_in(app, app.uid)
    assert c.get(f"/portal/projects/lookup?code={OWN}", headers=JSON).status_code == 200
    standin.down = True
    r = c.get(f"/portal/projects/lookup?code={OWN}", headers=JSON)
    assert r.status_code == 200 and r.json["from_cache"] is True and r.json["prefill"]["project_code"] == OWN
    # another enterprise gets nothing from the record either
    r = signed_in(app, app.other).get(f"/portal/projects/lookup?code={OWN}", headers=JSON)
    assert r.status_code == 403


def test_the_draft_page_carries_the_prefill_when_the_platform_is_configured(app, db_url):
    c = signed_in(app, app.uid)
    r = c.post("/portal/apply/xmgl_hezhun", data={"csrf_token": "t"})
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "startform:ready" in page and "/portal/projects/lookup" in page and "project-lookup" in page
    plain = make_app(db_url)
    c2 = signed_in(plain, app.uid)
    page = c2.get(r.headers["Location"]).get_data(as_text=True)
    assert "/portal/projects/lookup" not in page
    with plain.app_context():
        db.engine.dispose()


# -- the project page ----------------------------------------------------------------------------------

@pytest.fixture
def with_cases(app):
    """The owner's decided 备案 case and a withdrawn one of the same project (through the API)."""
    with app.app_context():
        user = db.session.execute(select(User).where(User.id == app.uid)).scalar_one()
        user.token_hash = hash_token("tok-owner")
        db.session.commit()
    api = Api(app)
    api.headers["applicant_1"] = api.headers[user.username] = {"Authorization": "Bearer tok-owner"}  # (补正 is theirs)
    decided = drive(api, "xmgl_beian", BEIAN)
    r = api.post("applicant_1", "/api/cases", json={"process_id": "xmgl_beian", "data": BEIAN["start"]})
    assert r.status_code == 201, r.json
    withdrawn = api.post("applicant_1", f"/api/cases/{r.json['id']}/withdraw", json={"reason": "调整"}).json
    return decided, withdrawn


def test_the_project_page_lists_every_case_of_the_project_for_its_owner(app, with_cases):
    decided, withdrawn = with_cases
    code = BEIAN["start"]["project_code"]
    c = signed_in(app, app.uid)
    page = c.get(f"/portal/projects/{code}").get_data(as_text=True)
    assert BEIAN["start"]["project_name"] in page and DEMO_OWNER[0] in page
    for case in (decided, withdrawn):
        assert case["case_no"] in page and f"/portal/cases/{case['id']}" in page
    assert "企业投资项目备案" in page and "苏发改备〔2025〕3217号" in page and "已撤回" in page
    assert page.index(decided["case_no"]) < page.index(withdrawn["case_no"])
    # the case page links to it
    assert f"/portal/projects/{code}" in c.get(f"/portal/cases/{decided['id']}").get_data(as_text=True)


def test_the_project_page_is_not_shown_to_anyone_else(app, with_cases):
    code = BEIAN["start"]["project_code"]
    assert signed_in(app, app.other).get(f"/portal/projects/{code}").status_code == 404
    assert signed_in(app, app.other).get(f"/portal/projects/{OTHERS}").status_code == 200  # its own, no case yet
    assert signed_in(app, app.uid).get(f"/portal/projects/{OTHERS}").status_code == 404
    assert signed_in(app, app.uid).get("/portal/projects/not-a-code").status_code == 404
    r = app.test_client().get(f"/portal/projects/{code}")
    assert r.status_code == 302 and "/portal/login" in r.headers["Location"]
    assert signed_in(app, staff_id(app)).get(f"/portal/projects/{code}").status_code == 403


def test_a_project_page_without_cases_shows_the_platforms_record(app, standin):
    c = signed_in(app, app.uid)
    page = c.get(f"/portal/projects/{OWN}").get_data(as_text=True)
    assert "江苏示范能源 20MW 分布式光伏发电项目" in page and "9600.00" in page and "本项目在本平台暂无办件" in page
    standin.down = True  # a record within the hour: shown as it is; the platform is not asked again
    asked = len(standin.requests)
    assert c.get(f"/portal/projects/{OWN}").status_code == 200 and len(standin.requests) == asked
