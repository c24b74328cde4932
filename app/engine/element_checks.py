"""The checks of each element of a process (app/engine/parser.py ``check_model`` runs them): user,
manual and plain tasks (form, who may act), scripts, conditions, timers, loops and our properties.
Every problem names its element; JUEL where Python is expected says so, with the translation when
there is an exact one (app/engine/compat.py)."""
from __future__ import annotations

import ast
import re

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS

from ..domain.case_status import SETTABLE_BY_PROCESS
from ..domain.groups import GROUP_CODE_RE
from .compat import HUMAN_TASKS, collection_problem, juel_message, people_of
from .deemed import DEEMED
from .forwarding import FORWARD
from .sandbox import MAX_INSTANCES, SandboxEnvironment, ScriptError, check_source

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_MODEL_NS}
C = "{%s}" % CAMUNDA_MODEL_NS
EXPR_RE = re.compile(r"^\$\{(.+)\}$", re.S)
ACTIONS = {"receive", "correction", "review", "countersign", "decide"}


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def split_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _err(errors, element, message, filename):
    errors.append({"element": element, "file": filename, "message": message})


def _check_expr(errors, filename, element, source, mode, what):
    juel = juel_message(source)
    if juel:
        _err(errors, element, f"{what}: {juel}", filename)
        return
    problem = check_source(source, mode)
    if problem:
        _err(errors, element, f"{what}: {problem}", filename)


ISO_LITERAL = re.compile(r"^(R\d*/)?(P[\dYMWDTHS.,]+|\d{4}-\d{2}-\d{2}.*)$")


def _check_timer(errors, filename, element, kind, text):
    """Timer expressions are Python giving an ISO 8601 string; a bare ISO literal is a common mistake."""
    juel = juel_message(text)
    if juel:
        _err(errors, element, f"定时器表达式: {juel}", filename)
        return
    if ISO_LITERAL.match(text):
        _err(errors, element, f"定时器表达式 {text!r} 必须加引号 (an ISO 8601 literal must be a quoted Python "
                              f"string: \"{text}\")", filename)
        return
    problem = check_source(text, "eval")
    if problem:
        _err(errors, element, f"定时器表达式: {problem}", filename)
        return
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return  # depends on task data: checked when it runs
    try:
        if not isinstance(value, str):
            raise ValueError("not a string")
        if kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            TimerEventDefinition.parse_time_or_duration(value)
    except Exception:
        _err(errors, element, f"定时器值 {value!r} 不是有效的 ISO 8601 {kind}", filename)


def _check_cardinality(errors, filename, element, text):
    """A literal loopCardinality above MAX_INSTANCES would create that many tasks in one step
    (10**8 parallel instances exhaust the server); expressions are checked when they run."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return  # reported by the expression check
    if any(isinstance(n, (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Lambda)) for n in ast.walk(tree)):
        return  # depends on task data: checked when it is evaluated (SandboxScriptEngine)
    try:  # a constant expression such as 10 ** 8: its value, computed in the sandbox
        value = SandboxEnvironment(time_limit_ms=100).evaluate(text, {})
    except ScriptError as exc:
        _err(errors, element, f"loopCardinality {text.strip()!r}: {exc}", filename)
        return
    if isinstance(value, bool) or not isinstance(value, (int, list, tuple)):
        _err(errors, element, f"loopCardinality {text.strip()!r} 必须是整数 (must be a whole number)", filename)
        return
    count = value if isinstance(value, int) else len(value)
    if count > MAX_INSTANCES:
        _err(errors, element, f"多实例数量 {count} 超过上限 {MAX_INSTANCES} "
                              f"(loopCardinality {count} is more than {MAX_INSTANCES} instances)", filename)


def _check_standard_loop(errors, filename, element, loop, waits: bool):
    """A standard loop (loopCondition / loopMaximum) on an element that does not wait — a script
    task, a plain task — repeats inside one engine step: it needs a loopMaximum, and no loop may
    allow more than MAX_INSTANCES iterations."""
    raw = loop.get("loopMaximum")
    if raw is None:
        if not waits:
            _err(errors, element, f"标准循环必须设置 loopMaximum（不超过 {MAX_INSTANCES}），否则可能无限运行 "
                                  f"(a standard loop on an element that does not wait needs a loopMaximum "
                                  f"of at most {MAX_INSTANCES})", filename)
        return
    if not re.fullmatch(r"[0-9]{1,9}", raw.strip()):
        _err(errors, element, f"loopMaximum {raw!r} 必须是整数 (must be a whole number)", filename)
    elif int(raw) > MAX_INSTANCES:
        _err(errors, element, f"loopMaximum {int(raw)} 超过上限 {MAX_INSTANCES} "
                              f"(more than {MAX_INSTANCES} iterations)", filename)


WAIT_EVENTS = {"timerEventDefinition", "messageEventDefinition", "signalEventDefinition",
               "conditionalEventDefinition"}


def _waits(name: str, node) -> bool:
    """Whether the engine stops at this node until someone (or time) moves it on."""
    if name in {"userTask", "manualTask", "task", "intermediateCatchEvent", "eventBasedGateway", "callActivity",
                "receiveTask"}:
        return True
    if name == "boundaryEvent":
        return any(_local(c.tag) in WAIT_EVENTS for c in node)
    if name == "subProcess":
        return any(_local(d.tag) in {"userTask", "manualTask", "task", "intermediateCatchEvent", "callActivity"}
                   for d in node.iter())
    return False


def _check_elements(errors: list, filename: str, proc, forms: dict, known, form_keys: list, user_tasks: list) -> None:
    """The checks of every user task (form, people) and element (scripts, conditions, timers, loops,
    properties) of one process: the matter's own, or a library process it calls."""
    for el in proc.iter():
        kind = _local(el.tag)
        if kind not in HUMAN_TASKS:
            continue
        tid = el.get("id")
        key = el.get(C + "formKey") or el.get(C + "formRef")
        if not key:
            if kind == "userTask":
                _err(errors, tid, "用户任务没有表单 (user task has no camunda:formKey)", filename)
        elif key not in forms:
            _err(errors, tid, f"表单不存在: forms/{key}.form.json", filename)
        else:
            form_keys.append(key)
        people = people_of(el)
        groups_raw, users_raw, assignee = people["candidate_groups"], people["candidate_users"], people["assignee"]
        if not people["source"]:
            what = "用户任务" if kind == "userTask" else "人工任务"
            _err(errors, tid, f"{what}未指定办理人或候选组：请设置 candidateGroups，或在泳道上设置 candidateGroups、"
                              f"在流程上设置 defaultGroup (no candidateGroups, candidateUsers or assignee, and no "
                              f"group on its lane or default group of the process)", filename)
        for raw, what in ((groups_raw, "candidateGroups"), (users_raw, "candidateUsers"), (assignee, "assignee")):
            m = EXPR_RE.match(raw.strip())
            if m:
                inner = m.group(1)
                if inner.strip() == "initiator":
                    _err(errors, tid, f"{what}: Camunda 的 initiator 在本平台为 applicant，请写 ${{applicant}} "
                                      f"(the applicant's user name is the variable applicant)", filename)
                elif check_source(inner, "eval") and juel_message(raw):
                    _err(errors, tid, f"{what}: {juel_message(raw)}", filename)
                else:
                    _check_expr(errors, filename, tid, inner, "eval", what)
            elif juel_message(raw):
                _err(errors, tid, f"{what}: {juel_message(raw)}", filename)
            elif what == "candidateGroups":
                for g in split_list(raw):
                    if not GROUP_CODE_RE.match(g) or not known(g):
                        _err(errors, tid, f"未知的候选组: {g}", filename)
        user_tasks.append({"id": tid, "name": el.get("name") or tid, "form": key,
                           **({"kind": kind} if kind != "userTask" else {})})

    for el in proc.iter():
        name = _local(el.tag)
        eid = el.get("id")
        if name == "scriptTask":
            script = el.find("bpmn:script", NS)
            if script is None or not (script.text or "").strip():
                _err(errors, eid, "脚本任务没有脚本", filename)
            else:
                fmt = (el.get("scriptFormat") or "python").lower()
                if fmt not in {"python", "py"}:
                    _err(errors, eid, f"unsupported scriptFormat {fmt!r}: scripts are Python", filename)
                _check_expr(errors, filename, eid, script.text, "exec", "脚本")
        elif name == "sequenceFlow":
            cond = el.find("bpmn:conditionExpression", NS)
            if cond is not None and (cond.text or "").strip():
                _check_expr(errors, filename, eid, cond.text, "eval", "条件表达式")
        elif name in {"timeDate", "timeDuration", "timeCycle"}:
            owner = el.getparent().getparent()
            _check_timer(errors, filename, owner.get("id"), name, (el.text or "").strip())
        elif name in {"completionCondition", "loopCardinality", "loopCondition"}:
            owner = el.getparent().getparent()
            _check_expr(errors, filename, owner.get("id"), el.text or "", "eval", name)
            if name == "loopCardinality":
                _check_cardinality(errors, filename, owner.get("id"), el.text or "")
        elif name == "multiInstanceLoopCharacteristics":
            problem = collection_problem(el.get(C + "collection") or "")
            if problem:
                _err(errors, el.getparent().get("id"), problem, filename)
        elif name == "standardLoopCharacteristics":
            owner = el.getparent()
            _check_standard_loop(errors, filename, owner.get("id"), el, _waits(_local(owner.tag), owner))
        for prop in el.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS):
            pname, pval = prop.get("name"), prop.get("value")
            if pname == "caseStatus" and pval not in {s.value for s in SETTABLE_BY_PROCESS}:
                _err(errors, eid, f"caseStatus {pval!r} 不是允许的办件状态", filename)
            elif pname == "limitDays" and not (pval or "").isdigit():
                _err(errors, eid, f"limitDays {pval!r} must be a whole number of working days", filename)
            elif pname == "action" and pval not in ACTIONS and pval not in (FORWARD, DEEMED):
                _err(errors, eid, f"action {pval!r} must be one of {sorted(ACTIONS)}", filename)
            elif pname == "notify" and (pval != "urge" or name != "boundaryEvent"):
                _err(errors, eid, "notify=urge (催办) goes on a boundary event of a user task", filename)


