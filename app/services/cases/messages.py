"""Messages delivered to a waiting case (接收消息): the upper level's ``result`` after a 转报, a
``recall``, any named message another platform or system sends to an instance.

``deliver_message`` runs in the CALLER's transaction and does not commit: the federation inbox
(``messaging.inbox.receive``) writes the message's row, its effect and the answer in one
transaction, so a message takes effect exactly once; a caller of its own wraps the call in
``common.db_support.unit_of_work()``. It locks the instance first (the lock order of every step:
instance, then its rows), refuses with ``Conflict`` when the instance is not running or waiting or
nothing in it waits for that message — nothing is changed then — and saves the step with
``apply_step``: a ``message`` entry in the trail, the boundary timers of the wait cancelled, the
case status the model sets, incidents. Once the caller commits, the stepped workflow is kept in the
engine's workflow cache like after any other step; a rollback drops it."""
from __future__ import annotations

import json

from flask import has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ...domain.errors import Conflict, NotFound, ValidationError
from ...engine.runtime import NoSuchWaitingMessage, StepResult
from ...extensions import db
from ...models import Case, ProcessInstance
from ..common.db_support import row_by_id
from .steps import WRITTEN, apply_step, engine, load_workflow, record_event

#: the largest payload accepted (its JSON, UTF-8), and the longest message name
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_NAME = 128
#: instance statuses in which a message can be caught
OPEN = ("running", "waiting")

#: session.info: the instances this transaction delivered to; at its commit the workflows stored last for
#: them (steps.WRITTEN) are kept for the next step
_PENDING = "delivered_instances"


def _check_payload(payload) -> dict:
    """A JSON object that stores as it is (string keys, JSON values), at most MAX_PAYLOAD_BYTES."""
    if not isinstance(payload, dict):
        raise ValidationError("消息内容必须是 JSON 对象 (the payload must be an object)",
                              details={"payload": ["must be an object"]})
    try:
        text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        same = json.loads(text) == payload
    except (TypeError, ValueError, RecursionError):
        same = False
    if not same:
        raise ValidationError("消息内容无法按 JSON 保存 (the payload holds values JSON cannot store: only "
                              "strings as keys, and strings, numbers, booleans, null, lists, objects)",
                              details={"payload": ["not JSON-storable"]})
    size = len(text.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise ValidationError(f"消息内容过大（{size} 字节，最多 {MAX_PAYLOAD_BYTES}）",
                              details={"payload": [f"larger than {MAX_PAYLOAD_BYTES} bytes"]})
    return payload


def _check_name(name) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ValidationError("消息名称不正确 (message name: 1 to %d characters)" % MAX_NAME,
                              details={"name": ["required, at most %d characters" % MAX_NAME]})
    return name


def deliver_message(instance_id: int, name: str, payload: dict, *, actor: str = "system",
                    correlation: dict | None = None) -> StepResult:
    """Deliver the message ``name`` with ``payload`` to the process instance ``instance_id``, in the
    caller's transaction (not committed here). Returns the engine's step.

    Raises ValidationError (bad name, payload or actor), NotFound (no such instance), Conflict (the
    instance is not running or waiting — complete, cancelled, suspended, stopped on an incident — or
    nothing in it waits for ``name``; ``details['waiting']`` lists what it waits for). Nothing is
    changed then; the caller rolls back."""
    name = _check_name(name)
    payload = _check_payload(payload)
    if not isinstance(actor, str) or not actor.strip() or len(actor) > 64:
        raise ValidationError("actor 不正确", details={"actor": ["1 to 64 characters"]})
    if correlation is not None and not isinstance(correlation, dict):
        raise ValidationError("correlation 必须是 JSON 对象", details={"correlation": ["must be an object"]})
    inst = row_by_id(ProcessInstance, instance_id, lock=True)
    if inst is None:
        raise NotFound("流程实例不存在")
    if inst.status not in OPEN:
        raise Conflict(f"流程实例当前状态为 {inst.status}，不能接收消息「{name}」",
                       details={"status": inst.status, "message": name})
    case = db.session.execute(select(Case).where(Case.instance_id == inst.id)).scalar_one_or_none()
    wf = load_workflow(inst, case)
    catchers = engine().message_catchers(wf, name)
    try:
        result = engine().deliver(wf, name, payload, correlation)
    except NoSuchWaitingMessage as exc:
        raise Conflict(f"流程当前不在等待消息「{name}」", details={"message": name, "waiting": exc.waiting}) from None
    element_id, step_name = catchers[0] if catchers else (None, None)
    record_event(case, actor, "message", element_id=element_id, step_name=step_name,
                 data_change={"message": name, "payload": payload})
    apply_step(inst, case, result, actor)
    db.session.info.setdefault(_PENDING, set()).add(inst.id)
    return result


@event.listens_for(Session, "after_commit")
def _remember_delivered(session) -> None:
    """The delivering transaction committed: keep its workflows for the next step."""
    pending = session.info.pop(_PENDING, None)
    if pending and has_app_context():
        written = session.info.get(WRITTEN, {})
        for instance_id in pending & written.keys():
            engine().remember(instance_id, *written[instance_id])


@event.listens_for(Session, "after_soft_rollback")
def _drop_delivered(session, previous_transaction) -> None:
    """Any rollback (a savepoint's too): the stepped workflows may not be what the database holds."""
    session.info.pop(_PENDING, None)
