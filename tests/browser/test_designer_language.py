"""The designer and form-js in the page's language (issue 19 item 1, browser side).

zh: the modeler's palette, context pad and replace menu, the Camunda 7 properties panel, the form-js
editor and bpmnlint's reports show no English beyond an allow-list of proper names and codes; a
shipped application form (form-js viewer through taskform.js, as on the portal) says 此项为必填项
under an empty required field and its placeholders are Chinese. en (?lang=en): the packages' own
English, and the page scripts' messages come from window.YG_I18N (t() in static/js/i18n.js)."""
from __future__ import annotations

import json
import re

from tests.browser.test_designer import dirs, live_server  # noqa: F401  (copies of processes/forms)

PASSWORD = "correct horse battery"
PID = "lang_check"
# proper names, codes and format words that stay as they are in a Chinese page
ALLOW = {"bpmn", "bpmnlint", "camunda", "feel", "json", "dmn", "cmmn", "iso", "utc", "java", "html", "url",
         "qname", "bpmndi", "id", "io", "approved", "start", "review", "end", "jsonpath", "lang", "check",
         "list", "object", "map", "string", "typedvalue", "collectentries", "resultlist", "singleentry",
         "singleresult", "ad", "hoc", "somedate"}
WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
# only a few msgids are needed here; the real page gets the whole catalog from base.html
EN = {"检查通过": "Check passed", "检查中…": "Checking…", "没有发现问题": "No problems found",
      "提示": "Hint", "表单 {name}": "Form {name}", "(新建)": "(new)",
      "检查发现 {n} 处错误": "The check found {n} errors", "（bpmnlint 提示 {n} 条）": " ({n} bpmnlint hints)",
      "，bpmnlint {n} 处错误": ", {n} bpmnlint errors"}


def english_words(text: str, extra: set[str] = frozenset()) -> list[str]:
    return [w for w in WORD.findall(text) if w.lower().strip("'-") not in ALLOW | set(extra)]


def open_designer(server, browser_page, lang="zh"):
    server.add_user("d1", groups=["designer"], password=PASSWORD)
    page = browser_page("desktop")
    if lang == "en":
        page.add_init_script(f"window.YG_I18N = Object.assign({json.dumps(EN)}, window.YG_I18N || {{}});")
    server.login(page, "d1", PASSWORD)
    page.goto(f"/designer/new?process_id={PID}&name=语言检查&lang={lang}")
    page.wait_for_function("window.designer && window.modeler")
    page.evaluate("window.designer.ready")
    page.wait_for_selector("#dsg-properties .bio-properties-panel")
    page.evaluate("""() => {
        const modeling = modeler.get('modeling'), registry = modeler.get('elementRegistry');
        const start = registry.get('start') || registry.filter(e => e.type === 'bpmn:StartEvent')[0];
        const task = modeling.appendShape(start, {type: 'bpmn:UserTask'}, {x: start.x + 200, y: start.y + 18});
        modeling.updateProperties(task, {id: 'review', name: '审查', 'camunda:formKey': 'lang_check_review',
                                         'camunda:candidateGroups': 'window'});
        modeler.get('selection').select(task);
    }""")
    page.wait_for_selector("#dsg-properties .bio-properties-panel-header-type")
    return page


def visible_texts(page, selector):
    """Inner text plus the title / placeholder / aria-label attributes under selector."""
    return page.evaluate("""sel => {
        const out = [];
        document.querySelectorAll(sel).forEach(root => {
            out.push(root.innerText);
            root.querySelectorAll('[title],[placeholder],[aria-label]').forEach(e => {
                ['title', 'placeholder', 'aria-label'].forEach(a => { if (e.getAttribute(a)) out.push(e.getAttribute(a)); });
            });
        });
        return out.join('\\n');
    }""", selector)


def test_designer_in_chinese(live_server, browser_page, screenshot_dir):  # noqa: F811
    page = open_designer(live_server, browser_page)
    # palette and properties panel of the selected user task, every group opened
    page.evaluate("""() => document.querySelectorAll('#dsg-properties .bio-properties-panel-group-header')
                          .forEach(h => { if (!h.classList.contains('open')) h.click(); })""")
    page.wait_for_timeout(300)
    palette = visible_texts(page, ".djs-palette")
    panel = visible_texts(page, "#dsg-properties")
    assert "常规" in panel and "办理人分配" in panel, panel
    assert english_words(palette) == [], palette
    assert english_words(panel, {"window", "lang_check_review"}) == [], panel
    # context pad and replace menu of the task
    pad = visible_texts(page, ".djs-context-pad")
    assert "追加" in pad and english_words(pad) == [], pad
    page.evaluate("""() => {
        const task = modeler.get('elementRegistry').get('review');
        modeler.get('popupMenu').open(task, 'bpmn-replace', {x: 400, y: 300});
    }""")
    page.wait_for_selector(".djs-popup")
    menu = visible_texts(page, ".djs-popup")
    assert "用户任务" in menu or "服务任务" in menu, menu
    assert english_words(menu) == [], menu
    page.keyboard.press("Escape")
    # the form editor of the task's new form
    page.wait_for_selector('#dsg-tabs button[data-tab="form:lang_check_review"]')
    page.click('#dsg-tabs button[data-tab="form:lang_check_review"]')
    page.wait_for_selector("#tab-form-lang_check_review .fjs-palette-container")
    page.click("#tab-form-lang_check_review .fjs-form-field")   # select the one field: its properties
    page.wait_for_selector("#tab-form-lang_check_review .bio-properties-panel-group")
    page.wait_for_timeout(300)
    editor = visible_texts(page, "#tab-form-lang_check_review")
    assert "文本框" in editor and "常规" in editor, editor
    assert english_words(editor, {"opinion", "field_opinion", "powered", "by"}) == [], editor
    page.screenshot(path=str(screenshot_dir / "designer-language-zh-form.png"))
    # bpmnlint reports in Chinese (the rule id stays, in brackets)
    page.click('#dsg-tabs button[data-tab="diagram"]')
    page.click("#dsg-check")
    page.wait_for_selector("#dsg-lint li")
    lint = page.inner_text("#dsg-lint")
    assert english_words(re.sub(r"\([a-z-]+\)", "", lint)) == [], lint
    assert not page.errors, page.errors


def test_required_field_error_of_a_portal_form_is_chinese(live_server, browser_page):  # noqa: F811
    page = browser_page("desktop")
    page.goto("/assets/check")
    page.wait_for_selector("body[data-form=ready]")
    page.fill("#taskform input[type=text] >> nth=0", "")
    page.click("#submit")
    page.wait_for_selector("#taskform .fjs-form-field-error")
    errors = page.locator("#taskform .fjs-form-field-error").all_inner_texts()
    assert any("此项为必填项" in e for e in errors), errors
    assert not any("Field is required" in e for e in errors), errors
    text = visible_texts(page, "#taskform")
    assert "Select" not in WORD.findall(text) and "Search" not in WORD.findall(text), text


def test_designer_in_english(live_server, browser_page):  # noqa: F811
    page = open_designer(live_server, browser_page, lang="en")
    panel = visible_texts(page, "#dsg-properties")
    assert "General" in panel, panel
    assert page.inner_text('#dsg-tabs button[data-tab="form:lang_check_review"]').startswith("Form "), \
        page.inner_text("#dsg-tabs")
    page.click("#dsg-check")
    page.wait_for_function("() => /Check|found/.test(document.querySelector('#dsg-status').textContent)",
                           timeout=20_000)
    status = page.inner_text("#dsg-status")
    assert not re.search(r"[\u4e00-\u9fff]", status), status
