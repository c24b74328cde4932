"""Command line: deploying processes/ (all or nothing) and importing a calendar year."""
import shutil

from sqlalchemy import func, select

from app.extensions import db
from app.models import CalendarYear, ProcessVersion
from tests.conftest import FIXTURES, ROOT, make_app


def test_processes_deploy_reports_element_errors_and_deploys_nothing(db_url, tmp_path):
    shutil.copytree(FIXTURES / "processes", tmp_path / "processes")
    shutil.copytree(FIXTURES / "forms", tmp_path / "forms")
    broken = tmp_path / "processes" / "t_simple.bpmn"
    broken.write_text(broken.read_text(encoding="utf-8").replace(
        "score = amount * 2", "import os\nscore = amount * 2"), encoding="utf-8")
    app = make_app(db_url, PROCESSES_DIR=str(tmp_path / "processes"), FORMS_DIR=str(tmp_path / "forms"))
    result = app.test_cli_runner().invoke(args=["processes", "deploy"])
    assert result.exit_code == 1
    assert "t_simple.bpmn [prepare]" in result.output and "import" in result.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ProcessVersion)).scalar() == 0


def test_processes_deploy_then_unchanged(db_url):
    app = make_app(db_url)
    shipped = len(list((ROOT / "processes").glob("*.bpmn")))
    first = app.test_cli_runner().invoke(args=["processes", "deploy"])
    assert first.exit_code == 0 and first.output.count(" new") == shipped
    again = app.test_cli_runner().invoke(args=["processes", "deploy"])
    assert again.output.count("unchanged") == shipped


def test_calendar_import_command(db_url, tmp_path):
    app = make_app(db_url)
    bad = tmp_path / "bad.csv"
    bad.write_text("2027-01-04,workday,周一上班\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["calendar", "import", "2027", str(bad)])
    assert result.exit_code == 1 and "Saturday or Sunday" in result.output
    good = tmp_path / "2027.csv"
    good.write_text("2027-01-01,holiday,元旦\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["calendar", "import", "2027", str(good)])
    assert result.exit_code == 0
    with app.app_context():
        assert db.session.get(CalendarYear, 2027).source == "import"
