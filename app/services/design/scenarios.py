"""Scenario (path) tests of matters: of a deployed matter's latest version, or of the files of a
directory before they are deployed. The scenarios run in memory (app.engine.scenarios): nothing is
written, no case is made. Each scenario runs at its own fixed "now" (default a working day), with
the working-day helpers over the stored calendar, so results do not depend on today."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from ...domain.errors import InvalidModel, NotFound
from ...domain.workdays import WorkCalendar
from ...engine.scenarios import ScenarioResult, package_calendar, run_scenario, run_scenarios
from ...extensions import db
from ..cases.registry import get_matter, known_groups, list_matters, load_forms, process_library
from ..cases.steps import spec_pair
from ..clocks.calendar import current_calendar


@dataclass
class MatterReport:
    process_id: str
    results: list[ScenarioResult] = field(default_factory=list)
    version: int | None = None      # the deployed version tested (None: files of a directory)
    errors: list[str] = field(default_factory=list)  # why the scenarios could not run at all

    @property
    def passed(self) -> bool:
        return not self.errors and all(r.passed for r in self.results)


def _calendar() -> WorkCalendar:
    """The stored working-day calendar; the chinesecalendar package's when none is stored (a fresh
    database), so directory tests also run before anything is set up."""
    try:
        cal = current_calendar()
    except SQLAlchemyError:
        db.session.rollback()
        return package_calendar()
    return cal if cal.years else package_calendar()


def _known_groups():
    try:
        return known_groups()
    except SQLAlchemyError:
        db.session.rollback()
        return None  # the code set of app.domain.groups


def _time_limit() -> int:
    return current_app.config.get("SCRIPT_TIME_LIMIT_MS", 1000)


def load_scenarios(path: Path) -> tuple[list | None, str | None]:
    """The scenarios of a ``<id>.scenarios.json``: (list, None) or (None, problem)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{path.name}: no scenarios file"
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"{path.name}: not valid JSON: {exc}"
    scenarios = doc.get("scenarios") if isinstance(doc, dict) else None
    if not isinstance(scenarios, list) or not all(isinstance(s, dict) for s in scenarios):
        return None, f'{path.name}: expected {{"scenarios": [{{…}}, …]}}'
    return scenarios, None


def test_matter(process_id: str, scenarios_dir: str | Path | None = None) -> MatterReport:
    """Run the scenarios of ``<scenarios_dir>/<id>.scenarios.json`` (default PROCESSES_DIR) against
    the deployed latest version of the matter. Raises NotFound for a matter not deployed."""
    matter = get_matter(process_id)
    version = matter.latest_version
    report = MatterReport(process_id, version=version.number)
    folder = Path(scenarios_dir or current_app.config["PROCESSES_DIR"])
    scenarios, problem = load_scenarios(folder / f"{process_id}.scenarios.json")
    if problem:
        report.errors.append(problem)
        return report
    pair = spec_pair(version)
    start_form = (version.summary or {}).get("start_form")
    calendar = _calendar()
    report.results = [run_scenario(pair, sc, forms=version.forms, start_form=start_form, calendar=calendar,
                                   time_limit_ms=_time_limit()) for sc in scenarios]
    return report


test_matter.__test__ = False  # not a pytest test


def test_directory(processes_dir: str | Path, forms_dir: str | Path, only: list[str] | None = None) -> list[MatterReport]:
    """Check and run the scenarios of every ``*.bpmn`` of ``processes_dir`` (or of the ids in
    ``only``) with the forms of ``forms_dir``, without deploying anything. A model that would not
    deploy is reported with its errors (file, element, message)."""
    folder = Path(processes_dir)
    forms, form_problems = load_forms(forms_dir)
    ids = sorted(p.stem for p in folder.glob("*.bpmn"))
    wanted = list(dict.fromkeys(only)) if only else ids
    calendar, groups = _calendar(), _known_groups()
    library = process_library(folder)
    reports = []
    for pid in wanted:
        report = MatterReport(pid)
        reports.append(report)
        path = folder / f"{pid}.bpmn"
        if not path.is_file():
            report.errors.append(f"{path.name}: no such process file in {folder}")
            continue
        scenarios, problem = load_scenarios(folder / f"{pid}.scenarios.json")
        if problem:
            report.errors.append(problem)
            continue
        try:
            report.results = run_scenarios(path.read_bytes(), forms, {"scenarios": scenarios}, filename=path.name,
                                           known_groups=groups, calendar=calendar, time_limit_ms=_time_limit(),
                                           library=library)
        except InvalidModel as exc:
            report.errors.append(exc.message)
            report.errors += [f"{e['file']} [{e['element'] or '-'}] {e['message']}"
                              for e in exc.errors + form_problems + library.problems]
    return reports


test_directory.__test__ = False


def test_deployed(only: list[str] | None = None) -> list[MatterReport]:
    """test_matter for the given ids, or for every deployed matter; an id not deployed is reported."""
    ids = list(dict.fromkeys(only)) if only else [m.process_id for m in list_matters()]
    reports = []
    for pid in ids:
        try:
            reports.append(test_matter(pid))
        except NotFound as exc:
            reports.append(MatterReport(pid, errors=[exc.message]))
    return reports


test_deployed.__test__ = False
