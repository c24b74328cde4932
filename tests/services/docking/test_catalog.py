"""事项目录 import (issue 15 point 2) against the catalog stand-in over real HTTP, on the SHIPPED
matters: the incremental pull (signed, since = the last time stamp kept), the differences to the
deployed versions (a changed promised limit, a renamed material, an extra material), a malformed
entry refused with nothing stored while the rest goes on, every failure of the 一张网 a clear error
that changes nothing, and acceptance into a new version that leaves the running version alone."""
from __future__ import annotations

import json
import shutil
from urllib.parse import parse_qs

import pytest
from sqlalchemy import func, select

from app.domain.errors import Conflict, NotAuthorized
from app.extensions import db
from app.models import Matter, ProcessInstance, ProcessVersion
from app.models.docking_catalog import CatalogCursor, CatalogEntry, CatalogPull
from app.services.docking import catalog
from app.services.docking.catalog_mapping import MappingInvalid
from app.services.identity.actors import SYSTEM, Actor
from tests.conftest import ROOT, add_user, deploy_all, make_app
from tests.fakes.catalog_standin import CatalogStandIn

#: the shipped matters: the stand-in serves one entry for each
SHIPPED = len(list((ROOT / "processes").glob("*.matter.json")))

HEZHUN, JIENENG, ZHONGYANG, BEIAN = "xmgl_hezhun", "jnsc_jieneng", "zjsq_zhongyang", "xmgl_beian"
DESIGNER = Actor(id=None, username="d1", kind="staff", groups=frozenset({"designer"}), display_name="d1")
CLERK = Actor(id=None, username="w1", kind="staff", groups=frozenset({"window"}), display_name="w1")


@pytest.fixture
def standin():
    with CatalogStandIn() as s:
        s.hang_seconds = 3
        yield s


@pytest.fixture
def dirs(tmp_path):
    """The shipped processes and forms, copied: accepting deploys and writes files."""
    for name in ("processes", "forms"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path / "processes", tmp_path / "forms"


@pytest.fixture
def app(db_url, dirs, standin):
    app = make_app(db_url, PROCESSES_DIR=str(dirs[0]), FORMS_DIR=str(dirs[1]), YWTB_TIMEOUT_SECONDS=1.5,
                   **standin.config())
    deploy_all(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def counts(app) -> dict:
    with app.app_context():
        return {model.__name__: db.session.execute(select(func.count()).select_from(model)).scalar_one()
                for model in (CatalogEntry, CatalogCursor, ProcessVersion)}


def open_entries(app) -> dict:
    with app.app_context():
        return {e["process_id"]: e for e in catalog.review(SYSTEM)["open"]}


def test_a_first_pull_stores_every_entry_and_the_three_differences_of_the_shipped_matters(app, standin):
    with app.app_context():
        out = catalog.pull(DESIGNER)
    assert out["status"] == "ok" and out["matters"] == SHIPPED and out["received"] == SHIPPED
    assert out["stored"] == SHIPPED and out["differing"] == 3 and out["refused"] == 0
    diffs = open_entries(app)
    assert set(diffs) == {HEZHUN, JIENENG, ZHONGYANG}
    assert diffs[HEZHUN]["diff"]["fields"] == [{"field": "promised_limit", "label": "承诺办结时限",
                                                "ours": {"value": 10, "unit": "working_day"},
                                                "theirs": {"value": 8, "unit": "working_day"}}]
    renamed = diffs[JIENENG]["diff"]["materials"]
    assert [m["name"] for m in renamed["added"]] == ["主要用能设备清单及能效指标表"]
    assert [m["name"] for m in renamed["removed"]] == ["主要用能设备清单及能效指标"]
    extra = diffs[ZHONGYANG]["diff"]["materials"]
    assert [m["name"] for m in extra["added"]] == ["项目绩效目标表"] and not extra["removed"] and not extra["changed"]
    # each request was signed and asked for our area, the matter's code and the active state
    asks = [parse_qs(r["query"]) for r in standin.requests]
    shipped = {json.loads(p.read_text("utf-8"))["basic_code"] for p in (ROOT / "processes").glob("*.matter.json")}
    assert {a["matterCode"][0] for a in asks} == shipped
    assert all(a["areaCode"] == ["320000"] and a["state"] == ["1"] and "updateTime" not in a for a in asks)
    assert all(r["headers"].get("X-Signature") and r["status"] == 200 for r in standin.requests)


def test_the_next_pull_asks_since_the_kept_time_stamp_and_stores_only_what_changed(app, standin):
    with app.app_context():
        catalog.pull(DESIGNER)
    before = counts(app)
    standin.requests.clear()
    with app.app_context():
        again = catalog.pull(DESIGNER)
    assert again["stored"] == 0 and counts(app) == before  # the same entries are stored once
    seeded = standin.entry("0001720150")["updateTime"]
    assert {parse_qs(r["query"])["updateTime"][0] for r in standin.requests} == {seeded}
    standin.change("0001720150", promiseDay=7, taskName="企业投资项目核准（含变更）")
    with app.app_context():
        third = catalog.pull(DESIGNER)
        rows = db.session.execute(select(CatalogEntry).where(CatalogEntry.process_id == HEZHUN)
                                  .order_by(CatalogEntry.id)).scalars().all()
        assert [r.status for r in rows] == ["superseded", "differs"]
    assert third["stored"] == 1
    fields = {f["field"]: f["theirs"] for f in open_entries(app)[HEZHUN]["diff"]["fields"]}
    assert fields == {"name": "企业投资项目核准（含变更）", "promised_limit": {"value": 7, "unit": "working_day"}}


def test_a_malformed_entry_is_refused_by_entry_and_field_and_the_rest_of_the_pull_goes_on(app, standin):
    standin.add_malformed("0001720160")
    standin.add_malformed("0001720230", taskCode="11320000014000378400023", materials="见附件", promiseDay=15)
    with app.app_context():
        out = catalog.pull(DESIGNER)
        stored = db.session.execute(select(CatalogEntry.raw)).scalars().all()
        pull_row = db.session.get(CatalogPull, out["pull_id"])
        assert pull_row.status == "partial" and pull_row.refused == 2
    assert out["status"] == "partial" and out["refused"] == 2 and out["stored"] == SHIPPED
    problems = {(p["process_id"], p["field"]): p for p in out["problems"]}
    assert problems[(BEIAN, "promiseDay（承诺办结时限）")]["entry"].startswith("broken-")
    assert "十个工作日" in problems[(BEIAN, "promiseDay（承诺办结时限）")]["message"]
    assert (("xhd_rending", "materials（申请材料）")) in problems
    assert not any(str(raw.get("taskGuid", "")).startswith("broken-") for raw in stored)  # stored nowhere


@pytest.mark.parametrize("fault, code", [(500, "http_500"), ("hang", "timeout"), ("close", "network"),
                                         ("malformed", "bad_answer"), ("badsig", "bad_signature")])
def test_a_failing_catalog_is_a_clear_error_and_changes_nothing(app, standin, fault, code):
    with app.app_context():
        catalog.pull(DESIGNER)
    standin.change("0001720150", promiseDay=6)
    before = counts(app)
    standin.fail_next(fault, path="/catalog/entries")
    with app.app_context(), pytest.raises(catalog.PullFailed) as failed:
        catalog.pull(DESIGNER)
    assert failed.value.remote_code == code and failed.value.status == 502
    assert failed.value.message.startswith("拉取一张网事项目录失败")
    assert counts(app) == before
    with app.app_context():
        last = db.session.execute(select(CatalogPull).order_by(CatalogPull.id.desc())).scalars().first()
        assert last.status == "failed" and last.error_code == code and last.stored == 0
    standin.clear_faults()
    with app.app_context():
        assert catalog.pull(DESIGNER)["stored"] == 1  # nothing was lost: the change comes on the next pull


def test_a_failure_after_some_matters_were_fetched_stores_none_of_them(app, standin):
    original, calls = standin._take_fault, []

    def third_fails(path):
        calls.append(path)
        return 503 if len(calls) == 3 else original(path)
    standin._take_fault = third_fails
    with app.app_context(), pytest.raises(catalog.PullFailed) as failed:
        catalog.pull(DESIGNER)
    assert failed.value.remote_code == "http_503" and len(calls) == 3
    assert counts(app)["CatalogEntry"] == 0 and counts(app)["CatalogCursor"] == 0


def test_a_wrong_secret_is_refused_by_the_catalog_and_nothing_is_stored(db_url, dirs, standin):
    app = make_app(db_url, PROCESSES_DIR=str(dirs[0]), FORMS_DIR=str(dirs[1]),
                   **standin.config(YWTB_SECRET="not-the-secret"))
    deploy_all(app)
    with app.app_context(), pytest.raises(catalog.PullFailed) as failed:
        catalog.pull(SYSTEM)
    assert failed.value.remote_code == "bad_signature"
    assert counts(app)["CatalogEntry"] == 0


def test_accepting_creates_a_new_version_with_the_values_and_the_running_version_is_unchanged(app, dirs):
    add_user(app, "alice", "applicant")
    start = json.loads((ROOT / "processes" / f"{HEZHUN}.scenarios.json").read_text("utf-8"))["scenarios"][0]["start"]
    r = app.test_client().post("/api/cases", json={"process_id": HEZHUN, "data": start},
                               headers={"Authorization": "Bearer tok-alice"})
    assert r.status_code == 201, r.json
    with app.app_context():
        v1 = db.session.get(Matter, HEZHUN).latest_version
        v1_id, v1_meta = v1.id, json.loads(json.dumps(v1.matter))
        catalog.pull(DESIGNER)
    entry = open_entries(app)[HEZHUN]
    with app.app_context():
        out = catalog.accept(DESIGNER, entry["id"])
        assert out["version"] == 2 and out["parts"] == ["promised_limit"]
        m = db.session.get(Matter, HEZHUN)
        assert m.latest_version.number == 2 and m.latest_version.matter["promised_limit"]["value"] == 8
        assert m.latest_version.matter["promised_limit"]["note"] == v1_meta["promised_limit"]["note"]
        assert m.latest_version.deployed_by == "d1"
        old = db.session.get(ProcessVersion, v1_id)
        assert old.matter == v1_meta  # the running version is untouched
        running = db.session.execute(select(ProcessInstance.version_id).where(
            ProcessInstance.process_id == HEZHUN)).scalars().all()
        assert running == [v1_id]
        row = db.session.get(CatalogEntry, entry["id"])
        assert (row.status, row.decided_by, row.new_version) == ("accepted", "d1", 2)
        with pytest.raises(Conflict):
            catalog.accept(DESIGNER, entry["id"])
    written = json.loads((dirs[0] / f"{HEZHUN}.matter.json").read_text("utf-8"))
    assert written["promised_limit"]["value"] == 8  # the designer's files, as a deploy writes them
    assert HEZHUN not in open_entries(app)


def test_accepting_a_renamed_and_an_extra_material_keeps_the_list_in_the_catalogs_order(app):
    with app.app_context():
        catalog.pull(DESIGNER)
    diffs = open_entries(app)
    with app.app_context():
        catalog.accept(DESIGNER, diffs[JIENENG]["id"], ["materials"])
        catalog.dismiss(DESIGNER, diffs[ZHONGYANG]["id"])
        names = [x["name"] for x in db.session.get(Matter, JIENENG).latest_version.matter["materials"]]
        assert "主要用能设备清单及能效指标表" in names and "主要用能设备清单及能效指标" not in names
        assert db.session.get(Matter, ZHONGYANG).latest_version.number == 1  # dismissed: unchanged
        assert db.session.get(CatalogEntry, diffs[ZHONGYANG]["id"]).status == "dismissed"
    assert set(open_entries(app)) == {HEZHUN}


def test_only_designers_pull_accept_or_dismiss(app):
    with app.app_context():
        catalog.pull(DESIGNER)
    entry = open_entries(app)[HEZHUN]
    with app.app_context():
        for call in (lambda: catalog.pull(CLERK), lambda: catalog.accept(CLERK, entry["id"]),
                     lambda: catalog.dismiss(CLERK, entry["id"]), lambda: catalog.review(CLERK)):
            with pytest.raises(NotAuthorized):
                call()
    assert open_entries(app)[HEZHUN]["status"] == "differs"


def test_without_a_catalog_url_the_pull_says_so(db_url):
    app = make_app(db_url)
    with app.app_context(), pytest.raises(catalog.CatalogNotConfigured) as refused:
        catalog.pull(SYSTEM)
    assert "YWTB_CATALOG_URL" in refused.value.message


def test_the_field_mapping_is_a_file_of_its_own(db_url, dirs, standin, tmp_path):
    """Their names are configurable: a mapping that reads the promised limit from another field."""
    shipped = json.loads((ROOT / "app" / "services" / "docking" / "catalog_mapping.json").read_text("utf-8"))
    shipped["fields"]["promised_limit.value"] = "promiseDays"
    custom = tmp_path / "mapping.json"
    custom.write_text(json.dumps(shipped), "utf-8")
    for e in standin.entries:
        e["promiseDays"] = e.pop("promiseDay") - 1
    app = make_app(db_url, PROCESSES_DIR=str(dirs[0]), FORMS_DIR=str(dirs[1]), YWTB_CATALOG_MAPPING=str(custom),
                   **standin.config())
    deploy_all(app)
    with app.app_context():
        assert catalog.pull(SYSTEM)["differing"] == SHIPPED
    (tmp_path / "broken.json").write_text('{"request": {}}', "utf-8")
    app.config["YWTB_CATALOG_MAPPING"] = str(tmp_path / "broken.json")
    with app.app_context(), pytest.raises(MappingInvalid) as bad:
        catalog.pull(SYSTEM)
    assert "request.params" in bad.value.message


def test_the_cli_pulls_and_reports(app, standin):
    standin.add_malformed("0001720160")
    result = app.test_cli_runner().invoke(args=["docking", "catalog-pull"])
    assert result.exit_code == 0, result.output
    assert f"{SHIPPED} stored, 3 differ" in result.output and "refused broken-" in result.output
    standin.fail_next(500, path="/catalog/entries")
    result = app.test_cli_runner().invoke(args=["docking", "catalog-pull", "--matter", HEZHUN])
    assert result.exit_code == 1 and "http_500" in result.output
