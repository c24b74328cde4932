"""好差评: the applicant rates a decided case once (GB/T 39046 A.8 levels, the four online indicators,
a comment, the channel); a 差评 (level 4 or 5) opens a rectification work item (整改工单) for the
department that handled the case, due in RECTIFICATION_DAYS working days.

Rectification states: verifying 待核实 → rectifying 整改中 → replied 已反馈 → closed 已回访 (with the
call-back result); from verifying or rectifying the department may appeal once (申诉复核) when the
review is wrong or malicious; the service hall (window, same region) or an administrator decides:
upheld → invalid (closed as 无效), rejected → back to rectifying.

Every function that changes something checks the actor, commits, or changes nothing and raises
ValidationError (422, details by field), NotFound, NotAuthorized, Conflict (409)."""
from __future__ import annotations

import re
from datetime import date
from typing import Callable

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ...domain.case_status import CaseStatus
from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...domain.workdays import CalendarMissing
from ...extensions import db
from ...models import Case, HumanTask, ProcessVersion
from ...models.feedback import Evaluation, FeedbackEvent, Rectification
from ..clocks.calendar import current_calendar
from ..clocks.deadlines import system_alert
from ..common.clock import clock_now, today_beijing
from ..common.db_support import lock_one
from ..identity.actors import Actor
from ..messaging.notify import TEMPLATES, notify_staff

TEMPLATES.update({
    "rectification_new": "【阳光发改】办件{case_no}收到差评（{level}），已生成整改工单，请于{due}前核实整改并反馈。",
    "question_new": "【阳光发改】您有一条新的{kind}「{subject}」待答复，请于{due}前答复。",
    "question_answered": "【阳光发改】您的{kind}「{subject}」已答复，请登录查看并评价答复。",
})

LEVELS = {1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"}
BAD_LEVELS = frozenset({4, 5})
INDICATORS = {"efficiency": "办事效率", "guide_accuracy": "办事指南精确度", "convenience": "办事便捷度",
              "usability": "平台操作性"}
#: evaluation channels (评价渠道)
CHANNELS = {"1": "PC端", "2": "移动端", "3": "二维码", "4": "短信", "5": "窗口评价器"}
#: channels a link may name explicitly (?channel=qr on the receipt's QR code, ?channel=sms in the SMS)
LINK_CHANNELS = {"qr": "3", "sms": "4"}
DECIDED = frozenset({CaseStatus.APPROVED.value, CaseStatus.REJECTED.value, CaseStatus.CLOSED.value})

RECT_STATUS = {"verifying": "待核实", "rectifying": "整改中", "replied": "已反馈", "closed": "已回访（办结）",
               "appeal": "申诉复核", "invalid": "申诉成立（已作废）"}
RECT_OPEN = frozenset({"verifying", "rectifying", "appeal"})
CALLBACK_RESULTS = {"satisfied": "回访满意", "unsatisfied": "回访不满意", "unreachable": "无法联系"}
#: platform groups that are not a handling department
PLATFORM_GROUPS = frozenset({"window", "leader", "admin", "inspector", "designer"})
MOBILE_RE = re.compile(r"Mobile|Android|iPhone|iPad|iPod|HarmonyOS|MicroMessenger|Windows Phone", re.I)


# ---------------------------------------------------------------- shared helpers (also used by
# consultations and disclosure)

def commit() -> None:
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def text_field(value, field: str, errors: dict, *, max_len: int, required: bool = True) -> str:
    value = value.strip() if isinstance(value, str) else ("" if value is None else None)
    if value is None:
        errors.setdefault(field, []).append("格式不正确 (text expected)")
        return ""
    if required and not value:
        errors.setdefault(field, []).append("必填 (required)")
    elif len(value) > max_len:
        errors.setdefault(field, []).append(f"最多 {max_len} 字 (at most {max_len} characters)")
    return value


def raise_if(errors: dict, message: str = "输入有误，未保存 (invalid input, nothing saved)") -> None:
    if errors:
        raise ValidationError(message, details=errors)


def working_days_later(n: int, start: date | None = None, *, case: Case | None = None) -> date | None:
    """The n-th working day after ``start`` (today); None (and a red system alert) when the calendar
    lacks the year: a deadline is never guessed."""
    start = start or today_beijing()
    try:
        return current_calendar().add_working_days(start, n)
    except CalendarMissing as exc:
        system_alert(f"calendar-{exc.year}", f"{exc.year} 年工作日历缺失：期限无法计算，请导入国务院办公厅当年放假安排",
                     case=case)
        return None


def overdue_days(due: date | None, on: date | None = None) -> int:
    """Working days in (due, on]: 0 when not late (or no due date)."""
    if due is None:
        return 0
    on = on or today_beijing()
    if on <= due:
        return 0
    try:
        return current_calendar().working_days_between(due, on)
    except CalendarMissing:
        return (on - due).days


def record(kind: str, item_id: int, actor: Actor, action: str, *, note=None, old=None, new=None) -> None:
    db.session.add(FeedbackEvent(item_kind=kind, item_id=item_id, actor=actor.username, action=action, note=note,
                                 from_status=old, to_status=new, at=clock_now()))


def history(kind: str, item_id: int) -> list[FeedbackEvent]:
    return list(db.session.execute(select(FeedbackEvent).where(
        FeedbackEvent.item_kind == kind, FeedbackEvent.item_id == item_id).order_by(FeedbackEvent.id)).scalars())


def base_department(group: str) -> str:
    for suffix in ("_chief", "_liaison"):
        if group.endswith(suffix):
            return group[: -len(suffix)]
    return group


def department_groups(department: str) -> frozenset[str]:
    """The candidate groups of a department's members (handlers, chief, liaison)."""
    if department == "window":
        return frozenset({"window"})
    return frozenset({department, f"{department}_chief", f"{department}_liaison"})


def in_department(actor: Actor, department: str, region_code: str) -> bool:
    return actor.is_staff and actor.region_code == region_code and bool(department_groups(department) & actor.groups)


def is_hall(actor: Actor, region_code: str) -> bool:
    """The service hall (政务服务大厅窗口) of the region."""
    return actor.is_staff and actor.region_code == region_code and "window" in actor.groups


def _handling(groups, joint: set) -> str | None:
    for group in groups or ():
        dept = base_department(str(group))
        if dept in PLATFORM_GROUPS or dept.startswith("cs_") or dept in joint or "$" in dept:
            continue
        return dept
    return None


def handling_department(case: Case) -> str:
    """The department that handled a case: the division of its most recent completed step that is
    neither the window, a leader, nor a countersigning department; the service hall (``window``)
    when only the window worked it (e.g. refused at reception)."""
    version = db.session.get(ProcessVersion, case.version_id)
    matter = (version.matter if version else None) or {}
    joint = set(matter.get("joint_departments") or ())
    rows = db.session.execute(select(HumanTask.candidate_groups).where(
        HumanTask.case_id == case.id, HumanTask.state == "completed", HumanTask.kind == "user")
        .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())).scalars()
    for groups in rows:
        dept = _handling(groups, joint)
        if dept:
            return dept
    return "window"


def matter_department(version: ProcessVersion) -> str | None:
    """The handling division of a matter, from its metadata (``departments``) or else its BPMN's
    candidate groups."""
    matter = version.matter or {}
    joint = set(matter.get("joint_departments") or ())
    dept = _handling(matter.get("departments") or (), joint)
    if dept:
        return dept
    groups = []
    for raw in re.findall(r'candidateGroups="([^"]*)"', version.bpmn_xml or ""):
        groups.extend(g.strip() for g in raw.split(",") if g.strip())
    return _handling(groups, joint)


# ---------------------------------------------------------------- evaluations

#: told of each evaluation made here, inside its transaction: ``fn(evaluation, case)`` (the 一张网's
#: 好差评 push, app/services/docking/ywtb_ratings.py, registers one; feedback imports none of them)
_EVALUATED: list[Callable] = []


def on_evaluated(fn: Callable) -> Callable:
    if fn not in _EVALUATED:
        _EVALUATED.append(fn)
    return fn


def detect_channel(user_agent: str | None, explicit: str | None = None) -> str:
    """The channel code: named by the link (``qr``, ``sms``), else PC or mobile from the user agent."""
    if explicit and explicit in LINK_CHANNELS:
        return LINK_CHANNELS[explicit]
    return "2" if MOBILE_RE.search(user_agent or "") else "1"


def evaluated(case_id: int) -> bool:
    """Whether the case has its evaluation (for the applicant's case page)."""
    return db.session.execute(select(Evaluation.id).where(Evaluation.case_id == case_id)).first() is not None


def get_evaluation(case_id: int) -> Evaluation | None:
    return db.session.execute(select(Evaluation).where(Evaluation.case_id == case_id)).scalar_one_or_none()


def own_decided_case(actor: Actor, case_id: int) -> Case:
    """The applicant's own case (NotFound otherwise), which must be decided (Conflict otherwise)."""
    case = db.session.get(Case, case_id) if isinstance(case_id, int) else None
    if case is None or not actor.is_applicant or case.applicant_id != actor.id:
        raise NotFound("办件不存在")
    if case.status not in DECIDED or case.decided_at is None:  # archived after a withdrawal: never decided
        raise Conflict("办件办结后才能评价 (the case is not decided yet)")
    return case


def _level(value, field: str, errors: dict) -> int | None:
    try:
        number = int(value)
        if isinstance(value, float) or isinstance(value, bool) or str(value).strip() != str(number):
            raise ValueError
    except (TypeError, ValueError):
        errors.setdefault(field, []).append("请选择 1–5 (choose 1–5)")
        return None
    if number not in LEVELS:
        errors.setdefault(field, []).append("请选择 1–5 (choose 1–5)")
        return None
    return number


def evaluate(actor: Actor, case_id: int, *, level, indicators: dict | None, comment: str = "",
             channel: str = "1", named: bool = True) -> Evaluation:
    """好差评 of a decided case by its applicant, once. A 差评 opens a rectification work item.
    Raises NotFound (not the actor's case), Conflict (not decided / already evaluated), ValidationError."""
    case = own_decided_case(actor, case_id)
    if evaluated(case.id):
        raise Conflict("该办件已评价，每个办件只能评价一次 (already evaluated)")
    errors: dict = {}
    lvl = _level(level, "level", errors)
    scores = {}
    indicators = indicators if isinstance(indicators, dict) else {}
    for key in INDICATORS:
        scores[key] = _level(indicators.get(key), f"indicators.{key}", errors)
    comment = text_field(comment, "comment", errors, max_len=1000, required=lvl in BAD_LEVELS)
    if lvl in BAD_LEVELS and "comment" in errors and errors["comment"] == ["必填 (required)"]:
        errors["comment"] = ["差评请说明原因 (a bad review needs a reason)"]
    if channel not in CHANNELS:
        errors.setdefault("channel", []).append("渠道不正确 (unknown channel)")
    raise_if(errors, "评价内容不完整，未提交 (incomplete evaluation, nothing saved)")
    try:
        ev = Evaluation(case_id=case.id, process_id=case.process_id, applicant_id=actor.id, level=lvl,
                        indicators=scores, comment=comment, channel=channel, named=bool(named),
                        created_at=clock_now())
        db.session.add(ev)
        db.session.flush()
        if lvl in BAD_LEVELS:
            open_rectification(case, ev)
        for fn in list(_EVALUATED):
            fn(ev, case)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("该办件已评价，每个办件只能评价一次 (already evaluated)") from None
    except BaseException:
        db.session.rollback()
        raise
    return ev


def open_rectification(case: Case, ev: Evaluation) -> Rectification:
    """The work item of a 差评 (in the caller's transaction): also for a rating received from the 一张网."""
    dept = handling_department(case)
    due = working_days_later(current_app.config["RECTIFICATION_DAYS"], case=case)
    item = Rectification(evaluation_id=ev.id, case_id=case.id, department=dept, region_code=case.region_code,
                         status="verifying", due_date=due, created_at=clock_now(), updated_at=clock_now())
    db.session.add(item)
    db.session.flush()
    db.session.add(FeedbackEvent(item_kind="rectification", item_id=item.id, actor="system", action="open",
                                 to_status="verifying", note=f"差评（{LEVELS[ev.level]}）：{ev.comment}",
                                 at=clock_now()))
    notify_staff(case, [f"g:{g}" for g in sorted(department_groups(dept)) if not g.endswith("_liaison")],
                 "rectification_new", f"rectification:{item.id}", level=LEVELS[ev.level],
                 due=due.isoformat() if due else "（日历缺失）")
    return item


# ---------------------------------------------------------------- rectification work items

def can_read_rectification(actor: Actor, item: Rectification) -> bool:
    return actor.is_admin or actor.is_inspector or in_department(actor, item.department, item.region_code) \
        or is_hall(actor, item.region_code)


def get_rectification(actor: Actor, item_id: int) -> Rectification:
    item = db.session.get(Rectification, item_id)
    if item is None:
        raise NotFound("整改工单不存在")
    if not can_read_rectification(actor, item):
        raise NotAuthorized("无权查看该整改工单 (not your department)")
    return item


def is_overdue(item: Rectification) -> bool:
    return item.status in RECT_OPEN and item.due_date is not None and item.due_date < today_beijing()


def list_rectifications(actor: Actor, *, status: str | None = None, page: int = 1, per_page: int = 20):
    """The work items the actor may see (department in region, service hall of the region,
    inspectors and administrators all), overdue first then nearest deadline. Returns (rows, total)."""
    if not actor.is_staff and not actor.is_admin:
        raise NotAuthorized("仅限工作人员 (staff only)")
    q = select(Rectification)
    if not (actor.is_admin or actor.is_inspector):
        depts = {base_department(g) for g in actor.groups}
        q = q.where(Rectification.region_code == actor.region_code)
        if "window" not in actor.groups:
            q = q.where(Rectification.department.in_(sorted(depts)))
    if status in RECT_STATUS:
        q = q.where(Rectification.status == status)
    total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = db.session.execute(q.order_by(Rectification.closed_at.isnot(None), Rectification.due_date.asc(),
                                         Rectification.id).limit(per_page).offset((page - 1) * per_page)).scalars()
    return list(rows), total


def _may_work(actor: Actor, item: Rectification) -> bool:
    return actor.is_admin or in_department(actor, item.department, item.region_code)


#: action -> (states it applies to, who may do it, target state)
_ACTIONS = {
    "verify": ({"verifying"}, "department", "rectifying"),
    "reply": ({"rectifying"}, "department", "replied"),
    "callback": ({"replied"}, "department_or_hall", "closed"),
    "appeal": ({"verifying", "rectifying"}, "department", "appeal"),
    "uphold": ({"appeal"}, "hall", "invalid"),
    "dismiss": ({"appeal"}, "hall", None),  # back to rectifying
}
ACTION_LABELS = {"open": "生成工单", "verify": "核实属实，开始整改", "reply": "整改反馈", "callback": "回访",
                 "appeal": "申诉", "uphold": "申诉成立（工单作废）", "dismiss": "申诉驳回（继续整改）"}


def rectification_action(actor: Actor, item_id: int, action: str, *, note: str = "",
                         result: str | None = None) -> Rectification:
    """One step of a work item: verify, reply (整改反馈), callback (回访, with ``result``), appeal,
    uphold / dismiss (the appeal's decision). Note (opinion, feedback, reason) mandatory."""
    if action not in _ACTIONS:
        raise ValidationError("操作不正确 (unknown action)", details={"action": ["unknown"]})
    try:
        item = lock_one(Rectification, Rectification.id == item_id)
        if item is None:
            raise NotFound("整改工单不存在")
        if not can_read_rectification(actor, item):
            raise NotAuthorized("无权办理该整改工单 (not your department)")
        states, who, target = _ACTIONS[action]
        allowed = {"department": _may_work(actor, item),
                   "department_or_hall": _may_work(actor, item) or is_hall(actor, item.region_code),
                   "hall": actor.is_admin or (is_hall(actor, item.region_code) and item.department != "window")}[who]
        if not allowed:
            raise NotAuthorized("无权执行该操作 (not allowed for you)")
        if item.status not in states:
            raise Conflict(f"工单当前状态为「{RECT_STATUS[item.status]}」，不能执行「{ACTION_LABELS[action]}」",
                           details={"status": item.status})
        if action == "appeal" and item.appeal_decision is not None:
            raise Conflict("每个工单只能申诉一次 (already appealed once)")
        errors: dict = {}
        note = text_field(note, "note", errors, max_len=2000)
        if action == "callback" and result not in CALLBACK_RESULTS:
            errors.setdefault("result", []).append("请选择回访结果 (choose a call-back result)")
        raise_if(errors)
        old, now = item.status, clock_now()
        if action == "verify":
            item.verify_note = note
        elif action == "reply":
            item.reply, item.replied_at = note, now
        elif action == "callback":
            item.callback_result, item.callback_note, item.closed_at = result, note, now
        elif action == "appeal":
            item.appeal_reason, item.appeal_from = note, item.status
        elif action == "uphold":
            item.appeal_decision, item.appeal_note, item.closed_at = "upheld", note, now
        elif action == "dismiss":
            item.appeal_decision, item.appeal_note = "rejected", note
        item.status = target or "rectifying"
        item.updated_at = now
        record("rectification", item.id, actor, action, note=note if action != "callback" else
               f"{CALLBACK_RESULTS[result]}：{note}", old=old, new=item.status)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return item


def rectification_view(item: Rectification) -> dict:
    """A work item with its case, evaluation and trail, as plain values for a page."""
    case = db.session.get(Case, item.case_id)
    ev = db.session.get(Evaluation, item.evaluation_id)
    return {"item": item, "status_label": RECT_STATUS[item.status], "overdue": is_overdue(item),
            "overdue_days": overdue_days(item.due_date) if item.status in RECT_OPEN else 0,
            "case_no": case.case_no, "process_id": case.process_id, "applicant": case.applicant_name,
            "level": ev.level, "level_label": LEVELS[ev.level], "comment": ev.comment, "named": ev.named,
            "indicators": {INDICATORS[k]: v for k, v in (ev.indicators or {}).items() if k in INDICATORS},
            "channel": CHANNELS.get(ev.channel, ev.channel), "history": history("rectification", item.id)}

