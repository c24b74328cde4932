"""The designer's 事项目录同步 page (issue 15 point 2), against the catalog stand-in on the SHIPPED
matters: the pull button, each difference side by side, 接受为新版本 (a new version with the values;
the running version unchanged), 忽略, a refused entry and a failing catalog shown, designers only."""
from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Matter, ProcessVersion
from app.models.docking_catalog import CatalogEntry
from tests.conftest import ROOT
from tests.fakes.catalog_standin import CatalogStandIn
from tests.web.designer.test_designer import designer_app, signed_in


@pytest.fixture
def standin():
    with CatalogStandIn() as s:
        yield s


@pytest.fixture
def app(db_url, tmp_path, standin):
    for name in ("processes", "forms"):
        shutil.copytree(ROOT / name, tmp_path / name)
    app = designer_app(db_url, tmp_path / "processes", tmp_path / "forms", **standin.config())
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def press(c, url, **form):
    return c.post(url, data=dict(form, csrf_token=c.csrf), follow_redirects=True)


def section(html: str, process_id: str) -> str:
    found = re.search(rf'<section class="card catalog-diff"[^>]*data-process-id="{process_id}".*?</section>', html, re.S)
    assert found, f"no difference shown for {process_id}"
    return found.group(0)


def entry_id(html: str, process_id: str) -> int:
    return int(re.search(r'data-entry-id="(\d+)"', section(html, process_id)).group(1))


def test_the_pull_button_shows_each_difference_side_by_side(app):
    d1 = signed_in(app, "d1")
    page = d1.get("/designer/catalog").get_data(as_text=True)
    assert 'id="no-diffs"' in page and 'id="pull"' in page
    page = press(d1, "/designer/catalog/pull").get_data(as_text=True)
    shipped = len(list((ROOT / "processes").glob("*.matter.json")))
    assert f"收到 {shipped} 个条目" in page and "其中 3 个与当前版本不同" in page
    hezhun = section(page, "xmgl_hezhun")
    row = re.search(r'data-field="promised_limit".*?</tr>', hezhun, re.S).group(0)
    assert re.search(r'class="ours">10个工作日<', row) and re.search(r'class="theirs">8个工作日<', row)
    jieneng = section(page, "jnsc_jieneng")
    # material names are the agency's content: shown as authored, marked lang="zh-CN"
    assert '− <span lang="zh-CN">主要用能设备清单及能效指标<' in jieneng
    assert '+ <span lang="zh-CN">主要用能设备清单及能效指标表' in jieneng
    assert '+ <span lang="zh-CN">项目绩效目标表' in section(page, "zjsq_zhongyang")
    assert 'data-process-id="xmgl_beian"' not in page  # no difference, nothing to review
    english = section(d1.get("/designer/catalog?lang=en").get_data(as_text=True), "xmgl_hezhun")
    row = re.search(r'data-field="promised_limit".*?</tr>', english, re.S).group(0)
    assert 'class="ours">10 working days<' in row and "工作日" not in row and 'aria-label="Promised time limit"' in row


def test_accept_creates_a_new_version_and_the_running_version_is_unchanged(app, tmp_path):
    d1 = signed_in(app, "d1")
    page = press(d1, "/designer/catalog/pull").get_data(as_text=True)
    with app.app_context():
        v1 = db.session.get(Matter, "xmgl_hezhun").latest_version
        v1_id, v1_promised = v1.id, v1.matter["promised_limit"]["value"]
    page = press(d1, f"/designer/catalog/{entry_id(page, 'xmgl_hezhun')}/accept", parts="promised_limit")
    text = page.get_data(as_text=True)
    assert "部署为新版本 v2" in text and 'data-process-id="xmgl_hezhun"' not in text
    with app.app_context():
        m = db.session.get(Matter, "xmgl_hezhun")
        assert m.latest_version.number == 2 and m.latest_version.matter["promised_limit"]["value"] == 8
        assert db.session.get(ProcessVersion, v1_id).matter["promised_limit"]["value"] == v1_promised == 10
    assert "v2" in d1.get("/designer").get_data(as_text=True)  # the designer's versions list shows it


def test_dismiss_closes_a_difference_without_a_version(app):
    d1 = signed_in(app, "d1")
    page = press(d1, "/designer/catalog/pull").get_data(as_text=True)
    eid = entry_id(page, "zjsq_zhongyang")
    text = press(d1, f"/designer/catalog/{eid}/dismiss").get_data(as_text=True)
    assert "已忽略该差异" in text and 'data-process-id="zjsq_zhongyang"' not in text
    again = press(d1, f"/designer/catalog/{eid}/accept").get_data(as_text=True)
    assert "该差异已处理" in again
    with app.app_context():
        assert db.session.get(Matter, "zjsq_zhongyang").latest_version.number == 1


def test_a_refused_entry_and_a_failing_catalog_are_shown_and_change_nothing(app, standin):
    d1 = signed_in(app, "d1")
    standin.add_malformed("0001720160")
    page = press(d1, "/designer/catalog/pull").get_data(as_text=True)
    assert "被拒绝：promiseDay（承诺办结时限）" in page and "十个工作日" in page
    with app.app_context():
        before = db.session.execute(select(func.count()).select_from(CatalogEntry)).scalar_one()
    standin.fail_next(500, path="/catalog/entries")
    page = press(d1, "/designer/catalog/pull").get_data(as_text=True)
    assert "拉取一张网事项目录失败：HTTP 500" in page and 'class="pull failed"' in page
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(CatalogEntry)).scalar_one() == before


def test_only_designers_and_administrators_use_the_page(app):
    d1 = signed_in(app, "d1")
    page = press(d1, "/designer/catalog/pull").get_data(as_text=True)
    eid = entry_id(page, "xmgl_hezhun")
    assert signed_in(app, "adm").get("/designer/catalog").status_code == 200
    for name in ("w1", "alice"):
        c = signed_in(app, name)
        assert c.get("/designer/catalog").status_code == 403
        for url in ("/designer/catalog/pull", f"/designer/catalog/{eid}/accept", f"/designer/catalog/{eid}/dismiss"):
            assert c.post(url, data={"csrf_token": c.csrf}).status_code == 403, (name, url)
    anonymous = app.test_client()
    assert anonymous.get("/designer/catalog").status_code == 302
    assert d1.post(f"/designer/catalog/{eid}/accept").status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.get(CatalogEntry, eid).status == "differs"
        assert db.session.get(Matter, "xmgl_hezhun").latest_version.number == 1


def test_unknown_entries_and_parts_are_refused(app):
    d1 = signed_in(app, "d1")
    page = press(d1, "/designer/catalog/pull").get_data(as_text=True)
    eid = entry_id(page, "xmgl_hezhun")
    assert d1.post("/designer/catalog/99999/accept", data={"csrf_token": d1.csrf}).status_code == 404
    assert d1.post("/designer/catalog/x1/dismiss", data={"csrf_token": d1.csrf}).status_code == 404
    r = d1.post(f"/designer/catalog/{eid}/accept", data={"csrf_token": d1.csrf, "parts": "departments"})
    assert r.status_code == 422
    r = d1.post(f"/designer/catalog/{eid}/accept", data={"csrf_token": d1.csrf, "parts": "materials"})
    assert r.status_code == 422 and "没有差异" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Matter, "xmgl_hezhun").latest_version.number == 1


def test_edit_in_the_designer_opens_the_values_and_the_designers_deploy_makes_the_version(app):
    """The other way to accept: the editor opened on the deployed version with the entry's values;
    nothing is stored until the designer deploys from there (the designer's own 部署)."""
    import html as htmllib
    import json
    d1 = signed_in(app, "d1")
    page = press(d1, "/designer/catalog/pull").get_data(as_text=True)
    r = d1.get(f"/designer/catalog/{entry_id(page, 'xmgl_hezhun')}/edit")
    assert r.status_code == 200
    raw = re.search(r'<script type="application/json" id="designer-data">(.*?)</script>', r.get_data(as_text=True), re.S)
    doc = json.loads(htmllib.unescape(raw.group(1)))
    assert doc["matter"]["promised_limit"]["value"] == 8 and doc["version"] == 1
    with app.app_context():
        assert db.session.get(Matter, "xmgl_hezhun").latest_version.number == 1  # nothing stored yet
    payload = {k: doc[k] for k in ("process_id", "bpmn", "matter", "forms", "scenarios")}
    r = d1.post("/designer/deploy", json=payload, headers={"X-CSRF-Token": d1.csrf, "Accept": "application/json"})
    assert r.status_code == 200 and r.json["version"] == 2, r.json
    page = d1.get("/designer/catalog").get_data(as_text=True)
    assert "当前部署的版本已与该条目一致" in section(page, "xmgl_hezhun")  # then 忽略 closes it
