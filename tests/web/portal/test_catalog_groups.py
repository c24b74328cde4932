"""The portal's 事项清单 groups the shipped matters under their categories and filters them by
category and by handling department (both from matter.json), and the search reaches across them; an
unknown filter value matches nothing rather than failing; a bad category is refused at deploy."""
import json
import re

import pytest

from app.engine.matter import CATEGORIES, check_matter
from tests.conftest import ROOT, deploy_all


@pytest.fixture
def client(app):
    deploy_all(app)
    return app.test_client()


def shown(html: str) -> list[str]:
    return re.findall(r'<section class="matter" data-process-id="([a-z_]+)"', html)


def headings(html: str) -> list[str]:
    return re.findall(r'<h3 class="category" data-category="([a-z_]+)"', html)


META = {p.name.split(".")[0]: json.loads(p.read_text("utf-8")) for p in (ROOT / "processes").glob("*.matter.json")}


def having(**where) -> set[str]:
    """The shipped matters whose metadata has each value (a list field: contains it)."""
    def ok(meta, key, value):
        got = meta.get(key)
        return value in got if isinstance(got, list) else got == value
    return {pid for pid, meta in META.items() if all(ok(meta, k, v) for k, v in where.items())}


def test_the_catalog_is_grouped_by_category_in_order(client):
    html = client.get("/portal/").get_data(as_text=True)
    present = {m["category"] for m in META.values()}
    assert headings(html) == [c for c in CATEGORIES if c in present]
    assert len(headings(html)) >= 10  # every kind of the commission's matters is online
    assert set(shown(html)) == set(META)
    project = having(category="project")
    assert set(shown(html)[:len(project)]) == project
    assert "投资项目管理" in html and "固定资产投资处" in html


def test_filters_by_category_and_by_department_and_search_across(client):
    energy = shown(client.get("/portal/?category=energy").get_data(as_text=True))
    assert set(energy) == having(category="energy") and {"jnsc_jieneng", "jnsc_jntp"} <= set(energy)
    html = client.get("/portal/?dept=energy_saving").get_data(as_text=True)
    assert set(shown(html)) == having(departments="energy_saving")
    assert 'value="energy_saving" selected' in html
    both = shown(client.get("/portal/?category=project&dept=investment").get_data(as_text=True))
    assert set(both) == having(category="project", departments="investment") and "xmgl_hezhun" in both
    across = shown(client.get("/portal/?q=申请报告").get_data(as_text=True))  # in the guides of several categories
    assert {"zjsq_zhongyang", "xmgl_hezhun", "xhd_rending"} <= set(across)
    assert len({META[pid]["category"] for pid in across}) >= 3
    funds = shown(client.get("/portal/?q=申请报告&category=funds").get_data(as_text=True))
    assert "zjsq_zhongyang" in funds and set(funds) <= having(category="funds")
    # the search reaches the law each matter comes from (matter.json "source")
    assert "zftz_kyb" in shown(client.get("/portal/?q=政府投资条例").get_data(as_text=True))
    for bad in ("?category=nope", "?dept=nope", "?category=" + "x" * 500):
        r = client.get("/portal/" + bad)
        assert r.status_code == 200 and shown(r.get_data(as_text=True)) == []
    english = client.get("/portal/?lang=en").get_data(as_text=True)
    assert "Investment projects" in english and "Category" in english


def test_a_category_outside_the_code_set_is_refused_at_deploy():
    meta = json.loads((ROOT / "processes" / "xmgl_beian.matter.json").read_text("utf-8"))
    clean, problems = check_matter({**meta, "category": "misc"}, "xmgl_beian")
    assert clean is None and any(p.startswith("category") for p in problems), problems
