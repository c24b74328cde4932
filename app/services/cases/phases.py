"""Excluded phases (不计入办理时限的特别程序环节) driven from the model: a user task marked
``phase``/``phaseMaxDays`` (app/engine/phases.py) suspends the statutory clock while it is open, as a
special procedure a staff member starts by hand does (app/services/cases/special_procedures.py), but
opened and closed by the process itself, actor ``system``:

- **start**: when the marked step becomes ready on a case whose clock runs, a special procedure of
  the phase's kind starts (planned: ``phaseMaxDays`` working days), the clock is suspended, the trail
  and the applicant are told. A multi-instance step (会签, 征求意见) starts it with its first instance.
- **end**: when no instance of the step is ready any more (completed, cancelled by a boundary event,
  退回 …) the procedure ends and the deadlines move by the working days it lasted, **at most
  ``phaseMaxDays``**: what lasted longer counts against the limit, and the trail says so. The steps
  and timers that opened in the very step that ended the phase count from today and are not moved.
- **already suspended**: if a staff member's special procedure (补正, 专家评审 …) holds the clock when
  the phase starts, no second procedure starts — the clock is already stopped, one suspension at a
  time is the rule of ``start_special_procedure``, and stacking two would count the same days twice.
  The trail records it; when the manual procedure ends, the rest of the phase counts.
- a phase procedure is not ended by hand (``end_special_procedure`` refuses): its step ends it.

Reached through the ``on_step`` hook of hooks.py, so steps.py does not import this module (which
imports special_procedures, which imports steps)."""
from __future__ import annotations

from sqlalchemy import select

from ...domain.case_status import CaseStatus
from ...domain.workdays import CalendarMissing
from ...engine.phases import PHASE_KINDS
from ...engine.runtime import StepResult, UserTaskView
from ...extensions import db
from ...models import Case, CaseEvent, HumanTask, ProcessInstance, SpecialProcedure
from ..clocks.calendar import current_calendar
from ..clocks.deadlines import calendar_missing
from ..common.clock import BEIJING
from ..messaging.notify import notify_applicant
from .hooks import on_step
from .special_procedures import SUSPENDING_KINDS, shift_case
from .steps import PHASE_HANDLER, now, record_event, set_case_status

#: the handler of a phase's procedure: a manual one always has a staff member's name
SYSTEM = PHASE_HANDLER


@on_step
def follow_phases(inst: ProcessInstance, case: Case | None, result: StepResult, actor: str) -> None:
    """After each step of a case: end the phase whose step closed, then start those that opened (in
    that order, so one phase handing over to the next suspends the clock again)."""
    if case is None:
        return
    if case.clock_state in {"suspended", "stopped"}:
        running = running_phase(case)
        if running is not None:
            _end_if_done(case, result, *running)
    if case.clock_state in {"running", "suspended"}:
        _start_opened(case, result)


def running_phase(case: Case) -> tuple[SpecialProcedure, CaseEvent] | None:
    """The running procedure of an excluded phase of the case, with the trail entry that started it
    (which names the step's element)."""
    proc = db.session.execute(select(SpecialProcedure).where(
        SpecialProcedure.case_id == case.id, SpecialProcedure.status == "running",
        SpecialProcedure.handler == SYSTEM).order_by(SpecialProcedure.id.desc()).limit(1)).scalar_one_or_none()
    if proc is None:
        return None
    started = db.session.execute(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.action == "suspend", CaseEvent.actor == SYSTEM,
        CaseEvent.element_id.is_not(None)).order_by(CaseEvent.id.desc()).limit(1)).scalar_one_or_none()
    return (proc, started) if started is not None else None


def _start_opened(case: Case, result: StepResult) -> None:
    seen = set()
    for view in result.ready:
        if view.id in result.previously_ready or view.phase not in PHASE_KINDS or not view.phase_max \
                or view.element_id in seen:
            continue
        seen.add(view.element_id)
        if case.clock_state == "running":
            _start(case, view)
            continue
        running = running_phase(case)
        if running is not None and running[1].element_id == view.element_id:
            continue  # the next instance of a sequential 会签, or the step again: the phase goes on
        if view.mi_index in (None, 0):
            record_event(case, SYSTEM, "phase_skipped", element_id=view.element_id, step_name=view.name,
                         opinion=f"{view.name}开始时办件已处于特别程序中，该期间已不计入办理时限，"
                                 f"本环节不另行启动特别程序")


def _start(case: Case, view: UserTaskView) -> None:
    days = view.phase_max
    reason = f"{view.name}（不计入办理时限，最长{days}个工作日）"
    proc = SpecialProcedure(case_id=case.id, kind_code="2", kind=view.phase, reason=reason,
                            basis=f"BPMN 环节 {view.name}", planned_duration=days, planned_unit="working_day",
                            started_at=now(), handler=SYSTEM, status="running")
    db.session.add(proc)
    db.session.flush()
    case.clock_state = "suspended"
    if case.status == CaseStatus.ACCEPTED.value:
        set_case_status(case, CaseStatus.SPECIAL_PROCEDURE.value, SYSTEM, element_id=view.element_id, reason=reason)
    record_event(case, SYSTEM, "suspend", element_id=view.element_id, step_name=view.name, opinion=reason,
                 data_change={"kind": view.phase, "planned_duration": days, "unit": "working_day",
                              "procedure": proc.id, "phase": view.element_id})
    notify_applicant(case, "special_procedure", f"special:{proc.id}", kind=SUSPENDING_KINDS[view.phase],
                     duration=days, unit="个工作日", reason=reason)


def _end_if_done(case: Case, result: StepResult, proc: SpecialProcedure, started: CaseEvent) -> None:
    element, name = started.element_id, started.step_name or started.element_id
    if db.session.execute(select(HumanTask.id).where(
            HumanTask.case_id == case.id, HumanTask.element_id == element,
            HumanTask.state == "ready").limit(1)).first() is not None:
        return
    ts = now()
    limit = proc.planned_duration
    # what opened in this very step counts from today: the suspension is behind it
    keep = {v.id for v in result.ready if v.id not in result.previously_ready} | \
        {t.id for t in result.timers if t.id not in result.previous_timers}
    before = case.suspended_days or 0
    lasted = None
    try:
        lasted = current_calendar().working_days_between(proc.started_at.astimezone(BEIJING).date(),
                                                         ts.astimezone(BEIJING).date())
        counted = min(lasted, limit)
        _close(case, proc, element, name, ts, counted)
        shift_case(case, counted, keep=keep)
    except CalendarMissing as exc:
        # a deadline is never guessed: the case records why its deadlines are empty, supervision raises
        # the red alert, and they are computed from the days suspended once the year is imported
        counted = min(lasted, limit) if lasted is not None else limit
        if proc.status == "running":
            _close(case, proc, element, name, ts, counted)
        case.suspended_days = before + counted
        case.statutory_due = case.promised_due = None
        calendar_missing(case, exc)
    over = (lasted or 0) - limit
    opinion = f"{name}办结，历时{lasted if lasted is not None else '?'}个工作日，不计入办理时限{counted}个工作日"
    if over > 0:
        opinion += f"；超过法定最长{limit}个工作日，超出的{over}个工作日计入办理时限"
    record_event(case, SYSTEM, "resume", element_id=element, step_name=name, opinion=opinion,
                 data_change={"suspended_days": counted, "lasted_days": lasted, "max_days": limit,
                              "overrun_days": max(over, 0), "procedure": proc.id, "phase": element,
                              "statutory_due": case.statutory_due.isoformat() if case.statutory_due else None})
    if over > 0:
        record_event(case, SYSTEM, "phase_overrun", element_id=element, step_name=name,
                     opinion=f"{name}超过法定最长{limit}个工作日（历时{lasted}个工作日），超出部分计入办理时限",
                     data_change={"lasted_days": lasted, "max_days": limit, "overrun_days": over})


def _close(case: Case, proc: SpecialProcedure, element: str, name: str, ts, counted: int) -> None:
    proc.ended_at, proc.status, proc.counted_days = ts, "ended", counted
    proc.result = f"{name}办结"
    if case.clock_state == "suspended":
        case.clock_state = "running"
    if case.status == CaseStatus.SPECIAL_PROCEDURE.value:
        set_case_status(case, CaseStatus.ACCEPTED.value, SYSTEM, element_id=element, reason=proc.result)
