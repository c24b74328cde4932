"""GET /api/catalog (issue 15 point 2): every deployed matter's GB/T 39046 guide fields and codes on the
SHIPPED matters, with the deployed version and its time; incremental by ``since``, paged by cursor;
public and without anything internal; bad parameters a clear 422."""
from __future__ import annotations

import json
import time

import pytest

from app.extensions import db
from app.models import Matter
from app.services.cases.registry import deploy
from tests.conftest import ROOT, deploy_all

SHIPPED = sorted(p.name.split(".")[0] for p in ROOT.glob("processes/*.matter.json"))


@pytest.fixture
def client(app):
    deploy_all(app)
    return app.test_client()


def test_the_full_export_carries_every_shipped_matter_with_its_guide_fields(client, app):
    r = client.get("/api/catalog")
    assert r.status_code == 200 and r.json["count"] == len(SHIPPED) and r.json["next_cursor"] is None
    entries = {e["process_id"]: e for e in r.json["entries"]}
    assert sorted(entries) == SHIPPED
    for pid, e in entries.items():
        meta = json.loads((ROOT / "processes" / f"{pid}.matter.json").read_text("utf-8"))
        assert (e["name"], e["basic_code"], e["implementation_code"]) == \
            (meta["name"], meta["basic_code"], meta["implementation_code"])
        assert e["matter_type"]["code"] == meta["matter_type"] and e["matter_type"]["label"]
        assert e["case_type"]["code"] == meta["case_type"] and e["exercise_level"]["label"] == "省级"
        assert e["statutory_limit"]["value"] == meta["statutory_limit"]["value"]
        assert e["promised_limit"]["unit_label"] == "个工作日"
        assert [m["name"] for m in e["materials"]] == [m["name"] for m in meta["materials"]]
        assert e["implementing_body"] == meta["implementing_body"]
        assert e["version"] == 1 and e["deployed_at"] and e["state"] == "active" and e["region_code"] == "320000"
        assert {"departments", "forms", "bpmn", "bpmn_xml", "spec_json"}.isdisjoint(e)  # nothing internal
    hezhun = entries["xmgl_hezhun"]
    assert hezhun["service_object"] == [{"code": "2", "label": "企业法人"}]
    assert hezhun["legal_basis"] and hezhun["faq"] and hezhun["acceptance_conditions"]


def test_the_export_is_public_and_ordered_by_change(client):
    r = client.get("/api/catalog")  # no token
    stamps = [(e["changed_at"], e["process_id"]) for e in r.json["entries"]]
    assert r.status_code == 200 and stamps == sorted(stamps)
    assert r.json["watermark"] == r.json["entries"][-1]["changed_at"]


def test_paging_with_the_cursor_walks_every_entry_once(client):
    seen, url = [], "/api/catalog?limit=2"
    while url:
        r = client.get(url)
        assert r.status_code == 200 and r.json["count"] <= 2
        seen += [e["process_id"] for e in r.json["entries"]]
        url = r.json["next"]
        assert (url is None) == (r.json["next_cursor"] is None)
    assert sorted(seen) == SHIPPED and len(seen) == len(set(seen))


def test_since_returns_only_the_matters_changed_after_it(client, app):
    first = client.get("/api/catalog").json
    assert client.get("/api/catalog", query_string={"since": first["watermark"]}).json["entries"] == []
    time.sleep(0.01)
    with app.app_context():
        meta = json.loads((ROOT / "processes" / "xmgl_beian.matter.json").read_text("utf-8"))
        meta["promised_limit"]["note"] = "即办件：信息齐全的当场备案。"
        version = db.session.get(Matter, "xmgl_beian").latest_version
        deploy(version.bpmn_xml.encode(), meta, dict(version.forms), filename="xmgl_beian.bpmn")
        db.session.commit()
    r = client.get("/api/catalog", query_string={"since": first["watermark"]})
    assert [(e["process_id"], e["version"]) for e in r.json["entries"]] == [("xmgl_beian", 2)]
    assert r.json["entries"][0]["promised_limit"]["note"] == "即办件：信息齐全的当场备案。"
    assert r.json["entries"][0]["deployed_at"] > first["watermark"]
    # a Beijing time without an offset, and the GB/T 39046 offset spelling, are read too
    assert client.get("/api/catalog?since=2000-01-01 08:00:00").json["count"] == len(SHIPPED)
    assert client.get("/api/catalog?since=2999-01-01T00:00:00%2B0800").json["count"] == 0


@pytest.mark.parametrize("query, field", [
    ("since=yesterday", "since"), ("since=2026-02-30T00:00:00Z", "since"), ("since=2026-03-01T25:00:00Z", "since"),
    ("since=2026-03-01T00:00:00%2B15:00", "since"), ("cursor=not-a-cursor", "cursor"),
    ("cursor=" + "A" * 201, "cursor"), ("cursor=WyJ4Il0", "cursor"), ("limit=0", "limit"), ("limit=501", "limit"),
    ("limit=ten", "limit"),
    # before the first representable moment once converted to UTC (these once answered 500)
    ("since=0001-01-01T00:00:00%2B14:00", "since"), ("cursor=WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiwieCJd", "cursor")])
def test_bad_parameters_are_a_clear_422(client, query, field):
    r = client.get(f"/api/catalog?{query}")
    assert r.status_code == 422, (query, r.status_code)
    assert r.json["error"] == "validation_error" and field in json.dumps(r.json["errors"])
