"""English is available on the portal: code-set names, units and texts are translated with ?lang=en
(the matters' own names and guide texts stay as the agency wrote them)."""
from tests.conftest import deploy_all


def test_catalog_and_guide_in_english(app):
    deploy_all(app)
    c = app.test_client()
    html = c.get("/portal/?lang=en").get_data(as_text=True)
    assert "Administrative licence" in html and "Provincial" in html and "By courier" in html
    assert "行政许可" not in html and "个工作日" not in html
    html = c.get("/portal/matters/jnsc_jieneng").get_data(as_text=True)  # the language is remembered
    assert "20 working days" in html and "Enterprise legal person" in html and "固定资产投资项目节能审查" in html
    html = c.get("/progress").get_data(as_text=True)
    assert "we will send a verification code by SMS" in html
    html = c.get("/portal/matters/jnsc_jieneng?lang=zh").get_data(as_text=True)
    assert "20个工作日" in html and "企业法人" in html and "快递申请" in html
