"""``flask processes import FILE``: the import assistant on the command line — the findings listed,
the defaults (and chosen values) applied, the deploy check's verdict as the exit code, ``--write``
putting the result where ``flask processes deploy`` deploys it, never over a different file."""
from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ROOT, make_app
from tests.web.designer.test_import_assistant_api import FILE, PID


@pytest.fixture
def setup(db_url, tmp_path):
    processes, forms = tmp_path / "processes", tmp_path / "forms"
    processes.mkdir()
    shutil.copytree(ROOT / "forms", forms)
    source = tmp_path / "leave.bpmn"
    source.write_text(FILE, encoding="utf-8")
    app = make_app(db_url, PROCESSES_DIR=str(processes), FORMS_DIR=str(forms))
    return app, source, processes, forms


def run(app, *args):
    return app.test_cli_runner().invoke(args=["processes", "import", *map(str, args)])


def test_findings_are_listed_and_nothing_is_written(setup):
    app, source, processes, forms = setup
    before = sorted(p.name for p in forms.iterdir())
    result = run(app, source)
    assert result.exit_code == 1, result.output  # the file as it is does not pass the check
    for line in ("process_id:WFP-6-Leave", "start_form:StartEvent_1", "people:Task_approve", "→ WFP_6_Leave",
                 "部署检查"):
        assert line in result.output, line
    assert list(processes.iterdir()) == [] and sorted(p.name for p in forms.iterdir()) == before
    assert run(app, source, "--write").exit_code == 1 and list(processes.iterdir()) == []


def test_defaults_write_and_deploy(setup):
    app, source, processes, forms = setup
    result = run(app, source, "--defaults", "--write")
    assert result.exit_code == 0, result.output
    assert "已修复 (applied): " in result.output and "process_id:WFP-6-Leave" in result.output
    assert sorted(p.name for p in processes.iterdir()) == [f"{PID}.bpmn", f"{PID}.matter.json"]
    start_form = json.loads((forms / f"{PID}_StartEvent_1.form.json").read_text("utf-8"))
    assert start_form["id"] == f"{PID}_StartEvent_1" and start_form["components"][0]["key"] == "days"
    assert (forms / f"{PID}_Task_approve.form.json").exists()
    deployed = app.test_cli_runner().invoke(args=["processes", "deploy"])
    assert deployed.exit_code == 0 and PID in deployed.output and " new" in deployed.output, deployed.output
    # the same again: identical files are fine; a different file is never overwritten
    assert run(app, source, "--defaults", "--write").exit_code == 0
    meta = processes / f"{PID}.matter.json"
    meta.write_text(meta.read_text("utf-8").replace("TBD", "0001720160"), encoding="utf-8")
    assert run(app, source, "--defaults", "--write").exit_code == 0  # the metadata is only written when absent
    bpmn = processes / f"{PID}.bpmn"
    bpmn.write_text(bpmn.read_text("utf-8").replace("请假审批", "请假"), encoding="utf-8")
    result = run(app, source, "--defaults", "--write")
    assert result.exit_code == 1 and "已有不同的文件" in result.output
    assert "请假审批" not in bpmn.read_text("utf-8")


def test_accept_with_a_value_and_the_group(setup):
    app, source, processes, forms = setup
    result = run(app, source, "--defaults", "--group", "price", "--accept", "process_id:WFP-6-Leave=leave_cli",
                 "--write")
    assert result.exit_code == 0, result.output
    text = (processes / "leave_cli.bpmn").read_text("utf-8")
    assert '<bpmn:process id="leave_cli"' in text and 'camunda:candidateGroups="price"' in text
    assert (forms / "leave_cli_Task_approve.form.json").exists()


def test_bad_arguments_are_refused_with_a_message(setup, tmp_path):
    app, source, processes, forms = setup
    result = run(app, source, "--defaults", "--group", "nobody")
    assert result.exit_code == 1 and "未知的候选组" in result.output
    result = run(app, source, "--accept", "no:such")
    assert result.exit_code == 1 and "no:such" in result.output
    result = run(app, tmp_path / "missing.bpmn")
    assert result.exit_code == 2 and "无法读取" in result.output
    junk = tmp_path / "junk.bpmn"
    junk.write_text("<html/>", encoding="utf-8")
    result = run(app, junk)
    assert result.exit_code == 1 and "无法导入" in result.output
    assert list(processes.iterdir()) == []
