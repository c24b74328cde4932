"""Forwarding in the BPMN dialect (转报): an intermediate message THROW event marked
``camunda:property action=forward`` sends the case to another platform of the 省市县 network.

```xml
<bpmn:intermediateThrowEvent id="forward_up" name="转报上级">
  <bpmn:extensionElements><camunda:properties>
    <camunda:property name="action" value="forward"/>
    <camunda:property name="target" value="up"/>          <!-- or a 6-digit region: 320000 -->
  </camunda:properties></bpmn:extensionElements>
  <bpmn:messageEventDefinition messageRef="Msg_forward"/>
</bpmn:intermediateThrowEvent>
```

This module holds what the engine knows of it: the deploy-time check (the element and the target)
and, after a step, which forward events the step went through (``forward_throws``). Sending is the
federation wing's business (app/services/federation/forwarding.py), reached through the ``on_thrown``
hook of app/services/cases/hooks.py."""
from __future__ import annotations

import re

from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS
from SpiffWorkflow.util.task import TaskState

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": CAMUNDA_MODEL_NS}

FORWARD = "forward"
#: the forward's target: ``up`` (the peer of the next level up whose region contains ours) or a region
TARGET = "target"
UP = "up"
EXPRESSION = "{%s}expression" % CAMUNDA_MODEL_NS
REGION_RE = re.compile(r"^[1-9]\d{5}$")


def _props(el) -> dict:
    return {p.get("name"): p.get("value")
            for p in el.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)}


def check_forwards(errors: list, filename: str, proc, err) -> None:
    """``action=forward`` only on an intermediate message throw event, with a valid ``target``;
    ``target`` only with ``action=forward``. ``err(errors, element, message, filename)`` records.
    A forward's message needs no ``camunda:expression`` (the platform writes the forward's body):
    when it has none, the parsed tree gets ``{}`` (the Camunda throw evaluates one)."""
    for el in proc.iter():
        if not isinstance(el.tag, str):
            continue
        props = _props(el)
        eid = el.get("id")
        if props.get("action") != FORWARD:
            if TARGET in props and el.tag == full_tag("intermediateThrowEvent"):
                err(errors, eid, "target 只用于 action=forward 的转报事件 (target goes with action=forward)", filename)
            continue
        definition = el.find("bpmn:messageEventDefinition", NS)
        if el.tag != full_tag("intermediateThrowEvent") or definition is None:
            err(errors, eid, "action=forward (转报) 只能用于中间消息抛出事件 (an intermediate message throw "
                             "event: bpmn:intermediateThrowEvent with a bpmn:messageEventDefinition)", filename)
            continue
        target = (props.get(TARGET) or "").strip()
        if target != UP and not REGION_RE.match(target):
            err(errors, eid, f"转报目标 target {target!r} 不正确：应为 up 或 6 位行政区划代码 "
                             f"(target: 'up' or a 6-digit GB/T 2260 region code)", filename)
        if not (definition.get(EXPRESSION) or "").strip():
            # the platform writes the forward's body; the throw itself carries an empty payload
            definition.set(EXPRESSION, "{}")


def forward_throws(wf) -> list[tuple[str, str, str]]:
    """(task id, element id, target) of every forward throw event the workflow has gone through (the
    caller keys what it sends by the task id, so a forward is sent once however often this is read)."""
    out = []
    for task in wf.get_tasks(state=TaskState.COMPLETED):
        spec = task.task_spec
        ext = getattr(spec, "extensions", None) or {}
        if ext.get("action") == FORWARD and isinstance(getattr(spec, "event_definition", None),
                                                        MessageEventDefinition):
            out.append((str(task.id), spec.bpmn_id, (ext.get(TARGET) or "").strip()))
    return out
