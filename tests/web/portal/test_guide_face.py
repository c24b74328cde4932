"""Issue 19 item 5 and the matters' English names, server side: the service guide carries the
diagram's toolbar (＋ － 适应 全屏查看), a print button, the print stylesheet and the printed address and
date; with ?lang=en a matter's name is its English name (the BPMN process's ``nameEn`` property, read by
the parser into the version's summary) on the guide, the catalog and the inbox, Chinese otherwise."""
import re
from pathlib import Path

from app.engine.parser import check_model
from app.services.cases.registry import load_forms
from tests.conftest import ROOT, deploy_all


def _text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)  # visible text only
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_every_shipped_matter_has_an_english_name():
    forms = load_forms(ROOT / "forms")[0]
    for path in sorted(Path(ROOT / "processes").glob("*.bpmn")):
        source = path.read_text("utf-8")
        assert '<camunda:property name="nameEn" value="' in source, path.name
        english = re.search(r'<camunda:property name="nameEn" value="([^"]+)"', source).group(1)
        assert not re.search(r"[\u4e00-\u9fff]", english) and english[0].isupper(), (path.name, english)
        if path.stem == "xmgl_beian":  # the parser reads it into the summary
            model = check_model(path.read_bytes(), path.name, forms, expected_id=path.stem)
            assert model.summary["name_en"] == "Filing of enterprise investment projects"


def test_the_guide_has_the_diagram_toolbar_print_button_and_print_sheet(app):
    deploy_all(app)
    c = app.test_client()
    html = c.get("/portal/matters/xmgl_beian?lang=zh").get_data(as_text=True)
    for needle in ('id="diagram-box"', 'data-zoom="in"', 'data-zoom="out"', 'data-zoom="fit"', 'data-zoom="full"',
                   "全屏查看", 'data-label-exit="退出全屏"', 'img class="diagram-print"', 'id="print-guide"',
                   "打印办事指南", "/assets/static/css/print.css", "/assets/static/css/guide_diagram.css",
                   "/assets/static/js/guide_diagram.js"):
        assert needle in html, needle
    meta = html.split('id="print-meta"', 1)[1].split("</div>", 1)[0]
    assert "http://localhost/portal/matters/xmgl_beian" in meta and "打印日期：2026年3月2日" in meta, meta
    assert '<div class="no-print">' in html  # the portal's own links are not printed
    for path in ("/assets/static/css/print.css", "/assets/static/css/guide_diagram.css",
                 "/assets/static/js/guide_diagram.js"):
        assert c.get(path).status_code == 200, path
    css = c.get("/assets/static/css/print.css").get_data(as_text=True)
    assert "@media print" in css and "size:A4" in css and "header,nav" in css
    en = c.get("/portal/matters/xmgl_beian?lang=en").get_data(as_text=True)
    meta = en.split('id="print-meta"', 1)[1].split("</div>", 1)[0]
    assert "2 March 2026" in meta, meta  # the labels' English: /tmp/brief/h2.en.json → app/translations


def test_matter_names_follow_the_page_language(app):
    deploy_all(app)
    c = app.test_client()
    zh = _text(c.get("/portal/matters/jnsc_jieneng?lang=zh").get_data(as_text=True))
    assert "固定资产投资项目节能审查" in zh and "Energy conservation review" not in zh
    en_html = c.get("/portal/matters/jnsc_jieneng?lang=en").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", en_html, re.S).group(1)
    assert title.startswith("Energy conservation review of fixed-asset investment projects"), title
    heading = re.search(r"<h2>(.*?)<small", en_html, re.S).group(1).strip()
    assert heading == "Energy conservation review of fixed-asset investment projects", heading
    catalog = _text(c.get("/portal/?lang=en").get_data(as_text=True))
    assert "Filing of enterprise investment projects" in catalog and "企业投资项目备案" not in catalog
    catalog = _text(c.get("/portal/?lang=zh").get_data(as_text=True))
    assert "企业投资项目备案" in catalog and "Filing of enterprise investment projects" not in catalog


def test_the_filter_falls_back_to_chinese(app):
    from app.web.display import matter_name_in
    deploy_all(app)
    with app.test_request_context("/"):
        assert matter_name_in("en", "企业投资项目备案", "xmgl_beian") == "Filing of enterprise investment projects"
        assert matter_name_in("en", "企业投资项目备案") == "Filing of enterprise investment projects"  # by name
        assert matter_name_in("en", "未部署的事项", "nope") == "未部署的事项"
        assert matter_name_in("zh", "企业投资项目备案", "xmgl_beian") == "企业投资项目备案"
