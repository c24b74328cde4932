"""The portal's 事项清单 groups the shipped matters under their categories and filters them by
category and by handling department (both from matter.json), and the search reaches across them; an
unknown filter value matches nothing rather than failing; a bad category is refused at deploy."""
import json
import re

import pytest

from app.engine.matter import check_matter
from tests.conftest import ROOT, deploy_all


@pytest.fixture
def client(app):
    deploy_all(app)
    return app.test_client()


def shown(html: str) -> list[str]:
    return re.findall(r'<section class="matter" data-process-id="([a-z_]+)"', html)


def headings(html: str) -> list[str]:
    return re.findall(r'<h3 class="category" data-category="([a-z_]+)"', html)


def test_the_catalog_is_grouped_by_category_in_order(client):
    html = client.get("/portal/").get_data(as_text=True)
    assert headings(html) == ["project", "energy", "funds", "certification"]
    assert set(shown(html)) == {"xmgl_hezhun", "xmgl_beian", "jnsc_jieneng", "zjsq_zhongyang", "xhd_rending"}
    assert set(shown(html)[:2]) == {"xmgl_hezhun", "xmgl_beian"}
    assert "投资项目管理" in html and "固定资产投资处" in html


def test_filters_by_category_and_by_department_and_search_across(client):
    assert shown(client.get("/portal/?category=energy").get_data(as_text=True)) == ["jnsc_jieneng"]
    html = client.get("/portal/?dept=energy_saving").get_data(as_text=True)
    assert shown(html) == ["jnsc_jieneng"]
    assert 'value="energy_saving" selected' in html
    both = shown(client.get("/portal/?category=project&dept=investment").get_data(as_text=True))
    assert set(both) == {"xmgl_hezhun", "xmgl_beian"}
    across = shown(client.get("/portal/?q=申请报告").get_data(as_text=True))  # in the guides of three categories
    assert set(across) == {"zjsq_zhongyang", "xmgl_hezhun", "xhd_rending"}
    assert shown(client.get("/portal/?q=申请报告&category=funds").get_data(as_text=True)) == ["zjsq_zhongyang"]
    for bad in ("?category=nope", "?dept=nope", "?category=" + "x" * 500):
        r = client.get("/portal/" + bad)
        assert r.status_code == 200 and shown(r.get_data(as_text=True)) == []
    english = client.get("/portal/?lang=en").get_data(as_text=True)
    assert "Investment projects" in english and "Category" in english


def test_a_category_outside_the_code_set_is_refused_at_deploy():
    meta = json.loads((ROOT / "processes" / "xmgl_beian.matter.json").read_text("utf-8"))
    clean, problems = check_matter({**meta, "category": "misc"}, "xmgl_beian")
    assert clean is None and any(p.startswith("category") for p in problems), problems
