"""Scenario (path) tests of a matter, run in memory: no database, no case, no projections.

A scenario (``processes/<id>.scenarios.json``, ``{"scenarios": [...]}``) is::

    {"name": "…", "start": {start form data}, "steps": [{"task": "<user task id>", "data": {…}}, …],
     "end": "<end event id>", "status": "<case status>" (optional), "now": "<ISO datetime>" (optional),
     "applicant": "<user name>" (optional), "platform_level": "province" | "city" | "county" (optional)}

A step may instead deliver a message the process waits for: ``{"message": "<name>", "data": {payload}}``
(e.g. the upper level's ``result`` after a 转报). ``platform_level`` is the level of the platform that
runs the case in the 省市县 network (the process variable ``platform_level``; default ``province``).

The workflow is started with ``start`` (validated against the start form), then each step completes
the ready user task with that element id, its data validated against the task's form; a
multi-instance task (会签) takes one step per instance, in the order the instances become ready.
Timers are never fired: a scenario describes what people decide. The result tells whether the
expected end event (and case status) was reached, the path taken, and otherwise exactly why not.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.util.task import TaskState

from ..domain.errors import ValidationError
from .forms import validate_submission
from .parser import CheckedModel, check_model
from .runtime import Engine, NoSuchWaitingMessage, StepResult

BEIJING = ZoneInfo("Asia/Shanghai")
#: the default "now" of a scenario: Monday 2 March 2026, 09:00 Beijing, a working day
DEFAULT_NOW = datetime(2026, 3, 2, 9, 0, tzinfo=BEIJING)
DEFAULT_APPLICANT = "scenario_applicant"
REGION_LEVELS = ("province", "city", "county")
MIN_YEAR, MAX_YEAR = 1970, 2199  # a scenario's "now": deadlines computed from it must stay representable
_GATEWAYS = (ExclusiveGateway, InclusiveGateway, ParallelGateway)


@dataclass
class ScenarioResult:
    name: str
    passed: bool
    path: list[str]                 # element ids of the tasks and events completed, in order
    end_event: str | None           # the end event reached (None: the process did not end)
    expected_end: str | None
    message: str | None = None      # why it failed (None when passed)
    status: str | None = None       # the last case status the model set
    expected_status: str | None = None
    ready: list[str] = field(default_factory=list)  # user tasks ready when the scenario stopped

    def to_dict(self) -> dict:
        return asdict(self)


class ScenarioClock:
    """The fixed "now" a scenario runs at (timers and the time helpers read it)."""

    def __init__(self, moment: datetime = DEFAULT_NOW):
        self.current = moment

    def __call__(self) -> datetime:
        return self.current


def package_calendar():
    """The working-day calendar of the chinesecalendar package (the years it knows): the default of
    a scenario run, which has no database to read the stored calendar from."""
    from chinese_calendar import constants
    from ..domain.workdays import WorkCalendar
    return WorkCalendar(frozenset(constants.holidays), frozenset(constants.workdays),
                        frozenset(d.year for d in constants.holidays))


def parse_now(value) -> datetime:
    """A scenario's optional ``now``: ISO 8601 date or datetime; naive means Beijing time."""
    if value in (None, ""):
        return DEFAULT_NOW
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


def _fmt_errors(details: dict) -> str:
    return "; ".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}" for k, v in sorted(details.items()))


def _listed(ids) -> str:
    ids = list(ids)
    return "[" + ", ".join(ids) + "]" if ids else "none"


class _PathRecorder:
    """Collects the completed flow nodes (tasks and events, not gateways) in the order they completed."""

    def __init__(self):
        self.seen: set = set()
        self.path: list[str] = []

    def update(self, wf) -> None:
        new = []
        for task in wf.get_tasks():  # (filtering by state would skip the finished instances of
            if task.state != TaskState.COMPLETED or task.id in self.seen:  # a running multi-instance)
                continue
            self.seen.add(task.id)
            spec = task.task_spec
            bpmn_id = getattr(spec, "bpmn_id", None)
            if not bpmn_id or isinstance(spec, _GATEWAYS) or task.workflow.spec.name == bpmn_id:
                continue
            if getattr(spec, "task_spec", None) is not None and \
                    any(c.task_spec.name == spec.task_spec for c in task.children):
                continue  # the multi-instance wrapper: its instances are in the path
            new.append((task.last_state_change, task.depth, bpmn_id))
        self.path += [bpmn_id for _, _, bpmn_id in sorted(new, key=lambda t: (t[0], t[1]))]


def run_scenario(model: CheckedModel | tuple, scenario: dict, *, forms: dict[str, dict] | None = None,
                 start_form: str | None = None, engine: Engine | None = None, calendar=None,
                 time_limit_ms: int = 1000) -> ScenarioResult:
    """Run one scenario in memory and compare with its expected end (and status).

    ``model`` is a CheckedModel (its start form is known) or a (spec, subprocess specs) pair, e.g. of
    a deployed version (then give ``start_form``). ``forms`` maps form ids to form-js schemas: data is
    validated against them (a task whose form is missing from ``forms`` fails). ``engine`` is used as
    given; otherwise one is made at the scenario's ``now`` with the working-day helpers over
    ``calendar`` (a domain WorkCalendar; default the chinesecalendar package's). Never raises for a
    wrong scenario: the failure is in the result."""
    forms = forms or {}
    if isinstance(model, CheckedModel):
        pair = (model.spec, model.subprocess_specs)
        start_form = start_form or model.start_form
    else:
        pair = model
    name = str(scenario.get("name") or "")
    expected_end = scenario.get("end")
    expected_status = scenario.get("status")
    recorder = _PathRecorder()
    statuses: list[str] = []

    def result(passed, message=None, step: StepResult | None = None):
        wf = step.workflow if step is not None else None
        if wf is not None:
            recorder.update(wf)
        return ScenarioResult(
            name=name, passed=passed, path=list(recorder.path), end_event=step.end_event if step else None,
            expected_end=expected_end, message=message, status=statuses[-1] if statuses else None,
            expected_status=expected_status, ready=[v.element_id for v in step.ready] if step else [])

    try:
        now = parse_now(scenario.get("now"))
    except ValueError:
        return result(False, f"now {scenario.get('now')!r} is not an ISO 8601 date or datetime")
    try:
        if not MIN_YEAR <= now.year <= MAX_YEAR:
            raise OverflowError
        utc_now = now.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01 parses, but cannot move to UTC or carry a deadline
        return result(False, f"now {scenario.get('now')!r} must be between {MIN_YEAR} and {MAX_YEAR}")
    if engine is None:
        clock = ScenarioClock(utc_now)
        from .helpers import make_time_helpers
        cal = calendar if calendar is not None else package_calendar()
        engine = Engine(time_limit_ms, clock=clock, helpers=make_time_helpers(clock, lambda: cal))

    start = scenario.get("start") or {}
    if start_form:
        if start_form not in forms:
            return result(False, f"start: start form {start_form!r} is missing")
        try:
            start = validate_submission(forms[start_form], start)
        except ValidationError as exc:
            return result(False, f"start: data failed start form {start_form!r}: {_fmt_errors(exc.details)}")
    elif not isinstance(start, dict):
        return result(False, "start: data must be an object")
    data = dict(start)
    level = scenario.get("platform_level") or "province"
    if level not in REGION_LEVELS:
        return result(False, f"platform_level {level!r} must be one of {', '.join(REGION_LEVELS)}")
    data.update({"applicant": scenario.get("applicant") or DEFAULT_APPLICANT, "case_no": "SCENARIO",
                 "platform_level": level})
    step_result = engine.start(pair, data)
    statuses += [s for _, s in step_result.status_changes]
    if step_result.incident is not None:
        inc = step_result.incident
        return result(False, f"start: incident at {inc.element_id!r}: {inc.message}", step_result)

    steps = scenario.get("steps") or []
    for number, step in enumerate(steps, 1):
        recorder.update(step_result.workflow)
        if isinstance(step, dict) and "message" in step:
            step_result, failed = _deliver(engine, step_result, number, step)
            if failed:
                return result(False, failed, step_result)
            statuses += [s for _, s in step_result.status_changes]
            continue
        element = step.get("task") if isinstance(step, dict) else None
        where = f"step {number} ({element})"
        ready_ids = [v.element_id for v in step_result.ready]
        matching = [v for v in step_result.ready if v.element_id == element]
        if not matching:
            if step_result.end_event:
                return result(False, f"{where}: expected task {element!r} to be ready, but the process had "
                                     f"already ended at {step_result.end_event!r}", step_result)
            return result(False, f"{where}: expected task {element!r} to be ready, ready were: "
                                 f"{_listed(ready_ids)}", step_result)
        view = matching[0]
        submitted = step.get("data") or {}
        if view.form_key:
            if view.form_key not in forms:
                return result(False, f"{where}: form {view.form_key!r} is missing", step_result)
            try:
                submitted = validate_submission(forms[view.form_key], submitted)
            except ValidationError as exc:
                return result(False, f"{where}: data failed form {view.form_key!r}: "
                                     f"{_fmt_errors(exc.details)}", step_result)
        step_result = engine.complete(step_result.workflow, view.id, submitted)
        statuses += [s for _, s in step_result.status_changes]
        if step_result.incident is not None:
            inc = step_result.incident
            return result(False, f"{where}: incident at {inc.element_id!r}: {inc.message}", step_result)

    if step_result.end_event != expected_end:
        if step_result.end_event is None:
            timers = [t.element_id for t in step_result.timers]
            message = (f"expected end {expected_end!r}, but the process did not end after "
                       f"{len(steps)} steps; ready: {_listed(v.element_id for v in step_result.ready)}"
                       + (f"; waiting timers: {_listed(timers)}" if timers else ""))
        else:
            message = f"expected end {expected_end!r}, reached {step_result.end_event!r}"
        return result(False, message, step_result)
    final = statuses[-1] if statuses else None
    if expected_status and final != expected_status:
        return result(False, f"expected case status {expected_status!r}, reached {final!r}", step_result)
    return result(True, None, step_result)


def _deliver(engine: Engine, step_result: StepResult, number: int, step: dict) -> tuple[StepResult, str | None]:
    """A message step: (the new step, None) or (the step as it was, why it failed)."""
    name, payload = step.get("message"), step.get("data") or {}
    where = f"step {number} (message {name})"
    if not isinstance(name, str) or not name or not isinstance(payload, dict):
        return step_result, f"{where}: a message step is {{\"message\": name, \"data\": {{…}}}}"
    if step_result.end_event:
        return step_result, f"{where}: the process had already ended at {step_result.end_event!r}"
    try:
        new = engine.deliver(step_result.workflow, name, payload)
    except NoSuchWaitingMessage:
        return step_result, (f"{where}: nothing waits for message {name!r}; ready were: "
                             f"{_listed(v.element_id for v in step_result.ready)}")
    if new.incident is not None:
        return new, f"{where}: incident at {new.incident.element_id!r}: {new.incident.message}"
    return new, None


def run_scenarios(bpmn_bytes: bytes, forms: dict[str, dict], scenarios_doc: dict, *, filename: str | None = None,
                  known_groups=None, calendar=None, time_limit_ms: int = 1000,
                  library=None) -> list[ScenarioResult]:
    """Check the model (raises InvalidModel like a deploy), then run every scenario of the document."""
    model = check_model(bpmn_bytes, filename or "<model>", forms, known_groups=known_groups, library=library)
    scenarios = scenarios_doc.get("scenarios") if isinstance(scenarios_doc, dict) else None
    if not isinstance(scenarios, list):
        raise ValueError('a scenarios document is {"scenarios": [...]}')
    return [run_scenario(model, sc if isinstance(sc, dict) else {}, forms=forms, calendar=calendar,
                         time_limit_ms=time_limit_ms) for sc in scenarios]
