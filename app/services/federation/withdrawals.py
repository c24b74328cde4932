"""The ``withdraw`` and ``recall`` messages (docs/federation.md §9): a forwarded case taken back.

``withdraw`` (origin → upper, relayed further up): the applicant withdrew the case at the origin.
- ``_withdrawn`` (an ``on_status`` hook, in the transaction of the change to ``withdrawn``): a case
  that was forwarded (it has ``forward`` messages in the outbox) sends ``withdraw``
  ``{"origin_case_no", "reason"}`` to each peer it was forwarded to (key ``withdraw:<case no>``, order
  key the case number: it leaves after the forward), and a trail entry.
- ``apply_withdraw`` (receiver, in the inbox's transaction): the case linked to (sender, origin case
  number) — none: ``422 unknown_case`` — still open is withdrawn like the applicant's own withdrawal
  (``lifecycle.end_case``: process cancelled, status ``withdrawn``, trail "原办件申请人撤回申请：…" by
  ``fed:<sender>``); that status change relays ``withdraw`` further up by the same hook when this
  case was itself forwarded. A case already decided or ended changes nothing:
  ``{"withdrawn": false, "status"}``; else ``{"withdrawn": true, "case_no"}``.

``recall`` (origin → upper): the origin's staff take a forward back (撤回转报) before the upper accepts.
- ``recall_forward`` (staff action, commits): allowed while the case's process waits for the message
  ``result`` of a forward, no earlier recall is pending or granted, and the actor handles the case
  (an administrator, or staff to whom one of its steps is or was offered); sends ``recall``
  ``{"origin_case_no", "reason"}`` (key ``recall:<case no>:<n>``) and a trail entry "撤回转报：…".
  The origin's process moves only when the upper's ``result`` ``recalled`` comes back.
- ``apply_recall`` (receiver): the linked case not yet accepted (submitted / received / correction,
  never accepted) is terminated (trail "下级撤回转报：…"), answers ``result`` ``{"decision": "recalled"}``
  through the outbox and is unlinked (``origin_case_no`` becomes ``<no>~r<case id>``): a later forward
  of the same origin case starts a new case. Answer ``{"recalled": true, "case_no"}``; accepted or
  later: ``{"recalled": false, "status"}``, nothing changed.
"""
from __future__ import annotations

from sqlalchemy import select

from ...domain.case_status import FINAL, CaseStatus, can_transition
from ...domain.errors import Conflict, DomainError, NotAuthorized, NotFound, ValidationError
from ...extensions import db
from ...models import Case, CaseEvent, HumanTask, ProcessInstance, ProcessVersion
from ...models.exchange import OutboxMessage
from ..cases.hooks import on_status
from ..cases.lifecycle import end_case
from ..cases.locks import lock_case
from ..cases.messages import OPEN
from ..cases.steps import engine, record_event
from ..common.db_support import lock_one, row_by_id, unit_of_work
from ..identity.actors import Actor
from ..identity.permissions import can_read_case, is_candidate
from ..inbox.task_base import touch
from ..messaging import inbox, outbox
from .peers import peer
from .transport import CHANNEL, handles

#: the longest reason carried in a message (the trail keeps the whole text at the origin)
REASON_MAX = 500
#: the longest origin case number (cases.origin_case_no)
ORIGIN_NO_MAX = 50
#: statuses of a case not yet accepted: a recall may still take it back
NOT_ACCEPTED = (CaseStatus.SUBMITTED.value, CaseStatus.RECEIVED.value, CaseStatus.CORRECTION.value)
#: a recall still on its way
UNDERWAY = ("pending", "sending")


def _name(region: str) -> str:
    p = peer(region)
    return p.name if p is not None else region


# -- the origin: what was forwarded, and where ------------------------------------------------------

def forwarded_to(case: Case) -> list[str]:
    """The peers the case was forwarded to (its ``forward`` messages), first forwarded first."""
    if not case.case_no:
        return []
    found = db.session.execute(select(OutboxMessage.peer).where(
        OutboxMessage.channel == CHANNEL, OutboxMessage.kind == "forward",
        OutboxMessage.order_key == case.case_no).order_by(OutboxMessage.id)).scalars()
    return list(dict.fromkeys(found))


def _status_reason(case: Case) -> str:
    """The reason given with the case's change to ``withdrawn`` (the status entry's opinion)."""
    text = db.session.execute(select(CaseEvent.opinion).where(
        CaseEvent.case_id == case.id, CaseEvent.action == "status",
        CaseEvent.to_status == CaseStatus.WITHDRAWN.value).order_by(CaseEvent.id.desc()).limit(1)).scalar()
    return (text or "")[:REASON_MAX]


@on_status
def _withdrawn(case: Case, old: str, new: str, actor: str) -> None:
    if new != CaseStatus.WITHDRAWN.value or not case.case_no:
        return
    regions = forwarded_to(case)
    if not regions:
        return
    body = {"origin_case_no": case.case_no, "reason": _status_reason(case)}
    for region in regions:
        key = f"withdraw:{case.case_no}" if len(regions) == 1 else f"withdraw:{case.case_no}:{region}"
        written = outbox.enqueue(CHANNEL, region, "withdraw", body, case_id=case.id, order_key=case.case_no, key=key)
        if written is not None:
            record_event(case, "system", "federation", opinion=f"已通知{_name(region)}：申请人撤回申请",
                         data_change={"kind": "withdraw", "to": region, "message_id": written.message_id})


# -- the receiver: the case linked to the origin's -------------------------------------------------

def _bad(code: str, message: str, status: int = 422) -> inbox.Refusal:
    return inbox.Refusal(code, message, status)


def _fields(env, kind: str) -> tuple[str, str]:
    no, reason = env.body.get("origin_case_no"), env.body.get("reason", "")
    if not isinstance(no, str) or not no.strip() or len(no) > ORIGIN_NO_MAX:
        raise _bad(f"bad_{kind}", f"{kind} 消息的 origin_case_no 缺失或不正确")
    if reason is None:
        reason = ""
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        raise _bad(f"bad_{kind}", f"{kind} 消息的 reason 应为不超过 {REASON_MAX} 字的文本")
    return no.strip(), reason.strip()


def unlinked_no(origin_no: str, case_id: int) -> str:
    """What a recalled case keeps of its origin's number: ``<no>~r<case id>`` (within the column)."""
    suffix = f"~r{case_id}"
    return origin_no[:ORIGIN_NO_MAX - len(suffix)] + suffix


def _linked(sender: str, origin_no: str) -> Case | None:
    return lock_case(Case.origin_region == sender, Case.origin_case_no == origin_no)[0]


def _recalled(sender: str, origin_no: str) -> Case | None:
    """The case of that origin case recalled earlier (unlinked), if any: the newest."""
    found = db.session.execute(select(Case).where(
        Case.origin_region == sender,
        Case.origin_case_no.startswith(origin_no[:ORIGIN_NO_MAX - 12], autoescape=True))
        .order_by(Case.id.desc())).scalars()
    return next((c for c in found if c.origin_case_no == unlinked_no(origin_no, c.id)), None)


def _case_for(env, origin_no: str) -> tuple[Case | None, Case | None]:
    """(the linked case, else None; the recalled one when there is no linked one). Neither: unknown_case."""
    case = _linked(env.sender, origin_no)
    if case is not None:
        return case, None
    earlier = _recalled(env.sender, origin_no)
    if earlier is None:
        raise _bad("unknown_case", f"本平台没有 {env.sender} 转报的办件 {origin_no!r}")
    return None, earlier


@handles("withdraw")
def apply_withdraw(env) -> tuple[dict, int | None]:
    origin_no, reason = _fields(env, "withdraw")
    case, earlier = _case_for(env, origin_no)
    if case is None:  # recalled before: it ended then
        return {"withdrawn": False, "status": earlier.status, "case_no": earlier.case_no}, earlier.id
    if CaseStatus(case.status) in FINAL or not can_transition(CaseStatus(case.status), CaseStatus.WITHDRAWN):
        return {"withdrawn": False, "status": case.status, "case_no": case.case_no}, case.id
    opinion = f"原办件申请人撤回申请：{reason}" if reason else "原办件申请人撤回申请"
    end_case(case, CaseStatus.WITHDRAWN.value, f"fed:{env.sender}", reason or None, action="withdraw",
             opinion=opinion)
    return {"withdrawn": True, "case_no": case.case_no}, case.id


@handles("recall")
def apply_recall(env) -> tuple[dict, int | None]:
    origin_no, reason = _fields(env, "recall")
    case, earlier = _case_for(env, origin_no)
    if case is None:  # recalled already (another recall message of the same case)
        return {"recalled": False, "status": earlier.status, "case_no": earlier.case_no}, earlier.id
    if case.status not in NOT_ACCEPTED or case.accepted_at is not None:
        return {"recalled": False, "status": case.status, "case_no": case.case_no}, case.id
    actor = f"fed:{env.sender}"
    end_case(case, CaseStatus.TERMINATED.value, actor, reason or None, action="terminate",
             opinion=f"下级撤回转报：{reason}" if reason else "下级撤回转报")
    # the status change above reported ``progress`` (still linked); the result follows it, then the link goes
    outbox.enqueue(CHANNEL, env.sender, "result", {"origin_case_no": origin_no, "case_no": case.case_no,
                                                   "decision": "recalled", "doc_no": None},
                   case_id=case.id, order_key=origin_no, key=f"result:{case.case_no}")
    case.origin_case_no = unlinked_no(origin_no, case.id)
    return {"recalled": True, "case_no": case.case_no}, case.id


# -- the origin's staff: 撤回转报 --------------------------------------------------------------------

def _handles_case(actor: Actor, case: Case) -> bool:
    """An administrator, or staff who may handle the case's steps: one is or was offered to them
    (their group in the case's region, or them by name), or they held or completed one."""
    if actor.is_admin:
        return True
    if not actor.is_staff:
        return False
    for task in db.session.execute(select(HumanTask).where(HumanTask.case_id == case.id)).scalars():
        if actor.username in (task.completed_by, task.assignee, task.owner) or is_candidate(actor, task):
            return True
    return False


def _waits_for_result(inst: ProcessInstance | None) -> bool:
    """Whether the process waits now for the message ``result`` (read without touching the cache)."""
    if inst is None or inst.status not in OPEN:
        return False
    pair = engine().spec(inst.version_id, lambda: db.session.execute(
        select(ProcessVersion.spec_json).where(ProcessVersion.id == inst.version_id)).scalar_one())
    return "result" in engine().waiting_messages(engine().load(pair, inst.state))


def recalls(case: Case) -> list[OutboxMessage]:
    """The case's recall messages, oldest first."""
    return list(db.session.execute(select(OutboxMessage).where(
        OutboxMessage.channel == CHANNEL, OutboxMessage.kind == "recall",
        OutboxMessage.order_key == case.case_no).order_by(OutboxMessage.id)).scalars())


def _granted(message: OutboxMessage) -> bool:
    answer = (message.reply or {}).get("answer")
    return isinstance(answer, dict) and answer.get("recalled") is True


def recall_refusal(actor: Actor, case: Case, inst: ProcessInstance | None) -> DomainError | None:
    """Why the actor may not recall the case's forward now (an error to raise), or None."""
    if not _handles_case(actor, case):
        return NotAuthorized("无权撤回该办件的转报（只有办理该办件的工作人员或管理员可以）")
    regions = forwarded_to(case)
    if not regions or not _waits_for_result(inst):
        return Conflict("办件未在等待上级结果，不能撤回转报", details={"status": case.status})
    earlier = recalls(case)
    if any(m.status in UNDERWAY for m in earlier):
        return Conflict("撤回转报的请求尚未送达上级，请稍候")
    if any(_granted(m) for m in earlier):
        return Conflict("上级已同意撤回转报，正在等待上级的确认结果")
    return None



def may_recall(actor: Actor, case: Case) -> bool:
    """For the case page: whether the 撤回转报 button is offered."""
    if not (actor.is_staff or actor.is_admin) or not case.case_no or not case.instance_id:
        return False
    inst = db.session.get(ProcessInstance, case.instance_id)
    return recall_refusal(actor, case, inst) is None


def last_recall(case: Case) -> dict | None:
    """The latest recall and what came of it, for the case page: {"status", "recalled", "answer"}."""
    earlier = recalls(case) if case.case_no else []
    if not earlier:
        return None
    m = earlier[-1]
    answer = (m.reply or {}).get("answer")
    return {"status": m.status, "recalled": answer.get("recalled") if isinstance(answer, dict) else None,
            "answer": answer if isinstance(answer, dict) else None, "at": m.created_at}


def recall_forward(actor: Actor, case_id, reason) -> Case:
    """撤回转报: send ``recall`` to the peer the case was forwarded to. Commits. Raises ValidationError
    (no reason), NotFound, NotAuthorized, Conflict (not waiting for the result, a recall underway)."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationError("请填写撤回转报的理由", details={"reason": ["必填 (required)"]})
    if len(text) > REASON_MAX:
        raise ValidationError(f"理由过长（最多 {REASON_MAX} 字）", details={"reason": ["too long"]})
    with unit_of_work():
        found = row_by_id(Case, case_id)
        if found is None or not (actor.is_staff or actor.is_admin) or not can_read_case(actor, found):
            raise NotFound("办件不存在")
        inst = lock_one(ProcessInstance, ProcessInstance.id == found.instance_id) if found.instance_id else None
        case = lock_one(Case, Case.id == found.id)  # after the instance: the lock order of every step
        refusal = recall_refusal(actor, case, inst)
        if refusal is not None:
            raise refusal
        to = forwarded_to(case)[-1]
        n = len(recalls(case)) + 1
        written = outbox.enqueue(CHANNEL, to, "recall", {"origin_case_no": case.case_no, "reason": text},
                                 case_id=case.id, order_key=case.case_no, key=f"recall:{case.case_no}:{n}")
        record_event(case, actor.username, "recall_forward", opinion=f"撤回转报：{text}",
                     data_change={"to": to, "message_id": written.message_id if written else None})
        if actor.is_staff:
            touch(case, actor.username, "recall_forward")
    return case


__all__ = ["apply_recall", "apply_withdraw", "forwarded_to", "last_recall", "may_recall", "recall_forward",
           "unlinked_no"]
