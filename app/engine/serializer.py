"""Serializer seam: specs are stored once per version, instance state without its spec.

Every payload carries ``serializer_version`` (SpiffWorkflow's) and ``platform_format``; loading a
payload of another version goes through SpiffWorkflow's migrations or is refused loudly.
"""
from __future__ import annotations

import json
import logging
from copy import deepcopy
from datetime import date
from decimal import Decimal
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import MultiInstanceTaskConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.defaults import ParallelMultiInstanceTask, SequentialMultiInstanceTask
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_VERSION
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.multiinstance_task import (
    ParallelMultiInstanceTask as CamundaParallelMultiInstanceTask,
    SequentialMultiInstanceTask as CamundaSequentialMultiInstanceTask,
)

from .multiinstance import ParallelMultiInstanceTask as PlatformParallelMultiInstanceTask
from .multiinstance import SequentialMultiInstanceTask as PlatformSequentialMultiInstanceTask

from .timers import ClockedCycle, ClockedDuration, ClockedTimeDate

PLATFORM_FORMAT = 1


class StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Like SpiffWorkflow's, but leaves the spec out; on load the caller hands in the cached spec."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)  # WorkflowConverter: data + tasks
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _registry_for(state_only: bool):
    config = deepcopy(CAMUNDA_CONFIG)
    # Camunda-form multi-instance: our classes (they never change the shared spec while running),
    # under the type names SpiffWorkflow's Camunda classes were stored with
    config.pop(CamundaParallelMultiInstanceTask)
    config.pop(CamundaSequentialMultiInstanceTask)
    if state_only:
        config[BpmnWorkflow] = StateOnlyWorkflowConverter
    registry = BpmnWorkflowSerializer.configure(config)
    # standard-BPMN multi-instance (loopDataInputRef …) next to Camunda's collection form; the
    # classes share their names with Camunda's, so they get their own type names
    MultiInstanceTaskConverter(ParallelMultiInstanceTask, registry, typename="BpmnParallelMultiInstanceTask")
    MultiInstanceTaskConverter(SequentialMultiInstanceTask, registry, typename="BpmnSequentialMultiInstanceTask")
    MultiInstanceTaskConverter(PlatformParallelMultiInstanceTask, registry, typename="ParallelMultiInstanceTask")
    MultiInstanceTaskConverter(PlatformSequentialMultiInstanceTask, registry, typename="SequentialMultiInstanceTask")
    for cls in (ClockedTimeDate, ClockedDuration, ClockedCycle):
        TimerConditionalEventDefinitionConverter(cls, registry)
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
        typename = _registry.typenames.get(type(obj))
        if typename is not None:
            return _registry.convert_to_dict[typename](obj)
        if isinstance(obj, (set, frozenset, tuple, range)):
            return list(obj)
        if callable(obj):
            return None
        log.warning("task data value of type %s stored as its text", type(obj).__name__)
        return repr(obj)


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
    return json.dumps(dct, ensure_ascii=False, separators=(",", ":"), cls=_StateEncoder)


def load_state(text: str, spec, subprocess_specs, script_engine):
    dct = json.loads(text)
    version = dct.pop("serializer_version", None)
    fmt = dct.pop("platform_format", None)
    if fmt != PLATFORM_FORMAT:
        raise StateFormatError(f"unknown platform state format {fmt!r}")
    if version != SPIFF_VERSION:
        if version not in MIGRATIONS:
            raise StateFormatError(f"no migration from serializer version {version!r} to {SPIFF_VERSION}")
        dct["spec"] = {}
        MIGRATIONS[version](dct)
    dct["spec"] = spec
    dct["subprocess_specs"] = subprocess_specs
    workflow = _registry.restore(dct)
    workflow.script_engine = script_engine
    return workflow
