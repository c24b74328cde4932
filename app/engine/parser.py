"""Parser seam: reads our BPMN dialect (Camunda 7) safely and checks a model before it is deployed.

``check_model`` returns everything needed to store a version, or raises ``InvalidModel`` with one
entry per problem, naming the element id, so a designer can fix them all at once.
"""
from __future__ import annotations

import copy
import keyword
import re
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import ReceiveTaskParser
from SpiffWorkflow.bpmn.specs.defaults import ReceiveTask
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaEventDefinitionParser
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, UserTaskParser
from SpiffWorkflow.camunda.specs.user_task import UserTask

from ..domain.errors import InvalidModel
from ..domain.groups import is_known_group
from .compat import called_processes, flows_without_id, main_process, people_of, props_of, refused_elements
from .deemed import check_deemed
from .element_checks import (ACTIONS, EXPR_RE, _check_elements, _err, _waits,  # noqa: F401 (re-exported)
                             split_list)
from .forwarding import check_forwards
from .phases import check_phases
from .library import EMPTY as EMPTY_LIBRARY, LIBRARY_DIR, Library, check_recursion, executable_process, resolve
from .multiinstance import add_camunda_multiinstance_task
from .timers import clocked

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_MODEL_NS}
C = "{%s}" % CAMUNDA_MODEL_NS
ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")  # \Z: "$" would let a trailing newline into file names

#: elements SpiffWorkflow (or this platform) cannot run: refused at deploy with their ids
UNSUPPORTED = {
    "complexGateway": "复杂网关 (complex gateway)",
    "compensateEventDefinition": "补偿事件 (compensation)",
    "linkEventDefinition": "链接事件 (link event)",
    "transaction": "事务子流程 (transaction)",
    "adHocSubProcess": "特设子流程 (ad-hoc sub-process)",
}
FLOW_NODES = {"startEvent", "endEvent", "userTask", "scriptTask", "manualTask", "task", "serviceTask",
              "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
              "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "subProcess",
              "callActivity", "receiveTask", "sendTask", "businessRuleTask"} | \
    set(k for k in UNSUPPORTED if not k.endswith("Definition"))
#: the ``camunda:property`` naming the variable a caught message's payload is stored under
MESSAGE_VARIABLE = "messageVariable"
#: data the platform itself puts into every case: a message may not overwrite it
RESERVED_VARIABLES = {"applicant", "case_no", "platform_level"}
#: the process's ``camunda:property`` holding the matter's English name (the UI in English shows it;
#: notices and SMS keep the Chinese name): stored as ``summary["name_en"]`` of the version
NAME_EN = "nameEn"


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def parse_xml(data: bytes, filename: str = "<upload>", max_bytes: int = 1024 * 1024):
    """Parse untrusted XML: no DTD, no entities, no network, bounded size. Raises InvalidModel."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_bytes:
        raise InvalidModel("BPMN 文件过大", [{"element": None, "file": filename,
                                          "message": f"file is larger than {max_bytes} bytes"}])
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_pis=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidModel("不是有效的 XML 文件", [{"element": None, "file": filename,
                                              "message": f"XML syntax error: {exc}"}]) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise InvalidModel("BPMN 文件不得包含 DOCTYPE/实体声明", [{
            "element": None, "file": filename,
            "message": "DOCTYPE / entity declarations are not allowed (XXE and entity-expansion protection)"}])
    if root.tag != full_tag("definitions"):
        raise InvalidModel("不是 BPMN 2.0 文件", [{"element": None, "file": filename,
                                              "message": "root element must be bpmn:definitions"}])
    return root


def message_variable(props: dict, message_name) -> str | None:
    """Where the payload of a caught message lands in the data: the element's ``messageVariable``
    property, else the message's name."""
    return (props.get(MESSAGE_VARIABLE) or "").strip() or message_name


def _check_message_catches(errors: list, filename: str, root, proc) -> None:
    """Receive tasks, message catch events and message boundary events (接收消息): each refers to a
    ``bpmn:message`` with a name, and the payload's variable is a plain name the data may take. A
    timer after an event-based gateway is refused: the scheduler only fires timers of catch events
    and boundary events, so put the time limit on the waiting element as a boundary timer."""
    messages = {m.get("id"): m for m in root.iter(full_tag("message"))}
    for el in proc.iter():
        kind = _local(el.tag)
        eid = el.get("id")
        definition = el.find("bpmn:messageEventDefinition", NS)
        if kind == "receiveTask":
            holder = el if el.get("messageRef") is not None or definition is None else definition
        elif kind in {"intermediateCatchEvent", "boundaryEvent"} and definition is not None:
            holder = definition
        else:
            if kind == "eventBasedGateway":
                _check_gateway_branches(errors, filename, proc, el)
            continue
        if (el.get(C + "resultVariable") or (definition is not None and definition.get(C + "resultVariable"))):
            _err(errors, eid, f"接收消息不使用 camunda:resultVariable，请用 camunda:property {MESSAGE_VARIABLE} "
                              f"(a caught message's variable is the property {MESSAGE_VARIABLE})", filename)
        ref = (holder.get("messageRef") or "").strip()
        if not ref:
            _err(errors, eid, "接收消息的元素没有引用消息 (no messageRef: refer to a bpmn:message with a name)",
                 filename)
            continue
        message = messages.get(ref)
        if message is None:
            _err(errors, eid, f"引用的消息不存在: {ref} (messageRef refers to no bpmn:message)", filename)
            continue
        msg_name = (message.get("name") or "").strip()
        if not msg_name:
            _err(errors, eid, f"消息 {ref} 没有名称 (the message has no name: it is delivered by name)", filename)
            continue
        props = {p.get("name"): p.get("value")
                 for p in el.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)}
        var = message_variable(props, msg_name)
        if not ID_RE.match(var) or keyword.iskeyword(var) or var in RESERVED_VARIABLES:
            _err(errors, eid, f"消息内容的变量名 {var!r} 不可用，请设置 camunda:property {MESSAGE_VARIABLE} "
                              f"(the payload variable must be a plain name other than "
                              f"{', '.join(sorted(RESERVED_VARIABLES))})", filename)


def _check_gateway_branches(errors: list, filename: str, proc, gateway) -> None:
    targets = {f.get("targetRef") for f in proc.iter(full_tag("sequenceFlow")) if f.get("sourceRef") == gateway.get("id")}
    for node in proc.iter(full_tag("intermediateCatchEvent")):
        if node.get("id") in targets and node.find("bpmn:timerEventDefinition", NS) is not None:
            _err(errors, node.get("id"), "基于事件的网关后不支持定时器分支，请在等待的元素上加边界定时器 "
                                         "(a timer after an event-based gateway is not scheduled: put a "
                                         "boundary timer on the receive task or catch event instead)", filename)


def split_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


class PropertiesMixin:
    """Every flow node (events and gateways too) gets its ``camunda:properties`` as extensions."""

    def parse_extensions(self, node=None):
        node = node if node is not None else self.node
        props = node.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)
        ext = {p.get("name"): p.get("value") for p in props}
        if node.get("attachedToRef"):
            ext["_attached_to"] = node.get("attachedToRef")
        return ext


class PlatformNodeMixin(PropertiesMixin):
    """Timers read the engine's clock; multi-instance in either form: standard BPMN
    (loopDataInputRef / inputDataItem / output refs) or Camunda's (camunda:collection /
    camunda:elementVariable, or loopCardinality)."""

    def parse_timer_event(self, event):
        return clocked(super().parse_timer_event(event))

    def parse_message_event(self, message_event):
        """A message thrown without a payload expression (a plain Camunda throw) sends ``{}``: the
        engine would evaluate the missing expression and stop the case with an incident."""
        definition = super().parse_message_event(message_event)
        throws = _local(self.node.tag) in {"intermediateThrowEvent", "endEvent"}
        if throws and getattr(definition, "expression", "") is None:
            definition.expression = "{}"
        return definition

    def _add_multiinstance_task(self, loop_characteristics):
        standard = loop_characteristics.find("bpmn:loopDataInputRef", NS) is not None or \
            loop_characteristics.find("bpmn:inputDataItem", NS) is not None
        if standard:
            return TaskParser._add_multiinstance_task(self, loop_characteristics)
        add_camunda_multiinstance_task(self, loop_characteristics)


class PlatformUserTaskParser(PlatformNodeMixin, UserTaskParser):
    """Adds who-may-act (candidateGroups/Users, assignee) and the form reference to the spec."""

    def parse_extensions(self, node=None):
        ext = super().parse_extensions(node)
        node = self.node
        form = node.get(C + "formKey") or node.get(C + "formRef")
        people = people_of(node)  # its own, else its lane's group, else the process's default group
        ext["_assignment"] = {key: people[key] for key in ("candidate_groups", "candidate_users", "assignee")}
        ext["_form"] = form
        return ext


def _with_properties(classes: dict) -> dict:
    out = {}
    for tag, (parser_cls, spec_cls) in classes.items():
        out[tag] = (type(f"Platform{parser_cls.__name__}", (PlatformNodeMixin, parser_cls), {}), spec_cls)
    return out


class PlatformReceiveTaskParser(PlatformNodeMixin, CamundaEventDefinitionParser, ReceiveTaskParser):
    """A receive task waits for a message like a message catch event, with Camunda's message event
    definition (the one the platform stores and delivers to, see ``Engine.deliver``)."""

    def create_task(self):
        return ReceiveTaskParser.create_task(self)


class PlatformParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES = {**_with_properties({**BpmnParser.PARSER_CLASSES,
                                                   **CamundaParser.OVERRIDE_PARSER_CLASSES}),
                               # manual and plain tasks are inbox tasks too (a form optional): never a silent stall
                               full_tag("userTask"): (PlatformUserTaskParser, UserTask),
                               full_tag("manualTask"): (PlatformUserTaskParser, UserTask),
                               full_tag("task"): (PlatformUserTaskParser, UserTask),
                               full_tag("receiveTask"): (PlatformReceiveTaskParser, ReceiveTask)}


@dataclass
class CheckedModel:
    process_id: str
    name: str
    spec: object
    subprocess_specs: dict
    start_form: str | None
    form_keys: list[str]
    summary: dict = field(default_factory=dict)
    #: the library processes the model calls: process id -> sha256 of its file (app/engine/library.py)
    library: dict = field(default_factory=dict)


def _reachability(errors, filename, container):
    """Every flow node reachable from a start; from every node an end reachable."""
    nodes = {}
    for child in container:
        name = _local(child.tag)
        if name in FLOW_NODES and child.get("id"):
            nodes[child.get("id")] = (name, child)
    succ = {i: set() for i in nodes}
    pred = {i: set() for i in nodes}
    for flow in container.findall("bpmn:sequenceFlow", NS):
        if not (flow.get("id") or "").strip():
            continue  # named by compat.flows_without_id
        s, t = flow.get("sourceRef"), flow.get("targetRef")
        if s not in nodes or t not in nodes:
            _err(errors, flow.get("id"), f"sequence flow refers to unknown element {s if s not in nodes else t}",
                 filename)
            continue
        succ[s].add(t)
        pred[t].add(s)
    for i, (name, node) in nodes.items():
        if name == "boundaryEvent":
            host = node.get("attachedToRef")
            if host in nodes:
                succ[host].add(i)
                pred[i].add(host)
            else:
                _err(errors, i, f"boundary event attached to unknown element {host}", filename)
    starts = [i for i, (n, _) in nodes.items() if n == "startEvent"]
    ends = [i for i, (n, _) in nodes.items() if n == "endEvent"]
    # an event sub-process has no incoming flow: its own start event triggers it (checked inside)
    triggered = [i for i, (n, node) in nodes.items() if n == "subProcess" and node.get("triggeredByEvent") == "true"]
    starts, ends = starts + triggered, ends + triggered
    if not starts:
        _err(errors, container.get("id"), "没有开始事件 (no start event)", filename)
        return
    if not ends:
        _err(errors, container.get("id"), "没有结束事件 (no end event)", filename)
    seen, todo = set(starts), list(starts)
    while todo:
        for nxt in succ[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    for i in nodes:
        if i not in seen:
            _err(errors, i, "从开始事件无法到达该元素 (unreachable from the start event)", filename)
    back, todo = set(ends), list(ends)
    while todo:
        for prv in pred[todo.pop()]:
            if prv not in back:
                back.add(prv)
                todo.append(prv)
    for i, (name, _) in nodes.items():
        if i in seen and i not in back:
            _err(errors, i, "从该元素无法到达结束事件 (no end event reachable from here)", filename)
    _endless_loops(errors, filename, nodes, succ)
    for i, (name, node) in nodes.items():
        if name == "subProcess":
            _reachability(errors, filename, node)


def _endless_loops(errors, filename, nodes, succ):
    """A cycle of script tasks, gateways, plain tasks … with nothing that waits would run forever
    inside one engine step (SpiffWorkflow has no step budget): the request running it, a scenario
    on the designer page or a case's next step, would never end. Named element by element."""
    order, seen = [], set()
    for root in nodes:  # Kosaraju, iteratively: finishing order on the graph ...
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(sorted(succ[root])))]
        while stack:
            node, it = stack[-1]
            nxt = next((n for n in it if n not in seen), None)
            if nxt is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(nxt)
                stack.append((nxt, iter(sorted(succ[nxt]))))
    pred = {i: set() for i in nodes}
    for s, targets in succ.items():
        for t in targets:
            pred[t].add(s)
    assigned: set = set()
    for root in reversed(order):  # ... then components on the reversed graph
        if root in assigned:
            continue
        comp, todo = {root}, [root]
        assigned.add(root)
        while todo:
            for prv in pred[todo.pop()]:
                if prv not in assigned:
                    assigned.add(prv)
                    comp.add(prv)
                    todo.append(prv)
        cyclic = len(comp) > 1 or root in succ[root]
        if cyclic and not any(_waits(*nodes[i]) for i in comp):
            ring = ", ".join(sorted(comp))
            for i in sorted(comp):
                _err(errors, i, f"循环中没有任何等待环节（用户任务、定时器等），会无限运行 "
                                f"(endless loop without a wait state: {ring})", filename)


def check_model(data: bytes, filename: str, forms: dict[str, dict], *, expected_id: str | None = None,
                max_bytes: int = 1024 * 1024, known_groups: set[str] | frozenset[str] | None = None,
                library: Library | None = None) -> CheckedModel:
    """Validate a BPMN file of our dialect and parse it with SpiffWorkflow.

    ``forms`` maps form id to form-js schema (what exists); ``known_groups`` the candidate groups
    the organisation has (default: the code set of app.domain.groups); ``library`` the shared
    sub-processes a call activity may name (app/engine/library.py). Raises InvalidModel listing
    every error."""
    library = library or EMPTY_LIBRARY
    known = is_known_group if known_groups is None else (lambda g: g in known_groups or is_known_group(g))
    root = parse_xml(data, filename, max_bytes)
    errors: list[dict] = []
    proc = main_process(root, expected_id, filename, _err, errors)
    if proc is None:
        raise InvalidModel(f"模型有 {len(errors)} 处错误，未部署", errors)
    processes = root.findall("bpmn:process", NS)
    pid = proc.get("id") or ""
    if not ID_RE.match(pid) or len(pid) > 64:
        _err(errors, pid or None, "流程标识只能由字母、数字和下划线组成，且不以数字开头（最长 64 个字符），请在属性面板中修改 "
                                  "(process id must match [A-Za-z_][A-Za-z0-9_]*, at most 64)", filename)
    if expected_id and pid != expected_id:
        _err(errors, pid, f"process id {pid!r} must equal the file name {expected_id!r}", filename)

    for el in root.iter():
        name = _local(el.tag)
        if name in UNSUPPORTED:
            target = el.getparent() if name.endswith("Definition") else el
            _err(errors, target.get("id"), f"不支持的元素: {UNSUPPORTED[name]}", filename)
    refused_elements(root, filename, _err, errors)
    flows_without_id(root, filename, _err, errors)
    name_en = " ".join((props_of(proc).get(NAME_EN) or "").split())
    if len(name_en) > 200:
        _err(errors, pid, f"英文事项名称 {NAME_EN} 不能超过 200 个字符 (the English name is at most 200 characters)",
             filename)

    form_keys: list[str] = []
    start_form = None
    for start in proc.findall("bpmn:startEvent", NS):
        key = start.get(C + "formKey") or start.get(C + "formRef")
        if key:
            start_form = key
            if key not in forms:
                _err(errors, start.get("id"), f"开始表单不存在: forms/{key}.form.json", filename)
            form_keys.append(key)

    user_tasks: list = []
    _check_elements(errors, filename, proc, forms, known, form_keys, user_tasks)
    _check_message_catches(errors, filename, root, proc)
    check_forwards(errors, filename, proc, _err)
    check_phases(errors, filename, proc, _err)
    deemed = check_deemed(errors, filename, proc, forms, _err)
    _reachability(errors, filename, proc)
    local_ids = {p.get("id") for p in processes}
    called_here = called_processes(root, proc)
    for other in called_here:  # a process of the same file the matter calls is checked as its own
        _check_elements(errors, filename, other, forms, known, form_keys, user_tasks)
        _reachability(errors, filename, other)
    used, missing = resolve(proc, local_ids, library)
    for other in called_here:  # what the same file's called processes call in turn
        more, lost = resolve(other, local_ids, library)
        used += [lib for lib in more if lib not in used]
        missing += [pair for pair in lost if pair not in missing]
    check_recursion(errors, filename, root, pid, library, _err)
    for element, called in missing:
        _err(errors, element, f"调用的子流程不存在: {called or '（未填写 calledElement）'} "
                              f"(no process {called!r} in this file, in processes/{LIBRARY_DIR}/ nor among the "
                              f"deployed matters: deploy it first)", filename)
    for same in sorted(i for i in local_ids if i in library):  # a local copy would shadow the shared one
        _err(errors, same, f"流程标识 {same} 与公共子流程重名 (the id of a library process)", filename)
    for lib in used:  # a library process is checked as the matter's own, its errors naming its file
        lib_proc = executable_process(lib)
        for el in lib.root.iter():
            if _local(el.tag) in UNSUPPORTED:
                target = el.getparent() if _local(el.tag).endswith("Definition") else el
                _err(errors, target.get("id"), f"不支持的元素: {UNSUPPORTED[_local(el.tag)]}", lib.filename)
        _check_elements(errors, lib.filename, lib_proc, forms, known, form_keys, user_tasks)
        _check_message_catches(errors, lib.filename, lib.root, lib_proc)
        check_phases(errors, lib.filename, lib_proc, _err)
        deemed.update(check_deemed(errors, lib.filename, lib_proc, forms, _err))
        _reachability(errors, lib.filename, lib_proc)
    if errors:
        raise InvalidModel(f"模型有 {len(errors)} 处错误，未部署", errors)

    parser = PlatformParser()
    runnable = copy.deepcopy(root)  # SpiffWorkflow parses executable processes only: the called ones become so
    for other in runnable.findall("bpmn:process", NS):
        if other.get("id") in {p.get("id") for p in called_here}:
            other.set("isExecutable", "true")
    try:
        parser.add_bpmn_xml(runnable.getroottree(), filename=filename)
        for lib in used:
            parser.add_bpmn_xml(lib.root.getroottree(), filename=lib.filename)
        spec = parser.get_spec(pid)
        subprocess_specs = parser.get_subprocess_specs(pid)
    except ValidationException as exc:
        raise InvalidModel("SpiffWorkflow 无法解析该模型", [{
            "element": getattr(exc, "id", None) or None, "file": filename, "message": str(exc)}]) from None
    except Exception as exc:  # the parser raises plain errors on some malformed models
        raise InvalidModel("SpiffWorkflow 无法解析该模型", [{
            "element": None, "file": filename, "message": f"{type(exc).__name__}: {exc}"}]) from None

    ends = [{"id": e.get("id"), "name": e.get("name") or e.get("id")} for e in proc.iter(full_tag("endEvent"))]
    summary = {"start_form": start_form, "user_tasks": user_tasks, "end_events": ends,
               "name": proc.get("name") or pid, "deemed": deemed,
               "library": {lib.process_id: lib.filename for lib in used}}
    if name_en:
        summary["name_en"] = name_en
    return CheckedModel(process_id=pid, name=proc.get("name") or pid, spec=spec,
                        subprocess_specs=subprocess_specs, start_form=start_form,
                        form_keys=sorted(set(form_keys)), summary=summary,
                        library={lib.process_id: lib.digest for lib in used})
