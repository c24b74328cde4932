"""Timer events that read time from the engine's clock instead of the wall clock, so that tests and
the scheduler decide what "now" is. Expressions may use the working-day helpers of the sandbox."""
from __future__ import annotations

from datetime import timezone

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition,
                                                              DurationTimerEventDefinition,
                                                              TimeDateEventDefinition, TimerEventDefinition)


def _now(my_task):
    return my_task.workflow.script_engine.clock().astimezone(timezone.utc)


def _fire_now(my_task):
    """The time a timer compares its due time with: the clock, unless the workflow's timers are held
    (a special procedure stopped the case's clock at ``timers_held_at``; the hold ends by moving them)."""
    now = _now(my_task)
    held = getattr(my_task.workflow.top_workflow, "timers_held_at", None)
    return now if held is None or held >= now else held.astimezone(timezone.utc)


class ClockedTimeDate(TimeDateEventDefinition):
    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            try:
                event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            except Exception as exc:
                # a deemed step's timer (action=deemed, checked at deploy to be working_days_after(N))
                # fails only on a calendar year not imported yet: it must not hold up the step (the
                # countersign's instances); it stays unscheduled and is computed again at the next step
                if (getattr(my_task.task_spec, "extensions", None) or {}).get("action") != "deemed":
                    raise
                my_task._set_internal_data(deemed_unscheduled=str(exc)[:500])
                return False
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.parse_time_or_duration(event_value) <= _fire_now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockedDuration(DurationTimerEventDefinition):
    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            parsed = TimerEventDefinition.parse_iso_duration(expression)
            start = _now(my_task)
            event_value = (start + TimerEventDefinition.get_timedelta_from_start(parsed, start)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) <= _fire_now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockedCycle(CycleTimerEventDefinition):
    """Cycles keep SpiffWorkflow's semantics; only the start of the first cycle uses the clock."""


CLOCKED = {TimeDateEventDefinition: ClockedTimeDate, DurationTimerEventDefinition: ClockedDuration,
           CycleTimerEventDefinition: ClockedCycle}


def clocked(definition):
    cls = CLOCKED.get(type(definition))
    if cls is None:
        return definition
    new = cls(definition.name, definition.expression, description=definition.description)
    return new


def set_due(my_task, due_iso: str) -> None:
    """Move a waiting timer (used when a suspended case clock resumes)."""
    my_task._set_internal_data(event_value=due_iso)
