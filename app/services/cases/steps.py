"""Saving one engine step: state, projections, incidents, case status and audit, in the caller's
transaction. Nothing here commits."""
from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy import delete, event, func, or_, select, update
from sqlalchemy.orm import Session

from ...domain.case_status import CaseStatus, can_transition
from ...domain import trail_chain
from ...domain.errors import DomainError
from ...domain.org import PROVINCE
from ...engine.forms import validate_submission
from ...engine.runtime import Engine, StepResult, TaskNotReady
from ...engine.serializer import SPIFF_VERSION
from ...extensions import db
from ...models import (
    Case,
    CaseEvent,
    HumanTask,
    Incident,
    OutboundMessage,
    ProcessInstance,
    ProcessVersion,
    SpecialProcedure,
    TaskCandidate,
    Timer,
)
from ...observability import logs, metrics
from ..clocks.deadlines import start_case_clock, step_due
from ..clocks.supervision import chief_of
from ..common.clock import clock_now
from ..common.one_write import waiting_writes
from ..messaging.notify import notify_staff
from .hooks import before_complete, status_changed, stepped, thrown
from .task_index import close_signs, drop_candidates, index_task


events_log = logging.getLogger("yg.events")

#: the trail fields also put on the action's log line (not the data or the opinion: they are large and
#: personal; the trail has them)
LOGGED_FIELDS = ("task_id", "element_id", "step_name", "from_status", "to_status")


def engine() -> Engine:
    return current_app.extensions["engine"]


def spec_pair(version: ProcessVersion):
    return engine().spec(version.id, lambda: version.spec_json)


def version_forms(version_id: int) -> dict:
    """The forms of a version. Versions never change, so they are read once per process."""
    cache = current_app.extensions.setdefault("version_forms", {})
    forms = cache.get(version_id)
    if forms is None:
        forms = db.session.execute(select(ProcessVersion.forms).where(ProcessVersion.id == version_id)).scalar_one()
        cache[version_id] = forms
    return forms


def now() -> datetime:
    return clock_now()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session) -> None:
    """A step that did not commit may have changed workflows in memory: drop them from the cache."""
    loaded = session.info.pop("loaded_instances", None)
    if loaded and has_app_context():
        for instance_id in loaded:
            engine().forget(instance_id)


@event.listens_for(Session, "after_commit")
def _committed(session) -> None:
    session.info.pop("loaded_instances", None)


#: session.info: {instance id: (revision, workflow)}, the workflow whose state apply_step stored last in
#: this transaction for each instance, and the revision it stored it as. What the engine cache may keep
#: once the transaction commits: not the workflow an operation stepped, when a step nested in its
#: apply_step (a phase's end moving a waiting timer, special_procedures.shift_case) loaded the state
#: again and stored another workflow under the next revision.
WRITTEN = "steps.written"


@event.listens_for(Session, "after_soft_rollback")
def _drop_written(session, previous_transaction) -> None:
    """Any rollback (a savepoint's too): what was written may not be what the database holds."""
    session.info.pop(WRITTEN, None)


@event.listens_for(Session, "after_transaction_create")
def _new_transaction(session, transaction) -> None:
    if transaction.parent is None:   # a new top-level transaction: what the last one wrote is kept or gone
        session.info.pop(WRITTEN, None)


def remember_written(inst: ProcessInstance) -> None:
    """After the commit: keep the workflow whose state was stored last for ``inst``, under the revision it
    was stored as (if the instance is still at that revision)."""
    got = _written(inst)
    if got is not None:
        engine().remember(inst.id, *got)


def last_written(inst: ProcessInstance, stepped):
    """The workflow whose state this transaction stored last for ``inst`` (``stepped`` if none is known):
    what the next step of the same transaction goes on from."""
    got = _written(inst)
    return got[1] if got is not None else stepped


def _written(inst: ProcessInstance) -> tuple | None:
    """(revision, workflow) stored last for ``inst`` in this transaction, if the instance is at that revision."""
    got = db.session.info.get(WRITTEN, {}).get(inst.id)
    return got if got is not None and got[0] == inst.revision else None


#: the handler of a phase's special procedure (``phases.SYSTEM``); a person's always has a staff name
PHASE_HANDLER = "system"
#: a special procedure a person started holds the case's clock, and its timers, while it runs (the
#: scheduler's ``timers._held`` and a step's ``timers_held_at``); a phase's ends with its own step
PERSON_HOLDS = (SpecialProcedure.status == "running", SpecialProcedure.handler != PHASE_HANDLER)


def load_workflow(inst: ProcessInstance, case: Case | None = None):
    """The workflow of a (locked) instance: from the engine cache when it holds this revision.
    Should the transaction roll back, the workflow is dropped from the cache (see above).

    ``case``: the instance's case, for a step. While a special procedure a person started holds the
    case's clock, its timers are held with it (``timers_held_at``): SpiffWorkflow refreshes every timer
    of the workflow at each step, and one due during the hold must not fire because a person stepped
    (the scheduler holds them alike: ``timers._held``). They move with the clock when it ends."""
    db.session.info.setdefault("loaded_instances", set()).add(inst.id)
    wf = engine().take_cached(inst.id, inst.revision)
    if wf is None:
        pair = engine().spec(inst.version_id, lambda: db.session.execute(
            select(ProcessVersion.spec_json).where(ProcessVersion.id == inst.version_id)).scalar_one())
        wf = engine().load(pair, inst.state)
    wf.timers_held_at = timers_held_at(case)
    return wf


def timers_held_at(case: Case | None) -> datetime | None:
    """When the clock of ``case`` stopped for the special procedures people started and that still run
    (None: it runs, or only a phase of the process — handler ``system`` — stopped it). No statement
    unless the case's clock is suspended."""
    if case is None or case.clock_state != "suspended":
        return None
    return db.session.execute(select(func.min(SpecialProcedure.started_at)).where(
        SpecialProcedure.case_id == case.id, *PERSON_HOLDS)).scalar()


def record_event(case: Case | None, actor: str, action: str, **fields) -> None:
    """One entry of the case's trail, and one log line of the action (logger ``yg.events``). The case
    number becomes the log context of the rest of the request (and its user, when the request has none
    yet: an API client's)."""
    if case is None:
        return
    ev = CaseEvent(case_id=case.id, actor=actor, action=action, at=now(), **fields)
    if current_app.config.get("TRAIL_CHAIN", True):
        # seq, prev_hash, row_hash (issue 17); the case's head moves in memory: written by the case's
        # next UPDATE (one more statement when the step flushes before it updates the case itself)
        trail_chain.link(case, ev)
    db.session.add(ev)
    if actor != "system" and not logs.current()["user"]:
        logs.bind(case_no=case.case_no, user=actor)
    else:
        logs.bind(case_no=case.case_no)
    if events_log.isEnabledFor(logging.INFO):
        events_log.info("%s %s by %s", action, case.case_no or f"#{case.id}", actor, extra={
            "action": action, "actor": actor, "case_no": case.case_no, "case_id": case.id,
            **{k: fields[k] for k in LOGGED_FIELDS if fields.get(k) is not None}})


def set_case_status(case: Case, new: str, actor: str, *, element_id=None, reason=None,
                    accepted_as_of: datetime | None = None) -> None:
    """``accepted_as_of``: when an acceptance took effect, if not now (a deemed 受理 dates from the day the
    materials came in, 行政许可法 art. 32)."""
    current = CaseStatus(case.status)
    target = CaseStatus(new)
    if current == target:
        return
    if not can_transition(current, target):
        raise ValueError(f"case {case.case_no}: transition {current.value} -> {target.value} not allowed")
    case.status = target.value
    ts = now()
    if target == CaseStatus.ACCEPTED and case.accepted_at is None:
        case.accepted_at = accepted_as_of or ts
        start_case_clock(case)
    if target in {CaseStatus.APPROVED, CaseStatus.REJECTED, CaseStatus.WITHDRAWN, CaseStatus.TERMINATED} and \
            case.clock_state in {"running", "suspended"}:
        case.clock_state = "stopped"
    if target in {CaseStatus.APPROVED, CaseStatus.REJECTED}:
        case.decided_at = ts
    record_event(case, actor, "status", element_id=element_id, from_status=current.value,
                 to_status=target.value, opinion=reason)
    status_changed(case, current.value, target.value, actor)


def urge_handlers(inst: ProcessInstance, case: Case | None, task_element: str, event_id: str, ts) -> None:
    """催办 from a model's boundary timer: notify whoever holds the step, and their chief."""
    rows = db.session.execute(select(HumanTask).where(HumanTask.instance_id == inst.id,
                                                      HumanTask.element_id == task_element,
                                                      HumanTask.state == "ready")).scalars()
    for task in rows:
        handlers = [task.assignee] if task.assignee else \
            [f"g:{g}" for g in task.candidate_groups or ()] + list(task.candidate_users or ())
        chief = chief_of(task.candidate_groups)
        notify_staff(case, handlers + ([f"g:{chief}"] if chief else []), "urge",
                     f"urge:{task.id}:{event_id}:{ts.isoformat()}", step=task.name)
        record_event(case, "system", "urge", task_id=task.id, element_id=task.element_id, step_name=task.name,
                     opinion="流程定时催办")


def timer_event(case: Case | None, row: Timer, ts: datetime) -> None:
    """The trail's entry of one firing: the same for the scheduler's and for one inside a step."""
    record_event(case, "system", "timer", element_id=row.element_id,
                 data_change={"due_at": row.due_at.isoformat() if row.due_at else None, "fired_at": ts.isoformat()})


def project_timers(inst: ProcessInstance, case: Case | None, result: StepResult, fired: dict, ts: datetime, *,
                   scheduled: Collection[str] = ()) -> None:
    """Bring the ``timers`` rows in line with the step and put every firing in the trail.

    ``fired`` holds the workflow's fired timers (``Engine.fired_timers``). A waiting row whose
    timer fired becomes ``fired``; a timer that fired without a row — it was already due when the
    process reached it (a case created after its due time, a zero duration) and never waited — gets
    a ``fired`` row now, so it is in the projection and the trail like one fired by the scheduler.
    ``scheduled`` are the timers the scheduler fired on purpose: a cycle among them still waits (for
    its next time) and its firing is recorded too."""
    # the timers' rows only: written before the read only when timer rows wait to be written (what else
    # the step changed is not read here, and goes to the database with the step's other writes)
    # an administrator's 挂起 keeps the waiting rows as 'suspended' (a special procedure ending meanwhile
    # moves them, special_procedures.shift_case): read, so they are not taken for timers without a row
    stmt = select(Timer).where(Timer.instance_id == inst.id, or_(Timer.status.in_(("waiting", "suspended")),
                                                                 Timer.id.in_(list(fired))))
    if not waiting_writes(Timer):
        stmt = stmt.execution_options(autoflush=False)
    rows = {row.id: row for row in db.session.execute(stmt).scalars()}
    due = {t.id: t for t in result.timers}
    for tid, row in rows.items():
        if row.status != "waiting":
            continue
        if tid in due:
            if tid in scheduled:
                timer_event(case, row, ts)
            row.due_at = due[tid].due_at
            continue
        row.status = engine().timer_outcome(result.workflow, tid)
        row.fired_at = ts if row.status == "fired" else None
        if row.status == "fired":
            timer_event(case, row, ts)
    for tid, t in due.items():
        if tid not in rows:
            db.session.add(Timer(id=tid, instance_id=inst.id, element_id=t.element_id, due_at=t.due_at))
    for tid, t in fired.items():
        if tid not in rows:
            row = Timer(id=tid, instance_id=inst.id, element_id=t.element_id, due_at=t.due_at or ts,
                        status="fired", fired_at=ts, attempts=0)
            db.session.add(row)
            timer_event(case, row, ts)


def apply_step(inst: ProcessInstance, case: Case | None, result: StepResult, actor: str, *,
               completed_task: HumanTask | None = None, scheduled: Collection[str] = (),
               accepted_as_of: datetime | None = None) -> list[str]:
    """Write the step's outcome. Returns the list of problems recorded as incidents (if any).

    Projections are updated from the engine's before/after view of the step, without reading them
    back: tasks that were ready and are not any more are closed with one UPDATE, new ones inserted.
    ``scheduled``: the timers the scheduler fired in this step (see ``project_timers``); ``accepted_as_of``:
    see ``set_case_status``."""
    ts = now()
    metrics.step_applied(case.process_id if case is not None else inst.process_id)
    inst.state = result.state
    inst.status = result.status
    inst.serializer_version = SPIFF_VERSION
    inst.revision = (inst.revision or 0) + 1
    db.session.info.setdefault(WRITTEN, {})[inst.id] = (inst.revision, result.workflow)
    inst.updated_at = ts
    inst.end_event = result.end_event

    # user-task projection
    ready = {view.id: view for view in result.ready}
    gone = set(result.previously_ready) - set(ready)
    if completed_task is not None and completed_task.id in gone:
        completed_task.state, completed_task.completed_at, completed_task.completed_by = "completed", ts, actor
        if completed_task.delegation == "pending":   # done (by the system: a person may not while delegated):
            completed_task.delegation = None          # nothing is left to hand back to its owner
        gone.discard(completed_task.id)
        drop_candidates(completed_task.id)
    if gone:
        db.session.execute(update(HumanTask).where(HumanTask.id.in_(gone), HumanTask.state == "ready")
                           .values(state="cancelled", completed_at=ts).execution_options(synchronize_session=False))
        db.session.execute(delete(TaskCandidate).where(TaskCandidate.task_id.in_(gone)))
        close_signs(gone, ts)
    for tid, view in ready.items():
        if tid in result.previously_ready:
            continue
        # an excluded phase's step is due when its legal maximum ends, unless the model says otherwise
        limit = view.limit_days if view.limit_days is not None else view.phase_max
        task = HumanTask(
            id=tid, instance_id=inst.id, case_id=case.id if case else None, element_id=view.element_id,
            name=view.name, lane=view.lane, form_key=view.form_key, action=view.action,
            candidate_groups=view.candidate_groups, candidate_users=view.candidate_users,
            assignee=view.assignee, mi_index=view.mi_index, limit_days=limit, state="ready",
            due_date=step_due(case, ts, limit), created_at=ts, kind="user", blocked=0, urge_count=0,
            process_id=case.process_id if case else inst.process_id,
            region_code=case.region_code if case else PROVINCE)
        db.session.add(task)
        index_task(task, fresh=True)

    # timer projection and trail (only read when the process has, had or fired timers)
    fired = {t.id: t for t in (result.fired if result.fired is not None else engine().fired_timers(result.workflow))}
    if result.timers or result.previous_timers or fired:
        project_timers(inst, case, result, fired, ts, scheduled=scheduled)

    for msg in result.messages:
        db.session.add(OutboundMessage(instance_id=inst.id, name=str(msg["name"])[:128], kind=msg["kind"],
                                       payload=msg["payload"] if isinstance(msg["payload"], dict) else
                                       {"value": msg["payload"]}))
    if result.messages:
        thrown(inst, case, result, actor)

    for event_id, task_element in result.urges:
        urge_handlers(inst, case, task_element, event_id, ts)

    problems = []
    if case is not None:
        for element_id, status in result.status_changes:
            try:
                set_case_status(case, status, actor, element_id=element_id, accepted_as_of=accepted_as_of)
            except ValueError as exc:
                problems.append(str(exc))
        names = sorted({v.name for v in result.ready})
        case.current_step = "、".join(names)[:200] if names else None
        case.updated_at = ts
        stepped(inst, case, result, actor)  # after the status changes: an acceptance starts the clock

    incident = result.incident
    if incident is not None or problems:
        db.session.add(Incident(
            instance_id=inst.id, case_id=case.id if case else None,
            task_id=incident.task_id if incident else None,
            element_id=incident.element_id if incident else (result.status_changes[-1][0]
                                                              if result.status_changes else None),
            error_type=incident.error_type if incident else "InvalidStatusTransition",
            message=incident.message if incident else "; ".join(problems),
            details=incident.details if incident else {}, created_at=ts))
        metrics.incident_recorded("script" if incident else "status",
                                  incident.error_type if incident else "InvalidStatusTransition")
        if case is not None:
            record_event(case, "system", "incident", element_id=incident.element_id if incident else None,
                         opinion=(incident.message if incident else "; ".join(problems))[:2000])
    if result.deemed and incident is None:
        complete_deemed(inst, case, result)
    return problems


#: the trail action of a deemed step: the window's 视为受理 is told to the applicant (public timeline)
DEEMED_ACCEPT, DEEMED = "deemed_accept", "deemed"


def complete_deemed(inst: ProcessInstance, case: Case | None, result: StepResult) -> None:
    """视为: a deemed timer (``action=deemed``, app/engine/deemed.py) fired in this step. Each instance
    of its step still open (on a sequential one, also those it opens meanwhile) is completed by ``system``
    with the model's values, as a person's completion
    is (form check, action hooks, the engine step, the trail with the reason as opinion, status hooks);
    the instances a person completed before keep their answers. A task waiting for signers or for the
    applicant's 补正 (blocked), or one an action hook refuses, stays open and the trail says why.

    Each completion goes on from the workflow whose state was stored last (``WRITTEN``): a step nested in
    an ``apply_step`` (a phase's end moving a waiting timer, special_procedures.shift_case) stores a second
    workflow, and completing on the one stepped before it would store the timer back where it was."""
    wf = last_written(inst, result.workflow)
    for fired in result.deemed:
        rows = _open_instances(inst, fired.element_id)
        seen = {task.id for task in rows}
        announced = False
        while rows:
            task = rows.pop(0)
            # a completion before may have closed it (a completionCondition met): apply_step closes such rows
            # with one UPDATE, which the session's objects do not see
            db.session.refresh(task, ["state"])
            if task.state != "ready":
                continue
            if task.blocked:
                record_event(case, "system", "deemed_skipped", task_id=task.id, element_id=task.element_id,
                             step_name=task.name, opinion=f"{fired.reason}（该环节正在等待加签或补正，未视为办结）")
                continue
            form = version_forms(inst.version_id).get(task.form_key) if task.form_key else None
            try:
                clean = validate_submission(form, fired.values) if form else dict(fired.values)
                clean = before_complete(case, task, form, clean)
                step = engine().complete(wf, task.id, clean)
            except (DomainError, TaskNotReady) as exc:
                record_event(case, "system", "deemed_skipped", task_id=task.id, element_id=task.element_id,
                             step_name=task.name, opinion=f"{fired.reason}（未能视为办结：{exc}）"[:2000])
                continue
            if not announced:
                announced = True
                record_event(case, "system", DEEMED_ACCEPT if task.action == "receive" else DEEMED,
                             element_id=task.element_id, step_name=task.name, opinion=fired.reason,
                             data_change={"event": fired.event_id})
            task.opinion, task.outcome = fired.reason, "deemed"
            record_event(case, "system", "complete", task_id=task.id, element_id=task.element_id,
                         step_name=task.name, opinion=fired.reason, data_change=clean)
            # 视为受理: accepted from the day the materials came in, when the step's days began
            apply_step(inst, case, step, "system", completed_task=task,
                       accepted_as_of=_days_began(case, task) if task.action == "receive" else None)
            wf = last_written(inst, step.workflow)
            if task.mi_index is not None:
                # a sequential 会签 opens its next instance only now: the timer is the whole step's. Only the
                # later instances of this run of the step (a new run starts again from 0)
                later = [row for row in _open_instances(inst, fired.element_id)
                         if row.id not in seen and row.mi_index is not None and row.mi_index > task.mi_index]
                seen.update(row.id for row in later)
                rows.extend(later)


#: the trail action of a deemed step's days counted again (``restart_deemed``)
DEEMED_RESTART = "deemed_restart"


def _days_began(case: Case | None, task: HumanTask) -> datetime:
    """When a deemed step's days began: when it opened, or when they were counted again since
    (``restart_deemed``: the mailed paper came in later)."""
    restarted = db.session.execute(select(func.max(CaseEvent.at)).where(
        CaseEvent.case_id == case.id, CaseEvent.action == DEEMED_RESTART,
        CaseEvent.task_id == task.id)).scalar() if case is not None else None
    return max(task.created_at, restarted) if restarted is not None else task.created_at


def restart_deemed(inst: ProcessInstance, case: Case, task: HumanTask, actor: str, reason: str) -> datetime | None:
    """The deemed timers of the open ``task`` count again from now (inside the caller's transaction; the
    instance and the case locked, in that order): the 5 working days of the window's 视为受理 run from
    the day the materials came in, and a matter's mailed paper comes in after the step opened — maybe
    after its timer fired and the paper check refused the deemed 受理 (``deemed_skipped``). A waiting
    timer gets its due time from now; a spent one waits again. Returns the new due time (None: the task
    has no deemed timer, or its process is not running). Trail: ``deemed_restart`` with ``reason``."""
    if inst.status not in ("running", "waiting", "suspended") or task.state != "ready":
        return None
    status = inst.status
    wf = load_workflow(inst, case)
    try:
        step = engine().restart_deemed(wf, task.id)
    except TaskNotReady:
        return None
    if step is None:
        return None
    result, ids = step
    restarted = [t for t in result.timers if t.id in ids]
    if not restarted:   # its due time could not be computed (a calendar year missing): nothing to write
        return None
    rows = {row.id: row for row in db.session.execute(select(Timer).where(
        Timer.id.in_([t.id for t in restarted]))).scalars()}
    for t in restarted:
        row = rows.get(t.id)
        if row is not None and row.status not in ("waiting", "suspended"):   # spent: it waits again
            row.status, row.fired_at, row.attempts, row.next_attempt_at = "waiting", None, 0, None
        if row is not None and status == "suspended":
            row.status = "suspended"   # the administrator's 挂起 holds it as it holds the case's others
            row.due_at = t.due_at
    db.session.flush()
    due = min(t.due_at for t in restarted)
    record_event(case, actor, DEEMED_RESTART, task_id=task.id, element_id=task.element_id, step_name=task.name,
                 opinion=reason, data_change={"due_at": due.isoformat()})
    apply_step(inst, case, result, actor)
    if status == "suspended":
        inst.status = status   # counting again does not resume what the administrator suspended
    return due


def _open_instances(inst: ProcessInstance, element_id: str) -> list[HumanTask]:
    return list(db.session.execute(select(HumanTask).where(
        HumanTask.instance_id == inst.id, HumanTask.element_id == element_id, HumanTask.kind == "user",
        HumanTask.state == "ready").order_by(HumanTask.mi_index, HumanTask.created_at)).scalars())
