"""Staff workbench (工作台) pages: the four lists (待办 / 已办 / 我经手的 / 抄送给我), the task page with
every operation of DOMAIN.md §8, the read-only case page, case files.

Views only parse, call one service and render; the services check permissions and own the
transaction. Every POST carries the session's CSRF token (form field, or ``X-CSRF-Token`` for the
task page's fetch). A DomainError of an operation is a flash message and a redirect back to the
page (or ``{"message": …}`` with the error's status for a JSON request), never a 500."""
from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from functools import wraps

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from ...domain.case_status import CaseStatus
from ...domain.decisions import matter_family
from ...domain.errors import DomainError, NotAuthorized, ValidationError
from ...domain.groups import GROUPS
from ...services.cases import lifecycle as case_svc
from ...services.cases.registry import get_version, list_matters
from ...services.cases.steps import engine, spec_pair
from ...extensions import db
from ...models import User
from ...services.identity import permissions as perms
from ...services.inbox import case_files as file_svc
from ...services.inbox import form_fields, handover, task_base
from ...services.inbox import lists as inbox_svc
from ...services.inbox import operations as ops
from ...services.inbox import tasks as task_svc
from ..auth import current_actor, login_required
from .. import i18n

bp = Blueprint("inbox", __name__, url_prefix="/inbox", template_folder="templates", static_folder="static")
staff_only = login_required(lambda a: a.is_staff)

TAB_LABELS = {"todo": "待办", "done": "已办", "handled": "我经手的", "cc": "抄送给我"}
COLOUR_LABELS = {"red": "已超期", "yellow": "即将到期", "green": "正常", "none": "无时限"}
ACTION_LABELS = {
    "create": "创建申请", "message": "接收消息", "draft": "暂存", "submit": "提交申请", "status": "状态变更",
    "claim": "签收",
    "unclaim": "取消签收", "complete": "办理", "reject": "不予受理/不予许可", "return": "退回", "withdraw": "撤回",
    "transfer": "转办", "delegate": "委派", "resolve": "委派交回", "reclaim": "收回委派", "add_sign_before": "前加签",
    "add_sign_after": "后加签", "remove_sign": "减签", "sign": "加签意见", "cc": "抄送", "urge": "催办",
    "suspend": "挂起", "resume": "激活", "terminate": "终止", "attach": "上传附件", "extend": "延长审批",
    "incident": "流程异常", "retry": "重试", "timer": "定时", "approve": "同意",
    "forward": "转报", "forwarded_in": "下级转报", "federation": "上下级平台", "level_step": "上级办理进展",
    "recall_forward": "撤回转报", "deemed": "逾期视为办结", "deemed_accept": "逾期视为受理",
    "deemed_skipped": "未能视为办结", "deemed_restart": "视为办结期限重新计算", "phase_skipped": "特别程序环节（已在挂起中）", "phase_overrun": "特别程序超出最长期限",
}
OUTCOME_LABELS = {"approve": "同意", "reject": "不予许可", "return": "退回", "sign": "加签意见", "removed": "已减签",
                  "correction": "补正", "deemed": "逾期视为办结（系统）"}

# the task page's own texts (the rest are in app/web/i18n.py)
# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("不予受理"),)

# -- small helpers ---------------------------------------------------------------------------------
def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _body() -> dict:
    """The request's fields: a JSON object, or the form (``data`` as JSON text)."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ValidationError("请求格式不正确 (JSON object expected)")
        return body
    body = {k: v for k, v in request.form.items() if k != "csrf_token"}
    raw = body.get("data")
    if raw:
        try:
            body["data"] = json.loads(raw)
        except ValueError:
            raise ValidationError("表单数据格式不正确", details={"data": ["not JSON"]}) from None
    else:
        body.pop("data", None)
    for key in ("users",):
        if key in body and isinstance(body[key], str):
            body[key] = [u for u in re.split(r"[\s,，、;；]+", body[key]) if u]
    return body


def _revision(body: dict) -> int | None:
    raw = body.get("revision")
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ValidationError("版本号不正确", details={"revision": ["integer"]}) from None


def _text(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ValidationError("请求格式不正确", details={key: ["string expected"]})
    if value is not None and len(value) > task_base.OPINION_MAX:
        raise ValidationError(f"内容过长（最多 {task_base.OPINION_MAX} 字）", details={key: ["too long"]})
    return value


def _back(default: str | None = None) -> str:
    """Where to go after a POST: the form's ``back`` or the referrer, if it is a path on this site."""
    target = request.form.get("back") or request.referrer or ""
    if target.startswith(request.host_url):
        target = "/" + target[len(request.host_url):]
    if not target.startswith("/") or target.startswith("//") or any(c < " " or c in "\\\x7f" for c in target):
        return default or url_for("inbox.index")  # browsers read "/\t/x" and "/\\x" as "//x", another host
    return target


def _answer(message: str, target: str, status: int = 200, category: str = "ok"):
    if _wants_json():  # the page's script goes to ``redirect``, where a success is flashed
        if status < 400:
            flash(message, category)
        return jsonify({"message": message, "redirect": target}), status
    flash(message, category)
    return redirect(target)


def _operation(view):
    """A POST: run it; a DomainError becomes a flash (or JSON) message and changes nothing."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        back = _back()
        try:
            return view(*args, **kwargs)
        except DomainError as exc:
            if exc.status == 404 and not _wants_json():
                raise
            if exc.status == 403 and not _wants_json():
                raise
            return _answer(exc.message, back, exc.status, "error")
    return wrapped


def _group_names(groups) -> str:
    """The candidate groups by their labels (department · role) in the UI's language."""
    return i18n.gettext("、").join(i18n.gettext(GROUPS[g]) if g in GROUPS else g for g in groups or ())


@bp.app_template_filter("bj")
def _bj_filter(ts):
    return i18n.format_time(ts)


@bp.app_template_filter("bjdate")
def _bjdate_filter(day):
    """A date in the page language's format: 2026-03-04, or 4 Mar 2026."""
    if not day:
        return ""
    return day.isoformat() if i18n.current_lang() != "en" else f"{day.day} {day.strftime('%b %Y')}"


def _diagram_xml(version_id: int) -> str:
    """A version's BPMN XML (versions never change: read once per process)."""
    cache = current_app.extensions.setdefault("inbox_bpmn", {})
    xml = cache.get(version_id)
    if xml is None:
        xml = cache[version_id] = get_version(version_id).bpmn_xml
    return xml


def _flows(xml: str, done: set, current: set) -> list[str]:
    """Sequence flows taken: from a step done to a step done or current."""
    out = []
    try:
        root = ET.fromstring(xml.encode("utf-8"))
    except ET.ParseError:
        return out
    for el in root.iter():
        if el.tag.endswith("}sequenceFlow") and el.get("sourceRef") in done and \
                el.get("targetRef") in (done | current):
            out.append(el.get("id"))
    return out


def _workflow(inst):
    """The instance's workflow, read-only and this request's alone while the page reads it (a step of
    another thread must not take it from the engine cache and change it meanwhile): ``_give_back``
    returns it to the cache once the page has read it."""
    if inst is None:
        return None
    eng = engine()
    wf = eng.take_cached(inst.id, inst.revision)
    if wf is None:
        wf = eng.load(spec_pair(get_version(inst.version_id)), inst.state)
    return wf


def _give_back(inst, wf) -> None:
    """The page has read the workflow: kept for the next step of the instance's revision."""
    if inst is not None and wf is not None:
        engine().remember(inst.id, inst.revision, wf)


def _path(wf) -> dict:
    """Where the case stands in its diagram."""
    if wf is None:
        return {"done": [], "current": [], "flows": []}
    return engine().path(wf)


def _matters() -> dict:
    return {m.process_id: m.name for m in list_matters()}


# -- lists -----------------------------------------------------------------------------------------
@bp.get("")
@staff_only
def index():
    actor = current_actor()
    tab = request.args.get("tab") or "todo"
    error, page, f = None, None, inbox_svc.Filters()
    try:
        try:
            number = int(request.args.get("page") or 1)
        except ValueError:
            raise ValidationError("页码不正确") from None
        f = inbox_svc.Filters.parse(request.args)
        page = inbox_svc.list_inbox(actor, tab, f, page=number, per_page=20)
    except ValidationError as exc:
        error = exc.message
        tab = tab if tab in inbox_svc.TABS else "todo"
        page = inbox_svc.Page(tab=tab, rows=[], page=1, per_page=20, has_next=False, counts=inbox_svc.counts(actor))
    matters = _matters()
    args = {k: v for k, v in f.as_dict().items()}
    return render_template("inbox/index.html", page=page, tab=tab, tabs=TAB_LABELS, f=args, matters=matters,
                           colours=COLOUR_LABELS, error=error, inbox_counts=page.counts, action_labels=ACTION_LABELS,
                           filtered=bool(args), outcome_labels=OUTCOME_LABELS,
                           status_labels={st.value: st.label for st in CaseStatus},
                           page_url=lambda n: url_for("inbox.index", tab=tab, page=n, **args)), (422 if error else 200)


# -- the task page ---------------------------------------------------------------------------------
def _actions(actor, task, case, form, inst) -> dict:
    """What the actor may do on this page (the services check it again on POST)."""
    a = {}
    open_ = task.state == "ready" and (inst is None or inst.status != "suspended")
    can = perms.may_act(actor, task)
    if open_ and can:
        if task.kind == "sign":
            a["sign"] = True
        elif task.delegation == "pending" and task.assignee == actor.username:
            a.update(resolve=True, draft=True)
        else:
            if not task.assignee:
                a["claim"] = True
            if task.assignee == actor.username and task.claimed_at:
                a["unclaim"] = True
            a.update(approve=True, transfer=True, delegate=True, signers=True, cc=True, draft=True)
            dec = form_fields.decision_field(form)
            a["reject"] = bool(dec and "reject" in dec[1])
            targets = ops.return_targets(task)
            if targets:
                a["return"] = targets
    if open_ and task.owner == actor.username and task.delegation == "pending":
        a["reclaim"] = True
    if task.state == "ready" and task.blocked and (task.pending_by or task.assignee) == actor.username:
        a["unsign"] = True
    if task.state == "ready" and not can and case is not None and handover.may_urge(actor, case):
        a["urge"] = True
    if task.state == "completed" and task.completed_by == actor.username and task.kind == "user":
        a["withdraw"] = True
        a["cc"] = case is not None
    return a


def _merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``, nested objects merged key by key."""
    out = dict(base)
    for key, value in top.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


_TEMPLATE_NAME = re.compile(r"\{\{\s*([A-Za-z_]\w*)")


def _template_names(form: dict | None) -> set[str]:
    """The variables the form's texts show (``会签部门：{{cs.dept_name}}`` → ``cs``)."""
    names: set[str] = set()

    def walk(components):
        for comp in components or ():
            for attr in ("text", "label", "description"):
                if isinstance(comp.get(attr), str):
                    names.update(_TEMPLATE_NAME.findall(comp[attr]))
            walk(comp.get("components"))
    walk((form or {}).get("components"))
    return names


def _task_variables(wf, task_id: str, names: set[str]) -> dict:
    """The values of ``names`` in the task's data in the workflow: the item of a multi-instance step
    (the countersign's ``cs`` = {dept, dept_name}), which lives only there. Read-only; {} when the task
    is not in the workflow (any more)."""
    if wf is None or not names:
        return {}
    return engine().task_variables(wf, task_id, names)


def _previous_data(task, details, form) -> dict | None:
    """What this step was completed with the last time, for a step reopened by 退回 / 撤回 or reached
    again by the process (the trail's complete/reject event keeps the submitted data); the decision
    is left out — it is taken anew. A countersign step reuses only its own department's data."""
    if task.state != "ready" or task.kind != "user":
        return None
    groups = sorted(task.candidate_groups or [])
    ids = {t.id for t in details["tasks"] if t.element_id == task.element_id and t.id != task.id
           and t.state == "completed" and (task.mi_index is None or sorted(t.candidate_groups or []) == groups)}
    data = None
    for ev in details["history"]:
        if ev.task_row_id in ids and ev.action in ("complete", "reject") and isinstance(ev.data_change, dict):
            data = copy.deepcopy(ev.data_change)
    dec = form_fields.decision_field(form)
    if data and dec is not None:
        cur, parts = data, dec[0].split(".")
        for part in parts[:-1]:
            cur = cur.get(part) if isinstance(cur, dict) else None
        if isinstance(cur, dict):
            cur.pop(parts[-1], None)
    return data or None


def _form_data(task, case, form, previous=None, variables=None) -> dict:
    """What the form shows first: the task's draft, else the applicant's data with what the step was
    last completed with (``previous``), over the workflow variables its texts show; the decision field
    set to 'approve' when empty (the buttons say approve / reject)."""
    if task.draft:
        data = dict(task.draft)
    else:
        data = _merge(dict((case.data if case is not None else None) or {}), previous or {})
    data = _merge(variables or {}, data)
    dec = form_fields.decision_field(form)
    if dec is not None and task.state == "ready":
        cur, parts = data, dec[0].split(".")
        for part in parts[:-1]:
            nxt = cur.get(part)
            cur[part] = nxt = dict(nxt) if isinstance(nxt, dict) else {}
            cur = nxt
        if cur.get(parts[-1]) in (None, ""):
            for value in form_fields.APPROVE_VALUES:
                if value in dec[1]:
                    cur[parts[-1]] = value
                    break
    return data


def _gateway_graph(version_id: int, xml: str) -> dict:
    """element id → (is a gateway, targets of its sequence flows), read once per version."""
    cache = current_app.extensions.setdefault("inbox_flow_graph", {})
    graph = cache.get(version_id)
    if graph is None:
        graph = {}
        try:
            root = ET.fromstring(xml.encode("utf-8"))
        except ET.ParseError:
            root = None
        for el in (root.iter() if root is not None else ()):
            if el.tag.endswith("}sequenceFlow") and el.get("sourceRef"):
                graph.setdefault(el.get("sourceRef"), [False, []])[1].append(el.get("targetRef"))
        for el in (root.iter() if root is not None else ()):
            if el.tag.endswith("Gateway") and el.get("id"):
                graph.setdefault(el.get("id"), [False, []])[0] = True
        cache[version_id] = graph
    return graph


def _leads_to(graph: dict, source: str, target: str) -> bool:
    """Whether the process goes from step ``source`` to step ``target`` through gateways only (a
    decision "退回" modelled as a flow back)."""
    seen, todo = set(), list(graph.get(source, (False, []))[1])
    while todo:
        node = todo.pop()
        if node == target:
            return True
        if node in seen or not graph.get(node, (False, []))[0]:
            continue
        seen.add(node)
        todo.extend(graph[node][1])
    return False


def _came_back(task, details, graph) -> object | None:
    """The trail event that sent the case back to this open step, if that is how it got here: a 退回
    to it, or a decision 退回 (outcome ``return``) whose flow leads back to it; None once the step
    has been completed again since."""
    if task.state != "ready" or task.kind != "user":
        return None
    outcomes = {t.id: t.outcome for t in details["tasks"]}
    found = None
    for ev in details["history"]:
        change = ev.data_change if isinstance(ev.data_change, dict) else {}
        if ev.action == "return" and change.get("target") == task.element_id:
            found = ev
        elif ev.action in ("complete", "reject") and ev.element_id == task.element_id:
            found = None
        elif ev.action == "complete" and outcomes.get(ev.task_row_id) == "return" and ev.element_id \
                and _leads_to(graph, ev.element_id, task.element_id):
            found = ev
    return found


def _withdrawn(task, details) -> bool:
    """Whether this open step was taken back (撤回) by whoever had completed it, since it was last
    completed."""
    last = None
    for ev in details["history"]:
        if ev.element_id == task.element_id and ev.action in ("complete", "reject", "withdraw"):
            last = ev.action
    return task.state == "ready" and last == "withdraw"


def _display_names(usernames) -> dict[str, str]:
    names = [u for u in set(usernames) if u]
    if not names:
        return {}
    return {u: n for u, n in db.session.execute(select(User.username, User.display_name)
                                                 .where(User.username.in_(names))).all() if n}


def _reject_label(task, case, matter: dict) -> str:
    """What refusing means at this step: 不予受理 at the window's receiving step, 不予备案 for a filing
    matter (备案, as its decision document: app/domain/decisions.py), else 不予许可."""
    if task.action == "receive":
        return "不予受理"
    if case is not None and matter_family(case.process_id, matter) == "filing":
        return "不予备案"
    return "不予许可"


def _case_context(actor, case) -> dict:
    """Everything the lower half of the task page and the case page show."""
    d = case_svc.case_details(case)
    inst = d["instance"]
    wf = _workflow(inst)
    path = _path(wf)
    xml = _diagram_xml(case.version_id)
    path["flows"] = _flows(xml, set(path["done"]), set(path["current"]))
    groups: dict[str, list] = {}
    for t in d["tasks"]:
        if t.kind == "user" and t.state == "completed" and t.mi_index is not None:
            groups.setdefault(t.element_id, []).append(t)
    countersigns = [{"name": ts[0].name, "rows": [{"dept": _group_names(t.candidate_groups) or t.completed_by,
                                                  "by": t.completed_by, "at": t.completed_at, "opinion": t.opinion,
                                                  "outcome": OUTCOME_LABELS.get(t.outcome, t.outcome)} for t in ts]}
                    for ts in groups.values()]
    version = get_version(case.version_id)
    start_key = (version.summary or {}).get("start_form")
    start_form = (version.forms or {}).get(start_key) if start_key else None
    try:
        status_label = CaseStatus(case.status).label
    except ValueError:
        status_label = case.status
    return {"case": case, "details": d, "inst": inst, "workflow": wf, "matter": version.matter or {}, "path": path, "bpmn_xml": xml, "countersigns": countersigns,
            "files": file_svc.list_files(actor, case.id), "kinds": file_svc.KINDS, "start_form": start_form,
            "matter_name": (version.matter or {}).get("name") or case.process_id, "status_label": status_label,
            "case_colour": inbox_svc.colour_of(case.promised_due or case.statutory_due),
            "statutory_colour": inbox_svc.colour_of(case.statutory_due),
            "promised_colour": inbox_svc.colour_of(case.promised_due),
            "status_labels": {s.value: s.label for s in CaseStatus}, "action_labels": ACTION_LABELS, "outcome_labels": OUTCOME_LABELS, "colours": COLOUR_LABELS,
            "group_names": _group_names, "can_upload": actor.is_staff and not actor.groups <= {"inspector"},
            "people": _display_names([getattr(ev, "actor", None) for ev in d.get("history") or ()]
                                     + [u for t in d["tasks"] for u in (t.completed_by, t.assignee)])}


@bp.app_template_global("badge")
def _badge(counts, tab):
    return inbox_svc.badge(counts, tab)


@bp.get("/tasks/<task_id>")
@staff_only
def task_page(task_id):
    actor = current_actor()
    task, case, form, revision = task_svc.get_task(actor, task_id)
    if case is None:
        raise ValidationError("该任务没有办件")
    ctx = _case_context(actor, case)
    wf, details = ctx.pop("workflow"), ctx["details"]
    actions = _actions(actor, task, case, form, ctx["inst"])
    signs = [t for t in details["tasks"] if t.parent_id == task.id and t.kind == "sign" and t.state == "ready"]
    variables = _task_variables(wf, task.id, _template_names(form))
    _give_back(ctx["inst"], wf)
    submitted = None
    if task.state == "completed":
        for ev in details["history"]:
            if ev.task_row_id == task.id and ev.action in ("complete", "reject"):
                submitted = ev.data_change
    back = _came_back(task, details, _gateway_graph(case.version_id, ctx["bpmn_xml"]))
    if submitted is not None:
        data = _merge(variables, submitted if isinstance(submitted, dict) else {})
    else:  # a step sent back (退回) or taken back (撤回) shows what it was completed with
        again = back is not None or _withdrawn(task, details)
        data = _form_data(task, case, form, _previous_data(task, details, form) if again else None, variables)
    names = _display_names([back.actor] if back is not None else [])
    people = task_base.colleagues(actor, task.region_code) if any(
        actions.get(k) for k in ("transfer", "signers", "cc")) else []
    editable = bool(actions.get("approve") or actions.get("resolve") or actions.get("draft"))
    # one opinion field: the form's own when it has one (and the holder fills the form), else the page's
    form_opinion = form_fields.opinion_field(form) if editable and task.kind != "sign" else None
    return render_template("inbox/task.html", task=task, form=form, form_data=data, revision=revision,
                           actions=actions, signs=signs, colleagues=people,
                           decision_key=(form_fields.decision_field(form) or (None,))[0],
                           colour=inbox_svc.colour_of(task.due_date), editable=editable,
                           page_opinion=not form_opinion, reject_label=_reject_label(task, case, ctx["matter"]),
                           came_back=back, came_back_by=names.get(back.actor, back.actor) if back is not None else None,
                           **ctx)


@bp.get("/cases/<int:case_id>")
@staff_only
def case_page(case_id):
    actor = current_actor()
    case = case_svc.get_case(actor, case_id)
    inbox_svc.mark_cc_read(actor, case.id)
    db.session.commit()  # the read mark is this request's only change
    ctx = _case_context(actor, case)
    _give_back(ctx["inst"], ctx.pop("workflow"))
    mine = [t for t in ctx["details"]["tasks"] if t.state == "ready" and perms.may_act(actor, t)]
    return render_template("inbox/case.html", mine=mine, **ctx)


# -- task operations -------------------------------------------------------------------------------


# -- administrators: the case ----------------------------------------------------------------------


# -- files -----------------------------------------------------------------------------------------


__all__ = ["bp", "NotAuthorized"]
