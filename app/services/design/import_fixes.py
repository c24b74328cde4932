"""The import assistant's edits of a BPMN file (issue 18): small, targeted changes of the parsed XML
(lxml), everything else kept as it was — the bpmndi section, camunda:* extensions, comments, the
order of attributes. Pure functions on an lxml tree: no database, no Flask.

* ``main_process`` — which process of a file is (or would become) the matter;
* ``proposed_id`` — a valid matter id for any text;
* ``rename_id`` — an id changed everywhere it is referenced (sourceRef, processRef, calledElement,
  attachedToRef, default, bpmnElement of the diagram, flowNodeRef / incoming / outgoing texts …);
* ``set_property`` / ``set_form_key`` / ``convert_to_manual`` / ``add_flow_ids`` / ``serialize``.
"""
from __future__ import annotations

import ast
import re

from lxml import etree

from ...engine.compat import called_processes, lane_for, lanes_of  # noqa: F401 (used by the assistant)
from ...engine.element_checks import ISO_LITERAL  # noqa: F401 (a bare ISO timer: used by the assistant)
from ...engine.parser import BPMN_NS, ID_RE

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
B = "{%s}" % BPMN_NS
C = "{%s}" % CAMUNDA_NS
MAX_ID = 64
#: attributes whose value is the id of another element
REF_ATTRS = ("sourceRef", "targetRef", "processRef", "calledElement", "attachedToRef", "default",
             "bpmnElement", "sourceElement", "targetElement", "activityRef", "errorRef", "escalationRef",
             "signalRef", "messageRef", "dataObjectRef", "categoryValueRef", "initiatingParticipantRef")
#: elements whose text is the id of another element
REF_TEXTS = {"flowNodeRef", "incoming", "outgoing", "sourceRef", "targetRef", "participantRef"}
#: the camunda attributes of a service / send / business-rule task that mean nothing on a manual task
SERVICE_ATTRS = ("class", "delegateExpression", "expression", "resultVariable", "type", "topic", "taskPriority",
                 "decisionRef", "decisionRefBinding", "decisionRefVersion", "decisionRefVersionTag",
                 "decisionRefTenantId", "mapDecisionResult")
SERVICE_CHILDREN = ("connector", "field")
TASK_KINDS = {"userTask", "manualTask", "task"}
UNSUPPORTED_TASKS = {"serviceTask": "服务任务 (service task)", "sendTask": "发送任务 (send task)",
                     "businessRuleTask": "业务规则任务 (business rule task)"}


def local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def proposed_id(text: str, prefix: str = "p_") -> str:
    """A valid id ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters) for ``text``: other characters
    become ``_``; one that starts with a digit (or is empty) gets ``prefix``."""
    out = re.sub(r"[^A-Za-z0-9_]", "_", text or "")
    if not out or out[0].isdigit():
        out = prefix + out
    return out[:MAX_ID]


def valid_id(text: object) -> bool:
    return isinstance(text, str) and bool(ID_RE.match(text)) and len(text) <= MAX_ID


def processes(root) -> list:
    return root.findall("bpmn:process", NS)


def called_ids(root) -> set[str]:
    """The calledElement of every call activity of the file."""
    return {(el.get("calledElement") or "").strip() for el in root.iter(B + "callActivity")} - {""}


def main_process(root):
    """``(process or None, candidates, unambiguous)``: the process that is the matter — the single
    executable one; among several executable ones (or none), those no call activity of the file
    calls. ``unambiguous`` when exactly one candidate remains."""
    procs = processes(root)
    executable = [p for p in procs if p.get("isExecutable") == "true"]
    if len(executable) == 1:
        return executable[0], executable, True
    pool = executable or procs
    called = called_ids(root)
    candidates = [p for p in pool if p.get("id") not in called] or pool
    return (candidates[0] if candidates else None), candidates, len(candidates) == 1


def proposed_process_id(root, proc) -> str:
    """The valid id the assistant proposes for a process whose id is not one (unique in the file)."""
    old = proc.get("id") or ""
    return unique_id(proposed_id(old), all_ids(root) - {old})


def relevant_processes(root, main) -> list:
    """The main process and the processes of the file it calls (transitively)."""
    return [main, *called_processes(root, main)] if main is not None else []


def rename_id(root, old: str, new: str) -> None:
    """Give the element ``old`` the id ``new`` and change every reference to it."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.get("id") == old:
            el.set("id", new)
        for attr in REF_ATTRS:
            if el.get(attr) == old:
                el.set(attr, new)
        if local(el.tag) in REF_TEXTS and (el.text or "").strip() == old:
            el.text = el.text.replace(old, new)


def all_ids(root) -> set[str]:
    return {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}


def unique_id(wanted: str, taken: set[str]) -> str:
    out, n = wanted, 2
    while out in taken:
        suffix = f"_{n}"
        out = wanted[: MAX_ID - len(suffix)] + suffix
        n += 1
    return out


def set_executable(root, chosen: str) -> None:
    """``chosen`` is the one executable process; every other process of the file is not."""
    for proc in processes(root):
        proc.set("isExecutable", "true" if proc.get("id") == chosen else "false")


def _extension_elements(el):
    """The element's bpmn:extensionElements, created after its bpmn:documentation when missing
    (the BPMN schema's order)."""
    ext = el.find("bpmn:extensionElements", NS)
    if ext is None:
        ext = etree.Element(B + "extensionElements")
        docs = el.findall("bpmn:documentation", NS)
        el.insert(el.index(docs[-1]) + 1 if docs else 0, ext)
        _indent_like(el, ext)
    return ext


def _indent_like(parent, child) -> None:
    """Give a new child the whitespace its siblings have (readable diffs of the file)."""
    siblings = [c for c in parent if c is not child]
    if siblings and siblings[0].tail:
        child.tail = siblings[0].tail
    elif parent.text is None or not parent.text.strip():
        depth = len(list(parent.iterancestors())) + 1
        parent.text = parent.text or "\n" + "  " * (depth + 1)
        child.tail = "\n" + "  " * depth


def get_property(el, name: str) -> str | None:
    prop = el.find(f"bpmn:extensionElements/camunda:properties/camunda:property[@name='{name}']", NS)
    return None if prop is None else prop.get("value")


def set_property(el, name: str, value: str) -> None:
    """``<camunda:property name=… value=…/>`` in the element's extensionElements (created as needed)."""
    ext = _extension_elements(el)
    props = ext.find("camunda:properties", NS)
    if props is None:
        props = etree.SubElement(ext, C + "properties", nsmap={"camunda": CAMUNDA_NS})
    prop = props.find(f"camunda:property[@name='{name}']", NS)
    if prop is None:
        prop = etree.SubElement(props, C + "property")
        prop.set("name", name)
    prop.set("value", value)


def set_form_key(el, form_id: str) -> None:
    """``camunda:formKey=form_id``; a formRef and the camunda:formData it replaces are dropped."""
    for attr in ("formRef", "formRefBinding", "formRefVersion"):
        el.attrib.pop(C + attr, None)
    el.set(C + "formKey", form_id)
    ext = el.find("bpmn:extensionElements", NS)
    if ext is not None:
        for data in ext.findall("camunda:formData", NS):
            ext.remove(data)
        if len(ext) == 0:
            el.remove(ext)


def convert_to_manual(el) -> None:
    """A service / send / business-rule task becomes a bpmn:manualTask with the same id, name,
    flows and properties; the camunda attributes of a service call are dropped."""
    el.tag = B + "manualTask"
    for attr in SERVICE_ATTRS:
        el.attrib.pop(C + attr, None)
    for attr in ("implementation", "messageRef", "operationRef"):
        el.attrib.pop(attr, None)
    ext = el.find("bpmn:extensionElements", NS)
    if ext is not None:
        for child in list(ext):
            if local(child.tag) in SERVICE_CHILDREN and etree.QName(child).namespace == CAMUNDA_NS:
                ext.remove(child)
        if len(ext) == 0:
            el.remove(ext)


#: Flowable's and Activiti's extension attributes that mean what Camunda 7's of the same name mean
#: (both descend from Activiti 5): read as camunda:* by the import assistant
DIALECT_NS = ("http://flowable.org/bpmn", "http://activiti.org/bpmn")
DIALECT_ATTRS = ("candidateGroups", "candidateUsers", "assignee", "formKey", "initiator", "collection",
                 "elementVariable", "class", "expression", "delegateExpression", "type")


def normalize_dialect(root) -> list[tuple[str, str]]:
    """Copy Flowable / Activiti attributes to their camunda:* twins where the element has none (the
    originals stay). ``(element id, attribute)`` of each copy."""
    done = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for ns in DIALECT_NS:
            for attr in DIALECT_ATTRS:
                value = el.get(f"{{{ns}}}{attr}")
                if value is not None and el.get(C + attr) is None:
                    el.set(C + attr, value)
                    done.append((el.get("id") or "", attr))
    return done


def flows_without_id(root) -> list:
    return [f for f in root.iter(B + "sequenceFlow") if not (f.get("id") or "").strip()]


def flow_label(flow) -> str:
    return f"{flow.get('sourceRef') or '?'}→{flow.get('targetRef') or '?'}"


def people_of(el) -> tuple[str, str, str]:
    return (el.get(C + "candidateGroups") or "", el.get(C + "candidateUsers") or "", el.get(C + "assignee") or "")


def serialize(root, original: str) -> str:
    """The tree as text, with the original XML declaration (lxml would write its own)."""
    body = etree.tostring(root.getroottree(), encoding="unicode")  # comments around the root kept
    m = re.match(r"\s*(<\?xml[^>]*\?>)(\s*)", original)
    return (m.group(1) + (m.group(2) or "\n") + body + ("\n" if original.endswith("\n") else "")) if m else body


LABELS = {"userTask": "用户任务", "manualTask": "人工任务", "task": "任务", "startEvent": "开始事件",
          "sequenceFlow": "顺序流", "process": "流程", "lane": "泳道", "serviceTask": "服务任务",
          "sendTask": "发送任务", "businessRuleTask": "业务规则任务", "scriptTask": "脚本任务",
          "boundaryEvent": "边界事件", "intermediateCatchEvent": "中间捕获事件", "callActivity": "调用活动",
          "subProcess": "子流程"}


def named(el) -> str:
    """``用户任务「审批」(Task_1)``: how a message names an element."""
    kind = LABELS.get(local(el.tag), local(el.tag))
    name = (el.get("name") or "").strip()
    return f"{kind}「{name}」({el.get('id')})" if name else f"{kind} {el.get('id')}"


def python_ok(text: str) -> bool:
    try:
        ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return False
    return True


def setter(holder, attr):
    def set_value(value: str) -> None:
        if attr is None:
            holder.text = value
        else:
            holder.set(attr, value)
    return set_value


def replace_groups(raw: str, unknown: list[str], value: str) -> str:
    kept = [g.strip() for g in raw.split(",") if g.strip() and g.strip() not in unknown]
    return ",".join(dict.fromkeys(kept + [value]))
