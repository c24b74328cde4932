"""Serializer seam: specs are stored once per version, instance state without its spec.

Every payload carries ``serializer_version`` (SpiffWorkflow's) and ``platform_format``; loading a
payload of another version goes through SpiffWorkflow's migrations or is refused loudly.

The state is stored without SpiffWorkflow's prediction of the future (issue 20): the subtrees of
FUTURE / LIKELY / MAYBE tasks hanging under a task that has not finished are left out, and on load
those tasks are predicted again (``TaskSpec._predict``, what SpiffWorkflow itself does when it builds
a workflow), so the stored size and the cost of a step follow what happened, not the model's size.
Such a payload says ``"future": "predict"``; one without it (stored before) keeps its whole tree
and loads as it always did.
"""
from __future__ import annotations

import json
import logging
from copy import deepcopy
from datetime import date, datetime
from decimal import Decimal
from math import copysign, isnan
from uuid import UUID, uuid4

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter, MultiInstanceTaskConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter, BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.defaults import ParallelMultiInstanceTask, SequentialMultiInstanceTask
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_VERSION
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.multiinstance_task import (
    ParallelMultiInstanceTask as CamundaParallelMultiInstanceTask,
    SequentialMultiInstanceTask as CamundaSequentialMultiInstanceTask,
)
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .multiinstance import ParallelMultiInstanceTask as PlatformParallelMultiInstanceTask
from .multiinstance import SequentialMultiInstanceTask as PlatformSequentialMultiInstanceTask

from .scan import PlatformEndJoin, PlatformWorkflow
from .state_load import IDS_ATTR, InterningTaskConverter, parse_state, tasks_from_dict, uuid_of
from .timers import ClockedCycle, ClockedDuration, ClockedTimeDate

PLATFORM_FORMAT = 1


#: what SpiffWorkflow predicts (and predicts again on load): tasks not reached yet
_PREDICTED = TaskState.FUTURE | TaskState.PREDICTED_MASK
_REACHED = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_REPREDICTED = _REACHED | TaskState.FUTURE   # the tasks whose children may have been left out
FUTURE_KEY, FUTURE_PREDICT = "future", "predict"


def unreached(workflow) -> set:
    """Ids of the tasks of ``workflow`` (one workflow or sub-process: its own ``tasks``) left out of
    the stored state: every child of a task that has not finished, when all its children are pure
    predictions — FUTURE / LIKELY / MAYBE, not triggered, without data or internal data, no
    sub-process of their own, and only such tasks below them — and, if the task has been reached
    (READY, WAITING, STARTED), all of them FUTURE. The task is then stored without children and
    ``_predict`` gives it the same ones again on load. A task whose children are not all such keeps
    them all (nothing is re-ordered or half predicted)."""
    pure = set()
    subprocesses = workflow.top_workflow.subprocesses
    tasks = list(workflow.tasks.values())   # creation order: a parent before its children
    for task in reversed(tasks):
        if task._state & _PREDICTED and not task.triggered and not task.data and not task.internal_data \
                and task.id not in subprocesses and all(c in pure for c in task._children):
            pure.add(task.id)
    drop = set()
    for task in tasks:
        kids = task._children
        if not kids:
            continue
        if task.id in drop:
            drop.update(kids)
        elif all(c in pure for c in kids) and (task._state == TaskState.FUTURE or (
                task._state & _REACHED and all(workflow.tasks[c]._state == TaskState.FUTURE for c in kids))):
            drop.update(kids)
    return drop


class RawJSON:
    """Text already in JSON, written as it is by ``dump_state`` (the encoder puts a placeholder)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


#: the finished tasks' JSON kept on a workflow between its dumps (a kept workflow is dumped once a step)
_MEMO_ATTR = "_platform_task_json"


def _keeps(task, trimmed: bool) -> bool:
    """Whether a task's text is kept between dumps: finished, under a finished parent (or the root)."""
    if trimmed or not task._state & TaskState.FINISHED_MASK:
        return False
    parent = task.parent
    return parent is None or bool(parent._state & TaskState.FINISHED_MASK)


#: values a snapshot shares with the task instead of copying: nothing can change them in place, and ``==``
#: between two of them holds only when JSON writes them alike (a number is never one of them: below)
_SHARED = frozenset({str, type(None), date, datetime, UUID})


class _Strict:
    """A snapshot's number or bool: ``!=`` as the negation of its ``__eq__`` (int, float and Decimal
    define their own ``__ne__``)."""

    __slots__ = ()

    def __ne__(self, other):
        return not self.__eq__(other)


class _Int(_Strict, int):
    """A snapshot's int: equal only to an int (``1 == True == 1.0`` in Python, not in JSON)."""

    __slots__ = ()

    def __eq__(self, other):
        return type(other) is int and int.__eq__(self, other)

    __hash__ = int.__hash__


class _Float(_Strict, float):
    """A snapshot's float: equal only to a float written alike (``-0.0 == 0.0``; a NaN equals a NaN)."""

    __slots__ = ()

    def __eq__(self, other):
        if type(other) is not float:
            return False
        if float.__eq__(self, other):
            return copysign(1.0, self) == copysign(1.0, other)   # 0.0 and -0.0
        return isnan(self) and isnan(other)   # JSON writes both NaN

    __hash__ = float.__hash__


class _Decimal(_Strict, Decimal):
    """A snapshot's Decimal: equal only to a Decimal with the same digits and exponent (``Decimal('1.0')``
    equals 1 and ``Decimal('1.00')`` in Python; the state writes each as it is)."""

    __slots__ = ()

    def __eq__(self, other):
        return type(other) is Decimal and Decimal.as_tuple(self) == other.as_tuple()

    __hash__ = Decimal.__hash__


class _Bool(_Strict):
    """A snapshot's True or False: equal only to that bool (not to 1, 0, 1.0)."""

    __slots__ = ("value",)

    def __init__(self, value: bool):
        self.value = value

    def __eq__(self, other):
        return other is self.value

    __hash__ = None


_TRUE, _FALSE = _Bool(True), _Bool(False)
#: type -> the snapshot's value for a value of it
_STRICT = {int: _Int, float: _Float, Decimal: _Decimal, bool: lambda value: _TRUE if value else _FALSE}


def _snapshot(value):
    """A copy of a task's data to compare it with later (``copy == task.data``, the copy on the left), as
    ``deepcopy`` makes it but at a fraction of the cost for what task data is: dicts and lists of strings
    and numbers. Strings, dates and the like are shared; numbers and bools are kept as values equal only to
    a value of their own type written alike, so that a nested value changed in place from 1 to True, 1.0 or
    Decimal('1.0'), or from 0.0 to -0.0, is a change (Python's ``==`` says equal; the state writes them
    differently); anything else is deep-copied. (It has been through the registry and ``json.dumps``
    first, which refuse a cycle, so the recursion ends.)"""
    kind = type(value)
    if kind is dict:
        return {key: (item if type(item) in _SHARED else _snapshot(item)) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _SHARED else _snapshot(item) for item in value]
    if kind is tuple:
        return tuple(item if type(item) in _SHARED else _snapshot(item) for item in value)
    if kind in _SHARED:
        return value
    strict = _STRICT.get(kind)
    return strict(value) if strict is not None else deepcopy(value)


def _stamp(task) -> tuple:
    """What of a task its kept text was written from, besides its data and internal data."""
    return task._state, task.last_state_change, task._parent, tuple(task._children), task.triggered


def _task_json(convert, task, trimmed: bool, keep: bool, memo: dict, redone: set) -> str:
    """``"<id>":{…}`` of one task, as SpiffWorkflow's TaskConverter writes it (its data as the delta
    from its parent's). A finished task under a finished parent (or the root) is written once and its
    text kept with a copy of what it was written from; later dumps reuse the text while the task, its
    data and internal data still equal that copy (compared, not trusted: a nested value shared with a
    later task may have been changed in place) and its parent's text was not written again. So a
    step's dump costs the tasks that changed, not the history."""
    if keep:
        stamp = _stamp(task)
        hit = memo.get(task.id)
        if hit is not None and hit[0] == stamp and task._parent not in redone and hit[2] == task.data \
                and hit[3] == task.internal_data:
            return hit[1]
    dct = convert(task)
    if trimmed:
        dct["children"] = []
    text = f'"{task.id}":' + json.dumps(dct, ensure_ascii=False, separators=(",", ":"), cls=_StateEncoder)
    redone.add(task.id)
    if keep:
        memo[task.id] = (stamp, text, _snapshot(task.data), _snapshot(task.internal_data))
    else:
        memo.pop(task.id, None)
    return text


def _workflow_to_dict(converter, workflow) -> dict:
    """SpiffWorkflow 3.2's WorkflowConverter.to_dict with the unreached tasks left out; the tasks as
    JSON text, the finished ones' kept from the dump before (``_task_json``)."""
    drop = unreached(workflow)
    convert = converter.registry.convert
    memo = workflow.__dict__.get(_MEMO_ATTR)
    if memo is None:
        memo = workflow.__dict__[_MEMO_ATTR] = {}
    redone: set = set()
    parts = []
    kept = 0
    for tid, task in workflow.tasks.items():
        if tid in drop:
            continue
        trimmed = bool(task._children) and task._children[0] in drop   # all or none of them are dropped
        keep = _keeps(task, trimmed)
        kept += keep
        parts.append(_task_json(convert, task, trimmed, keep, memo, redone))
    if len(memo) > kept:   # tasks dropped by a reset: forget their text
        for tid in [t for t in memo if t not in workflow.tasks]:
            del memo[tid]
    tasks = RawJSON("{" + ",".join(parts) + "}")
    return {
        "data": convert(converter.registry.clean(workflow.data)),
        "correlations": workflow.correlations,
        "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
        "success": workflow.success,
        "completed": workflow.completed,
        "tasks": tasks,
        "root": str(workflow.task_tree.id),
    }


def predict_again(workflow) -> None:
    """Give every unfinished task without children (in the workflow and its sub-processes) the
    future SpiffWorkflow predicts for it, as it did when the workflow was built."""
    for wf in (workflow, *workflow.subprocesses.values()):
        for task in [t for t in wf.tasks.values() if not t._children and t._state & _REPREDICTED]:
            task.task_spec._predict(task, mask=TaskState.NOT_FINISHED_MASK)


class StateOnlySubWorkflowConverter(BpmnSubWorkflowConverter):
    def to_dict(self, workflow):
        dct = _workflow_to_dict(self, workflow)
        dct["parent_task_id"] = str(workflow.parent_task_id)
        dct["spec"] = workflow.spec.name
        return dct

    def from_dict(self, dct, task, top_workflow):
        """SpiffWorkflow's, with the tasks keyed by their own ids (state_load.py)."""
        ids = top_workflow.__dict__.get(IDS_ATTR)
        if ids is None:
            return super().from_dict(dct, task, top_workflow)
        spec = top_workflow.subprocess_specs.get(task.task_spec.spec)
        subprocess = self.target_class(spec, task.id, top_workflow, deserializing=True)
        tasks_from_dict(self, subprocess, dct["tasks"])
        subprocess.task_tree = subprocess.tasks.get(uuid_of(ids, dct["root"]))
        self.set_default_attributes(subprocess, dct)
        return subprocess


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Like SpiffWorkflow's, but leaves the spec (the caller hands in the cached spec on load) and
    the predicted future out; loads a ``PlatformWorkflow`` and writes one as ``BpmnWorkflow``."""

    def __init__(self, target_class, registry, typename=None):
        super().__init__(target_class, registry, typename)
        self.target_class = PlatformWorkflow
        registry.typenames[PlatformWorkflow] = self.typename

    def to_dict(self, workflow):
        dct = _workflow_to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        dct[FUTURE_KEY] = FUTURE_PREDICT
        return dct

    def from_dict(self, dct, ids: dict | None = None):
        """``ids``: the load's id → UUID map (state_load.py), filled as the tasks are read; each task id
        is parsed once and the same object is the task's id, its key and its parent's child entry."""
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        future = dct.pop(FUTURE_KEY, None)
        ids = {} if ids is None else ids
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.__dict__[IDS_ATTR] = ids
        try:
            tasks_from_dict(self, workflow, dct["tasks"])
            workflow.task_tree = workflow.tasks.get(uuid_of(ids, dct["root"]))
            self.set_default_attributes(workflow, dct)
            self.subprocesses_from_dict(dct["subprocesses"], workflow)
        finally:
            del workflow.__dict__[IDS_ATTR]
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        if future == FUTURE_PREDICT:
            predict_again(workflow)
        return workflow


def _registry_for(state_only: bool):
    config = deepcopy(CAMUNDA_CONFIG)
    # Camunda-form multi-instance: our classes (they never change the shared spec while running),
    # under the type names SpiffWorkflow's Camunda classes were stored with
    config.pop(CamundaParallelMultiInstanceTask)
    config.pop(CamundaSequentialMultiInstanceTask)
    if state_only:
        config[BpmnWorkflow] = StateOnlyWorkflowConverter
        config[BpmnSubWorkflow] = StateOnlySubWorkflowConverter
        config[Task] = InterningTaskConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # standard-BPMN multi-instance (loopDataInputRef …) next to Camunda's collection form; the
    # classes share their names with Camunda's, so they get their own type names
    MultiInstanceTaskConverter(ParallelMultiInstanceTask, registry, typename="BpmnParallelMultiInstanceTask")
    MultiInstanceTaskConverter(SequentialMultiInstanceTask, registry, typename="BpmnSequentialMultiInstanceTask")
    MultiInstanceTaskConverter(PlatformParallelMultiInstanceTask, registry, typename="ParallelMultiInstanceTask")
    MultiInstanceTaskConverter(PlatformSequentialMultiInstanceTask, registry, typename="SequentialMultiInstanceTask")
    for cls in (ClockedTimeDate, ClockedDuration, ClockedCycle):
        TimerConditionalEventDefinitionConverter(cls, registry)
    # a process's end join loads as the platform's (its check walks the tree once), stored as SpiffWorkflow's
    BpmnTaskSpecConverter(PlatformEndJoin, registry, typename="_EndJoin")
    return registry


_registry = _registry_for(True)
_registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
_registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
# Encoder mode: task data is not deep-converted up front; what json cannot write (datetime, date,
# Decimal, timedelta, UUID) goes through the registry in the encoder below. Set once, never toggled,
# so concurrent threads never see the flag change under them.
_registry._encoder_mode = True
_spec_serializer = BpmnWorkflowSerializer(_registry_for(False))
log = logging.getLogger(__name__)


class _StateEncoder(json.JSONEncoder):
    def default(self, obj):
        if isinstance(obj, RawJSON):
            if not hasattr(self, "raw"):
                self.raw = []
            self.raw.append(obj.text)
            return f"{_RAW}{len(self.raw) - 1}"
        typename = _registry.typenames.get(type(obj))
        if typename is not None:
            return _registry.convert_to_dict[typename](obj)
        if isinstance(obj, (set, frozenset, tuple, range)):
            return list(obj)
        if callable(obj):
            return None
        log.warning("task data value of type %s stored as its text", type(obj).__name__)
        return repr(obj)


#: a RawJSON's placeholder: a NUL and a random token, which no stored text carries, and how json writes it
_RAW = "\x00" + uuid4().hex + ":"
_RAW_WRITTEN = json.dumps(_RAW)[1:-1]


class StateFormatError(Exception):
    pass


def dump_spec(spec, subprocess_specs: dict) -> str:
    reg = _spec_serializer.registry
    dct = {"serializer_version": SPIFF_VERSION, "platform_format": PLATFORM_FORMAT,
           "spec": reg.convert(spec),
           "subprocess_specs": {name: reg.convert(s) for name, s in subprocess_specs.items()}}
    return json.dumps(dct, ensure_ascii=False, separators=(",", ":"))


def load_spec(text: str):
    dct = json.loads(text)
    if dct.get("serializer_version") != SPIFF_VERSION:
        raise StateFormatError(f"spec stored with serializer {dct.get('serializer_version')}, "
                               f"running {SPIFF_VERSION}: redeploy the matter")
    reg = _spec_serializer.registry
    spec = reg.restore(dct["spec"])
    subs = {name: reg.restore(s) for name, s in dct["subprocess_specs"].items()}
    return spec, subs


def dump_state(workflow) -> str:
    """The workflow's state as JSON, without its spec. Values json cannot write natively are stored
    through the registry (and restored as themselves); anything else unknown as its text."""
    dct = _registry.convert(workflow)
    dct["serializer_version"] = SPIFF_VERSION
    dct["platform_format"] = PLATFORM_FORMAT
    encoder = _StateEncoder(ensure_ascii=False, separators=(",", ":"))
    text = encoder.encode(dct)
    # the tasks' JSON (RawJSON) in place of its placeholders, last first (":1" is a prefix of ":10")
    for i in reversed(range(len(getattr(encoder, "raw", ())))):
        text = text.replace(f'"{_RAW_WRITTEN}{i}"', encoder.raw[i], 1)
    return text


def load_state(text: str, spec, subprocess_specs, script_engine):
    dct, texts = parse_state(text)
    if not isinstance(dct, dict):
        raise StateFormatError("the stored state is not a JSON object")
    version = dct.pop("serializer_version", None)
    fmt = dct.pop("platform_format", None)
    if fmt != PLATFORM_FORMAT:
        raise StateFormatError(f"unknown platform state format {fmt!r}")
    if version != SPIFF_VERSION:
        if version not in MIGRATIONS:
            raise StateFormatError(f"no migration from serializer version {version!r} to {SPIFF_VERSION}")
        dct["spec"] = {}
        MIGRATIONS[version](dct)
        texts = {}   # migrated: the stored texts are not what the tasks are now
    dct["spec"] = spec
    dct["subprocess_specs"] = subprocess_specs
    ids: dict = {}
    workflow = _registry.restore(dct, ids=ids)
    workflow.script_engine = script_engine
    if texts:
        _remember_stored(workflow, texts, ids)
    return workflow


def _remember_stored(workflow, texts: dict, ids: dict) -> None:
    """The dump's memo (``_task_json``) of a workflow just loaded, and of its sub-processes: each finished
    task under a finished parent with the text it was stored as and a copy of what it was loaded as, as if
    this process had written that text. A step on a workflow the cache did not keep then writes again only
    what it changed, not the whole history."""
    for name, stored in texts.items():
        if name is None:
            wf = workflow
        else:
            wf = workflow.subprocesses.get(ids.get(name)) if name in ids else None
            if wf is None:
                continue
        memo = wf.__dict__[_MEMO_ATTR] = {}
        tasks = wf.tasks
        for key, text in stored.items():
            tid = ids.get(key)
            task = tasks.get(tid) if tid is not None else None
            # ``task.id is tid``: the task's own id was read from this very string (its key in the map)
            if task is not None and task.id is tid and _keeps(task, False):
                memo[tid] = (_stamp(task), f'"{key}":{text}', _snapshot(task.data), _snapshot(task.internal_data))
