"""Checks and rules for files made in other modelers (Camunda Modeler 7, bpmn.io, Flowable,
SpiffArena): which process of a file is the matter, who acts on manual and plain tasks, flows without
ids, JUEL where Python is expected, elements the platform refuses — each reported by element, all at
once (app/engine/parser.py calls these; the designer's import assistant offers the fixes).
"""
from __future__ import annotations

from lxml import etree

from .juel import is_juel, translate

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
C = "{%s}" % CAMUNDA_NS
PROPS = "bpmn:extensionElements/camunda:properties/camunda:property"
#: tasks that become inbox tasks (user tasks with a form; manual and plain tasks with an optional one)
HUMAN_TASKS = {"userTask", "manualTask", "task"}
#: the process property naming the group of every human task that names nobody (nor its lane)
DEFAULT_GROUP = "defaultGroup"
#: the lane property naming the group of its human tasks that name nobody
LANE_GROUPS = "candidateGroups"

#: refused elements with what to use instead (element names as in the BPMN 2.0 schema)
REFUSED = {
    "serviceTask": "服务任务 (service task) 不受支持：平台不调用外部服务或 Java 类；计算请用脚本任务（Python），"
                   "由人办理的工作请用用户任务或人工任务 (service tasks are not run: use a script task for a "
                   "computation, a user or manual task for work people do)",
    "sendTask": "发送任务 (send task) 不受支持：发消息请用消息抛出中间事件，转报用 action=forward "
                "(use an intermediate message throw event)",
    "businessRuleTask": "业务规则任务 (business rule task) 不受支持：没有 DMN 引擎，请用脚本任务或排他网关的条件 "
                        "(no DMN: use a script task or gateway conditions)",
}


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def props_of(node) -> dict:
    return {p.get("name"): p.get("value") for p in node.findall(PROPS, NS)}


def main_process(root, expected_id: str | None, filename: str, err, errors: list):
    """The process of the file that is the matter: the one executable process. Several executable:
    each one besides the chosen is named (the chosen: the expected id, else the first); none: every
    process is named. Returns the chosen process element or None (no process at all)."""
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable", "false") == "true"]
    if not processes:
        err(errors, None, "文件中没有流程 (no bpmn:process in the file)", filename)
        return None
    if not executable:
        for proc in processes:
            err(errors, proc.get("id") or None, "没有可执行流程：请将作为事项的流程设为可执行 (isExecutable=\"true\"); "
                                                "被调用的流程可以不可执行 (no executable process)", filename)
        return None
    chosen = next((p for p in executable if expected_id and p.get("id") == expected_id), executable[0])
    for proc in executable:
        if proc is not chosen:
            err(errors, proc.get("id") or None,
                f"一个文件只能有一个可执行流程（事项为 {chosen.get('id')}）：请将此流程设为不可执行；它仍可作为调用活动的目标 "
                f"(only one executable process per file; a called process may stay non-executable)", filename)
    return chosen


def lanes_of(proc) -> dict[str, object]:
    """Flow node id → the innermost lane holding it."""
    out: dict[str, object] = {}
    for lane in proc.iter(f"{{{BPMN_NS}}}lane"):  # document order: a nested lane comes after its parent
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            if (ref.text or "").strip():
                out[ref.text.strip()] = lane
    return out


def lane_for(el, lanes: dict) -> object | None:
    """The lane of a task, or of the closest enclosing sub-process that is in a lane."""
    node = el
    while node is not None:
        if node.get("id") in lanes:
            return lanes[node.get("id")]
        node = node.getparent()
        if node is not None and _local(node.tag) == "process":
            return None
    return None


def called_processes(root, main) -> list:
    """The processes of the file that ``main`` calls, directly or through each other (each once)."""
    by_id = {p.get("id"): p for p in root.findall("bpmn:process", NS)}
    out, todo = [], [main]
    while todo:
        proc = todo.pop()
        if proc in out:
            continue
        out.append(proc)
        called = {(c.get("calledElement") or "").strip() for c in proc.iter(f"{{{BPMN_NS}}}callActivity")}
        todo += [by_id[c] for c in sorted(called) if c in by_id]
    return out[1:]


def _lane_group(node) -> str:
    """The candidateGroups property of the lane holding ``node`` (or the sub-process holding it); a
    nested lane without one takes its enclosing lane's."""
    proc = _process_of(node)
    lane = lane_for(node, lanes_of(proc)) if proc is not None else None
    while lane is not None:
        value = (props_of(lane).get(LANE_GROUPS) or "").strip()
        if value:
            return value
        holder = lane.getparent()  # a bpmn:childLaneSet inside the enclosing lane, or the laneSet
        lane = holder.getparent() if holder is not None and _local(holder.tag) == "childLaneSet" else None
    return ""


def _process_of(node):
    cur = node
    while cur is not None and _local(cur.tag) != "process":
        cur = cur.getparent()
    return cur


def people_of(node) -> dict:
    """Who may act on a human task: its own camunda:candidateGroups / candidateUsers / assignee; else
    its lane's candidateGroups property; else its process's defaultGroup property. ``source`` says
    which (``task``, ``lane``, ``process``, or ``""`` when nobody)."""
    own = {"candidate_groups": node.get(C + "candidateGroups") or "",
           "candidate_users": node.get(C + "candidateUsers") or "",
           "assignee": node.get(C + "assignee") or ""}
    if any(v.strip() for v in own.values()):
        return dict(own, source="task")
    lane = _lane_group(node)
    if lane:
        return dict(own, candidate_groups=lane, source="lane")
    proc = _process_of(node)
    default = (props_of(proc).get(DEFAULT_GROUP) or "").strip() if proc is not None else ""
    if default:
        return dict(own, candidate_groups=default, source="process")
    return dict(own, source="")


def flows_without_id(container, filename: str, err, errors: list) -> None:
    """A sequence flow without an id is dropped by the engine without a word: named by its ends."""
    for flow in container.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        if not (flow.get("id") or "").strip():
            s, t = flow.get("sourceRef") or "?", flow.get("targetRef") or "?"
            err(errors, s if s != "?" else None,
                f"顺序流 {s}→{t} 没有 id，引擎会忽略它 (a sequence flow without an id is dropped)", filename)


#: the start events of an event sub-process the engine runs: a message or signal start. A timer start
#: stays armed after the process's last end (the case would never complete) and an error start does
#: not catch the process's error end events: refused rather than a case that stalls
EVENT_SUBPROCESS_STARTS = {"messageEventDefinition", "signalEventDefinition", "escalationEventDefinition"}


def refused_elements(root, filename: str, err, errors: list) -> None:
    for name, message in REFUSED.items():
        for el in root.iter(f"{{{BPMN_NS}}}{name}"):
            err(errors, el.get("id"), message, filename)
    for sub in root.iter(f"{{{BPMN_NS}}}subProcess"):
        if sub.get("triggeredByEvent") != "true":
            continue
        for start in sub.findall("bpmn:startEvent", NS):
            kinds = {_local(c.tag) for c in start if _local(c.tag).endswith("EventDefinition")}
            if kinds - EVENT_SUBPROCESS_STARTS:
                what = "、".join(sorted(k.replace("EventDefinition", "") for k in kinds - EVENT_SUBPROCESS_STARTS))
                err(errors, sub.get("id"), f"事件子流程只支持消息或信号开始事件，不支持 {what} 开始 (an event sub-process "
                                           f"starts with a message or signal here: a {what} start is not run — use a "
                                           f"boundary event on the step instead)", filename)


def juel_message(text: str | None) -> str | None:
    """When ``text`` is JUEL (Camunda/Flowable ``${…}`` / ``#{…}``): the message saying Python is
    expected, with the exact translation when there is one. None for other text."""
    if not is_juel(text):
        return None
    result = translate(text)
    if result.python is not None:
        return (f"应为 Python 表达式，不支持 JUEL (Python expected, not JUEL)；可改为 (translation): "
                f"{result.python}")
    why = result.problem or "无法自动翻译 (no exact translation)"
    return f"应为 Python 表达式，不支持 JUEL (Python expected, not JUEL)；{why}"


def collection_problem(value: str) -> str | None:
    """camunda:collection names the variable holding the list (a plain name)."""
    value = (value or "").strip()
    if not value:
        return None
    if is_juel(value):
        result = translate(value)
        hint = f"；可改为 (translation): {result.python}" if result.python else ""
        return f"camunda:collection 应为变量名，不支持 JUEL (a variable name, not JUEL){hint}"
    return None
