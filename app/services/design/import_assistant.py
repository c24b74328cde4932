"""The import assistant (issue 18): a BPMN file made in Camunda Modeler 7, bpmn.io, Flowable or
SpiffArena lacks what this platform needs (a valid process id, one executable process, people for
every task, form-js forms, Python instead of JUEL …). ``review`` lists it per element, each with the
fix the assistant proposes; ``apply_fixes`` makes the fixes the designer accepted (``defaults``:
every fix marked ``by_default``) on the XML (app/services/design/import_fixes.py) and creates the
forms (import_forms.py); the service functions of import_service.py run the deploy check on the
result. Nothing is stored here.

A finding: ``{id, element, file, kind, message, fix: null | {type, label, default, options,
by_default}}``; kinds: process_id executable people lane_group default_group form start_form juel
flow_id unsupported script_format note."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from flask import current_app
from sqlalchemy import select

from ...domain.codes import is_credit_code
from ...domain.errors import ValidationError
from ...domain.groups import GROUP_CODE_RE, GROUPS
from ...engine.element_checks import EXPR_RE
from ...engine.juel import is_juel, translate
from ...engine.parser import parse_xml
from ...extensions import db
from ...models import Department
from ..cases import registry
from ..identity.actors import Actor
from . import import_fixes as fx
from .deploy import Submission, _problems
from .designer import MAX_BPMN_BYTES, existing_form_ids, import_file, require_designer, text_problem
from .import_forms import form_for, has_form_data

KINDS = ("dialect", "executable", "process_id", "flow_id", "unsupported", "juel", "default_group", "lane_group", "people",
         "form", "start_form", "script_format", "note")
ORDER = {k: i for i, k in enumerate(KINDS)}  # the order fixes are made in: ids first, forms last
PEOPLE_ATTRS = ("candidateGroups", "candidateUsers", "assignee")
FOREIGN_FORMS = ("embedded:", "camunda-forms:", "app:", "deployment:")


@dataclass
class Context:
    """What the fixes are checked against: the forms of FORMS_DIR, the groups the check accepts."""
    filename: str
    forms: set[str]
    known: set[str]
    groups: list[dict]
    default_group: str

    def group_ok(self, code: str) -> bool:
        return bool(GROUP_CODE_RE.match(code)) and code in self.known


@dataclass
class Item:
    """One finding and how its fix is made: ``apply(value)`` edits the tree, ``problem(value)``
    says why a value the designer chose cannot be used (None: it can)."""
    finding: dict
    apply: Callable[[str], None] | None = None
    problem: Callable[[str], str | None] = lambda value: None


@dataclass
class Review:
    root: object
    ctx: Context
    main: object | None
    items: list[Item] = field(default_factory=list)
    created: dict[str, dict] = field(default_factory=dict)   # forms made by accepted fixes

    def add(self, kind, element, message, fix=None, apply=None, problem=None, key=None) -> Item:
        fid = f"{kind}:{key if key is not None else element}"
        n = 2
        while any(i.finding["id"] == fid for i in self.items):  # the same shape twice: still unique
            fid = f"{kind}:{key if key is not None else element}#{n}"
            n += 1
        item = Item({"id": fid, "element": element, "file": self.ctx.filename, "kind": kind,
                     "message": message, "fix": fix}, apply)
        if problem is not None:
            item.problem = problem
        self.items.append(item)
        return item

    @property
    def findings(self) -> list[dict]:
        return [i.finding for i in self.items]


def fix(kind, label, default=None, options=None, by_default=True) -> dict:
    return {"type": kind, "label": label, "default": default, "options": options, "by_default": by_default}


# -- analysis --------------------------------------------------------------------------------------
def review(root, ctx: Context) -> Review:
    """Every finding of a parsed file, with the fixes that make them."""
    copied = fx.normalize_dialect(root)  # Flowable / Activiti attributes read as Camunda's
    main, candidates, unambiguous = fx.main_process(root)
    rv = Review(root, ctx, main)
    if main is None:
        return rv
    if copied:
        names = sorted({attr for _, attr in copied})
        rv.add("dialect", None, f"Flowable/Activiti 的属性按 Camunda 7 的同名属性读取：{', '.join(names)}（{len(copied)} 处） "
                                f"(Flowable/Activiti attributes read as their camunda:* twins)",
               fix("dialect", "写入 camunda 属性 (write the camunda:* attributes)"), apply=lambda value: None,
               key="flowable")
    _executable(rv, candidates, unambiguous)
    relevant = fx.relevant_processes(root, main)
    for proc in relevant:
        _process_id(rv, proc)
    _flow_ids(rv)
    for proc in relevant:
        _unsupported(rv, proc)
        _expressions(rv, proc)
        _people(rv, proc)
        _forms(rv, proc, proc is main)
    _notes(rv, main)
    return rv


def _executable(rv: Review, candidates: list, unambiguous: bool) -> None:
    procs = fx.processes(rv.root)
    executable = [p for p in procs if p.get("isExecutable") == "true"]
    if len(executable) == 1:
        return
    main_id = rv.main.get("id")
    options = [p.get("id") for p in (executable or procs)]
    if executable:
        others = "、".join(i for i in options if i != main_id)
        message = (f"文件中有 {len(executable)} 个可执行流程，平台只运行一个；建议保留流程 {main_id}，"
                   f"其余（{others}）设为不可执行 (several executable processes: keep {main_id}, the others "
                   f"become non-executable)")
    else:
        message = (f"文件中没有可执行流程，建议将流程 {main_id} 设为可执行 (no executable process: make {main_id} "
                   f"executable)")
    rv.add("executable", main_id, message,
           fix("executable", "设为可执行流程", main_id, options, by_default=unambiguous),
           apply=lambda value: fx.set_executable(rv.root, value),
           problem=lambda value: None if value in options else f"{value!r} 不是文件中的流程 (not a process of the file)")


def _process_id(rv: Review, proc) -> None:
    old = proc.get("id") or ""
    if fx.valid_id(old):
        return
    new = fx.proposed_process_id(rv.root, proc)
    taken = fx.all_ids(rv.root) - {old}
    rv.add("process_id", old or None,
           f"流程标识 {old!r} 不能作为事项标识（只能由字母、数字和下划线组成，不以数字开头，最长 64 个字符），"
           f"建议改为 {new} (process id {old!r} is not a valid matter id; proposed: {new})",
           fix("process_id", "修改流程标识", new),
           apply=lambda value: fx.rename_id(rv.root, old, value) if old else proc.set("id", value),
           problem=lambda value: _id_problem(value, taken))


def _id_problem(value: str, taken: set[str]) -> str | None:
    if not fx.valid_id(value):
        return "标识只能由字母、数字和下划线组成，不以数字开头，最长 64 个字符 ([A-Za-z_][A-Za-z0-9_]*, ≤ 64)"
    if value in taken:
        return f"标识 {value} 已被文件中的其他元素使用 (the id is taken)"
    return None


def _flow_ids(rv: Review) -> None:
    taken = fx.all_ids(rv.root)
    n = 0
    for flow in fx.flows_without_id(rv.root):
        n += 1
        while f"Flow_{n}" in taken:
            n += 1
        new = f"Flow_{n}"
        taken.add(new)
        label = fx.flow_label(flow)
        rv.add("flow_id", None, f"顺序流 {label} 没有标识，引擎会忽略它；建议设为 {new} "
                                f"(sequence flow {label} has no id; proposed: {new})",
               fix("flow_id", "补充标识", new), key=label,
               apply=lambda value, flow=flow: flow.set("id", value),
               problem=lambda value: _id_problem(value, fx.all_ids(rv.root)))


def _unsupported(rv: Review, proc) -> None:
    for el in proc.iter():
        kind = fx.local(el.tag)
        if kind in fx.UNSUPPORTED_TASKS:
            rv.add("unsupported", el.get("id"),
                   f"{fx.named(el)}: 平台不调用外部服务或规则引擎；可改为人工任务由人办理，计算请用脚本任务 "
                   f"({fx.UNSUPPORTED_TASKS[kind]} is not supported: convert it to a manual task done by people, "
                   f"or use a script task for computations)",
                   fix("unsupported", "改为人工任务 (convert to a manual task)", "manualTask", None, by_default=False),
                   apply=lambda value, el=el: fx.convert_to_manual(el),
                   problem=lambda value: None if value == "manualTask" else "只能改为 manualTask")
        elif kind == "scriptTask":
            fmt = (el.get("scriptFormat") or "python").strip().lower()
            if fmt not in {"python", "py"}:
                rv.add("script_format", el.get("id"),
                       f"{fx.named(el)} 的脚本语言是 {fmt}，平台只运行 Python 脚本，请改写脚本 "
                       f"(scriptFormat {fmt!r}: scripts are Python; rewrite the script)")


def _places(proc):
    """Every expression of a process: ``(owner element, place, holder, attribute or None, text)``."""
    for el in proc.iter():
        kind = fx.local(el.tag)
        if kind == "conditionExpression":
            yield el.getparent(), "condition", el, None, el.text or ""
        elif kind in {"timeDate", "timeDuration", "timeCycle", "loopCardinality", "completionCondition"}:
            yield el.getparent().getparent(), kind, el, None, el.text or ""
        elif kind == "multiInstanceLoopCharacteristics" and el.get(fx.C + "collection"):
            yield el.getparent(), "collection", el, fx.C + "collection", el.get(fx.C + "collection")
        if kind in fx.TASK_KINDS:
            for attr in PEOPLE_ATTRS:
                if el.get(fx.C + attr):
                    yield el, attr, el, fx.C + attr, el.get(fx.C + attr)


def _expressions(rv: Review, proc) -> None:
    for owner, place, holder, attr, text in _places(proc):
        source = text.strip()
        oid = owner.get("id")
        people = place in PEOPLE_ATTRS
        if place in {"timeDate", "timeDuration", "timeCycle"} and fx.ISO_LITERAL.match(source):
            literal = json.dumps(source)
            rv.add("juel", oid, f"{fx.named(owner)} 的定时器 {source} 应为 Python 表达式（ISO 8601 字符串要加引号），"
                                f"可改为: {literal} (timers are Python: quote the ISO 8601 literal)",
                   fix("juel", "加引号 (quote)", literal), key=f"{oid}:{place}", apply=fx.setter(holder, attr))
            continue
        if not source or not is_juel(source):
            continue
        t = translate(source)
        inner = EXPR_RE.match(source)
        if people and inner and fx.python_ok(inner.group(1)) and t.python == inner.group(1).strip():
            continue  # our dialect: ${python} in candidateGroups / candidateUsers / assignee
        if t.python:
            new = f"${{{t.python}}}" if people else t.python
            rv.add("juel", oid, f"{fx.named(owner)} 的 {place} 表达式 {source} 是 JUEL，应为 Python 表达式，"
                                f"可改为: {new} (JUEL: Python is expected; translation: {new})",
                   fix("juel", "改为 Python 表达式 (use the translation)", new), key=f"{oid}:{place}",
                   apply=fx.setter(holder, attr))
        else:
            rv.add("juel", oid, f"{fx.named(owner)} 的 {place} 表达式 {source} 是 JUEL，应为 Python 表达式，"
                                f"无法自动翻译: {t.problem or '不支持的写法'} (JUEL: Python is expected; "
                                f"no translation)", key=f"{oid}:{place}")


def _unknown_groups(raw: str, ctx: Context) -> list[str]:
    if EXPR_RE.match(raw.strip()):
        return []
    return [g for g in (x.strip() for x in raw.split(",")) if g and not ctx.group_ok(g)]


def _group_fix(rv: Review, kind: str, label: str, default: str, by_default: bool = True) -> dict:
    return fix(kind, label, default, [g["code"] for g in rv.ctx.groups], by_default)


def _group_problem(rv: Review):
    return lambda value: None if rv.ctx.group_ok(value) else f"未知的候选组: {value} (unknown group)"


def _lane_guess(lane, ctx: Context) -> str:
    """The group a lane's name names (one group whose code or name it matches), else the default."""
    name = (lane.get("name") or "").strip()
    if not name:
        return ctx.default_group
    hits = [g["code"] for g in ctx.groups if name.lower() == g["code"] or (len(name) >= 2 and name in g["name"])]
    if len(hits) > 1:  # a department's name: its handlers rather than its chief or liaison
        hits = [h for h in hits if not h.endswith(("_chief", "_liaison"))]
    return hits[0] if len(hits) == 1 else ctx.default_group


def _people(rv: Review, proc) -> None:
    """Who may act on each user / manual / plain task: its own attributes, its lane's
    candidateGroups, the process's defaultGroup (first found wins)."""
    ctx = rv.ctx
    lanes = fx.lanes_of(proc)
    tasks = [el for el in proc.iter() if fx.local(el.tag) in fx.TASK_KINDS]
    lacking = [el for el in tasks if not any(fx.people_of(el))]
    for el in tasks:
        unknown = _unknown_groups(fx.people_of(el)[0], ctx)
        if unknown:
            raw = fx.people_of(el)[0]
            rv.add("people", el.get("id"), f"{fx.named(el)} 的候选组 {'、'.join(unknown)} 在本机关不存在，建议改为 "
                                           f"{ctx.default_group} (unknown candidate groups {', '.join(unknown)})",
                   _group_fix(rv, "people", "选择办理部门 (choose the group)", ctx.default_group),
                   apply=lambda value, el=el, raw=raw, unknown=unknown: el.set(
                       fx.C + "candidateGroups", fx.replace_groups(raw, unknown, value)),
                   problem=_group_problem(rv))
    covered_by_lane = set()
    for lane in proc.iter(fx.B + "lane"):
        held = [el for el in lacking if fx.lane_for(el, lanes) is lane]
        raw = fx.get_property(lane, "candidateGroups")
        if raw is not None and raw.strip():
            unknown = _unknown_groups(raw, ctx)
            if unknown:
                rv.add("lane_group", lane.get("id"),
                       f"{fx.named(lane)} 的候选组 {'、'.join(unknown)} 在本机关不存在 (unknown candidate groups)",
                       _group_fix(rv, "lane_group", "选择泳道的办理部门 (choose the lane's group)", ctx.default_group),
                       apply=lambda value, lane=lane, raw=raw, unknown=unknown: fx.set_property(
                           lane, "candidateGroups", fx.replace_groups(raw, unknown, value)),
                       problem=_group_problem(rv))
            covered_by_lane |= {id(el) for el in held}
        elif held:
            guess = _lane_guess(lane, ctx)
            rv.add("lane_group", lane.get("id"),
                   f"{fx.named(lane)} 中的 {len(held)} 个任务没有指定办理人，建议该泳道由 {guess} 办理 "
                   f"(the lane's tasks have nobody to do them: give the lane a candidate group)",
                   _group_fix(rv, "lane_group", "选择泳道的办理部门 (choose the lane's group)", guess),
                   apply=lambda value, lane=lane: fx.set_property(lane, "candidateGroups", value),
                   problem=_group_problem(rv))
            covered_by_lane |= {id(el) for el in held}
    default = fx.get_property(proc, "defaultGroup")
    pid = proc.get("id")
    if default is not None and default.strip() and _unknown_groups(default, ctx):
        rv.add("default_group", pid, f"流程 {pid} 的默认办理部门 {default} 在本机关不存在 (unknown default group)",
               _group_fix(rv, "default_group", "选择默认办理部门 (choose the default group)", ctx.default_group),
               apply=lambda value: fx.set_property(proc, "defaultGroup", value), problem=_group_problem(rv))
        return
    if default:
        return
    uncovered = [el for el in lacking if id(el) not in covered_by_lane]
    for el in uncovered:
        rv.add("people", el.get("id"), f"{fx.named(el)} 没有指定办理人或候选组（也不在有办理部门的泳道中）"
                                       f" (nobody may act on the task: no candidateGroups, candidateUsers or "
                                       f"assignee, no lane or default group)",
               _group_fix(rv, "people", "选择办理部门 (choose the group)", ctx.default_group, by_default=False),
               apply=lambda value, el=el: el.set(fx.C + "candidateGroups", value), problem=_group_problem(rv))
    if uncovered:
        rv.add("default_group", pid, f"流程 {pid} 有 {len(uncovered)} 个任务没有办理人，建议设默认办理部门 "
                                     f"{ctx.default_group}，未指定办理人的任务都由它办理 (a default group for "
                                     f"every task without people)",
               _group_fix(rv, "default_group", "设默认办理部门 (set the default group)", ctx.default_group),
               apply=lambda value: fx.set_property(proc, "defaultGroup", value), problem=_group_problem(rv))


def _form_state(el, ctx: Context) -> str | None:
    """Why the element's form is not usable (None: it is)."""
    key = (el.get(fx.C + "formKey") or el.get(fx.C + "formRef") or "").strip()
    if not key:
        return "没有表单 (no form)" + ("，有 camunda:formData 字段 (generated form fields)" if has_form_data(el) else "")
    if key.startswith(FOREIGN_FORMS):
        return f"表单 {key} 是 Camunda 的嵌入式表单，平台不支持 (embedded / Camunda forms are not supported)"
    if not fx.valid_id(key) or key not in ctx.forms:
        return f"表单 {key} 不存在 (no form {key} in forms/)"
    return None


def _forms(rv: Review, proc, is_main: bool) -> None:
    ctx = rv.ctx
    main_id = rv.main.get("id")
    prefix = main_id if fx.valid_id(main_id) else fx.proposed_process_id(rv.root, rv.main)
    planned: set[str] = set()
    targets = [el for el in proc.iter() if fx.local(el.tag) == "userTask"
               or (fx.local(el.tag) in {"manualTask", "task"} and (el.get(fx.C + "formKey") or el.get(fx.C + "formRef")))]
    if is_main:
        targets += [el for el in proc.findall("bpmn:startEvent", fx.NS)
                    if not any(fx.local(c.tag).endswith("EventDefinition") for c in el)]
    for el in targets:
        why = _form_state(el, ctx)
        if why is None:
            continue
        kind = "start_form" if fx.local(el.tag) == "startEvent" else "form"
        default = _form_id(prefix, el, planned)
        planned.add(default)
        if default in ctx.forms:  # made from this file before (imported again): used as it is
            what = f"使用已有的表单 {default} (the existing form is used)"
        else:
            what = ("按 camunda:formData 字段生成表单" if has_form_data(el) else "生成一个只有「意见」的空表单") + \
                f" {default} (a form-js form is created)"
        rv.add(kind, el.get("id"), f"{fx.named(el)}: {why}；建议{what}", fix(kind, "生成表单 (create the form)", default),
               apply=lambda value, el=el, default=default: _make_form(
                   rv, el, _form_id(rv.main.get("id"), el, set(rv.created)) if value == default else value),
               problem=lambda value: _form_problem(rv, value))


def _form_id(pid: str, el, taken: set[str]) -> str:
    """``<process id>_<element id>``, sanitised (the process id as it is when the fix is made: a
    renamed process names its forms by its new id)."""
    prefix = pid if fx.valid_id(pid) else fx.proposed_id(pid)
    return fx.unique_id(fx.proposed_id(f"{prefix}_{el.get('id')}"), taken)


def _form_problem(rv: Review, value: str) -> str | None:
    if not fx.valid_id(value):
        return "表单标识只能由字母、数字和下划线组成，不以数字开头 ([A-Za-z_][A-Za-z0-9_]*, ≤ 64)"
    if value in rv.created:
        return f"表单 {value} 已由另一项修复生成 (the form is created by another fix)"
    return None


def _make_form(rv: Review, el, value: str) -> None:
    """Point the element at form ``value``: an existing form of FORMS_DIR is used as it is, else it
    is created from the element's formData (or empty)."""
    if value not in rv.ctx.forms:
        rv.created[value] = form_for(el, value)
    fx.set_form_key(el, value)


def _notes(rv: Review, main) -> None:
    for start in main.findall("bpmn:startEvent", fx.NS):
        var = start.get(fx.C + "initiator")
        if var:
            rv.add("note", start.get("id"), f"{fx.named(start)} 设置了 camunda:initiator=\"{var}\"：平台把申请人的用户名放在 "
                                            f"applicant 中，流程中请用 applicant (the applicant's user name is in "
                                            f"`applicant`)", key=f"{start.get('id')}:initiator")
    for attr in ("candidateStarterGroups", "candidateStarterUsers"):
        if main.get(fx.C + attr):
            rv.add("note", main.get("id"), f"流程 {main.get('id')} 设置了 camunda:{attr}：平台不使用它，谁可以申请由事项信息和门户决定 "
                                           f"(not used: who may apply is the matter's business)", key=f"{main.get('id')}:{attr}")


# -- the service: what POST /designer/import and /designer/import/apply and the CLI call -------------
PLATFORM_ROLES = {"admin", "inspector", "designer"}  # groups that are not BPMN lanes
MAX_ACCEPT = 500


def context(filename: str, group: object = None) -> Context:
    """The groups (app/domain/groups.py and the organisation's departments, as check_model's
    known_groups) and forms the fixes are checked against; ``group`` the default group chosen."""
    known = set(registry.known_groups()) | set(GROUPS)
    names = dict(GROUPS)
    for code, name in db.session.execute(select(Department.code, Department.name).where(Department.active.is_(True))):
        for suffix, role in (("", "经办人"), ("_chief", "处长"), ("_liaison", "联络员")):
            names.setdefault(f"{code}{suffix}", f"{name} {role}")
    codes = [c for c in GROUPS if c in known] + sorted(known - set(GROUPS))
    groups = [{"code": c, "name": names.get(c, c)} for c in codes if c not in PLATFORM_ROLES]
    ctx = Context(filename, set(existing_form_ids()), known, groups, "")
    if group is not None:
        if not isinstance(group, str) or not ctx.group_ok(group):
            raise ValidationError(f"未知的候选组: {group} (unknown group)", details={"group": ["a known group code"]})
        ctx.default_group = group
    else:
        ctx.default_group = "window" if ctx.group_ok("window") else (groups[0]["code"] if groups else "window")
    return ctx


def assistant_block(text: str, ctx: Context) -> dict:
    """``{findings, defaults: {group}, groups}`` for the editor."""
    root = parse_xml(text.encode("utf-8"), ctx.filename, MAX_BPMN_BYTES)
    return {"findings": review(root, ctx).findings, "defaults": {"group": ctx.default_group}, "groups": ctx.groups}


def import_document(actor: Actor, payload: object) -> dict:
    """POST /designer/import: the editor's document (designer.import_file) and the assistant's findings."""
    doc = import_file(actor, payload)
    ctx = context(doc["imported"])
    doc["assistant"] = assistant_block(doc["bpmn"], ctx)
    db.session.rollback()
    return doc


def _decisions(payload: dict) -> tuple[dict, bool]:
    accept = payload.get("accept", {})
    if accept is None:
        accept = {}
    if not isinstance(accept, dict) or len(accept) > MAX_ACCEPT:
        raise ValidationError("accept 应为 {修复项标识: true 或 值} 对象", details={"accept": ["object expected"]})
    bad = [k for k, v in accept.items() if not (isinstance(v, bool) or (isinstance(v, str) and 0 < len(v) <= 1000))]
    if bad:
        raise ValidationError(f"修复项的值无效: {', '.join(map(str, bad[:5]))}",
                              details={"accept": [f"{k}: true, false or a text" for k in bad[:5]]})
    defaults = payload.get("defaults", False)
    if not isinstance(defaults, bool):
        raise ValidationError("defaults 应为 true 或 false", details={"defaults": ["boolean expected"]})
    return accept, defaults


def apply_fixes(text: str, ctx: Context, accept: dict, defaults: bool) -> tuple[str, list[str], dict[str, dict]]:
    """Make the accepted fixes: ``(new text, applied finding ids, created forms)``. An accepted id
    that is not a finding, a finding without a fix, or a value its fix cannot use → ValidationError
    naming them all (and nothing is returned)."""
    root = parse_xml(text.encode("utf-8"), ctx.filename, MAX_BPMN_BYTES)
    rv = review(root, ctx)
    by_id = {i.finding["id"]: i for i in rv.items}
    problems = {k: ["没有这个修复项 (no such finding)"] for k in accept if k not in by_id}
    problems.update({k: ["该项没有可自动执行的修复 (no fix to apply)"] for k, v in accept.items()
                     if k in by_id and v is not False and by_id[k].finding["fix"] is None})
    applied: list[str] = []
    for item in sorted(rv.items, key=lambda i: ORDER[i.finding["kind"]]):
        fid, spec = item.finding["id"], item.finding["fix"]
        choice = accept.get(fid, True if defaults and spec and spec["by_default"] else False)
        if choice is False or spec is None or item.apply is None or fid in problems:
            continue
        value = spec["default"] if choice is True else choice
        problem = item.problem(value)
        if problem:
            problems[fid] = [problem]
            continue
        item.apply(value)
        applied.append(fid)
    if problems:
        raise ValidationError("有的修复无法执行 (some fixes cannot be made)", details=problems)
    return (fx.serialize(root, text) if applied else text), applied, rv.created


def placeholder_matter(matter: dict) -> tuple[dict, bool]:
    """The metadata skeleton made deployable: what the check requires and a new matter cannot know
    yet gets a placeholder the designer replaces (基本编码, 设定依据, 申请材料 …). ``(matter, changed)``."""
    out = json.loads(json.dumps(matter))
    before = json.dumps(out, sort_keys=True)
    out["basic_code"] = out.get("basic_code") or "TBD"
    out["implementation_code"] = out.get("implementation_code") or "TBD"
    body = out.get("implementing_body") if isinstance(out.get("implementing_body"), dict) else {}
    code = current_app.config.get("AGENCY_CREDIT_CODE", "")
    out["implementing_body"] = {"name": body.get("name") or current_app.config.get("AGENCY_NAME") or "（待填写）",
                                "credit_code": body.get("credit_code") or (code if is_credit_code(code) else "")}
    out["legal_basis"] = out.get("legal_basis") or ["（待填写）设定依据 (legal basis to be filled in)"]
    out["materials"] = out.get("materials") or [{"name": "申请材料（待填写）", "required": True}]
    return out, json.dumps(out, sort_keys=True) != before


def apply(actor: Actor, payload: object) -> dict:
    """POST /designer/import/apply: the accepted fixes made, then the deploy check on the result:
    ``{bpmn, process_id, forms, matter, applied, findings, errors, ok}``. Nothing is stored."""
    require_designer(actor)
    if not isinstance(payload, dict):
        raise ValidationError("请求内容应为 JSON 对象", details={"body": ["JSON object expected"]})
    bad = text_problem(payload)
    if bad:
        raise ValidationError("提交的内容含有无法处理的字符或结构", details={"body": [bad]})
    text = payload.get("bpmn")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("缺少 BPMN 文件内容", details={"bpmn": ["BPMN XML text expected"]})
    if len(text.encode("utf-8")) > MAX_BPMN_BYTES:
        raise ValidationError("BPMN 文件过大", details={"bpmn": [f"最大 {MAX_BPMN_BYTES} 字节"]})
    accept, defaults = _decisions(payload)
    page_forms = payload.get("forms") or {}  # the forms the page holds (made by an earlier apply)
    if not isinstance(page_forms, dict) or len(page_forms) > MAX_ACCEPT or not all(
            isinstance(k, str) and fx.valid_id(k) and isinstance(v, dict) for k, v in page_forms.items()):
        raise ValidationError("表单应为 {表单标识: 表单} 对象", details={"forms": ["{form id: form-js schema}"]})
    filename = payload.get("filename") if isinstance(payload.get("filename"), str) else "<file>"
    filename = filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or "<file>"
    ctx = context(filename, payload.get("group"))
    ctx.forms |= set(page_forms)
    new_text, applied, created = apply_fixes(text, ctx, accept, defaults)
    doc = import_file(actor, {"bpmn": new_text, "filename": filename})
    new_text = doc["bpmn"]  # a file without any diagram gets one, as at import
    matter, placeholders = placeholder_matter(doc["matter"]) if doc.get("new") else (doc["matter"], False)
    root = parse_xml(new_text.encode("utf-8"), filename, MAX_BPMN_BYTES)
    main = fx.main_process(root)[0]
    pid = main.get("id") if main is not None else doc["process_id"]
    ctx.forms |= set(created)
    findings = review(root, ctx).findings
    if placeholders:
        findings.append({"id": "note:matter", "element": None, "file": f"{doc['process_id']}.matter.json",
                         "kind": "note", "fix": None,
                         "message": "事项信息是新建的占位内容（基本编码、设定依据、申请材料等），正式部署前请在「事项信息」中填写 "
                                    "(placeholder metadata: fill it in before deploying for real)"})
    errors, _ = _problems(Submission(pid or "", new_text.encode("utf-8"), matter, {**page_forms, **created}))
    db.session.rollback()
    return {"bpmn": new_text, "process_id": pid, "forms": created, "matter": matter, "applied": applied,
            "findings": findings, "errors": errors, "ok": not errors}
