"""The UI's language system: every msgid of the code (Python, templates, page scripts) has its English in the
gettext catalog, pages follow the session's language, times are Beijing time in the language's format."""
from datetime import datetime, timezone

from app.web import i18n, i18n_check
from tests.conftest import make_app


def test_every_msgid_of_the_code_has_its_english():
    gaps = i18n_check.missing()
    assert set(gaps) == {"en"}
    assert not gaps["en"], "msgids without English (scripts/i18n update, then translate):\n" + "\n".join(
        f"  {where}  {text}" for text, where in gaps["en"][:80])


def test_every_label_of_the_trail_and_the_inbox_is_a_msgid():
    """The labels the pages show through _() from data (trail actions, outcomes, tabs, colours) are
    extracted, so a new one cannot lose its English to ``scripts/i18n update``."""
    from app.web.inbox import pages
    ids = i18n_check.msgids()
    labels = {v for d in (pages.ACTION_LABELS, pages.OUTCOME_LABELS, pages.TAB_LABELS, pages.COLOUR_LABELS)
              for v in d.values()}
    assert sorted(labels - set(ids)) == []


def test_the_page_language_comes_from_the_catalog_and_is_remembered(db_url):
    app = make_app(db_url)
    client = app.test_client()
    en = client.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in" in en and "User name" in en
    assert "User name" in client.get("/login").get_data(as_text=True)  # remembered in the session
    zh = client.get("/login?lang=zh").get_data(as_text=True)
    assert "用户名" in zh and "User name" not in zh
    with app.test_request_context("/?lang=en"):
        assert i18n.gettext("共 %(n)s 条", n=3) == "3 in all"
        assert i18n.gettext("一个从未翻译的词") == "一个从未翻译的词"  # no English kept: the Chinese msgid


def test_english_pages_carry_every_msgid_of_the_page_scripts(db_url):
    """base.html's yg-i18n holds the English of every t() of the page scripts, also of a t() whose
    parameters hold a string (t('表单 {name}', {name: ''}): the extractor returns a tuple then)."""
    app = make_app(db_url)
    scripts = {text for text, where in i18n_check.msgids().items() if where.split(":")[0].endswith(".js")}
    assert "表单 {name}" in scripts
    with app.test_request_context("/?lang=en"):
        shipped = i18n.page_script_texts()
    assert scripts <= set(shipped), sorted(scripts - set(shipped))[:20]
    assert shipped["表单 {name}"] == "Form {name}"


def test_times_are_beijing_time_in_the_languages_format(db_url):
    app = make_app(db_url)
    moment = datetime(2026, 3, 4, 1, 30, tzinfo=timezone.utc)
    with app.test_request_context("/?lang=zh"):
        assert i18n.format_time(moment) == "2026-03-04 09:30"
    with app.test_request_context("/?lang=en"):
        assert i18n.format_time(moment) == "4 Mar 2026, 09:30"
        assert i18n.format_time(None) == ""


def test_a_read_only_source_tree_compiles_the_catalog_elsewhere(tmp_path, monkeypatch):
    src = tmp_path / "translations" / "en" / "LC_MESSAGES"
    src.mkdir(parents=True)
    (src / "messages.po").write_bytes((i18n.TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").read_bytes())
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path / "translations")
    src.chmod(0o555)
    try:
        target = i18n.compiled_catalogs()
    finally:
        src.chmod(0o755)
    assert (target / "en" / "LC_MESSAGES" / "messages.mo").stat().st_size > 10_000
    assert not (src / "messages.mo").exists() or target == tmp_path / "translations"
