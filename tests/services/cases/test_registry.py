"""Versions by content hash; a running case keeps the version it started on."""
import json
import shutil

from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, ProcessInstance, ProcessVersion
from tests.web.api.helpers import START, Api
from tests.conftest import FIXTURES, deploy_all, make_app


def test_unchanged_files_make_no_new_version(fixture_app):
    first = deploy_all(fixture_app)
    second = deploy_all(fixture_app)
    assert all(r.created for r in first) and not any(r.created for r in second)
    assert [r.content_hash for r in first] == [r.content_hash for r in second]


def test_a_changed_file_is_a_new_version_and_running_cases_keep_theirs(db_url, tmp_path):
    shutil.copytree(FIXTURES / "processes", tmp_path / "processes")
    shutil.copytree(FIXTURES / "forms", tmp_path / "forms")
    app = make_app(db_url, PROCESSES_DIR=str(tmp_path / "processes"), FORMS_DIR=str(tmp_path / "forms"))
    deploy_all(app)
    api = Api(app)
    api.user("alice", "applicant")
    api.user("w1", groups=["window"])
    old_case = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START}).json

    # v2: the window step gets a new name, and its form a new optional field
    bpmn = tmp_path / "processes" / "t_simple.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace('name="窗口审查"', 'name="窗口受理审查"'),
                    encoding="utf-8")
    form_path = tmp_path / "forms" / "t_review.form.json"
    form = json.loads(form_path.read_text(encoding="utf-8"))
    form["components"].append({"type": "textfield", "key": "doc_no", "label": "文号"})
    form_path.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    results = {r.process_id: r for r in deploy_all(app)}
    assert results["t_simple"].created and results["t_simple"].version == 2
    assert results["t_failing"].created  # it uses the same form: its content changed too

    new_case = api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START}).json
    assert new_case["version_id"] == results["t_simple"].version_id != old_case["version_id"]
    names = {t["case_id"]: t["name"] for t in api.tasks("w1")}
    assert names == {old_case["id"]: "窗口审查", new_case["id"]: "窗口受理审查"}
    # the old case still validates against its own (old) form: doc_no is unknown there
    old_task = next(t for t in api.tasks("w1") if t["case_id"] == old_case["id"])
    r = api.post("w1", f"/api/tasks/{old_task['id']}/complete", json={"data": {"decision": "approve", "doc_no": "1"}})
    assert r.status_code == 422 and "doc_no" in r.json["errors"]
    with app.app_context():
        # the spec is stored once per version, never per instance
        assert db.session.execute(select(func.count()).select_from(ProcessVersion).where(
            ProcessVersion.process_id == "t_simple")).scalar() == 2
        assert db.session.execute(select(func.count()).select_from(ProcessInstance)).scalar() == 2
        assert db.session.execute(select(func.count()).select_from(Case)).scalar() == 2
        for inst in db.session.execute(select(ProcessInstance)).scalars():
            assert '"spec"' not in inst.state


def test_a_department_created_by_an_administrator_makes_its_groups_deployable(app):
    import pytest
    from app.domain.errors import InvalidModel
    from app.models import Department
    from app.services.cases.registry import deploy
    from tests.fixtures.build import form, linear_process, matter
    forms = {"t_new_start": form("t_new_start", [{"type": "textfield", "key": "project_name", "label": "名称"}]),
             "t_new_step": form("t_new_step", [{"type": "textfield", "key": "opinion", "label": "意见"}])}
    bpmn = linear_process("t_new", 1, group="tariff_chief").encode()
    with app.app_context():
        with pytest.raises(InvalidModel) as err:
            deploy(bpmn, matter("t_new"), forms, filename="t_new.bpmn")
        assert [e["element"] for e in err.value.errors] == ["task_1"]
        db.session.add(Department(code="tariff", name="关税处", region_code="320000", kind="division", active=True))
        db.session.flush()
        assert deploy(bpmn, matter("t_new"), forms, filename="t_new.bpmn").version == 1
        db.session.rollback()
