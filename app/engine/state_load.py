"""Loading a stored state for a step that missed the workflow cache (issue 20).

With several web workers most steps reach a worker that does not keep the case's workflow: the step
loads the stored state, runs, and dumps it again, and both ends paid for the whole history.

* **One ``UUID`` per task id.** SpiffWorkflow's loader parses a task's id where it is the task-map's key,
  the task's ``id``, its parent's ``_parent`` and its parent's ``_children`` entry: four objects for one
  id, each parsed in Python. Every later look-up of a child or a parent (``tasks.get``) then compared two
  different objects with ``UUID.__eq__`` after hashing. Here each id is parsed once per load and the same
  object is used everywhere, as it is for tasks made while the workflow runs.
* **The stored text of each task.** ``parse_state`` reads the payload as ``json.loads`` does and also
  returns the text each task (of the top workflow and of each sub-process) was stored as, so the dump
  after the step can write an unchanged finished task as it was read (serializer.py) instead of
  converting and encoding the whole history again.
"""
from __future__ import annotations

import json
from json.decoder import WHITESPACE, JSONDecodeError, scanstring
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

#: the attribute of a top workflow that holds its id → UUID map while it is being loaded
IDS_ATTR = "_platform_loading_ids"
TASKS_KEY, SUBPROCESSES_KEY = "tasks", "subprocesses"

_scan = json.JSONDecoder().scan_once   # the scanner json.loads uses (strict, no hooks)
_ws = WHITESPACE.match


def uuid_of(ids: dict, text: str) -> UUID:
    """The one ``UUID`` object of this load for the id ``text``."""
    u = ids.get(text)
    if u is None:
        u = ids[text] = UUID(text)
    return u


class _NotPlain(Exception):
    """The payload is not an object this reader follows: json.loads reads it (and says what is wrong)."""


def _skip(text: str, idx: int) -> int:
    return _ws(text, idx).end() if text[idx:idx + 1] in " \t\n\r" else idx


def _members(text: str, idx: int, each) -> int:
    """Read the object whose ``{`` is at ``idx``; ``each(key, idx)`` reads a member's value from ``idx``
    and returns where it ends. Returns the index after the ``}``."""
    if text[idx:idx + 1] != "{":
        raise _NotPlain
    idx = _skip(text, idx + 1)
    if text[idx:idx + 1] == "}":
        return idx + 1
    while True:
        if text[idx:idx + 1] != '"':
            raise _NotPlain
        key, idx = scanstring(text, idx + 1)
        idx = _skip(text, idx)
        if text[idx:idx + 1] != ":":
            raise _NotPlain
        idx = each(key, _skip(text, idx + 1))
        idx = _skip(text, idx)
        sep = text[idx:idx + 1]
        if sep == "}":
            return idx + 1
        if sep != ",":
            raise _NotPlain
        idx = _skip(text, idx + 1)


def parse_state(text: str) -> tuple[dict, dict[str | None, dict[str, str]]]:
    """``json.loads(text)``, and the JSON text of each task as stored: by workflow (``None`` for the top
    workflow, else the key of its sub-process in ``"subprocesses"``), by task id. Anything else — not an
    object, a key twice (json.loads keeps the last one) — goes to ``json.loads`` (which raises for what
    is not JSON), with no texts."""
    texts: dict[str | None, dict[str, str]] = {}

    def workflow(idx: int, name: str | None, top: bool) -> tuple[dict, int]:
        out: dict = {}

        def member(key, idx):
            if key in out:
                raise _NotPlain
            if key == TASKS_KEY and text[idx:idx + 1] == "{":
                out[key], end = tasks(idx, texts.setdefault(name, {}))
            elif top and key == SUBPROCESSES_KEY and text[idx:idx + 1] == "{":
                subs: dict = {}

                def sub(sub_key, idx):
                    if sub_key in subs or sub_key in texts or text[idx:idx + 1] != "{":
                        raise _NotPlain
                    subs[sub_key], end = workflow(idx, sub_key, False)
                    return end
                out[key], end = subs, _members(text, idx, sub)
            else:
                out[key], end = _scan(text, idx)
            return end
        return out, _members(text, idx, member)

    def tasks(idx: int, into: dict) -> tuple[dict, int]:
        out: dict = {}

        def task(key, idx):
            if key in out:
                raise _NotPlain
            out[key], end = _scan(text, idx)
            into[key] = text[idx:end]
            return end
        return out, _members(text, idx, task)

    try:
        dct, end = workflow(_skip(text, 0), None, True)
        if _skip(text, end) != len(text):
            raise _NotPlain
    except (_NotPlain, StopIteration, JSONDecodeError, ValueError, IndexError, RecursionError):
        # RecursionError: the scanner's own frames above the C scanner's, near the depth json.loads still reads
        return json.loads(text), {}
    return dct, texts


class InterningTaskConverter(TaskConverter):
    """SpiffWorkflow's task converter (the same dict, the same task), whose loader takes each id's
    ``UUID`` from the load's map (``IDS_ATTR`` on the top workflow, set by serializer.py for the
    duration of a load) instead of parsing it again at every place it occurs."""

    def from_dict(self, dct, workflow):
        ids = workflow.top_workflow.__dict__.get(IDS_ATTR)
        if ids is None:
            return super().from_dict(dct, workflow)
        known = ids.get   # a parent's id and its children's were read with the parent, before this task
        spec = workflow.spec.task_specs.get(dct["task_spec"])
        tid = dct["id"]
        task = self.target_class(workflow, spec, state=dct["state"], id=known(tid) or uuid_of(ids, tid))
        parent = dct["parent"]
        task._parent = None if parent is None else known(parent) or uuid_of(ids, parent)
        task._children = [known(c) or uuid_of(ids, c) for c in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        restore = self.registry.restore
        task.internal_data = restore(dct["internal_data"])
        if task._state == TaskState.WAITING and isinstance(spec, CatchingEvent):
            workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        above = workflow.tasks.get(task._parent) if delta and task._parent is not None else None
        if above is not None:
            data = DeepMerge.merge({}, above.data)
            data.update(restore(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                data.pop(key, None)
        else:
            data = restore(dct["data"])
        task.data = data
        return task


def tasks_from_dict(converter, workflow, stored: dict) -> None:
    """``workflow.tasks`` from the stored map, keyed by the tasks' own id objects (each task puts itself
    in the map as it is made, in the stored order: a parent before its children)."""
    workflow.tasks = {}
    restore = converter.registry.restore
    for value in stored.values():
        restore(value, workflow=workflow)
