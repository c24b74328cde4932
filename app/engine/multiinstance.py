"""Camunda-form multi-instance (会签) task specs whose behaviour does not depend on the process.

SpiffWorkflow's Camunda classes (``SpiffWorkflow.camunda.specs.multiinstance_task``) decide, when a
multi-instance task starts, where its instances' items come from, and record that by *assigning
attributes of the shared task spec* (``data_input``, ``input_item``, even ``cardinality = None``).
A spec is parsed or deserialised once per process and shared by every workflow of that version, so
the outcome depended on which process had started *some* instance of the task before:

* the process that started the multi-instance had ``data_input`` set, so ``merge_child`` put each
  department's result back in its own item (``countersign[i] = cs``);
* any other process (a second node, a restart, a worker) had ``data_input = None``, so the result
  was *appended* to the collection: 2 departments gave 3 or 4 items and the "all agree" gateway
  went the wrong way; a sequential countersign failed outright (``None < None`` in
  ``get_next_index``);
* a ``loopCardinality`` that evaluated to a collection set ``cardinality = None`` on the shared
  spec, changing every later instance of that version in the process.

These classes never touch the spec while running. What is fixed by the model is set once when the
spec is built (parsed or loaded from its stored JSON): the collection form iterates the collection
and writes back into it; the instance variable is the element variable. What depends on the data (a
``loopCardinality`` giving a number or a collection) is decided per workflow task and kept in its
internal data, which is serialised with the instance.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence

from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import (
    ParallelMultiInstanceTask as BpmnParallelMultiInstanceTask,
    SequentialMultiInstanceTask as BpmnSequentialMultiInstanceTask,
)
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import (
    ParallelMultiInstanceTask as ParallelMultiInstanceMixin,
    SequentialMultiInstanceTask as SequentialMultiInstanceMixin,
)
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

#: internal data of a running multi-instance task of the loopCardinality form: the name of the data
#: its instances iterate when the cardinality expression gave a collection, "" when it gave a number
INPUT_KEY = "platform_mi_input"


class CamundaMultiInstance:
    """What both Camunda-form classes share (mixed in before SpiffWorkflow's BPMN classes)."""

    def __init__(self, wf_spec, bpmn_id, task_spec, cardinality=None, data_input=None, data_output=None,
                 input_item=None, output_item=None, condition=None, **kwargs):
        if cardinality is None and data_input is None and data_output is not None:
            # camunda:collection: the instances iterate the collection and write back into it
            data_input = TaskDataReference(data_output.bpmn_id)
        if input_item is None and output_item is not None:
            # camunda:elementVariable names the item going in and coming out
            input_item = TaskDataReference(output_item.bpmn_id)
        super().__init__(wf_spec, bpmn_id, task_spec, cardinality=cardinality, data_input=data_input,
                         data_output=data_output, input_item=input_item, output_item=output_item,
                         condition=condition, **kwargs)

    # -- per-task resolution (never stored on the spec) ------------------------------------------
    def _begin(self, my_task):
        """Camunda's start: inherit the parent's data, then, for a loopCardinality, evaluate it once
        and remember in the task whether it gave a number (the cardinality) or a collection (the
        data input, named by the expression). Returns the number, or None."""
        if my_task.state != TaskState.WAITING:
            BpmnSpecMixin._update_hook(self, my_task)  # as SpiffWorkflow's Camunda classes do
            my_task._set_state(TaskState.WAITING)
        if self.cardinality is None:
            return None
        value = my_task.workflow.script_engine.evaluate(my_task, self.cardinality)
        if isinstance(value, int):  # (as SpiffWorkflow decides it)
            my_task.internal_data[INPUT_KEY] = ""
            return value
        my_task.internal_data[INPUT_KEY] = self.cardinality
        return None

    def _data_input(self, my_task):
        """The data input of this run of the task (None: instances counted by the cardinality)."""
        if self.cardinality is None:
            return self.data_input
        name = my_task.internal_data.get(INPUT_KEY)
        if name is None:  # started before INPUT_KEY existed: decide as the Camunda classes did
            if "cardinality" in my_task.internal_data or "current" in my_task.internal_data:
                name = ""
            elif "remaining" in my_task.internal_data:
                name = self.cardinality
            else:
                value = my_task.workflow.script_engine.evaluate(my_task, self.cardinality)
                name = "" if isinstance(value, int) else self.cardinality
            my_task.internal_data[INPUT_KEY] = name
        return TaskDataReference(name) if name else None

    # -- SpiffWorkflow's MultiInstanceTask, with the data input of the run -------------------------
    def _merge_output(self, child):
        my_task = child.parent
        if self.data_output is not None and self.output_item is not None:
            if not self.output_item.exists(child):
                self.raise_data_exception("Expected an output item", child)
            item = self.output_item.get(child)
            key_or_index = child.internal_data.get("key_or_index")
            data_output = self.data_output.get(my_task)
            data_input = self._data_input(my_task)
            data_input = data_input.get(my_task) if data_input is not None else None
            if key_or_index is not None and (isinstance(data_output, Mapping) or data_input is data_output):
                data_output[key_or_index] = item
            else:
                data_output.append(item)
        else:
            DeepMerge.merge(my_task.data, child.data)
        my_task.internal_data["merged"].append(str(child.id))

    def init_data_output_with_cardinality(self, my_task):
        # SpiffWorkflow's refers to an undefined name (data_ouput) when the output already has items
        if not self.data_output.exists(my_task):
            self.data_output.set(my_task, [])
        else:
            data_output = self.data_output.get(my_task)
            if not isinstance(data_output, MutableMapping) and len(data_output) > 0:
                self.raise_data_exception(
                    "If loop cardinality is specificied, the output must be a map (dict) or empty sequence (list)",
                    my_task)


class SequentialMultiInstanceTask(CamundaMultiInstance, BpmnSequentialMultiInstanceTask):

    def _update_hook(self, my_task):
        cardinality = self._begin(my_task)
        # SpiffWorkflow's SequentialMultiInstanceTask._update_hook, with the run's data input
        super(SequentialMultiInstanceMixin, self)._update_hook(my_task)
        my_task.internal_data["merged"] = []
        data_input = self._data_input(my_task)
        if data_input is not None:
            input_data = data_input.get(my_task)
            my_task.internal_data["remaining"] = self.init_remaining_items(my_task)
            if self.data_output is not None:
                self.init_data_output_with_input_data(my_task, input_data)
        else:
            my_task.internal_data["cardinality"] = cardinality
            my_task.internal_data["current"] = 0
            if self.data_output is not None:
                self.init_data_output_with_cardinality(my_task)
        if not self.children_complete(my_task):
            self.add_next_child(my_task)
            my_task._set_state(TaskState.STARTED)
        else:
            return True

    def add_next_child(self, my_task):
        if self._data_input(my_task) is not None:
            key_or_index, item = self.get_next_input_item(my_task)
        else:
            key_or_index, item = self.get_next_index(my_task)
        if item is not None:
            self.create_child(my_task, item, key_or_index)

    def get_next_input_item(self, my_task):
        input_data = self._data_input(my_task).get(my_task)
        remaining = my_task.internal_data.get("remaining")
        if len(remaining) > 0:
            if isinstance(input_data, (Mapping, Sequence)):
                key_or_index, item = remaining[0], input_data[remaining[0]]
            else:
                key_or_index, item = None, remaining[0]
            my_task.internal_data["remaining"] = remaining[1:]
            return key_or_index, item
        return None, None

    def init_remaining_items(self, my_task):
        data_input = self._data_input(my_task)
        if not data_input.exists(my_task):
            self.raise_data_exception("Missing data input for multiinstance task", my_task)
        input_data = data_input.get(my_task)
        if isinstance(input_data, Sequence):
            return list(range(len(input_data)))  # the index of each item
        if isinstance(input_data, (Mapping, Iterable)):
            return list(input_data)  # a map's keys, or the objects themselves
        self.raise_data_exception("Multiinstance data input must be iterable", my_task)

    def children_complete(self, my_task):
        if self._data_input(my_task) is not None:
            return len(my_task.internal_data.get("remaining", [])) == 0
        return my_task.internal_data.get("current", 0) == my_task.internal_data.get("cardinality", 0)

    def merge_child(self, workflow, child):
        self._merge_output(child)
        my_task = child.parent
        if self.children_complete(my_task) or self.check_completion_condition(my_task):
            my_task._set_state(TaskState.READY)
        else:
            self.add_next_child(my_task)


class ParallelMultiInstanceTask(CamundaMultiInstance, BpmnParallelMultiInstanceTask):

    def _update_hook(self, my_task):
        cardinality = self._begin(my_task)
        super(ParallelMultiInstanceMixin, self)._update_hook(my_task)
        my_task.internal_data["merged"] = []
        self._create_children(my_task, cardinality)
        if not self.children_complete(my_task):
            my_task._set_state(TaskState.STARTED)
        else:
            return True

    def _create_children(self, my_task, cardinality):
        data_input = self._data_input(my_task)
        if data_input is not None:
            input_data = data_input.get(my_task)
            if isinstance(input_data, Mapping):
                children = input_data.items()
            elif isinstance(input_data, Sequence):
                children = enumerate(input_data)
            else:
                children = ((None, item) for item in input_data)
        else:
            children = ((idx, idx) for idx in range(cardinality))
        if self.data_output is not None:
            if data_input is not None:
                self.init_data_output_with_input_data(my_task, data_input.get(my_task))
            else:
                self.init_data_output_with_cardinality(my_task)
        for key_or_index, item in children:
            self.create_child(my_task, item, key_or_index)

    def create_children(self, my_task):  # SpiffWorkflow's entry point, should anything call it
        self._create_children(my_task, None if self._data_input(my_task) is not None
                              else my_task.workflow.script_engine.evaluate(my_task, self.cardinality))

    def merge_child(self, workflow, child):
        self._merge_output(child)
        my_task = child.parent
        if self.check_completion_condition(my_task):
            for instance in self._instances(my_task):
                instance.cancel()
            my_task._set_state(TaskState.READY)
        elif self.children_complete(my_task):
            my_task._set_state(TaskState.READY)


__all__ = ["SequentialMultiInstanceTask", "ParallelMultiInstanceTask", "INPUT_KEY"]


def add_camunda_multiinstance_task(node, loop_characteristics) -> None:
    """SpiffWorkflow's Camunda parsing (camunda:collection / camunda:elementVariable or a
    loopCardinality), building our classes, which never change the spec while running (see
    this module's docstring: SpiffWorkflow's made the result depend on the process). ``node`` is
    the task's parser (app/engine/parser.py PlatformNodeMixin)."""
    prefix = "bpmn:multiInstanceLoopCharacteristics"
    cardinality = node.xpath(f"./{prefix}/bpmn:loopCardinality")
    cardinality = cardinality[0].text if len(cardinality) > 0 else None
    collection = node.attribute("collection", "camunda", loop_characteristics)
    if cardinality is None and collection is None:
        node.raise_validation_exception("A multiinstance task must specify a cardinality or a collection")
    element_var = node.attribute("elementVariable", "camunda", loop_characteristics)
    if cardinality is None and element_var is None:
        node.raise_validation_exception("camunda:collection needs camunda:elementVariable (每个实例的变量名)")
    condition = node.xpath(f"./{prefix}/bpmn:completionCondition")
    condition = condition[0].text if len(condition) > 0 else None
    original = node.spec.task_specs.pop(node.task.name)
    params = {
        "task_spec": "",
        "cardinality": cardinality,
        "data_output": TaskDataReference(collection) if collection is not None else None,
        "output_item": TaskDataReference(element_var) if element_var is not None else None,
        "condition": condition,
    }
    cls = SequentialMultiInstanceTask if loop_characteristics.get("isSequential") == "true" \
        else ParallelMultiInstanceTask
    node.task = cls(node.spec, original.name, **params)
    node._copy_task_attrs(original, loop_characteristics)
