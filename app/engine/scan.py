"""One walk of a workflow's task tree for all a step reads of it (issue 20).

A step asked SpiffWorkflow for its ready tasks, waiting tasks, completed tasks and errors, each with
``BpmnWorkflow.get_tasks(state=…)``: a walk of the whole tree per question, seven or more a step, and
the tree grows with every task done. ``scan`` answers them in one walk, with the answers those walks
give, in their order:

* the walk is SpiffWorkflow's (``BpmnTaskIterator``, depth first): a task, then the tasks of the
  sub-process it runs (if any), then its children in order; not below a task deeper than 1000;
* ``ready`` / ``waiting`` are what ``get_tasks(state=READY)`` / ``WAITING`` return: those walks go below
  a task in FUTURE or a later state (not below a predicted one), and always into a sub-process;
* ``completed`` / ``error`` are what ``get_tasks(state=COMPLETED)`` / ``ERROR`` return: those walks go
  below a finished task only (and, like the others, into a sub-process and below the task running it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

#: SpiffWorkflow's TaskIterator's default ``max_depth``: no task below it is visited
MAX_DEPTH = 1000

_READY, _WAITING, _COMPLETED, _ERROR = TaskState.READY, TaskState.WAITING, TaskState.COMPLETED, TaskState.ERROR
_FUTURE = TaskState.FUTURE
_NOT_FINISHED = TaskState.NOT_FINISHED_MASK
#: the filters ``PlatformWorkflow.get_tasks`` walks itself; any other goes to SpiffWorkflow's iterator
_FAST_FILTERS = frozenset({"state", "manual"})


@dataclass
class TimerView:
    id: str
    element_id: str
    due_at: datetime


class Scan:
    __slots__ = ("ready", "waiting", "completed", "error")

    def __init__(self):
        self.ready, self.waiting, self.completed, self.error = [], [], [], []


def scan(wf) -> Scan:
    """The ready, waiting, completed and errored tasks of ``wf`` (the top workflow, its sub-processes
    included), each list as ``wf.get_tasks(state=…)`` gives it."""
    out = Scan()
    ready, waiting, completed, error = out.ready, out.waiting, out.completed, out.error
    subprocesses = wf.subprocesses
    # (task, reached by the walks that go below finished tasks only, depth)
    stack = [(wf.task_tree, True, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        task, below_finished, depth = pop()
        state = task._state
        if state == _READY:
            ready.append(task)
        elif state == _WAITING:
            waiting.append(task)
        elif below_finished:
            if state == _COMPLETED:
                completed.append(task)
            elif state == _ERROR:
                error.append(task)
        kids = task._children
        sub = subprocesses.get(task.id) if subprocesses else None
        if sub is None:
            if not kids or state < _FUTURE or depth >= MAX_DEPTH:
                continue
            finished_ok = below_finished and state >= _COMPLETED
        else:
            if depth >= MAX_DEPTH:
                continue
            finished_ok = below_finished
        tasks = task.workflow.tasks
        depth += 1
        for cid in reversed(kids):
            push((tasks.get(cid), finished_ok, depth))
        if sub is not None:
            push((sub.task_tree, below_finished, depth))
    return out


def tasks_in_state(wf, state: int = TaskState.ANY_MASK, manual: bool | None = None) -> list:
    """What ``BpmnWorkflow.get_tasks(state=state, manual=manual)`` returns (from the root), in its
    order, from a walk without the iterator's bookkeeping: below a task only when its state is at
    least the least one the mask asks for (MAYBE when it asks for a predicted state, FUTURE for a
    definite one, COMPLETED otherwise), into every sub-process, not below depth 1000."""
    if state & TaskState.PREDICTED_MASK:
        least = TaskState.MAYBE
    elif state & TaskState.DEFINITE_MASK:
        least = _FUTURE
    else:
        least = _COMPLETED
    out = []
    subprocesses = wf.subprocesses
    stack = [(wf.task_tree, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        task, depth = pop()
        if task._state & state and (manual is None or task.task_spec.manual == manual):
            out.append(task)
        kids = task._children
        sub = subprocesses.get(task.id) if subprocesses else None
        if depth >= MAX_DEPTH or (sub is None and (not kids or task._state < least)):
            continue
        tasks = task.workflow.tasks
        depth += 1
        for cid in reversed(kids):
            push((tasks.get(cid), depth))
        if sub is not None:
            push((sub.task_tree, depth))
    return out


class PlatformWorkflow(BpmnWorkflow):
    """The platform's top workflow: SpiffWorkflow's, with ``get_tasks`` by state (and ``manual``) from
    the root answered by ``tasks_in_state``. SpiffWorkflow asks it for the ready tasks at every pass
    of ``do_engine_steps`` (several a step, more when a process ends), and each walk went through the
    whole history with the iterator's per-task bookkeeping. Stored as ``BpmnWorkflow`` (serializer.py).

    ``timers_held_at``: set by the caller for one step (not stored): the timers do not see a time past
    it (the case's clock stopped then: timers.py)."""

    timers_held_at = None

    def get_tasks(self, first_task=None, **kwargs):
        if first_task is None and kwargs.keys() <= _FAST_FILTERS:
            return tasks_in_state(self, kwargs.get("state", TaskState.ANY_MASK), kwargs.get("manual"))
        return super().get_tasks(first_task, **kwargs)

    def update_waiting_tasks(self) -> None:
        """SpiffWorkflow's, through ``waiting_walk`` instead of its iterator: run after every task that
        completes (a step completes several), through the whole history each time."""
        for task in waiting_walk(self):
            task.task_spec._update(task)


def waiting_walk(wf):
    """The tasks ``TaskIterator(wf.task_tree, state=WAITING)`` yields, as lazily: a task's children are
    read when the walk reaches it, before it is handed out, so what the caller changes in the tree
    reaches the rest of the walk as it reaches the iterator's (the tree of ``wf`` only, not its
    sub-processes'; below a task in FUTURE or a later state only; not below depth 1000)."""
    stack = [(wf.task_tree, 0)]
    pop, push = stack.pop, stack.append
    tasks = wf.tasks
    while stack:
        task, depth = pop()
        kids = task._children
        if kids and task._state >= _FUTURE and depth < MAX_DEPTH:
            for cid in reversed(kids):
                push((tasks.get(cid), depth + 1))
        if task._state == _WAITING:
            yield task


class PlatformEndJoin(_EndJoin):
    """The end of a process (SpiffWorkflow's ``_EndJoin``, which the end events join): it may fire when no
    other task of its workflow is unfinished. SpiffWorkflow asks ``TaskIterator(task_tree,
    state=NOT_FINISHED_MASK, end_at_spec=<its name>)`` for one, a walk through the whole history with the
    iterator's per-task bookkeeping at every update of the join; ``unfinished_besides`` answers the same
    question. Specs load with this class (serializer.py registers it under SpiffWorkflow's type name, so
    what is stored does not change)."""

    def _check_threshold_unstructured(self, my_task):
        return not unfinished_besides(my_task, self.name)


def unfinished_besides(my_task, end_at: str) -> bool:
    """Whether a task other than ``my_task`` in its workflow's tree (that workflow only, not its
    sub-processes) is unfinished, the tree walked as the iterator walks it for a NOT_FINISHED mask: below
    every task (predicted ones included) but not below one of spec ``end_at``, and not below depth 1000.
    The order of the walk does not matter for the answer."""
    tasks = my_task.workflow.tasks
    stack = [(my_task.workflow.task_tree, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        task, depth = pop()
        if task._state & _NOT_FINISHED and task is not my_task:
            return True
        kids = task._children
        if kids and depth < MAX_DEPTH and task.task_spec.name != end_at:
            depth += 1
            for cid in kids:
                push((tasks.get(cid), depth))
    return False


def fired(completed) -> list[TimerView]:
    """The timer events among ``completed`` tasks, with their due time (None when it cannot be read)."""
    out = []
    for task in completed:
        if not isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
            continue
        due = task._get_internal_data("event_value")
        if isinstance(due, dict):
            due = due.get("next")
        try:
            due_at = TimerEventDefinition.get_datetime(due) if isinstance(due, str) else None
        except ValueError:
            due_at = None
        out.append(TimerView(str(task.id), task.task_spec.bpmn_id, due_at))
    return out
