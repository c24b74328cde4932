"""The designer pages (issue 6): who may use them, the check endpoint (exact element ids, nothing
deployed), deploy (files written atomically into PROCESSES_DIR / FORMS_DIR, a version recorded with
the designer's name), camunda:* extensions kept byte for byte, bad input answered without a 500."""
from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import ProcessVersion, User
from app.services.identity.auth import set_password
from tests.conftest import ROOT, add_user, deploy_all, make_app

PASSWORD = "correct horse battery"
PID = "dsg_test"
START_FORM = "xmgl_beian_apply"
REVIEW_FORM = "xmgl_beian_window_review"


@pytest.fixture
def dirs(tmp_path):
    processes, forms = tmp_path / "processes", tmp_path / "forms"
    processes.mkdir()
    shutil.copytree(ROOT / "forms", forms)
    for suffix in (".bpmn", ".matter.json"):
        shutil.copy(ROOT / "processes" / f"xmgl_beian{suffix}", processes)
    return processes, forms


def designer_app(db_url, processes_dir, forms_dir, **config):
    """The shipped matters deployed from copies the designer may write, with a designer (d1), an
    administrator (adm), a window clerk (w1) and an applicant (alice), all with PASSWORD."""
    app = make_app(db_url, PROCESSES_DIR=str(processes_dir), FORMS_DIR=str(forms_dir), **config)
    deploy_all(app)
    for name, groups, kind in (("d1", ["designer"], "staff"), ("adm", ["admin"], "staff"),
                               ("w1", ["window"], "staff"), ("alice", [], "applicant")):
        add_user(app, name, kind, groups)
    with app.app_context():
        for user in db.session.execute(select(User)).scalars():
            set_password(user, PASSWORD)
        db.session.commit()
    return app


@pytest.fixture
def app(db_url, dirs):
    app = designer_app(db_url, dirs[0], dirs[1])
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app, username):
    c = app.test_client()
    token = csrf(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    c.csrf = csrf(c.get("/account/security").get_data(as_text=True))  # the session's token after sign-in
    return c


def post(c, url, payload, **kw):
    headers = {"X-CSRF-Token": c.csrf, "Accept": "application/json"}
    return c.post(url, data=json.dumps(payload) if not isinstance(payload, (bytes, str)) else payload,
                  content_type="application/json", headers=headers, **kw)


def bpmn(body: str, pid: str = PID, start_attrs: str = f'camunda:formKey="{START_FORM}"') -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{pid}" name="设计器测试" isExecutable="true">
    <bpmn:startEvent id="start" name="提交" {start_attrs} />
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="review" />
    <bpmn:userTask id="review" name="审查" camunda:formKey="{REVIEW_FORM}" camunda:candidateGroups="window" />
    {body}
    <bpmn:endEvent id="end" name="办结" />
  </bpmn:process>
</bpmn:definitions>"""


VALID = bpmn('<bpmn:sequenceFlow id="f_end" sourceRef="review" targetRef="end" />')


def via(element: str, node: str) -> str:
    """review → <node> → end"""
    return (f'<bpmn:sequenceFlow id="f_in" sourceRef="review" targetRef="{element}" />{node}'
            f'<bpmn:sequenceFlow id="f_out" sourceRef="{element}" targetRef="end" />')


BROKEN = {
    "unquoted timer literal": ("wait_timer", "必须加引号", via(
        "wait_timer", '<bpmn:intermediateCatchEvent id="wait_timer"><bpmn:timerEventDefinition id="td">'
                      '<bpmn:timeDuration>P5D</bpmn:timeDuration></bpmn:timerEventDefinition>'
                      '</bpmn:intermediateCatchEvent>')),
    "script with import os": ("bad_script", "脚本", via(
        "bad_script", '<bpmn:scriptTask id="bad_script" scriptFormat="python"><bpmn:script>import os\n'
                      'x = os.getcwd()</bpmn:script></bpmn:scriptTask>')),
    "user task without form": ("no_form", "没有表单", via(
        "no_form", '<bpmn:userTask id="no_form" name="无表单" camunda:candidateGroups="window" />')),
    "unknown group": ("bad_group", "未知的候选组", via(
        "bad_group", f'<bpmn:userTask id="bad_group" camunda:formKey="{REVIEW_FORM}" '
                     f'camunda:candidateGroups="no_such_group" />')),
    "unreachable element": ("orphan", "无法到达", '<bpmn:sequenceFlow id="f_end" sourceRef="review" targetRef="end" />'
                            '<bpmn:task id="orphan" name="孤立" />'
                            '<bpmn:sequenceFlow id="f_orphan" sourceRef="orphan" targetRef="end" />'),
    "complex gateway": ("cgw", "复杂网关", via("cgw", '<bpmn:complexGateway id="cgw" />')),
}


def matter(pid: str = PID) -> dict:
    data = json.loads((ROOT / "processes" / "xmgl_beian.matter.json").read_text("utf-8"))
    return dict(data, process_id=pid, name="设计器测试事项")


def payload(xml: str = VALID, pid: str = PID, forms: dict | None = None, meta: dict | None = None) -> dict:
    return {"process_id": pid, "bpmn": xml, "matter": meta if meta is not None else matter(pid),
            "forms": forms or {}}


def versions(app, pid=PID) -> list[ProcessVersion]:
    with app.app_context():
        return list(db.session.execute(select(ProcessVersion).where(ProcessVersion.process_id == pid)
                                       .order_by(ProcessVersion.number)).scalars())


def snapshot(dirs) -> dict:
    return {p.relative_to(d.parent).as_posix(): p.read_bytes() for d in dirs for p in sorted(d.rglob("*"))
            if p.is_file()}


# -- who may use the designer ------------------------------------------------------------------------
def test_pages_need_the_designer_or_admin_role(app):
    anonymous = app.test_client()
    assert anonymous.get("/designer").status_code == 302
    for name in ("w1", "alice"):
        c = signed_in(app, name)
        for url in ("/designer", "/designer/xmgl_beian", "/designer/new?process_id=abc",
                    f"/designer/forms/{START_FORM}"):
            assert c.get(url).status_code == 403, (name, url)
        assert post(c, "/designer/check", payload()).status_code == 403
        assert post(c, "/designer/deploy", payload()).status_code == 403
    for name in ("d1", "adm"):
        c = signed_in(app, name)
        page = c.get("/designer")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "xmgl_beian" in html and "v1" in html and 'class="running">0<' in html
        assert "流程设计" in html  # the nav link
    assert versions(app) == []


def test_posts_need_the_csrf_token(app):
    c = signed_in(app, "d1")
    r = c.post("/designer/check", data=json.dumps(payload()), content_type="application/json")
    assert r.status_code == 400


def test_the_editor_opens_the_latest_version_with_its_forms(app):
    c = signed_in(app, "d1")
    html = c.get("/designer/xmgl_beian").get_data(as_text=True)
    data = json.loads(re.search(r'id="designer-data">(.*?)</script>', html, re.S).group(1))
    stored = (ROOT / "processes" / "xmgl_beian.bpmn").read_text("utf-8")
    assert data["bpmn"] == stored and data["process_id"] == "xmgl_beian" and data["version"] == 1
    assert START_FORM in data["forms"] and data["matter"]["process_id"] == "xmgl_beian"
    assert "/vendor/camunda-platform-modeler.js" in html and "/vendor/bpmnlint.js" in html
    assert c.get("/designer/no_such_matter").status_code == 404
    assert c.get(f"/designer/forms/{START_FORM}").json["id"] == START_FORM
    assert c.get("/designer/forms/nope").status_code == 404


def test_new_makes_an_executable_diagram_with_a_start_event(app):
    c = signed_in(app, "d1")
    assert "流程标识" in c.get("/designer/new").get_data(as_text=True)
    r = c.get("/designer/new?process_id=brand_new&name=新事项")
    assert r.status_code == 200
    data = json.loads(re.search(r'id="designer-data">(.*?)</script>', r.get_data(as_text=True), re.S).group(1))
    assert data["new"] is True
    assert 'isExecutable="true"' in data["bpmn"] and 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"' in data["bpmn"]
    assert '<bpmn:startEvent id="start"' in data["bpmn"] and "brand_new_apply" in data["forms"]
    # the check of the fresh diagram names what is left to do (no end event, metadata), not a crash
    errors = post(c, "/designer/check", {"process_id": "brand_new", "bpmn": data["bpmn"],
                                         "matter": data["matter"], "forms": data["forms"]}).json["errors"]
    assert any("没有结束事件" in e["message"] for e in errors)
    assert any(e["file"] == "brand_new.matter.json" for e in errors)
    for bad in ("1abc", "a-b", "x" * 65):
        assert c.get(f"/designer/new?process_id={bad}").status_code == 422
    assert c.get("/designer/new?process_id=xmgl_beian").status_code == 409


# -- the check endpoint ------------------------------------------------------------------------------
def test_a_valid_model_checks_clean(app):
    c = signed_in(app, "d1")
    r = post(c, "/designer/check", payload())
    assert r.status_code == 200 and r.json == {"ok": True, "errors": []}


@pytest.mark.parametrize("case", list(BROKEN))
def test_check_reports_the_exact_element_and_deploys_nothing(app, dirs, case):
    element, words, body = BROKEN[case]
    c = signed_in(app, "d1")
    before = snapshot(dirs)
    r = post(c, "/designer/check", payload(bpmn(body)))
    assert r.status_code == 200 and r.json["ok"] is False
    assert {e["element"] for e in r.json["errors"]} == {element}, r.json
    assert any(words in e["message"] for e in r.json["errors"]), r.json
    assert all(e["file"] == f"{PID}.bpmn" for e in r.json["errors"])
    r = post(c, "/designer/deploy", payload(bpmn(body)))
    assert r.status_code == 422 and {e["element"] for e in r.json["errors"]} == {element}
    assert versions(app) == [] and snapshot(dirs) == before


def test_every_problem_at_once(app):
    c = signed_in(app, "d1")
    body = "".join(b.replace('id="f_in"', f'id="f_in_{el}"').replace('id="f_out"', f'id="f_out_{el}"')
                   for el, _, b in BROKEN.values())
    errors = post(c, "/designer/check", payload(bpmn(body))).json["errors"]
    assert {e["element"] for e in errors} == {el for el, _, _ in BROKEN.values()}


def test_forms_and_metadata_are_checked_too(app):
    c = signed_in(app, "d1")
    xml = bpmn('<bpmn:sequenceFlow id="f_end" sourceRef="review" targetRef="end" />').replace(
        REVIEW_FORM, "dsg_missing_form")
    errors = post(c, "/designer/check", payload(xml)).json["errors"]
    assert [e["element"] for e in errors] == ["review"] and "表单不存在" in errors[0]["message"]
    # a posted form that is broken, and metadata without a name
    bad_form = {"id": "dsg_missing_form", "components": [{"type": "textfield", "key": "bad key"}]}
    meta = dict(matter(), name="")
    errors = post(c, "/designer/check", payload(xml, forms={"dsg_missing_form": bad_form}, meta=meta)).json["errors"]
    files = {e["file"] for e in errors}
    assert files == {"dsg_missing_form.form.json", f"{PID}.matter.json"}, errors


@pytest.mark.parametrize("xml, words", [
    ("<not xml", "XML"),
    ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>', "DOCTYPE"),
    ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
     '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&b;</bpmn:definitions>', ""),
    ("<x/>", "bpmn:definitions"),
])
def test_bad_xml_is_a_clear_error(app, xml, words):
    c = signed_in(app, "d1")
    r = post(c, "/designer/check", payload(xml))
    assert r.status_code == 200 and r.json["ok"] is False
    assert words in r.json["errors"][0]["message"] and r.json["errors"][0]["element"] is None
    assert "passwd" not in json.dumps(r.json) or words == "DOCTYPE"
    assert post(c, "/designer/deploy", payload(xml)).status_code == 422
    assert versions(app) == []


def test_bad_requests_are_refused_without_a_500(app, dirs):
    c = signed_in(app, "d1")
    before = snapshot(dirs)
    for body in ([], "null", "{", {"bpmn": VALID}, dict(payload(), process_id="../etc"),
                 dict(payload(), bpmn=5), dict(payload(), matter=[1]), dict(payload(), forms=[]),
                 dict(payload(), forms={"../../x": {}}), dict(payload(), forms={"ok_id": "text"}),
                 dict(payload(), forms={f"f{i}": {} for i in range(60)})):
        for url in ("/designer/check", "/designer/deploy"):
            r = post(c, url, body)
            assert r.status_code == 422, (url, body, r.status_code, r.get_data(as_text=True)[:200])
    big = payload(VALID.replace("<bpmn:endEvent", "<!--" + "x" * (1024 * 1024) + "--><bpmn:endEvent"))
    assert post(c, "/designer/check", big).status_code == 422
    huge = payload(VALID.replace("<bpmn:endEvent", "<!--" + "x" * (3 * 1024 * 1024) + "--><bpmn:endEvent"))
    assert post(c, "/designer/check", huge).status_code == 413
    assert post(c, "/designer/check", "x\u0000").status_code == 422
    assert versions(app) == [] and snapshot(dirs) == before


# -- deploy ------------------------------------------------------------------------------------------
def test_deploy_writes_the_files_and_records_a_version(app, dirs):
    processes, forms = dirs
    c = signed_in(app, "d1")
    new_form = {"id": "dsg_test_review", "type": "default",
                "components": [{"type": "textarea", "key": "opinion", "label": "意见", "id": "Field_1"}]}
    xml = VALID.replace(REVIEW_FORM, "dsg_test_review")
    r = post(c, "/designer/deploy", payload(xml, forms={"dsg_test_review": new_form,
                                                               "unused_form": dict(new_form, id="unused_form")}))
    assert r.status_code == 200, r.json
    assert r.json["ok"] and r.json["created"] and r.json["version"] == 1
    assert r.json["files"] == ["dsg_test.bpmn", "dsg_test.matter.json", "dsg_test_review.form.json"]
    assert (processes / "dsg_test.bpmn").read_text("utf-8") == xml
    assert json.loads((processes / "dsg_test.matter.json").read_text("utf-8")) == matter()
    assert json.loads((forms / "dsg_test_review.form.json").read_text("utf-8")) == new_form
    assert not (forms / "unused_form.form.json").exists()
    assert not [p for d in dirs for p in d.iterdir() if p.name.startswith(".")]  # no temp files left
    (v1,) = versions(app)
    assert v1.deployed_by == "d1" and v1.number == 1
    # the same content again: no new version, nothing rewritten
    r = post(c, "/designer/deploy", payload(xml, forms={"dsg_test_review": new_form}))
    assert r.status_code == 200 and r.json["created"] is False and r.json["files"] == []
    # a change: version 2 by the administrator, with its diff on the list page
    admin = signed_in(app, "adm")
    r = post(admin, "/designer/deploy", payload(xml.replace('name="审查"', 'name="复审"'),
                                               forms={"dsg_test_review": new_form}))
    assert r.status_code == 200 and r.json["version"] == 2 and r.json["files"] == ["dsg_test.bpmn"]
    assert r.json["diff_counts"]["elements"] == {"added": 0, "removed": 0, "changed": 1}
    assert [(v.number, v.deployed_by) for v in versions(app)] == [(1, "d1"), (2, "adm")]
    html = c.get("/designer").get_data(as_text=True)
    section = html[html.index('id="matter-dsg_test"'):]
    assert "v2" in section and "adm" in section and "d1" in section and "~1" in section
    # and the directory deploy reads the written files back as the same version
    with app.app_context():
        from app.services.cases.registry import deploy_directory
        results = deploy_directory(processes, forms)
    assert {(r.process_id, r.created) for r in results} == {("xmgl_beian", False), ("dsg_test", False)}


def test_a_failed_write_changes_nothing(app, dirs, monkeypatch):
    import app.services.design.deploy as designer
    c = signed_in(app, "d1")
    (dirs[0] / "dsg_test.bpmn").write_text("old content", "utf-8")  # a file being replaced
    before = snapshot(dirs)
    real, calls = os.replace, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(designer.os, "replace", failing)
    xml = VALID.replace(REVIEW_FORM, "dsg_new_form")
    new_form = {"id": "dsg_new_form", "components": [{"type": "textfield", "key": "x", "label": "x"}]}
    r = post(c, "/designer/deploy", payload(xml, forms={"dsg_new_form": new_form}))
    monkeypatch.undo()
    assert r.status_code == 409 and "未部署" in r.json["message"]
    assert snapshot(dirs) == before
    assert versions(app) == []


def test_camunda_extensions_round_trip(app, dirs):
    """A file saved with camunda:* extensions is stored and written back byte for byte."""
    c = signed_in(app, "d1")
    xml = VALID.replace(
        '<bpmn:userTask id="review" name="审查" camunda:formKey="xmgl_beian_window_review" camunda:candidateGroups="window" />',
        '<bpmn:userTask id="review" name="审查" camunda:formKey="xmgl_beian_window_review" camunda:candidateGroups="window"'
        ' camunda:asyncBefore="true" camunda:priority="50" camunda:dueDate="${due}" camunda:followUpDate="${due}">'
        '<bpmn:extensionElements><camunda:properties><camunda:property name="caseStatus" value="received" />'
        '<camunda:property name="limitDays" value="2" /><camunda:property name="action" value="receive" />'
        '<camunda:property name="custom_note" value="保留我" /></camunda:properties>'
        '<camunda:taskListener event="create" delegateExpression="${noop}" />'
        '</bpmn:extensionElements></bpmn:userTask>')
    assert post(c, "/designer/check", payload(xml)).json == {"ok": True, "errors": []}
    assert post(c, "/designer/deploy", payload(xml)).status_code == 200
    written = (dirs[0] / "dsg_test.bpmn").read_text("utf-8")
    assert written == xml
    html = c.get("/designer/dsg_test").get_data(as_text=True)
    data = json.loads(re.search(r'id="designer-data">(.*?)</script>', html, re.S).group(1))
    assert data["bpmn"] == xml
    for ext in ('camunda:asyncBefore="true"', 'camunda:priority="50"', "camunda:taskListener",
                'name="custom_note" value="保留我"'):
        assert ext in data["bpmn"]
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ProcessVersion)
                                  .where(ProcessVersion.process_id == PID)).scalar() == 1


def test_the_index_lists_the_shared_sub_processes_with_the_matters_calling_them(db_url, tmp_path):
    import shutil as sh
    processes, forms = tmp_path / "p", tmp_path / "f"
    sh.copytree(ROOT / "processes", processes)
    sh.copytree(ROOT / "forms", forms)
    app = designer_app(db_url, processes, forms)
    c = signed_in(app, "d1")
    page = c.get("/designer").get_data(as_text=True)
    assert 'id="library"' in page
    row = re.search(r'<tr class="lib" data-process-id="lib_window">.*?</tr>', page, re.S).group(0)
    assert "lib/lib_window.bpmn" in row and "xmgl_hezhun_bg" in row
    # a matter of a family opens, checks and deploys in the designer with the library behind it
    doc = c.get("/designer/xmgl_hezhun_bg").get_data(as_text=True)
    assert "lib_window" in doc
    pid = "xmgl_hezhun_bg"
    body = {"process_id": pid, "bpmn": (processes / f"{pid}.bpmn").read_text("utf-8").replace(
                'name="处室审查"', 'name="处室审查（变更）"'),
            "matter": json.loads((processes / f"{pid}.matter.json").read_text("utf-8")), "forms": {}}
    assert post(c, "/designer/check", body).json == {"ok": True, "errors": []}
    r = post(c, "/designer/deploy", body)
    assert r.status_code == 200 and r.json["version"] == 2, r.json
