"""Moving waiting cases of a matter onto its newest version (issue 6, point 3).

``preview`` lists every unfinished instance of an older version with whether it can move and, when
not, why; ``move`` moves the movable ones (all, or one case), each in its own transaction, and
writes a ``migrate`` row into the case trail (from/to version). The workflow itself is moved by
app.engine.migration (see there for the method); this layer adds what only the database knows:

* a case whose clock is suspended (a special procedure such as 补正 is running), an open incident,
  an open 加签 / 委派 or a held completion on one of its tasks is refused;
* the start form and the ready task's form: when the new version's form differs, the case's
  submitted data and the task's draft must validate against it as well as they did against the old
  one (no new errors), else refused with the fields.

Moving keeps the task ids, so the inbox rows stay; their name, form, action, step limit and
candidates are updated to the new version and the 待办 index rewritten. Designers and
administrators only."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sqlalchemy import select

from ...domain.errors import NotFound, ValidationError
from ...engine.forms import validate_submission
from ...engine.migration import MigrationRefused
from ...engine.migration import migrate as engine_migrate
from ...engine.migration import plan as engine_plan
from ...extensions import db
from ...models import Case, HumanTask, Incident, Matter, ProcessInstance, ProcessVersion, User
from ..cases.registry import RUNNING
from ..cases.steps import apply_step, engine, record_event, spec_pair
from ..cases.task_index import index_task
from ..common.db_support import lock_one
from ..identity.actors import Actor, actor_from_user
from ..identity.permissions import is_candidate
from .designer import require_designer


@dataclass
class Candidate:
    instance_id: int
    case_id: int | None
    case_no: str | None
    version: int
    version_id: int
    status: str
    current_step: str | None
    movable: bool
    reasons: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    moved_to: int | None = None  # the version it was moved to (move only)

    def to_dict(self) -> dict:
        return asdict(self)


def _require(actor: Actor) -> None:
    require_designer(actor)


def _target(process_id: str) -> ProcessVersion:
    row = db.session.get(Matter, process_id)
    if row is None or row.latest_version_id is None:
        raise NotFound(f"事项不存在: {process_id}")
    return row.latest_version


def _form_errors(form: dict | None, data, *, partial: bool) -> set[str]:
    if not form:
        return set()
    try:
        validate_submission(form, data if isinstance(data, dict) else {}, partial=partial)
    except ValidationError as exc:
        return {f"{k}: {', '.join(v) if isinstance(v, list) else v}" for k, v in (exc.details or {}).items()}
    return set()


def _db_reasons(inst: ProcessInstance, case: Case | None) -> list[str]:
    reasons = []
    if inst.status == "error" or db.session.execute(select(Incident.id).where(
            Incident.instance_id == inst.id, Incident.status == "open").limit(1)).first():
        reasons.append("实例有未处理的故障，请先处理故障")
    if case is not None and case.clock_state == "suspended":
        reasons.append("办件处于特别程序（补正、专家评审等）中，计时已暂停，结束后再迁移")
    tasks = db.session.execute(select(HumanTask).where(HumanTask.instance_id == inst.id,
                                                       HumanTask.state == "ready")).scalars().all()
    for t in tasks:
        if t.kind == "sign" or (t.blocked or 0) > 0 or t.pending_data is not None:
            reasons.append(f"环节 {t.element_id}（{t.name}）有未完成的加签")
        elif t.delegation == "pending":
            reasons.append(f"环节 {t.element_id}（{t.name}）正在委派中")
    return list(dict.fromkeys(reasons))


def _form_reasons(case: Case | None, old: ProcessVersion, new: ProcessVersion, result) -> list[str]:
    reasons = []
    old_start = (old.summary or {}).get("start_form")
    new_start = (new.summary or {}).get("start_form")
    if case is not None and new_start:
        before = (old.forms or {}).get(old_start) if old_start else None
        after = (new.forms or {}).get(new_start)
        if after != before:
            added = _form_errors(after, case.data, partial=False) - _form_errors(before, case.data, partial=False)
            if added:
                reasons.append(f"申请表 {new_start} 在新版本中已改变，已提交的数据不符合新表单: {'; '.join(sorted(added))}")
    rows = {t.id: t for t in db.session.execute(select(HumanTask).where(
        HumanTask.id.in_([v.id for v in result.ready]))).scalars()} if result.ready else {}
    for view in result.ready:
        row = rows.get(view.id)
        before = (old.forms or {}).get(row.form_key) if row is not None and row.form_key else None
        after = (new.forms or {}).get(view.form_key) if view.form_key else None
        if after is None or after == before:
            continue
        draft = (row.draft if row is not None else None) or {}
        added = _form_errors(after, draft, partial=True) - _form_errors(before, draft, partial=True)
        if added:
            reasons.append(f"环节 {view.element_id} 的表单 {view.form_key} 已改变，暂存的数据不符合新表单: "
                           f"{'; '.join(sorted(added))}")
    return reasons


def _evaluate(inst: ProcessInstance, case: Case | None, old: ProcessVersion, new: ProcessVersion):
    """(result or None, reasons, waiting element ids)."""
    reasons = _db_reasons(inst, case)
    checked = engine_plan(spec_pair(old), spec_pair(new), inst.state, engine())
    reasons += checked.reasons
    result = None
    if checked.movable:
        try:
            result = engine_migrate(spec_pair(old), spec_pair(new), inst.state, engine())
        except MigrationRefused as exc:
            reasons += exc.reasons
        else:
            reasons += _form_reasons(case, old, new, result)
    return (None if reasons else result), list(dict.fromkeys(reasons)), checked.waiting


def _waiting_instances(process_id: str, target: ProcessVersion, case_no: str | None = None):
    stmt = (select(ProcessInstance, Case, ProcessVersion)
            .join(ProcessVersion, ProcessVersion.id == ProcessInstance.version_id)
            .outerjoin(Case, Case.instance_id == ProcessInstance.id)
            .where(ProcessInstance.process_id == process_id, ProcessInstance.status.in_(RUNNING),
                   ProcessInstance.version_id != target.id)
            .order_by(ProcessInstance.id))
    if case_no is not None:
        stmt = stmt.where(Case.case_no == case_no)
    return db.session.execute(stmt).all()


def preview(actor: Actor, process_id: str, case_no: str | None = None) -> dict:
    """Every unfinished instance of an older version: ``{process_id, name, target: {version,
    version_id}, candidates: [Candidate…]}``. Reads only."""
    _require(actor)
    target = _target(process_id)
    out = []
    try:
        for inst, case, version in _waiting_instances(process_id, target, case_no):
            _, reasons, waiting = _evaluate(inst, case, version, target)
            out.append(Candidate(inst.id, case.id if case else None, case.case_no if case else None, version.number,
                                 version.id, inst.status, case.current_step if case else None, not reasons,
                                 reasons, waiting))
    finally:
        db.session.rollback()  # nothing was meant to change; drop anything loaded
    return {"process_id": process_id, "name": db.session.get(Matter, process_id).name,
            "target": {"version": target.number, "version_id": target.id}, "candidates": out}


def _refresh_task(row: HumanTask, view) -> None:
    row.name, row.form_key, row.action, row.lane = view.name[:200], view.form_key, view.action, view.lane
    row.limit_days = view.limit_days
    row.candidate_groups, row.candidate_users = list(view.candidate_groups), list(view.candidate_users)
    if view.assignee:
        row.assignee = view.assignee
    elif row.assignee and row.claimed_at is not None and not _still_candidate(row):
        # claimed (签收) by someone the new version no longer offers the step to: back to its new
        # candidates, else the old group's member would keep it and the new group never see it
        row.assignee, row.claimed_at = None, None
    index_task(row)


def _still_candidate(row: HumanTask) -> bool:
    user = db.session.execute(select(User).where(User.username == row.assignee)).scalar_one_or_none()
    return user is not None and user.active and is_candidate(actor_from_user(user), row)


def move_one(actor: Actor, instance_id: int, process_id: str | None = None) -> Candidate:
    """Move one instance (locked) to the matter's newest version, in its own transaction. Returns the
    outcome; an instance already on the newest version (or finished) is left alone (``movable``
    False, reason given), so moving twice changes nothing."""
    _require(actor)
    try:
        inst = lock_one(ProcessInstance, ProcessInstance.id == instance_id)
        if inst is None or (process_id is not None and inst.process_id != process_id):
            raise NotFound("实例不存在")
        case = db.session.execute(select(Case).where(Case.instance_id == inst.id)).scalar_one_or_none()
        target = _target(inst.process_id)
        old = db.session.get(ProcessVersion, inst.version_id)
        out = Candidate(inst.id, case.id if case else None, case.case_no if case else None, old.number, old.id,
                        inst.status, case.current_step if case else None, False)
        if inst.version_id == target.id:
            out.reasons = [f"已在最新版本 v{target.number}"]
            db.session.rollback()
            return out
        if inst.status not in RUNNING:
            out.reasons = ["实例已结束"]
            db.session.rollback()
            return out
        result, reasons, waiting = _evaluate(inst, case, old, target)
        out.waiting = waiting
        if reasons:
            out.reasons = reasons
            db.session.rollback()
            return out
        ts_step = case.current_step if case else None
        apply_step(inst, case, result, actor.username)
        for row in db.session.execute(select(HumanTask).where(HumanTask.id.in_([v.id for v in result.ready]))
                                      ).scalars():
            _refresh_task(row, next(v for v in result.ready if v.id == row.id))
        inst.version_id = target.id
        if case is not None:
            case.version_id = target.id
            record_event(case, actor.username, "migrate", step_name=case.current_step,
                         opinion=f"流程版本 v{old.number} → v{target.number}",
                         data_change={"from_version": old.number, "to_version": target.number,
                                      "from_version_id": old.id, "to_version_id": target.id,
                                      "waiting": waiting, "step_before": ts_step})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        engine().forget(instance_id)
    out.movable, out.moved_to = True, target.number
    out.status, out.current_step = inst.status, case.current_step if case else None
    return out


def move(actor: Actor, process_id: str, case_no: str | None = None) -> dict:
    """Move every movable waiting instance of the matter (or the one of ``case_no``): ``{moved:
    [Candidate…], refused: [Candidate…]}``."""
    _require(actor)
    target = _target(process_id)
    ids = [inst.id for inst, _, _ in _waiting_instances(process_id, target, case_no)]
    db.session.rollback()
    if case_no is not None and not ids:
        raise NotFound(f"没有可迁移的办件: {case_no}（不存在、已办结或已在最新版本）")
    moved, refused = [], []
    for instance_id in ids:
        out = move_one(actor, instance_id)
        (moved if out.movable else refused).append(out)
    return {"process_id": process_id, "target": {"version": target.number, "version_id": target.id},
            "moved": moved, "refused": refused}
