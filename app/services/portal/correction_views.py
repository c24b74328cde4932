"""What a 补正 (一次性告知) looks like to each side, and its texts: the open request of a case, the staff
panel on the task page, the applicant's view, the notice text and items cleaned from a form or
parsed back from a notice. Reads only; the requests, answers and withdrawals are in
app/services/corrections.py."""
from __future__ import annotations

import re

from sqlalchemy import select

from ...domain.case_status import CaseStatus, can_transition
from ...domain.errors import NotAuthorized, ValidationError
from ...extensions import db
from ...models import Case, CaseFile, HumanTask, ProcessInstance, ProcessVersion
from ...models.correction import CorrectionRequest
from ..cases.lifecycle import applicant_case
from ..cases.steps import version_forms
from ..identity.actors import Actor
from ..identity.permissions import is_candidate, may_act
from ..inbox.form_fields import decision_field

MAX_ITEMS = 50
MATERIAL_MAX = 200
PROBLEM_MAX = 1000
NOTE_MAX = 2000
REPLY_MAX = 5000
REMARK_MAX = 1000
#: 补正期限 offered for a request after acceptance (working days); the staff member may change it
DEFAULT_DAYS = 10
_NUMBER = re.compile(r"^\s*(?:[（(]?\d{1,3}[)）.、．]|[一二三四五六七八九十]+[、.．])\s*")
_SPLIT = re.compile(r"[；;]\s*(?=(?:[（(]?\d{1,3}[)）.、．]))")


def open_correction(case_id: int) -> CorrectionRequest | None:
    """The case's open 补正 request, if any (for the case pages)."""
    if not isinstance(case_id, int) or not 0 < case_id < 2 ** 31:
        return None
    return db.session.execute(select(CorrectionRequest).where(
        CorrectionRequest.case_id == case_id, CorrectionRequest.status == "open")).scalar_one_or_none()


def requests_of(case_id: int) -> list[CorrectionRequest]:
    """Every request of a case, newest first."""
    return list(db.session.execute(select(CorrectionRequest).where(CorrectionRequest.case_id == case_id)
                                   .order_by(CorrectionRequest.id.desc())).scalars())


def matter_materials(case: Case) -> list[str]:
    """The names of the materials list of the case's matter (its own version)."""
    version = db.session.get(ProcessVersion, case.version_id)
    return [str(m.get("name")) for m in ((version.matter or {}).get("materials") or []) if m.get("name")] \
        if version else []


def files_by_id(case_id: int, requests: list[CorrectionRequest]) -> dict[int, CaseFile]:
    ids = {f["id"] for r in requests for a in (r.answers or []) for f in a.get("files", [])}
    if not ids:
        return {}
    return {f.id: f for f in db.session.execute(select(CaseFile).where(
        CaseFile.case_id == case_id, CaseFile.id.in_(ids))).scalars()}


def mode_for(task: HumanTask, form: dict | None) -> str:
    """``window`` for the window's receiving step whose form can decide 补正, else ``handling``."""
    dec = decision_field(form)
    if task.action == "receive" and dec is not None and "correction" in dec[1]:
        return "window"
    return "handling"


def _form_of(task: HumanTask) -> dict | None:
    inst = db.session.get(ProcessInstance, task.instance_id)
    return version_forms(inst.version_id).get(task.form_key) if inst is not None and task.form_key else None


def _form_keys(form: dict | None) -> set[str]:
    def walk(components):
        for comp in components or ():
            if comp.get("components"):
                yield from walk(comp["components"])
            if comp.get("key"):
                yield comp["key"]
    return set(walk((form or {}).get("components")))


def staff_panel(actor: Actor, task: HumanTask, case: Case | None) -> dict:
    """What the task page's 补正 panel shows and offers to ``actor`` (the POSTs check again)."""
    if case is None or not actor.is_staff:
        return {"show": False}
    form = _form_of(task)
    mode = mode_for(task, form)
    reqs = requests_of(case.id)
    current = next((r for r in reqs if r.status == "open"), None)
    inst = db.session.get(ProcessInstance, task.instance_id)
    can_request = (current is None and task.kind == "user" and may_act(actor, task)
                   and task.delegation != "pending" and (inst is None or inst.status != "suspended")
                   and (mode == "window" or case.clock_state == "running"))
    waiting = current is not None and current.mode == "handling" and current.task_id == task.id
    can_withdraw = waiting and task.state == "ready" and _may_withdraw(actor, current, task)
    return {"show": bool(reqs) or can_request, "mode": mode, "can_request": can_request, "open": current,
            "history": [r for r in reqs if r.status != "open"], "materials": matter_materials(case),
            "waiting": waiting, "can_withdraw": can_withdraw, "default_days": DEFAULT_DAYS,
            "files": files_by_id(case.id, reqs), "status_allows": _status_allows(case)}


def _status_allows(case: Case) -> bool:
    try:
        return can_transition(CaseStatus(case.status), CaseStatus.CORRECTION)
    except ValueError:
        return False


def applicant_view(actor: Actor, case_id: int) -> dict:
    """The applicant's 补正 page: the open notice (if any) and the past ones. NotFound unless the
    case is the actor's own."""
    case = _own_case(actor, case_id)
    reqs = requests_of(case.id)
    current = next((r for r in reqs if r.status == "open"), None)
    return {"case": case, "open": current, "history": [r for r in reqs if r.status != "open"],
            "files": files_by_id(case.id, reqs)}


def _own_case(actor: Actor, case_id) -> Case:
    if not actor.is_applicant:
        raise NotAuthorized("只有申请人可以查看和提交补正")
    return applicant_case(actor, case_id)


def _clean_text(value, *, limit: int, field: str, errors: dict, what: str, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.setdefault(field, []).append(f"{what}格式不正确")
        return ""
    value = value.strip()
    if "\x00" in value:
        errors.setdefault(field, []).append(f"{what}含有不允许的字符")
    elif len(value) > limit:
        errors.setdefault(field, []).append(f"{what}过长（最多 {limit} 字）")
    elif required and not value:
        errors.setdefault(field, []).append(f"请填写{what}")
    return value


def clean_items(items) -> list[dict]:
    """``[{material, problem}]`` checked: 1 to MAX_ITEMS items, each with a material name and what is
    missing or wrong. Raises ValidationError (details per item: ``items.<n>``)."""
    if not isinstance(items, list) or not items:
        raise ValidationError("一次性告知至少要列明一项需补正的材料", details={"items": ["至少一项 (at least one)"]})
    if len(items) > MAX_ITEMS:
        raise ValidationError(f"一次性告知最多 {MAX_ITEMS} 项", details={"items": [f"≤ {MAX_ITEMS}"]})
    errors: dict = {}
    out, seen = [], set()
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            errors[f"items.{n}"] = ["格式不正确"]
            continue
        material = _clean_text(item.get("material"), limit=MATERIAL_MAX, field=f"items.{n}", errors=errors,
                               what=f"第 {n} 项的材料名称", required=True)
        problem = _clean_text(item.get("problem"), limit=PROBLEM_MAX, field=f"items.{n}", errors=errors,
                              what=f"第 {n} 项「{material or '材料'}」需补正的内容", required=True)
        if material and problem and (material, problem) in seen:
            errors.setdefault(f"items.{n}", []).append(f"第 {n} 项与前面重复")
        seen.add((material, problem))
        out.append({"material": material, "problem": problem})
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationError(f"一次性告知内容不完整：{first}", details=errors)
    return out


def _days(days, *, required: bool) -> int | None:
    if days in (None, ""):
        if required:
            return DEFAULT_DAYS
        return None
    try:
        value = int(days)
    except (TypeError, ValueError):
        value = 0
    if isinstance(days, bool) or not 1 <= value <= 60:
        raise ValidationError("补正期限应为 1 到 60 个工作日", details={"days": ["1..60"]})
    return value


def notice_text(items: list[dict]) -> str:
    """The numbered list as text (the window form's ``missing_items``)."""
    return "\n".join(f"{n}. {i['material']}：{i['problem']}" if i.get("problem") else f"{n}. {i['material']}"
                     for n, i in enumerate(items, 1))


def items_from_text(text: str | None) -> list[dict]:
    """Items from a clerk's free text: one per line (or per numbered part), ``材料：问题`` split at the
    first colon."""
    out = []
    for line in (text or "").splitlines():
        for part in _SPLIT.split(line):
            part = _NUMBER.sub("", part).strip().rstrip("；;。")
            if not part:
                continue
            match = re.match(r"^(.*?)[：:](.*)$", part)
            material, problem = (match.group(1), match.group(2)) if match and match.group(1).strip() else (part, "")
            out.append({"material": material.strip()[:MATERIAL_MAX], "problem": problem.strip()[:PROBLEM_MAX]})
    return out[:MAX_ITEMS]


def _may_withdraw(actor: Actor, req: CorrectionRequest, task: HumanTask | None) -> bool:
    if not actor.is_staff:
        return False
    if actor.username == req.requested_by or actor.is_admin:
        return True
    return task is not None and (task.assignee == actor.username or
                                 (not task.assignee and is_candidate(actor, task)))


__all__ = ["open_correction", "requests_of", "applicant_view", "staff_panel", "items_from_text", "notice_text",
           "clean_items", "DEFAULT_DAYS"]
