"""Runtime seam: the only code that drives SpiffWorkflow workflows.

The engine is pure: it takes a stored state, does one step (start, complete a task, fire timers,
retry) and returns the new state with its projections (ready user tasks, waiting timers, thrown
messages), the case-status changes the model asked for, and the incident if something failed.
The service layer owns locking and the transaction.
"""
from __future__ import annotations

import threading
from uuid import UUID
from collections import OrderedDict
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime, timezone

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from .deemed import firing as deemed_firing, restart as restart_deemed_timers
from .parser import EXPR_RE, message_variable, split_list
from .sandbox import ScriptError, SandboxScriptEngine
from .scan import PlatformWorkflow, TimerView, fired as _fired, scan
from .serializer import dump_state, load_spec, load_state
from .timers import set_due


@dataclass
class UserTaskView:
    id: str
    element_id: str
    name: str
    lane: str | None
    form_key: str | None
    action: str | None
    candidate_groups: list[str]
    candidate_users: list[str]
    assignee: str | None
    limit_days: int | None
    mi_index: int | None
    case_status: str | None
    phase: str | None = None  # an excluded phase (app/engine/phases.py): its kind, and its maximum
    phase_max: int | None = None  # in working days


@dataclass
class IncidentInfo:
    element_id: str | None
    task_id: str | None
    error_type: str
    message: str
    details: dict = field(default_factory=dict)


@dataclass
class Snapshot:
    """Ids of the ready user tasks and waiting timers before a step."""
    ready: set
    timers: set


@dataclass
class StepResult:
    state: str
    status: str                       # running | waiting | error | complete | cancelled
    ready: list[UserTaskView]
    timers: list[TimerView]
    messages: list[dict]
    status_changes: list[tuple[str, str]]  # (element_id, caseStatus) in the order reached
    end_event: str | None
    incident: IncidentInfo | None
    workflow: BpmnWorkflow | None = None
    previously_ready: set = field(default_factory=set)
    previous_timers: set = field(default_factory=set)
    urges: list = field(default_factory=list)  # (boundary event id, user task element id): 催办
    deemed: list = field(default_factory=list)  # DeemedFiring: the step's open instances to complete (视为)
    fired: list | None = None  # TimerView of every fired timer (``Engine.fired_timers``), read by the step's walk


class TaskNotReady(Exception):
    """The task does not exist in this instance or is not READY (someone else completed it)."""


class NoSuchWaitingMessage(Exception):
    """Nothing in the workflow waits for this message now (never did, already caught, or its wait
    was cancelled, e.g. by a boundary timer). The workflow is unchanged. ``waiting``: the names of
    the messages it does wait for."""

    def __init__(self, name: str, waiting: list[str]):
        self.name, self.waiting = name, waiting
        shown = "、".join(waiting) if waiting else "无 (none)"
        super().__init__(f"流程当前不在等待消息「{name}」，正在等待: {shown} "
                         f"(the process is not waiting for message {name!r}; waiting for: {waiting})")


def deep_merge(target: dict, data: dict) -> dict:
    """Merge ``data`` into ``target`` key by key. A nested object of ``target`` is copied before it
    is merged into, never changed in place: SpiffWorkflow hands a task its parent's data with only
    the top level copied, so the nested objects are shared with the tasks before it (in memory, and
    again after a reload, which rebuilds unchanged keys the same way). Changing them in place would
    rewrite the data those tasks completed with (what 退回 / 撤回 restores) in one process but not
    in another, depending on whether the workflow had been reloaded in between."""
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = deep_merge(dict(target[key]), value)
        else:
            target[key] = value
    return target


MAX_SUBPROCESSES = 200  # sub-processes (call activities, embedded sub-processes) alive in one instance


def _failing_task(exc: BaseException):
    """The innermost SpiffWorkflow task the traceback of a plain exception passed through (task specs
    name it ``my_task``): a multi-instance creating its children, say, while its predecessor completes."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("my_task")
        if candidate is not None and hasattr(candidate, "task_spec"):
            found = candidate
        tb = tb.tb_next
    return found


def _props(spec) -> dict:
    return getattr(spec, "extensions", None) or {}


class Engine:
    def __init__(self, time_limit_ms: int = 1000, cache_size: int = 0, clock=None, helpers: dict | None = None, *,
                 isolation: str = "process", workers: int = 2, step_budget_ms: int | None = None):
        self.script_engine = SandboxScriptEngine(time_limit_ms, clock=clock, extra_helpers=helpers,
                                                 isolation=isolation, workers=workers,
                                                 step_budget_ms=step_budget_ms)
        self._specs: dict[int, tuple] = {}
        self._lock = threading.Lock()
        self._cache_size = cache_size
        self._states: OrderedDict[tuple[int, int], BpmnWorkflow] = OrderedDict()

    # -- specs -------------------------------------------------------------------------------
    def spec(self, version_id: int, spec_json_loader):
        """The parsed spec of a version, deserialised once per process."""
        pair = self._specs.get(version_id)
        if pair is None:
            pair = load_spec(spec_json_loader())
            with self._lock:
                self._specs[version_id] = pair
        return pair

    # -- workflow state cache ------------------------------------------------------------------
    def take_cached(self, instance_id: int, revision: int):
        """Hand over the deserialised workflow of ``instance_id`` at ``revision`` if cached. The
        entry is removed: a failed step can never leave a mutated workflow behind."""
        if not self._cache_size:
            return None
        with self._lock:
            return self._states.pop((instance_id, revision), None)

    def holds(self, instance_id: int, revision: int) -> bool:
        """Whether ``take_cached`` would hand over a workflow now (the stored state need not be read)."""
        return bool(self._cache_size) and (instance_id, revision) in self._states

    def remember(self, instance_id: int, revision: int, workflow) -> None:
        """Keep a workflow after its step committed, for the next step on the same revision."""
        if not self._cache_size or workflow is None:
            return
        with self._lock:
            self._states[(instance_id, revision)] = workflow
            while len(self._states) > self._cache_size:
                self._states.popitem(last=False)

    def forget(self, instance_id: int) -> None:
        with self._lock:
            for key in [k for k in self._states if k[0] == instance_id]:
                del self._states[key]

    # -- steps -------------------------------------------------------------------------------
    def load(self, spec_pair, state: str):
        spec, subs = spec_pair
        return load_state(state, spec, subs, self.script_engine)

    def start(self, spec_pair, data: dict) -> StepResult:
        spec, subs = spec_pair
        wf = PlatformWorkflow(spec, subs, script_engine=self.script_engine)
        for task in wf.get_tasks(state=TaskState.READY):
            task.data.update(data)
        return self._advance(wf, Snapshot(set(), set()))

    def complete(self, wf, task_id: str, data: dict) -> StepResult:
        task = self._ready_user_task(wf, task_id)
        before = self._snapshot(wf)
        deep_merge(task.data, data)
        try:
            task.run()
        except Exception as exc:  # noqa: BLE001 - SpiffWorkflow's, a script's or any other: an incident
            return self._finish(wf, before, [], self._incident(task, exc))
        return self._advance(wf, before)

    def fire_timers(self, wf) -> StepResult:
        before = self._snapshot(wf)
        return self._advance(wf, before)

    def retry(self, wf, data: dict | None = None) -> StepResult:
        """Put errored tasks back to READY (optionally patching their data) and step again."""
        before = self._snapshot(wf)
        for task in wf.get_tasks(state=TaskState.ERROR):
            if data:
                deep_merge(task.data, data)
            task._set_state(TaskState.READY)
        for task in wf.get_tasks(state=TaskState.FUTURE | TaskState.WAITING):
            if task.parent is not None and task.parent.has_state(TaskState.COMPLETED):
                try:
                    task.task_spec._update(task)
                except (SpiffWorkflowException, ScriptError) as exc:
                    return self._finish(wf, before, [], self._incident(task, exc))
        return self._advance(wf, before)

    def restart_deemed(self, wf, task_id: str) -> tuple[StepResult, set[str]] | None:
        """The deemed timers of a ready user task count again from now (``deemed.restart``): the step and
        the ids of those timers. None when the task has no such timer."""
        task = self._ready_user_task(wf, task_id)
        before = self._snapshot(wf)
        restarted = restart_deemed_timers(task)
        return (self._finish(wf, before, [], None), set(restarted)) if restarted else None

    def move_timers(self, wf, due: dict[str, str]) -> StepResult:
        """Give waiting timers new due times (ISO 8601), e.g. when a suspended clock resumes."""
        for task_id, value in due.items():
            task = wf.get_task_from_id(UUID(task_id))
            if task is not None and task.state == TaskState.WAITING:
                set_due(task, value)
        return self._finish(wf, self._snapshot(wf), [], None)

    def fire_due_timers(self, wf, task_ids: list[str]) -> StepResult:
        """Fire the given waiting timers now (the scheduler decided they are due) and step on."""
        before = self._snapshot(wf)
        for task_id in task_ids:
            task = wf.get_task_from_id(UUID(task_id))
            if task is not None and task.state == TaskState.WAITING:
                task._set_internal_data(event_fired=True)
        wf.refresh_timers()
        return self._advance(wf, before)

    def reset_to(self, wf, task_id: str, data: dict | None = None) -> StepResult:
        """Take the process back to a completed user task (退回 / 撤回): everything after it is
        dropped and the task is ready again, with the data it had when it was reached (or ``data``)."""
        try:
            task = wf.get_task_from_id(UUID(task_id))
        except Exception:
            task = None
        if task is None or not isinstance(task.task_spec, UserTask) or task.state != TaskState.COMPLETED:
            raise TaskNotReady(task_id)
        before = self._snapshot(wf)
        # a timer the caller's refresh found due waits no more but has not run (READY): its row is
        # still 'waiting' and must be settled too (cancelled if the reset drops it, fired if it runs)
        before.timers |= {str(t.id) for t in wf.get_tasks(state=TaskState.READY)
                          if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)}
        wf.reset_from_task_id(task.id, data)
        self._forget_dropped_events(wf)
        return self._advance(wf, before)

    @staticmethod
    def _forget_dropped_events(wf) -> None:
        """SpiffWorkflow 3.2's reset drops the tasks after the target from the tree but leaves the
        waiting ones (a boundary 催办 timer of a step that is left) in the workflow's event manager;
        the next ``refresh_timers`` then updates a task without a parent and fails. A dropped task
        waits for nothing: forget it, so only the timers of the steps now open are scheduled."""
        subprocesses = list(wf.subprocesses.values())
        manager = wf.event_manager
        for task_id, task in list(manager.tasks.items()):
            owner = task.workflow
            if (owner is not wf and owner not in subprocesses) or owner.tasks.get(task_id) is not task:
                manager.remove_task(task)

    @staticmethod
    def task_variables(wf, task_id: str, names) -> dict:
        """Copies of ``names`` in one task's data (a multi-instance item lives only there); {} when the
        task is not in the workflow (any more)."""
        try:
            data = wf.get_task_from_id(UUID(task_id)).data
        except Exception:  # an unknown, malformed or dropped task id: nothing to show
            return {}
        return {n: deepcopy(data[n]) for n in sorted(names) if isinstance(data, dict) and n in data}

    @staticmethod
    def passed_user_tasks(wf, task_id: str) -> list[tuple[str, str]]:
        """(task id, element id) of the completed user tasks on the path that led to a ready task,
        nearest first, top-level process only and outside multi-instance (the return targets)."""
        try:
            task = wf.get_task_from_id(UUID(task_id))
        except Exception:
            return []
        out, seen = [], set()
        node = task.parent if task is not None else None
        while node is not None:
            spec = node.task_spec
            if isinstance(spec, UserTask) and node.state == TaskState.COMPLETED and node.workflow is wf \
                    and "key_or_index" not in node.internal_data and spec.bpmn_id not in seen:
                seen.add(spec.bpmn_id)
                out.append((str(node.id), spec.bpmn_id))
            node = node.parent
        return out

    @staticmethod
    def ready_after(wf, task_id: str) -> bool:
        """Whether every ready user task descends from the given completed task (so withdrawing it
        touches nothing else)."""
        try:
            task = wf.get_task_from_id(UUID(task_id))
        except Exception:
            return False
        if task is None:
            return False
        ready = [t for t in wf.get_tasks(state=TaskState.READY, manual=True) if isinstance(t.task_spec, UserTask)]
        return bool(ready) and all(t.is_descendant_of(task) for t in ready)

    @staticmethod
    def path(wf) -> dict:
        """The diagram view: element ids completed, ready now, and sequence flows taken."""
        done, current = set(), set()
        for t in wf.get_tasks():
            bid = getattr(t.task_spec, "bpmn_id", None)
            if not bid or t.workflow is not wf:
                continue
            if t.state == TaskState.COMPLETED:
                done.add(bid)
            elif t.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
                current.add(bid)
        return {"done": sorted(done - current), "current": sorted(current)}

    # -- messages (接收消息) ----------------------------------------------------------------------
    @staticmethod
    def _message_waits(wf):
        """(task, message event definition, variable, element spec) of every message the workflow
        waits for now: receive tasks, intermediate message catch events, message boundary events of
        an active element, and the message branches of an event-based gateway (SpiffWorkflow keeps
        their definitions on the gateway; the variable is read from the branch's catch event)."""
        top = wf.top_workflow if hasattr(wf, "top_workflow") else wf
        out = []
        for task in list(top.event_manager.tasks.values()):
            # a task dropped from the tree by a reset still sits in the event manager: it waits for nothing
            if task.state != TaskState.WAITING or task.workflow.tasks.get(task.id) is not task:
                continue
            spec = task.task_spec
            definition = getattr(spec, "event_definition", None)
            if isinstance(definition, MultipleEventDefinition):
                for index, item in enumerate(definition.event_definitions):
                    if isinstance(item, MessageEventDefinition) and index < len(spec.outputs):
                        branch = spec.outputs[index]
                        out.append((task, item, message_variable(_props(branch), item.name), branch))
            elif isinstance(definition, MessageEventDefinition):
                out.append((task, definition, message_variable(_props(spec), definition.name), spec))
        return out

    def message_catchers(self, wf, name: str) -> list[tuple[str, str]]:
        """(element id, element name) of the elements waiting for the message ``name`` now (for an
        event-based gateway: the branch's catch event), in no particular order."""
        return [(element.bpmn_id, element.bpmn_name or element.bpmn_id)
                for _, definition, _, element in self._message_waits(wf) if definition.name == name]

    def waiting_messages(self, wf) -> list[str]:
        """The names of the messages the workflow can catch now (sorted, each once)."""
        return sorted({str(d.name) for _, d, _, _ in self._message_waits(wf) if d.name})

    def deliver(self, wf, name: str, payload: dict, correlation: dict | None = None) -> StepResult:
        """Deliver the message ``name`` with ``payload`` to the workflow: every element waiting for it
        now catches it (a receive task, an intermediate message catch event, a message boundary event,
        an event-based gateway's message branch), the payload lands in the data under the element's
        message variable (``camunda:property messageVariable``, else the message name), and the process
        steps on as after a completed task (timers, case status, incidents alike).

        ``correlation`` are SpiffWorkflow correlations ({correlation key: {property: value}}), checked
        only by models that declare correlation properties. Raises NoSuchWaitingMessage — and leaves
        the workflow as it was — when nothing waits for ``name``."""
        if not isinstance(payload, dict):
            raise TypeError("a message payload is a dict")
        waits = [(task, definition, var) for task, definition, var, _ in self._message_waits(wf)
                 if definition.name == name]
        catching = []
        for task, definition, var in waits:
            event = BpmnEvent(definition, payload={"payload": deepcopy(payload), "result_var": var},
                              correlations=deepcopy(correlation or {}))
            if task.task_spec.catches(task, event):
                catching.append((task, event))
        if not catching:
            raise NoSuchWaitingMessage(name, self.waiting_messages(wf))
        before = self._snapshot(wf)
        for task, event in catching:
            try:
                task.task_spec.catch(task, event)
                task.task_spec._update(task)
            except Exception as exc:  # noqa: BLE001 - a correlation expression, say: an incident on the element
                if not task.has_state(TaskState.COMPLETED | TaskState.ERROR):
                    task._set_state(TaskState.ERROR)
                return self._finish(wf, before, [], self._incident(task, exc))
        return self._advance(wf, before)

    def cancel(self, wf) -> StepResult:
        before = self._snapshot(wf)
        wf.cancel()
        return self._finish(wf, before, [], None, cancelled=True)

    @staticmethod
    def timer_outcome(wf, task_id: str) -> str:
        """What became of a timer that no longer waits: 'fired' or 'cancelled'."""
        try:
            task = wf.get_task_from_id(UUID(task_id)) if wf is not None else None
        except TaskNotFoundException:  # dropped by a reset (退回 / 撤回): it will never fire
            task = None
        return "fired" if task is not None and task.state == TaskState.COMPLETED else "cancelled"

    @staticmethod
    def fired_timers(wf) -> list[TimerView]:
        """Every timer event of the workflow that has fired (its task completed), with its due time
        (None when it cannot be read). A timer already due when the process reaches it fires within
        that same step without ever waiting; the caller compares this list with its timer rows so
        that such a firing is recorded like any other."""
        return [] if wf is None else _fired(scan(wf).completed)

    # -- internals ---------------------------------------------------------------------------
    def _ready_user_task(self, wf, task_id: str):
        try:
            task = wf.get_task_from_id(UUID(task_id))
        except Exception:
            task = None
        if task is None or not isinstance(task.task_spec, UserTask) or task.state != TaskState.READY:
            raise TaskNotReady(task_id)
        return task

    @staticmethod
    def _snapshot(wf) -> "Snapshot":
        found = scan(wf)
        ready = {str(t.id) for t in found.ready if t.task_spec.manual and isinstance(t.task_spec, UserTask)}
        timers = {str(t.id) for t in found.waiting
                  if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)}
        return Snapshot(ready, timers)

    def _advance(self, wf, before: Snapshot) -> StepResult:
        reached: list[tuple[str, str]] = []

        urges: list[tuple[str, str]] = []
        deemed: list = []

        def did_complete(task):
            props = _props(task.task_spec)
            if (fired := deemed_firing(task.task_spec.bpmn_id, props)) is not None:
                deemed.append(fired)
            status = props.get("caseStatus")
            if status and not isinstance(task.task_spec, UserTask):
                reached.append((task.task_spec.bpmn_id, status))
            if props.get("notify") == "urge" and props.get("_attached_to"):
                urges.append((task.task_spec.bpmn_id, props["_attached_to"]))

        current = []

        def will_complete(task):
            current[:] = [task]
            if len(wf.subprocesses) > MAX_SUBPROCESSES:  # a call activity recursing in an older version
                raise ScriptError(f"子流程数量超过上限 {MAX_SUBPROCESSES} (too many sub-processes: recursion?)",
                                  kind="limit")

        incident = None
        environment = self.script_engine.environment
        environment.begin_step()
        try:
            wf.do_engine_steps(will_complete_task=will_complete, did_complete_task=did_complete)
        except (SpiffWorkflowException, ScriptError) as exc:
            incident = self._incident(getattr(exc, "task", None) or (current[0] if current else None), exc)
        except Exception as exc:  # noqa: BLE001 - any engine failure is an incident on the element, never a 500
            task = _failing_task(exc) or (current[0] if current else None)
            if task is not None and not task.has_state(TaskState.COMPLETED | TaskState.ERROR):
                task._set_state(TaskState.ERROR)
            incident = self._incident(task, exc)
        finally:
            environment.end_step()
        result = self._finish(wf, before, reached, incident)
        result.urges, result.deemed = urges, deemed
        return result

    def _incident(self, task, exc) -> IncidentInfo:
        spec = getattr(task, "task_spec", None) if task is not None else getattr(exc, "task_spec", None)
        element = getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)
        inner = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__ or exc
        message = str(exc).strip()
        if inner is not exc and str(inner) not in message:
            message = f"{message}: {inner}"
        notes = getattr(exc, "__notes__", None)
        details = {"notes": list(notes)} if notes else {}
        line = getattr(exc, "line_number", None) or getattr(inner, "line", None)
        if line:
            details["line"] = line
        return IncidentInfo(element_id=element, task_id=str(task.id) if task is not None else None,
                            error_type=getattr(exc, "error_type", None) or type(inner).__name__,
                            message=message[:4000], details=details)

    def _finish(self, wf, before, reached, incident, cancelled=False) -> StepResult:
        found = scan(wf)   # one walk of the tree for all below (scan.py)
        ready = []
        for task in found.ready:
            if not task.task_spec.manual or not isinstance(task.task_spec, UserTask):
                continue
            try:
                view = self._user_task_view(task)
            except ScriptError as exc:
                incident = incident or self._incident(task, exc)
                continue
            ready.append(view)
            if view.id not in before.ready and view.case_status:
                reached.append((view.element_id, view.case_status))
        timers = []
        for task in found.waiting:
            ev = getattr(task.task_spec, "event_definition", None)
            if isinstance(ev, TimerEventDefinition):
                due = task._get_internal_data("event_value")
                if isinstance(due, dict):
                    due = due.get("next")
                if due:
                    timers.append(TimerView(str(task.id), task.task_spec.bpmn_id,
                                            TimerEventDefinition.get_datetime(due)))
        messages = []
        for event in wf.get_events():
            definition = event.event_definition
            messages.append({"name": getattr(definition, "name", None) or type(definition).__name__,
                             "kind": type(definition).__name__, "payload": event.payload})
        end_event = None
        if wf.completed:
            # the end event reached last: a branch that ended earlier (a reminder's 催办 end) is not
            # the outcome, and the task tree's order says nothing about which came last
            ends = [task for task in found.completed if isinstance(task.task_spec, EndEvent) and task.workflow is wf]
            if ends:
                end_event = max(ends, key=lambda task: task.last_state_change).task_spec.bpmn_id
        if cancelled:
            status = "cancelled"
        elif incident is not None or found.error:
            status = "error"
        elif wf.completed:
            status = "complete"
        elif ready:
            status = "running"
        else:
            status = "waiting"
        return StepResult(state=dump_state(wf), status=status, ready=ready, timers=timers, messages=messages,
                          status_changes=reached, end_event=end_event, incident=incident, workflow=wf,
                          previously_ready=before.ready, previous_timers=before.timers,
                          fired=_fired(found.completed))

    def _eval_people(self, task, raw: str) -> list[str]:
        raw = (raw or "").strip()
        m = EXPR_RE.match(raw)
        if not m:
            return split_list(raw)
        value = self.script_engine.environment.evaluate(m.group(1), task.data)
        if value is None:
            return []
        if isinstance(value, str):
            return split_list(value)
        if isinstance(value, (list, tuple, set)):
            return [str(v) for v in value]
        raise ScriptError(f"candidate expression {raw!r} gave {type(value).__name__}, expected str or list")

    def _user_task_view(self, task) -> UserTaskView:
        spec = task.task_spec
        props = _props(spec)
        assign = props.get("_assignment") or {}
        assignee = self._eval_people(task, assign.get("assignee", ""))
        limit = props.get("limitDays")
        mi = task.internal_data.get("key_or_index")
        return UserTaskView(
            id=str(task.id), element_id=spec.bpmn_id, name=spec.bpmn_name or spec.bpmn_id, lane=spec.lane,
            form_key=props.get("_form"), action=props.get("action"),
            candidate_groups=self._eval_people(task, assign.get("candidate_groups", "")),
            candidate_users=self._eval_people(task, assign.get("candidate_users", "")),
            assignee=assignee[0] if assignee else None,
            limit_days=int(limit) if limit and str(limit).isdigit() else None,
            mi_index=mi if isinstance(mi, int) else None, case_status=props.get("caseStatus"),
            phase=props.get("phase") or None,
            phase_max=int(props["phaseMaxDays"]) if str(props.get("phaseMaxDays") or "").isdigit() else None)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)

