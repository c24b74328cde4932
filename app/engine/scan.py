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

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

#: SpiffWorkflow's TaskIterator's default ``max_depth``: no task below it is visited
MAX_DEPTH = 1000

_READY, _WAITING, _COMPLETED, _ERROR = TaskState.READY, TaskState.WAITING, TaskState.COMPLETED, TaskState.ERROR
_FUTURE = TaskState.FUTURE


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
