"""The public catalog (事项清单) and service guide (办事指南): generated from the deployed metadata."""
import json
import shutil

import pytest

from app.extensions import db
from tests.conftest import ROOT, deploy_all, make_app
from tests.services.portal.helpers import make_applicant, signed_in

SHIPPED = {p.stem.split(".")[0]: json.loads(p.read_text("utf-8")) for p in (ROOT / "processes").glob("*.matter.json")}


@pytest.fixture
def app(db_url):
    app = make_app(db_url)
    deploy_all(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_catalog_lists_every_deployed_matter_with_limits_and_case_type(app):
    page = app.test_client().get("/portal/").get_data(as_text=True)
    for pid, meta in SHIPPED.items():
        assert f'data-process-id="{pid}"' in page
        assert meta["name"] in page
        assert f"/portal/matters/{pid}" in page
    assert "承诺件" in page and "个工作日" in page and "网上办理" in page
    assert f"共 {len(SHIPPED)} 项" in page


def test_catalog_search_by_name_code_and_keyword(app):
    c = app.test_client()
    assert 'data-process-id="jnsc_jieneng"' in c.get("/portal/?q=节能审查").get_data(as_text=True)
    page = c.get("/portal/?q=" + SHIPPED["xhd_rending"]["basic_code"]).get_data(as_text=True)
    assert page.count("data-process-id=") == 1 and 'data-process-id="xhd_rending"' in page
    # a keyword from the materials list only
    page = c.get("/portal/?q=主要用能设备清单").get_data(as_text=True)
    assert 'data-process-id="jnsc_jieneng"' in page
    assert "没有找到符合条件的事项" in c.get("/portal/?q=不存在的事项xyz").get_data(as_text=True)


def test_catalog_filters_by_type_level_and_service_object(app):
    c = app.test_client()
    page = c.get("/portal/?type=07").get_data(as_text=True)
    expected = {pid for pid, m in SHIPPED.items() if m["matter_type"] == "07"}
    assert expected and all(f'data-process-id="{pid}"' in page for pid in expected)
    assert page.count("data-process-id=") == len(expected)
    page = c.get("/portal/?object=3").get_data(as_text=True)
    assert page.count("data-process-id=") == sum("3" in m["service_object"] for m in SHIPPED.values())
    assert "没有找到" in c.get("/portal/?level=4").get_data(as_text=True)
    assert c.get("/portal/?type=%3Cscript%3E").status_code == 200  # junk filters just match nothing


def test_guide_shows_every_field_of_the_metadata(app):
    meta = SHIPPED["jnsc_jieneng"]
    r = app.test_client().get("/portal/matters/jnsc_jieneng")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    for value in (meta["name"], meta["basic_code"], meta["implementation_code"], meta["implementing_body"]["name"],
                  meta["implementing_body"]["credit_code"], meta["statutory_limit"]["note"],
                  meta["promised_limit"]["note"], meta["fees"], meta["place"], meta["hours"], meta["consult_phone"],
                  meta["supervise_phone"], meta["result"]["name"], meta["process_description"]):
        assert value in page, value
    for item in meta["legal_basis"] + meta["acceptance_conditions"] + meta["special_procedures"]:
        assert item in page
    for q in meta["faq"]:
        assert q["q"] in page and q["a"] in page
    for m in meta["materials"]:
        assert m["name"] in page and m["issuer"] in page and m["notes"] in page
    assert page.count("需邮寄纸质原件") == sum(m["paper_required"] for m in meta["materials"])
    assert "行政许可" in page and "省级" in page and "工业和信息化厅" in page and "快递申请" in page
    assert "年综合能源消费量" in page  # a start-form field label: what the applicant will be asked
    # a visitor is led to sign in as an applicant first; an applicant gets 在线申请 and 咨询
    assert "/portal/login?next=/portal/apply/jnsc_jieneng" in page and "/portal/matters/jnsc_jieneng/ask" not in page
    applicant = signed_in(app, make_applicant(app)).get("/portal/matters/jnsc_jieneng").get_data(as_text=True)
    assert 'href="/portal/apply/jnsc_jieneng"' in applicant and "/portal/matters/jnsc_jieneng/ask" in applicant
    assert "bpmn-navigated-viewer.js" in page and "renderDiagram" in page and "bpmn:definitions" in page


def test_unknown_matter_is_a_404_page(app):
    c = app.test_client()
    assert c.get("/portal/matters/no_such_matter").status_code == 404
    assert c.get("/portal/matters/" + "x" * 300).status_code == 404
    assert c.get("/portal/apply/no_such_matter").status_code == 404


def test_guide_follows_a_changed_metadata_value(db_url, tmp_path):
    processes = tmp_path / "processes"
    shutil.copytree(ROOT / "processes", processes)
    path = processes / "xmgl_beian.matter.json"
    meta = json.loads(path.read_text("utf-8"))
    meta["fees"] = "不收费（测试修改 42）"
    meta["promised_limit"]["note"] = "承诺时限说明已改"
    meta["materials"][0]["notes"] = "材料须知已改"
    path.write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    app = make_app(db_url, PROCESSES_DIR=str(processes))
    try:
        deploy_all(app)
        page = app.test_client().get("/portal/matters/xmgl_beian").get_data(as_text=True)
        assert "不收费（测试修改 42）" in page and "承诺时限说明已改" in page and "材料须知已改" in page
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_catalog_fits_a_phone_and_speaks_english(app):
    c = app.test_client()
    page = c.get("/portal/?lang=en").get_data(as_text=True)
    assert "Sign in to apply online" in page and "View the guide" in page
    assert 'name="viewport"' in page
