"""Shapes of files made in other modelers, each written here from the BPMN 2.0 spec and the Camunda 7 /
Flowable docs: service tasks are refused by element (no 500 at deploy, no traceback from the CLI);
manual and plain tasks are inbox tasks of their lane's or the process's group (never a silent stall);
a call activity runs a process of the same file that is not executable, or a matter deployed from
another file (its version pinned); event sub-processes are not unreachable; several executable
processes are each named and the check goes on; flows without ids and JUEL are named."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.domain.errors import InvalidModel
from app.engine.parser import check_model
from app.extensions import db
from app.models import Matter, ProcessVersion, User
from app.services.cases.registry import deploy, deploy_directory, process_library
from app.services.identity.auth import set_password
from tests.conftest import make_app
from tests.fixtures.build import form, matter
from tests.web.api.helpers import Api

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://bpmn.io/schema/bpmn">\n')
START_FORM = form("fs_start", [{"type": "textfield", "key": "title", "label": "标题"}])
STEP_FORM = form("fs_step", [{"type": "textarea", "key": "opinion", "label": "意见"}])
FORMS = {"fs_start": START_FORM, "fs_step": STEP_FORM}


def errors_of(xml: str, **kw) -> list[dict]:
    with pytest.raises(InvalidModel) as exc:
        check_model(xml.encode(), "f.bpmn", FORMS, **kw)
    return exc.value.errors


def chain(pid: str, body: str, flows: list[tuple[str, str]], *, extra: str = "", props: str = "",
          executable: str = "true", after: str = "") -> str:
    fl = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{s}" targetRef="{t}"/>\n' for i, (s, t) in enumerate(flows))
    return (HEAD + f'<bpmn:process id="{pid}" isExecutable="{executable}">{props}{extra}\n'
            f'<bpmn:startEvent id="start" camunda:formKey="fs_start"/>\n{body}\n<bpmn:endEvent id="end"/>\n{fl}'
            f"</bpmn:process>\n{after}</bpmn:definitions>\n")


def test_a_service_task_is_refused_by_element_at_check_and_deploy_never_crashes(app):
    xml = chain("fs_service", '<bpmn:serviceTask id="call_erp" camunda:class="com.acme.Erp"/>',
                [("start", "call_erp"), ("call_erp", "end")])
    errs = errors_of(xml)
    assert [e["element"] for e in errs if "服务任务" in e["message"]] == ["call_erp"]
    with app.app_context():
        with pytest.raises(InvalidModel):
            deploy(xml.encode(), matter("fs_service"), FORMS, filename="fs_service.bpmn")
    for tag in ("sendTask", "businessRuleTask"):
        errs = errors_of(chain("fs_x", f'<bpmn:{tag} id="t1"/>', [("start", "t1"), ("t1", "end")]))
        assert any(e["element"] == "t1" for e in errs)


def test_the_cli_refuses_a_folder_with_a_service_task_without_a_traceback(db_url, tmp_path):
    procs, forms_dir = tmp_path / "p", tmp_path / "f"
    procs.mkdir(), forms_dir.mkdir()
    (procs / "fs_service.bpmn").write_text(chain("fs_service", '<bpmn:serviceTask id="call_erp" camunda:type="external" '
                                                               'camunda:topic="erp"/>',
                                                 [("start", "call_erp"), ("call_erp", "end")]), encoding="utf-8")
    (procs / "fs_service.matter.json").write_text(json.dumps(matter("fs_service"), ensure_ascii=False))
    for fid, f in FORMS.items():
        (forms_dir / f"{fid}.form.json").write_text(json.dumps(f, ensure_ascii=False))
    app = make_app(db_url, PROCESSES_DIR=str(procs), FORMS_DIR=str(forms_dir))
    result = app.test_cli_runner().invoke(args=["processes", "deploy"])
    assert result.exit_code != 0
    assert "call_erp" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


LANES = ('<bpmn:laneSet id="ls"><bpmn:lane id="lane_window" name="窗口">'
         '<bpmn:extensionElements><camunda:properties><camunda:property name="candidateGroups" value="window"/>'
         '</camunda:properties></bpmn:extensionElements><bpmn:flowNodeRef>check_paper</bpmn:flowNodeRef></bpmn:lane>'
         '<bpmn:lane id="lane_other" name="其他"><bpmn:flowNodeRef>file_it</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>')
DEFAULT = ('<bpmn:extensionElements><camunda:properties><camunda:property name="defaultGroup" value="investment"/>'
           '</camunda:properties></bpmn:extensionElements>')


def test_manual_and_plain_tasks_without_people_are_named(app):
    xml = chain("fs_manual", '<bpmn:manualTask id="check_paper" name="核对纸质材料"/><bpmn:task id="file_it" name="归档"/>',
                [("start", "check_paper"), ("check_paper", "file_it"), ("file_it", "end")])
    errs = errors_of(xml)
    assert {e["element"] for e in errs if "未指定办理人" in e["message"]} == {"check_paper", "file_it"}


@pytest.fixture
def api(app):
    a = Api(app)
    a.user("alice", "applicant")
    a.user("w1", groups=["window"])
    a.user("inv", groups=["investment"])
    return a


def deploy_text(app, pid: str, xml: str) -> None:
    with app.app_context():
        deploy(xml.encode(), matter(pid), FORMS, filename=f"{pid}.bpmn", library=process_library(app.config["PROCESSES_DIR"]))
        db.session.commit()


def run_case(api, pid: str, data=None) -> dict:
    r = api.post("alice", "/api/cases", json={"process_id": pid, "data": data or {"title": "t"}})
    assert r.status_code == 201, r.json
    return r.json


def test_manual_and_plain_tasks_are_inbox_tasks_of_their_lane_or_the_default_group(app, api):
    xml = chain("fs_manual", '<bpmn:manualTask id="check_paper" name="核对纸质材料"/><bpmn:task id="file_it" name="归档"/>',
                [("start", "check_paper"), ("check_paper", "file_it"), ("file_it", "end")], extra=LANES, props=DEFAULT)
    deploy_text(app, "fs_manual", xml)
    case = run_case(api, "fs_manual")
    assert [t["element_id"] for t in case["current_tasks"]] == ["check_paper"]
    assert [t["element_id"] for t in api.tasks("w1")] == ["check_paper"] and api.tasks("inv") == []
    # the clerk's task page of a manual task without a form: the step, and a decision with an opinion only
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == "w1")).scalar_one()
        set_password(user, "Manual-task-pass-1")
        db.session.commit()
    web = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").get_data(as_text=True)).group(1)
    assert web.post("/login", data={"username": "w1", "password": "Manual-task-pass-1", "csrf_token": token}).status_code == 302
    page = web.get(f"/inbox/tasks/{api.tasks('w1')[0]['id']}")
    assert page.status_code == 200 and "核对纸质材料" in page.get_data(as_text=True)
    api.complete_first("w1", {}, element="check_paper")
    assert [t["element_id"] for t in api.tasks("inv")] == ["file_it"]  # its lane names nobody: the default group
    done = api.complete_first("inv", {}, element="file_it")
    assert done["end_event"] == "end"


def test_a_called_process_of_the_same_file_may_stay_non_executable(app, api):
    called = ('<bpmn:process id="fs_part" isExecutable="false"><bpmn:startEvent id="p_start"/>'
              '<bpmn:userTask id="p_review" camunda:formKey="fs_step" camunda:candidateGroups="window"/>'
              '<bpmn:endEvent id="p_end"/><bpmn:sequenceFlow id="pf1" sourceRef="p_start" targetRef="p_review"/>'
              '<bpmn:sequenceFlow id="pf2" sourceRef="p_review" targetRef="p_end"/></bpmn:process>\n')
    xml = chain("fs_caller", '<bpmn:callActivity id="call_part" calledElement="fs_part"/>',
                [("start", "call_part"), ("call_part", "end")], after=called)
    deploy_text(app, "fs_caller", xml)
    run_case(api, "fs_caller")
    assert [t["element_id"] for t in api.tasks("w1")] == ["p_review"]
    assert api.complete_first("w1", {"opinion": "好"})["end_event"] == "end"


def test_a_call_activity_runs_a_matter_deployed_from_another_file_pinned_by_version(app, api):
    callee = chain("fs_callee", '<bpmn:userTask id="c_review" camunda:formKey="fs_step" camunda:candidateGroups="window"/>',
                   [("start", "c_review"), ("c_review", "end")])
    caller = chain("fs_outer", '<bpmn:callActivity id="call_callee" calledElement="fs_callee"/>',
                   [("start", "call_callee"), ("call_callee", "end")])
    errs = errors_of(caller)  # not deployed yet: named
    assert any(e["element"] == "call_callee" and "fs_callee" in e["message"] for e in errs)
    deploy_text(app, "fs_callee", callee)
    deploy_text(app, "fs_outer", caller)
    run_case(api, "fs_outer")
    assert [t["element_id"] for t in api.tasks("w1")] == ["c_review"]
    # a new version of the called matter is a new version of the caller on its next deploy
    deploy_text(app, "fs_callee", callee.replace('camunda:formKey="fs_step"', 'camunda:formKey="fs_step" name="复核"'))
    deploy_text(app, "fs_outer", caller)
    with app.app_context():
        assert len(db.session.execute(select(ProcessVersion).where(ProcessVersion.process_id == "fs_outer")).all()) == 2
    assert api.complete_first("w1", {"opinion": "好"})["end_event"] == "end"  # the running case keeps its own


def test_call_cycles_across_deployed_matters_are_refused_at_check(app):
    a = chain("fs_a", '<bpmn:userTask id="a_t" camunda:formKey="fs_step" camunda:candidateGroups="window"/>',
              [("start", "a_t"), ("a_t", "end")])
    deploy_text(app, "fs_a", a)
    b = chain("fs_b", '<bpmn:callActivity id="b_calls_a" calledElement="fs_a"/>', [("start", "b_calls_a"), ("b_calls_a", "end")])
    deploy_text(app, "fs_b", b)
    a2 = chain("fs_a", '<bpmn:callActivity id="a_calls_b" calledElement="fs_b"/>', [("start", "a_calls_b"), ("a_calls_b", "end")])
    with app.app_context():
        with pytest.raises(InvalidModel) as exc:
            deploy(a2.encode(), matter("fs_a"), FORMS, filename="fs_a.bpmn", library=process_library(app.config["PROCESSES_DIR"]))
        assert any(e["element"] == "a_calls_b" and "递归" in e["message"] for e in exc.value.errors)


def test_a_folder_deploys_the_called_matter_before_its_caller(db_url, tmp_path):
    procs, forms_dir = tmp_path / "p", tmp_path / "f"
    procs.mkdir(), forms_dir.mkdir()
    files = {"aa_caller": chain("aa_caller", '<bpmn:callActivity id="c" calledElement="zz_callee"/>',
                                [("start", "c"), ("c", "end")]),
             "zz_callee": chain("zz_callee", '<bpmn:userTask id="t" camunda:formKey="fs_step" camunda:candidateGroups="window"/>',
                                [("start", "t"), ("t", "end")])}
    for pid, xml in files.items():
        (procs / f"{pid}.bpmn").write_text(xml, encoding="utf-8")
        (procs / f"{pid}.matter.json").write_text(json.dumps(matter(pid), ensure_ascii=False))
    for fid, f in FORMS.items():
        (forms_dir / f"{fid}.form.json").write_text(json.dumps(f, ensure_ascii=False))
    app = make_app(db_url, PROCESSES_DIR=str(procs), FORMS_DIR=str(forms_dir))
    with app.app_context():
        results = deploy_directory(procs, forms_dir)
        assert [r.process_id for r in results] == ["zz_callee", "aa_caller"]
        assert db.session.get(Matter, "aa_caller").latest_version.summary["library"] == \
            {"zz_callee": "zz_callee.bpmn（已部署第 1 版）"}


def test_an_event_sub_process_is_not_unreachable_and_runs(app, api):
    sub = ('<bpmn:subProcess id="on_cancel" triggeredByEvent="true">'
           '<bpmn:startEvent id="cancel_start" isInterrupting="true"><bpmn:messageEventDefinition messageRef="m_cancel"/>'
           '</bpmn:startEvent><bpmn:endEvent id="cancel_end"/>'
           '<bpmn:sequenceFlow id="cf" sourceRef="cancel_start" targetRef="cancel_end"/></bpmn:subProcess>')
    xml = chain("fs_evsub", '<bpmn:userTask id="review" camunda:formKey="fs_step" camunda:candidateGroups="window"/>' + sub,
                [("start", "review"), ("review", "end")], after='<bpmn:message id="m_cancel" name="cancel"/>\n')
    with app.app_context():
        check_model(xml.encode(), "f.bpmn", FORMS)  # no "unreachable"
    deploy_text(app, "fs_evsub", xml)
    run_case(api, "fs_evsub")
    done = api.complete_first("w1", {"opinion": "好"})
    assert done["end_event"] == "end" and done["instance_status"] == "complete"


def test_every_extra_executable_process_is_named_and_the_check_goes_on():
    other = ('<bpmn:process id="Process_2" isExecutable="true"><bpmn:startEvent id="s2"/></bpmn:process>\n'
             '<bpmn:process id="Process_3" isExecutable="true"><bpmn:startEvent id="s3"/></bpmn:process>\n')
    xml = chain("fs_many", '<bpmn:userTask id="review" camunda:formKey="nope" camunda:candidateGroups="window"/>',
                [("start", "review"), ("review", "end")], after=other)
    errs = errors_of(xml)
    named = {e["element"] for e in errs}
    assert {"Process_2", "Process_3"} <= named and "review" in named  # the matter's own problems too
    none = errors_of(xml.replace('isExecutable="true"', 'isExecutable="false"'))
    assert {"fs_many", "Process_2", "Process_3"} <= {e["element"] for e in none}


def test_a_process_id_with_hyphens_is_named_and_the_rest_checked():
    xml = chain("WFP-6-demo", '<bpmn:userTask id="review" camunda:formKey="nope" camunda:candidateGroups="window"/>',
                [("start", "review"), ("review", "end")])
    errs = errors_of(xml)
    assert {"WFP-6-demo", "review"} <= {e["element"] for e in errs}


def test_a_flow_without_id_is_named_by_its_ends():
    xml = chain("fs_noid", '<bpmn:userTask id="review" camunda:formKey="fs_step" camunda:candidateGroups="window"/>',
                [("start", "review")]).replace("</bpmn:process>",
                                               '<bpmn:sequenceFlow sourceRef="review" targetRef="end"/></bpmn:process>')
    errs = errors_of(xml)
    assert any(e["element"] == "review" and "review→end" in e["message"] for e in errs)


def test_juel_is_named_with_its_python_translation():
    gw = ('<bpmn:exclusiveGateway id="gw"/><bpmn:userTask id="big" camunda:formKey="fs_step" camunda:candidateGroups="window"/>'
          '<bpmn:userTask id="small" camunda:formKey="fs_step" camunda:assignee="${initiator}"/>')
    xml = (chain("fs_juel", gw, [("start", "gw"), ("big", "end"), ("small", "end")])
           .replace("</bpmn:process>",
                    '<bpmn:sequenceFlow id="to_big" sourceRef="gw" targetRef="big"><bpmn:conditionExpression>'
                    '${amount gt 5}</bpmn:conditionExpression></bpmn:sequenceFlow>'
                    '<bpmn:sequenceFlow id="to_small" sourceRef="gw" targetRef="small"><bpmn:conditionExpression>'
                    '#{myBean.small(amount)}</bpmn:conditionExpression></bpmn:sequenceFlow></bpmn:process>'))
    errs = {e["element"]: e["message"] for e in errors_of(xml)}
    assert "Python" in errs["to_big"] and "amount > 5" in errs["to_big"]
    assert "Python" in errs["to_small"] and "JUEL" in errs["to_small"]
    assert "applicant" in errs["small"]
