"""转报 between platforms: the ``forward`` message a case's ``action=forward`` throw event sends, the
case the receiving platform starts for it, and the ``receipt`` / ``progress`` / ``result`` messages
that flow back to the origin (docs/federation.md §9).

Sending side (origin):
- ``_forward`` (an ``on_thrown`` hook, in the step's transaction): for each forward throw event the
  step went through, one ``forward`` message to the target peer through the outbox (key
  ``forward:<case no>:<task id>``: written once; order key the case number), and a trail entry
  "已转报<peer>". Its body: the matter (basic code, process id, name), the origin (region, case
  number), the applicant, the form data, the materials (``material_ref`` of each CaseFile), and a
  short trail summary.
- ``receipt`` / ``progress`` record a trail entry on the origin case ("<peer>已受理" …); ``result``
  records one and delivers the message ``result`` to the waiting case (``deliver_message``), which
  goes on.

Receiving side:
- ``prepare_forward`` (before the inbox's transaction): the materials are fetched and checked
  (``fetch_materials``; skipped for a message already applied);
- ``apply_forward`` (inside it): the matter by process id, else by basic code (``unknown_matter``
  422 when none), the applicant's account (found by certificate or mobile, else created), the case
  started with the data and the files, linked to its origin (``cases.origin_region``,
  ``cases.origin_case_no``: unique, so one origin case makes one case here). Answers
  ``{"case_no": …}``.
- ``_report`` (an ``on_status`` hook): a case forwarded in sends ``receipt`` when accepted, ``progress``
  at each status change and ``result`` at its decision, to the origin, in the step's transaction.
"""
from __future__ import annotations

import logging
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...domain.case_status import LABELS, CaseStatus
from ...domain.errors import Conflict, DomainError
from ...engine.forms import validate_submission
from ...engine.forwarding import UP, forward_throws
from ...extensions import db
from ...models import Case, CaseEvent, CaseFile, Matter, ProcessInstance, ProcessVersion, User
from ...models.accounts import ApplicantProfile
from ...models.exchange import InboxMessage, OutboxMessage
from ..cases.hooks import on_status, on_thrown
from ..cases.lifecycle import identity_fields, start_form_of, submit_in_transaction
from ..cases.locks import lock_case
from ..cases.messages import deliver_message
from ..cases.steps import now, record_event
from ..common.clock import clock_now
from ..identity.actors import actor_from_user
from ..messaging import inbox, outbox
from ..messaging.notify import TEMPLATES, notify_applicant
from .materials import fetch_materials, ref_of
from .reports import apply_report
from .peers import level_of, own_region, peer, up_peer
from .transport import CHANNEL, handles, prepares

log = logging.getLogger(__name__)

#: trail entries carried in a forward (the latest ones)
TRAIL_ENTRIES = 30
DECISIONS = {CaseStatus.APPROVED.value: "approved", CaseStatus.REJECTED.value: "rejected"}
#: the decisions a ``result`` may carry ("recalled": the upper confirms a 撤回转报)
RESULT_DECISIONS = {"approved": "已批复", "rejected": "不予支持", "recalled": "已确认撤回转报"}
#: the case data fields that hold a decision's document number (文号), first found wins
DOC_KEYS = ("doc_no", "document_no", "forward_doc_no", "filing_no")
#: in origin_case_no, what a recall appends to unlink the case (withdrawals.py)
RECALLED_MARK = "~r"
LEVEL_NAMES = {"province": "省级", "city": "市级", "county": "县级"}
#: the longest line of a level's step told to the applicant
LINE_MAX = 120
#: instance statuses a ``result`` waits out (the sender tries again): an administrator's 挂起, an incident
PAUSED = ("suspended", "error")

TEMPLATES.setdefault("level_step", "【阳光发改】您的办件{case_no}：{line}。")


class ForwardError(Conflict):
    """A forward that cannot be sent (no peer above, an unknown target): the step rolls back."""


def resolve_target(target: str):
    """The peer a forward goes to: ``up`` or an explicit region. Raises ForwardError."""
    if target == UP:
        found = up_peer(own_region())
        if found is None:
            raise ForwardError(f"未登记上级平台（{own_region()} 的上一级），无法转报 (no peer above this region)")
        return found
    found = peer(target)
    if found is None:
        raise ForwardError(f"转报目标 {target} 未登记为对端平台 (the target is not a registered peer)")
    return found


def applicant_of(case: Case) -> dict:
    user = db.session.get(User, case.applicant_id)
    profile = db.session.get(ApplicantProfile, case.applicant_id)
    if profile is not None and profile.credit_code:
        cert_type, cert_no = "统一社会信用代码", profile.credit_code
    elif profile is not None and profile.id_number:
        cert_type, cert_no = "公民身份号码", profile.id_number
    else:
        cert_type, cert_no = ("统一社会信用代码", case.applicant_code) if case.applicant_code else ("", "")
    return {"name": (profile.name if profile else None) or case.applicant_name,
            "kind": profile.kind if profile else ("enterprise" if case.applicant_code else "individual"),
            "cert_type": cert_type, "cert_no": cert_no or "",
            "mobile": (profile.mobile if profile else None) or (user.phone if user else None) or ""}


def trail_summary(case: Case) -> list[dict]:
    rows = list(db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                   .order_by(CaseEvent.id.desc()).limit(TRAIL_ENTRIES)).scalars())
    return [{"at": e.at.strftime("%Y-%m-%dT%H:%M:%SZ") if e.at else None, "action": e.action, "actor": e.actor,
             "step": e.step_name, "status": e.to_status, "opinion": (e.opinion or "")[:200] or None}
            for e in reversed(rows)]


def forward_body(case: Case, to_region: str) -> dict:
    matter = db.session.get(Matter, case.process_id)
    files = db.session.execute(select(CaseFile).where(CaseFile.case_id == case.id).order_by(CaseFile.id)).scalars()
    return {"matter": {"process_id": case.process_id, "basic_code": matter.basic_code if matter else "",
                       "name": matter.name if matter else ""},
            "origin": {"region": own_region(), "case_no": case.case_no},
            "project": {"code": case.project_code, "name": case.project_name},
            "applicant": applicant_of(case),
            "data": case.data or {},
            "materials": [dict(ref_of(f, to_region), material=f.material, kind=f.kind) for f in files],
            "trail": trail_summary(case)}


@on_thrown
def _forward(inst, case, result, actor: str) -> None:
    if case is None or not case.case_no:
        return
    for task_id, element_id, target in forward_throws(result.workflow):
        to = resolve_target(target)
        key = f"forward:{case.case_no}:{task_id}"
        written = outbox.enqueue(CHANNEL, to.region, "forward", forward_body(case, to.region), case_id=case.id,
                                 order_key=case.case_no, key=key)
        if written is not None:
            record_event(case, "system", "forward", element_id=element_id, opinion=f"已转报{to.name}",
                         data_change={"to": to.region, "message_id": written.message_id})
            tell(case, f"forward:{to.region}:{task_id}", f"已转报{to.name}",
                 f"{LEVEL_NAMES.get(level_of(case.region_code or own_region()), '')}已转报{to.name}")


# -- receiving a forward -----------------------------------------------------------------------------

def _applied(env) -> bool:
    return db.session.execute(select(InboxMessage.id).where(
        InboxMessage.key == f"{CHANNEL}:{env.sender}:{env.id}")).first() is not None


def _bad(code: str, message: str, status: int = 422) -> inbox.Refusal:
    return inbox.Refusal(code, message, status)


@prepares("forward")
def prepare_forward(env) -> list[dict]:
    """The forward's materials, fetched and checked before the inbox's transaction."""
    if _applied(env):  # a repeat: answered with the first answer, nothing fetched
        db.session.rollback()
        return []
    return fetch_materials(env.body.get("materials", []), env.sender)


def _text(body: dict, *path, required=True, max_len=200) -> str:
    value = body
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        raise _bad("bad_forward", f"转报消息的 {'.'.join(path)} 缺失或不正确")
    return value.strip()


def find_matter(process_id: str, basic_code: str) -> Matter | None:
    row = db.session.get(Matter, process_id) if process_id else None
    if row is not None and row.active and row.latest_version_id:
        return row
    if basic_code:
        return db.session.execute(select(Matter).where(Matter.basic_code == basic_code, Matter.active.is_(True),
                                                       Matter.latest_version_id.is_not(None))
                                  .order_by(Matter.process_id).limit(1)).scalar_one_or_none()
    return None


def applicant_user(a: dict) -> User:
    """The account here of the forwarded case's applicant: by certificate, else by mobile, else new."""
    cert_no, mobile, name = a.get("cert_no") or "", a.get("mobile") or "", a.get("name") or ""
    found = _applicant_found(cert_no, mobile)
    if found is not None:
        return found
    if not mobile:
        raise _bad("bad_forward", "转报消息缺少申请人手机号 (applicant.mobile)")
    enterprise = a.get("cert_type") == "统一社会信用代码" or a.get("kind") == "enterprise"
    ts = clock_now()
    try:
        with db.session.begin_nested():  # (UNIQUE certificate, mobile)
            user = User(username=f"ap-{secrets.token_hex(6)}", display_name=name[:128], kind="applicant", groups=[],
                        org_code=cert_no[:18] if enterprise and cert_no else None, phone=mobile[:20], created_at=ts,
                        region_code=own_region())
            db.session.add(user)
            db.session.flush()
            db.session.add(ApplicantProfile(user_id=user.id, kind="enterprise" if enterprise else "individual",
                                            name=name[:200], credit_code=cert_no[:18] if enterprise and cert_no else None,
                                            id_number=cert_no[:18] if not enterprise and cert_no else None,
                                            mobile=mobile[:20], created_at=ts, updated_at=ts))
            db.session.flush()
    except IntegrityError:
        # created meanwhile by another transaction (a forward of the same applicant from another origin
        # or sender worker, committed while this INSERT waited for it): that account is theirs here
        found = _applicant_found(cert_no, mobile)
        if found is None:
            raise
        return found
    return user


def _applicant_found(cert_no: str, mobile: str) -> User | None:
    profile = None
    if cert_no:
        profile = db.session.execute(select(ApplicantProfile).where(
            (ApplicantProfile.credit_code == cert_no) | (ApplicantProfile.id_number == cert_no))).scalars().first()
    if profile is None and mobile:
        profile = db.session.execute(select(ApplicantProfile).where(ApplicantProfile.mobile == mobile)).scalars().first()
    return db.session.get(User, profile.user_id) if profile is not None else None


@handles("forward")
def apply_forward(env, files: list[dict]) -> tuple[dict, int | None]:
    """Start the forwarded case here (inside the inbox's transaction). Refuses unknown_matter (422)."""
    body = env.body
    origin_no = _text(body, "origin", "case_no", max_len=50)
    if _text(body, "origin", "region", max_len=6) != env.sender:
        raise _bad("bad_forward", "转报消息的 origin.region 与发送方不符")
    same = db.session.execute(select(Case).where(Case.origin_region == env.sender,
                                                 Case.origin_case_no == origin_no)).scalar_one_or_none()
    if same is not None:  # the same origin case forwarded again under another message id
        return {"case_no": same.case_no}, same.id
    matter = find_matter(_text(body, "matter", "process_id", required=False, max_len=64),
                         _text(body, "matter", "basic_code", required=False, max_len=10))
    if matter is None:
        raise _bad("unknown_matter", f"本平台没有对应的事项（{body.get('matter')}），无法接收转报")
    applicant = body.get("applicant")
    data = body.get("data")
    if not isinstance(applicant, dict) or not isinstance(data, dict):
        raise _bad("bad_forward", "转报消息的 applicant 与 data 应为对象")
    user = applicant_user(applicant)
    actor = actor_from_user(user)
    version = db.session.get(ProcessVersion, matter.latest_version_id)
    form = start_form_of(version)
    try:
        clean = validate_submission(form, data) if form else {}
        ident = identity_fields(actor, clean)
    except DomainError as exc:
        raise _bad("bad_forward", f"转报的表单数据不符合本平台事项的申请表：{exc}") from None
    ts = now()
    case = Case(process_id=matter.process_id, version_id=version.id, applicant_id=user.id, status="draft",
                data=clean, created_at=ts, updated_at=ts, region_code=own_region(), origin_region=env.sender,
                origin_case_no=origin_no, **ident)
    db.session.add(case)
    db.session.flush()
    sender = peer(env.sender)
    record_event(case, f"fed:{env.sender}", "forwarded_in",
                 opinion=f"{sender.name if sender else env.sender}转报（原办件编号 {origin_no}）",
                 data_change={"origin": body.get("origin"), "trail": body.get("trail", [])[:TRAIL_ENTRIES],
                              "sha256": [f["sha256"] for f in files]})
    refs = body.get("materials", [])
    for ref, f in zip(refs, files):
        db.session.add(CaseFile(case_id=case.id, uploaded_by=f"fed:{env.sender}", kind=str(ref.get("kind") or "scan")[:32],
                                material=(ref.get("material") or None) and str(ref["material"])[:200], created_at=ts,
                                **f))
    submit_in_transaction(case, version, actor)
    return {"case_no": case.case_no}, case.id


# -- messages back to the origin ---------------------------------------------------------------------

def _send_back(case: Case, kind: str, body: dict, key: str | None = None) -> None:
    outbox.enqueue(CHANNEL, case.origin_region, kind, body, case_id=case.id, order_key=case.origin_case_no,
                   key=key or (f"{kind}:{case.case_no}:{body.get('seq', '')}" if kind == "progress" else f"{kind}:{case.case_no}"))


@on_status
def _report(case: Case, old: str, new: str, actor: str) -> None:
    if not case.origin_region or not case.case_no or RECALLED_MARK in (case.origin_case_no or ""):
        return  # (a case unlinked by a recall no longer reports to its origin)
    base = {"origin_case_no": case.origin_case_no, "case_no": case.case_no}
    if new == CaseStatus.ACCEPTED.value:
        _send_back(case, "receipt", dict(base, accepted=True))
    elif new == CaseStatus.REJECTED.value and case.accepted_at is None:  # 不予受理, with its reason
        _send_back(case, "receipt", dict(base, accepted=False, reason=_refusal_reason(case)))
    count = db.session.execute(select(CaseEvent.id).where(CaseEvent.case_id == case.id,
                                                          CaseEvent.action == "status")).all()
    _send_back(case, "progress", dict(base, status=new, previous=old, label=LABELS[CaseStatus(new)],
                                      seq=len(count), at=now().strftime("%Y-%m-%dT%H:%M:%SZ")))
    if new in DECISIONS:
        data = case.data or {}
        doc_no = next((data[k].strip()[:100] for k in DOC_KEYS if isinstance(data.get(k), str) and data[k].strip()), None)
        _send_back(case, "result", dict(base, decision=DECISIONS[new], doc_no=doc_no))


def _refusal_reason(case: Case) -> str:
    """The reason of a 不予受理: the latest opinion the window recorded on the case."""
    for opinion, data in db.session.execute(select(CaseEvent.opinion, CaseEvent.data_change).where(
            CaseEvent.case_id == case.id, CaseEvent.action.in_(("complete", "reject")))
            .order_by(CaseEvent.id.desc())).all():
        data = data if isinstance(data, dict) else {}
        for text in (data.get("window_opinion"), data.get("decision_opinion"), opinion):
            if isinstance(text, str) and text.strip():
                return text.strip()[:500]
    return "不予受理"


def tell(case: Case, key: str, text: str, relayed: str | None = None) -> None:
    """A level's step on a case (转报, 受理, 批复 …): a public trail line. The applicant's own case
    (not forwarded in) sends it by SMS, once per ``key``; a case forwarded in passes the line down
    to its origin (``relayed``: the text as the lower levels say it), which does the same."""
    record_event(case, "system", "level_step", opinion=text[:LINE_MAX], data_change={"key": key})
    if case.origin_region:
        _send_back(case, "progress", {"origin_case_no": case.origin_case_no, "case_no": case.case_no,
                                      "line": {"key": key, "text": (relayed or text)[:LINE_MAX]}}, key=f"line:{case.case_no}:{key}")
    else:
        notify_applicant(case, "level_step", f"case:{case.id}:level:{key}", line=text[:LINE_MAX])


def _origin_case(env) -> Case:
    """The origin case a message from above concerns, locked as a step of it locks it (its instance,
    then the case): the message writes the case's trail, and a ``result`` steps its process."""
    no = env.body.get("origin_case_no")
    case = lock_case(Case.case_no == no)[0] if isinstance(no, str) else None
    forwarded = case is not None and db.session.execute(select(OutboxMessage.id).where(
        OutboxMessage.kind == "forward", OutboxMessage.peer == env.sender,
        OutboxMessage.order_key == case.case_no)).first() is not None
    if not forwarded:
        raise _bad("unknown_case", f"本平台没有转报给 {env.sender} 的办件 {no!r}")
    return case


def _name(region: str) -> str:
    p = peer(region)
    return p.name if p is not None else region


def _level(region: str) -> str:
    p = peer(region)
    return LEVEL_NAMES.get(p.level if p else level_of(region), "")


@handles("receipt")
def apply_receipt(env) -> tuple[dict, int | None]:
    case = _origin_case(env)
    accepted = env.body.get("accepted")
    if not isinstance(accepted, bool):
        raise _bad("bad_receipt", "receipt 的 accepted 应为 true 或 false")
    name, level = _name(env.sender), _level(env.sender)
    if accepted:
        record_event(case, f"fed:{env.sender}", "federation", opinion=f"{name}已受理",
                     data_change={"kind": "receipt", **env.body})
        tell(case, f"receipt:{env.sender}", f"{level}已受理（{name}）")
        return {"ok": True}, case.id
    reason = env.body.get("reason")
    reason = reason.strip()[:200] if isinstance(reason, str) and reason.strip() else "未说明理由"
    record_event(case, f"fed:{env.sender}", "federation", opinion=f"{name}不予受理：{reason}",
                 data_change={"kind": "receipt", **env.body})
    tell(case, f"receipt:{env.sender}", f"{level}不予受理（{name}）：{reason}")
    return {"ok": True}, case.id


@handles("progress")
def apply_progress(env) -> tuple[dict, int | None]:
    if "origin_case_no" not in env.body:  # a lower level's report of its own case (supervision)
        return apply_report(env)
    case = _origin_case(env)
    line = env.body.get("line")
    if line is not None:  # a level above the sender told its step: passed down to the applicant
        if not isinstance(line, dict) or not isinstance(line.get("text"), str) or not line["text"].strip() \
                or not isinstance(line.get("key"), str) or len(line["key"]) > 100:
            raise _bad("bad_progress", "progress 的 line 应为 {key, text}")
        tell(case, f"{env.sender}:{line['key']}", line["text"].strip()[:LINE_MAX])
        return {"ok": True}, case.id
    label = env.body.get("label") if isinstance(env.body.get("label"), str) else env.body.get("status")
    record_event(case, f"fed:{env.sender}", "federation", opinion=f"{_name(env.sender)}：{str(label)[:50]}",
                 data_change={"kind": "progress", **env.body})
    return {"ok": True}, case.id


@handles("result")
def apply_result(env) -> tuple[dict, int | None]:
    case = _origin_case(env)
    decision = env.body.get("decision")
    if decision not in RESULT_DECISIONS:
        raise _bad("bad_result", "result 的 decision 应为 approved、rejected 或 recalled")
    inst = db.session.get(ProcessInstance, case.instance_id) if case.instance_id else None
    if inst is not None and inst.status in PAUSED:  # it may wait for the result again: not refused for good
        raise _bad("not_ready", f"办件 {case.case_no} 已挂起或因故障暂停（{inst.status}），恢复后方可接收上级结果，"
                                f"请稍后重发", 503)
    p = peer(env.sender)
    name = _name(env.sender)
    payload = {"decision": decision, "doc_no": env.body.get("doc_no"), "case_no": env.body.get("case_no"),
               "by": {"region": env.sender, "level": p.level if p else level_of(env.sender), "name": name}}
    record_event(case, f"fed:{env.sender}", "federation", opinion=f"{name}{RESULT_DECISIONS[decision]}",
                 data_change={"kind": "result", **env.body})
    up = up_peer() if case.origin_region else None
    if up is not None:
        # the line goes down to the origin (before the case's own result: the applicant reads the upper
        # level's step first), then the step reports up: take the link up first, as every step's status
        # hooks do (report up, then progress down); the other way round deadlocks with such a step
        outbox.lock_link(CHANNEL, up.region)
    doc_no = env.body.get("doc_no")
    suffix = f"（{name}，文号 {doc_no.strip()[:60]}）" if isinstance(doc_no, str) and doc_no.strip() else f"（{name}）"
    tell(case, f"result:{env.sender}:{decision}", f"{_level(env.sender)}{RESULT_DECISIONS[decision]}{suffix}")
    try:
        deliver_message(case.instance_id, "result", payload, actor=f"fed:{env.sender}")
    except Conflict as exc:
        raise _bad("not_waiting", f"办件 {case.case_no} 未在等待上级结果：{exc}", 409) from None
    return {"ok": True}, case.id
