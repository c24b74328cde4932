"""Shared sub-processes (processes/lib/, app/engine/library.py) and shared form fragments
(forms/fragments/): a family's common part is one file; a change of it is a new version of each
matter that calls it; a model naming a missing or recursive sub-process is refused."""
import json
import shutil

import pytest

from app.domain.errors import InvalidModel
from app.engine.library import load_library
from app.engine.parser import check_model, parse_xml
from app.extensions import db
from app.models import ProcessVersion
from app.services.cases.registry import deploy_directory, expand_fragments, load_forms, process_library
from tests.conftest import ROOT, make_app

PID = "xmgl_hezhun_bg"
LIB = ROOT / "processes" / "lib"


def _forms():
    forms, problems = load_forms(ROOT / "forms")
    assert problems == []
    return forms


def _model():
    return (ROOT / "processes" / f"{PID}.bpmn").read_bytes()


def test_a_shipped_matter_built_from_the_library_checks_with_its_sub_processes():
    model = check_model(_model(), f"{PID}.bpmn", _forms(), library=load_library(LIB, parse_xml))
    assert set(model.library) == {"lib_window", "lib_evaluation", "lib_countersign", "lib_decision"}
    assert set(model.subprocess_specs) >= set(model.library)
    tasks = {t["id"] for t in model.summary["user_tasks"]}
    assert {"window_review", "correction", "technical_evaluation", "countersign", "chief_review",
            "leader_decision", "division_review"} <= tasks
    assert {"common_window_review", "common_countersign"} <= set(model.form_keys)
    # the deemed steps of the library (视为受理, 视为同意) are the matter's
    assert {"window_review", "countersign"} <= set(model.summary["deemed"])


def test_a_call_to_a_process_that_is_nowhere_is_refused_naming_the_call():
    with pytest.raises(InvalidModel) as exc:
        check_model(_model(), f"{PID}.bpmn", _forms(), library=load_library(LIB / "missing", parse_xml))
    missing = {e["element"] for e in exc.value.errors if "调用的子流程不存在" in e["message"]}
    assert missing == {"call_window", "call_evaluation", "call_countersign", "call_decision"}


def test_a_library_error_names_the_library_file(tmp_path):
    shutil.copytree(LIB, tmp_path / "lib")
    path = tmp_path / "lib" / "lib_decision.bpmn"
    path.write_text(path.read_text(encoding="utf-8").replace('camunda:candidateGroups="leader"',
                                                             'camunda:candidateGroups="nobody_here"'),
                    encoding="utf-8")
    with pytest.raises(InvalidModel) as exc:
        check_model(_model(), f"{PID}.bpmn", _forms(), library=load_library(tmp_path / "lib", parse_xml))
    assert [(e["file"], e["element"]) for e in exc.value.errors] == [("lib/lib_decision.bpmn", "leader_decision")]


def test_a_library_file_whose_process_id_is_not_its_name_is_a_problem(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "lib_other.bpmn").write_bytes((LIB / "lib_window.bpmn").read_bytes())
    lib = load_library(tmp_path / "lib", parse_xml)
    assert "lib_other" not in lib and "lib_window" not in lib
    assert lib.problems[0]["file"] == "lib/lib_other.bpmn"


def test_recursion_through_the_library_is_refused(tmp_path):
    shutil.copytree(LIB, tmp_path / "lib")
    path = tmp_path / "lib" / "lib_decision.bpmn"
    text = path.read_text(encoding="utf-8").replace(
        '<bpmn:userTask id="leader_decision"',
        '<bpmn:callActivity id="again" calledElement="lib_decision"><bpmn:incoming>x</bpmn:incoming>'
        '</bpmn:callActivity><bpmn:userTask id="leader_decision"')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidModel) as exc:
        check_model(_model(), f"{PID}.bpmn", _forms(), library=load_library(tmp_path / "lib", parse_xml))
    assert any("递归" in e["message"] and e["element"] == "again" for e in exc.value.errors)


def test_fragments_expand_in_place_and_an_unknown_one_is_a_problem():
    forms = _forms()
    keys = [c.get("key") for c in forms[f"{PID}_apply"]["components"] if c.get("key")]
    assert keys[:2] == ["project_name", "project_code"]
    assert keys[-2:] == ["involves_state_secret", "commitment"]
    assert "applicant_code" in keys and "original_approval_no" in keys
    problems = []
    out = expand_fragments([{"type": "text", "text": "x"}, {"$fragment": "no_such"}], {}, "t_form", problems)
    assert out == [{"type": "text", "text": "x"}]
    assert "forms/fragments/no_such.json" in problems[0]["message"]
    loop = {"a": [{"$fragment": "a"}]}
    problems = []
    expand_fragments([{"$fragment": "a"}], loop, "t_form", problems)
    assert "循环" in problems[0]["message"]


def _copy_tree(tmp_path):
    shutil.copytree(ROOT / "processes", tmp_path / "processes")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    return tmp_path / "processes", tmp_path / "forms"


def test_one_edit_of_a_shared_part_is_a_new_version_of_every_matter_calling_it(db_url, tmp_path):
    processes, forms = _copy_tree(tmp_path)
    app = make_app(db_url, PROCESSES_DIR=str(processes), FORMS_DIR=str(forms))
    with app.app_context():
        deploy_directory(processes, forms)
        callers = {pid for pid in (p.stem for p in processes.glob("*.bpmn"))
                   if "lib_decision" in (processes / f"{pid}.bpmn").read_text(encoding="utf-8")}
        assert PID in callers
        path = processes / "lib" / "lib_decision.bpmn"
        path.write_text(path.read_text(encoding="utf-8").replace('name="委领导审定"', 'name="委领导审定（集体研究）"'),
                        encoding="utf-8")
        results = {r.process_id: r for r in deploy_directory(processes, forms)}
        assert {pid for pid, r in results.items() if r.created} == callers
        v2 = db.session.query(ProcessVersion).filter_by(process_id=PID, number=2).one()
        assert v2.summary["library"]["lib_decision"] == "lib/lib_decision.bpmn"
        # a shared form fragment changed: every form using it, and so every matter, gets a new version
        frag = forms / "fragments" / "applicant_unit.json"
        doc = json.loads(frag.read_text(encoding="utf-8"))
        doc["components"][1]["label"] = "申请单位全称"
        frag.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        results = {r.process_id: r for r in deploy_directory(processes, forms)}
        assert results[PID].created
        form = db.session.query(ProcessVersion).filter_by(process_id=PID, number=3).one().forms[f"{PID}_apply"]
        assert "申请单位全称" in json.dumps(form, ensure_ascii=False)
    assert process_library(processes).problems == []


def test_a_local_process_may_not_take_the_name_of_a_shared_one():
    xml = _model().decode("utf-8").replace(
        "</bpmn:definitions>",
        '<bpmn:process id="lib_countersign" isExecutable="false"><bpmn:startEvent id="x_start"/></bpmn:process>'
        "</bpmn:definitions>")
    with pytest.raises(InvalidModel) as exc:
        check_model(xml.encode("utf-8"), f"{PID}.bpmn", _forms(), library=load_library(LIB, parse_xml))
    assert [e["element"] for e in exc.value.errors if "重名" in e["message"]] == ["lib_countersign"]
