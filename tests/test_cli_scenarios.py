"""`flask processes test`: the path tests of deployed matters or of a directory, PASS/FAIL per
scenario with the path and the reason, exit code 1 when anything fails."""
import json
import shutil

from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, ProcessVersion
from tests.conftest import ROOT, deploy_all, make_app

TOTAL = sum(len(json.loads(p.read_text(encoding="utf-8"))["scenarios"])
            for p in ROOT.glob("processes/*.scenarios.json"))


def run(app, *args):
    return app.test_cli_runner().invoke(args=["processes", "test", *args])


def copy_tree(tmp_path):
    shutil.copytree(ROOT / "processes", tmp_path / "processes")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    return tmp_path / "processes"


def test_deployed_matters_all_pass(db_url):
    app = make_app(db_url)
    deploy_all(app)
    result = run(app)
    assert result.exit_code == 0, result.output
    assert "xmgl_hezhun v1\n" in result.output
    assert "  PASS 核准通过（含一次补正） → end_approved\n" in result.output
    assert ("       path: start → window_review → end_rejected_not_accepted\n") in result.output
    assert "FAIL" not in result.output
    assert result.output.endswith(f"{TOTAL} scenarios: {TOTAL} passed, 0 failed\n")
    with app.app_context():  # nothing written: scenarios run in memory
        assert db.session.execute(select(func.count()).select_from(Case)).scalar() == 0


def test_one_deployed_matter_and_an_unknown_one(db_url):
    app = make_app(db_url)
    deploy_all(app)
    result = run(app, "xmgl_beian", "no_such_matter")
    assert result.exit_code == 1
    assert result.output.startswith("xmgl_beian v1\n")
    assert result.output.count("PASS") == 4
    assert "no_such_matter\n  ERROR 事项不存在: no_such_matter\n" in result.output
    assert result.output.endswith("4 scenarios: 4 passed, 0 failed; 1 matter(s) could not be tested\n")


def test_nothing_deployed(db_url):
    app = make_app(db_url)
    result = run(app)
    assert result.exit_code == 1
    assert "nothing to test" in result.output


def test_directory_before_deploying_reports_the_failing_scenario(db_url, tmp_path):
    folder = copy_tree(tmp_path)
    path = folder / "xmgl_beian.scenarios.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["scenarios"][0]["end"] = "end_rejected"
    doc["scenarios"][3]["steps"][0]["task"] = "filing_decision"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    app = make_app(db_url)
    result = run(app, "--dir", str(folder), "--forms", str(tmp_path / "forms"))
    assert result.exit_code == 1
    out = result.output
    assert "  FAIL 予以备案（含一次补正，无需征求意见） → end_approved\n" in out
    assert "       expected end 'end_rejected', reached 'end_approved'\n" in out
    assert "  FAIL 不予受理 → (not ended)\n" in out
    assert ("       step 1 (filing_decision): expected task 'filing_decision' to be ready, "
            "ready were: [window_review]\n") in out
    assert out.endswith(f"{TOTAL} scenarios: {TOTAL - 2} passed, 2 failed\n")
    with app.app_context():  # nothing deployed
        assert db.session.execute(select(func.count()).select_from(ProcessVersion)).scalar() == 0

    only = run(app, "xmgl_hezhun", "--dir", str(folder))
    assert only.exit_code == 0, only.output
    assert only.output.startswith("xmgl_hezhun\n") and "xmgl_beian" not in only.output


def test_directory_with_a_model_that_would_not_deploy(db_url, tmp_path):
    folder = copy_tree(tmp_path)
    model = folder / "xmgl_hezhun.bpmn"
    model.write_bytes(model.read_bytes().replace(b'camunda:candidateGroups="window"',
                                                 b'camunda:candidateGroups="nobody"', 1))
    (folder / "xmgl_beian.scenarios.json").unlink()
    app = make_app(db_url)
    result = run(app, "--dir", str(folder))
    assert result.exit_code == 1
    assert "xmgl_hezhun\n  ERROR 模型有 1 处错误，未部署\n  ERROR xmgl_hezhun.bpmn [window_review] 未知的候选组: nobody\n" \
        in result.output
    assert "xmgl_beian\n  ERROR xmgl_beian.scenarios.json: no scenarios file\n" in result.output
    assert "; 2 matter(s) could not be tested\n" in result.output
