"""The 一张网's 办件 push: each stage of a case, as the 一张网 counts it, leaves through the outbox in
the transaction of the status change that makes it (an ``on_status`` hook), and the ``ywtb``
channel delivers it (ywtb.send). Nothing is written when YWTB_BASE_URL is not set.

Status change → stage (key ``ywtb:<case no>:<stage>[:<n>]``: written once, so a stage is pushed once
per case whatever the status does afterwards — a case going back to 受理 after a 补正 is not
受理 again):
- submitted → 申请 ``apply``;
- accepted → 受理 ``accept`` (the first time); from special_procedure also 特别程序结束 ``special_end:<n>``;
- rejected before acceptance → 不予受理 ``refuse``;
- correction → 补正 ``correction:<n>`` (each round its own);
- special_procedure → 特别程序 ``special:<n>`` (each round its own);
- approved / rejected after acceptance / withdrawn / terminated → 办结 ``complete`` with the result
  code 6 准予许可 / 7 不予许可 / 3 撤销申请 / 2 异常终止;
- closed → 送达 ``deliver``.
Every message of a case has the case number as its order key: the stages leave in the order they
happened, a later one waiting while an earlier one is not delivered.

Cases forwarded in from another platform (``cases.origin_region``) are pushed like our own: the
一张网 counts a case where it is worked, and this platform works it; the origin's region and case
number go with it (GLXZQHDM, GLBJBH) so the 一张网 can relate the two. A case that came from the
一张网's unified entry carries the 一张网's 申办流水号 (SBLSH); our own cases use our case number."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from ...domain.case_status import CaseStatus
from ...extensions import db
from ...models import Case, CaseEvent, CaseFile, Matter, ProcessVersion, SpecialProcedure, User
from ...models.exchange import OutboxMessage
from ...models.intake import CaseResult
from ..cases.hooks import on_status
from ..cases.special_procedures import SUSPENDING_KINDS
from ..common.clock import clock_now
from ..federation.forwarding import DOC_KEYS, applicant_of
from ..messaging import outbox
from ..messaging.outbox import Channel
# imported first so that its status listener (which writes the 补正 request) runs before ours reads it
from ..portal.corrections import open_correction
from . import ywtb, ywtb_ratings  # noqa: F401  (ywtb_ratings: the 好差评 listener registers on import)
from .ywtb_intake import channel_of, serial_no_of
from .ywtb import CHANNEL, PEER, STAGES, wire_time

S = CaseStatus
#: final statuses → 办结 result code
RESULT_OF = {S.APPROVED.value: "6", S.REJECTED.value: "7", S.TERMINATED.value: "2", S.WITHDRAWN.value: "3"}
UNITS = {"working_day": "1", "natural_day": "2"}
KIND_NAMES = {"extension": "延长审批", **SUSPENDING_KINDS}
#: submission channels (GB/T 39046 A.5 handling form): a case made here is applied for online (PC)
ONLINE = "2"
TEXT_MAX = 500


def register_channel(app) -> None:
    """Register the ``ywtb`` outbox channel when YWTB_BASE_URL is configured. The claim's lease outlasts
    one push's deadline (three times YWTB_TIMEOUT_SECONDS) with a margin."""
    if not app.config.get("YWTB_BASE_URL"):
        return
    timeout = float(app.config["YWTB_TIMEOUT_SECONDS"])
    outbox.register_channel(Channel(CHANNEL, ywtb.send, max_attempts=20,
                                    base_seconds=float(app.config["DOCKING_RETRY_SECONDS"]),
                                    max_backoff_seconds=3600, lease_seconds=3 * timeout + 30))


# -- what a stage carries ---------------------------------------------------------------------------

def _matter(case: Case) -> dict:
    version = db.session.get(ProcessVersion, case.version_id)
    meta = dict(version.matter or {}) if version is not None else {}
    if not meta.get("name"):
        row = db.session.get(Matter, case.process_id)
        if row is not None:
            meta.update(name=row.name, basic_code=row.basic_code, implementation_code=row.implementation_code)
    return meta


def serial_no(case: Case) -> str:
    """The 申办流水号 the 一张网 knows the case by: its own for an application from its unified entry,
    else our case number."""
    return serial_no_of(case.id) or case.case_no


def header(case: Case, matter: dict) -> dict:
    return {"BJBH": case.case_no, "SBLSH": serial_no(case), "SXBM": matter.get("implementation_code") or "",
            "SXJBBM": matter.get("basic_code") or "", "SXMC": matter.get("name") or case.process_id,
            "XZQHDM": case.region_code, "GLXZQHDM": case.origin_region or "", "GLBJBH": case.origin_case_no or ""}


def _person(username: str | None) -> str:
    if not username:
        return ""
    if username == "system":
        return "系统"
    name = db.session.execute(select(User.display_name).where(User.username == username)).scalar()
    return (name or username)[:64]


def _day(value) -> str:
    return value.isoformat() if value is not None else ""


def _limits(case: Case, matter: dict) -> dict:
    statutory, promised = matter.get("statutory_limit") or {}, matter.get("promised_limit") or {}
    return {"FDBJSX": statutory.get("value", ""), "FDBJSXDW": UNITS.get(statutory.get("unit"), statutory.get("unit", "")),
            "CNBJSX": promised.get("value", ""), "CNBJSXDW": UNITS.get(promised.get("unit"), promised.get("unit", "")),
            "FDBJRQ": _day(case.statutory_due), "CNBJRQ": _day(case.promised_due)}


def _department(matter: dict) -> tuple[str, str]:
    body = matter.get("implementing_body") or {}
    return body.get("name") or current_app.config.get("AGENCY_NAME", ""), body.get("credit_code") or ""


def latest_opinion(case: Case) -> str:
    """The latest opinion on the case's trail: a decision's or the window's opinion, a reason."""
    rows = db.session.execute(select(CaseEvent.opinion, CaseEvent.data_change).where(CaseEvent.case_id == case.id)
                              .order_by(CaseEvent.id.desc()).limit(30)).all()
    for opinion, data in rows:
        data = data if isinstance(data, dict) else {}
        for key in sorted(k for k in data if k.endswith("_opinion")):
            if isinstance(data[key], str) and data[key].strip():
                return data[key].strip()[:TEXT_MAX]
        if isinstance(opinion, str) and opinion.strip():
            return opinion.strip()[:TEXT_MAX]
    return ""


def _files(case: Case, kind: str | None = None) -> list[dict]:
    q = select(CaseFile).where(CaseFile.case_id == case.id).order_by(CaseFile.id)
    if kind is not None:
        q = q.where(CaseFile.kind == kind)
    return [{"CLMC": f.material or "", "WJMC": f.filename, "WJLX": f.content_type, "WJHX": f.sha256, "WJDX": f.size}
            for f in db.session.execute(q).scalars()]


def _apply(case: Case, matter: dict, actor: str) -> dict:
    a, data = applicant_of(case), case.data or {}
    channel = channel_of(case.id)
    return {"SQRLX": "2" if a["kind"] == "enterprise" else "1", "SQRMC": a["name"], "SQRZJLX": a["cert_type"],
            "SQRZJHM": a["cert_no"], "LXRXM": data.get("contact_person") or a["name"],
            "LXRSJ": data.get("contact_phone") or a["mobile"], "XMMC": case.project_name or "",
            "XMDM": case.project_code or "", "SBFS": channel or ONLINE, "SBSJ": wire_time(case.submitted_at),
            "CLXX": [{k: f[k] for k in ("CLMC", "WJMC", "WJHX", "WJDX")} for f in _files(case)]}


def _accept(case: Case, matter: dict, actor: str, accepted: bool) -> dict:
    name, code = _department(matter)
    seg = {"SLBMMC": name, "SLBMZZJGDM": code, "SLRXM": _person(actor), "SLZT": "1" if accepted else "2",
           "SLSJ": wire_time(case.accepted_at if accepted else (case.decided_at or clock_now()))}
    if not accepted:
        seg["BSLYY"] = latest_opinion(case) or "不予受理"
    seg.update(_limits(case, matter))
    return seg


def _correction(case: Case, matter: dict, actor: str) -> dict:
    req = open_correction(case.id)
    items = (req.items if req is not None else None) or [{"material": "申请材料", "problem": latest_opinion(case)}]
    return {"BZGZSJ": wire_time(req.requested_at if req is not None else clock_now()), "BZGZR": _person(actor),
            "BZQX": _day(req.due_date) if req is not None else "", "BZSM": (req.note or "") if req is not None else "",
            "BZCLQD": [{"CLMC": str(i.get("material") or "")[:200], "BZYY": str(i.get("problem") or i.get("material") or "")[:TEXT_MAX]}
                       for i in items if isinstance(i, dict)]}


def _procedure(case: Case, running: bool) -> SpecialProcedure | None:
    q = select(SpecialProcedure).where(SpecialProcedure.case_id == case.id, SpecialProcedure.kind != "extension")
    q = q.where(SpecialProcedure.status == ("running" if running else "ended"))
    return db.session.execute(q.order_by(SpecialProcedure.id.desc()).limit(1)).scalar()


def _special(case: Case, matter: dict, actor: str) -> dict:
    proc = _procedure(case, running=True)
    if proc is None:
        return {"TBCXLX": "2", "TBCXMC": "其他特别程序", "TBCXQSSJ": wire_time(clock_now()),
                "TBCXYY": latest_opinion(case), "TBCXSPR": _person(actor)}
    return {"TBCXLX": proc.kind_code, "TBCXMC": KIND_NAMES.get(proc.kind, proc.kind), "TBCXQSSJ": wire_time(proc.started_at),
            "TBCXYY": proc.reason[:TEXT_MAX], "TBCXYJ": (proc.basis or "")[:TEXT_MAX], "TBCXSX": proc.planned_duration,
            "TBCXSXDW": UNITS.get(proc.planned_unit, proc.planned_unit), "TBCXSPR": _person(proc.approver or proc.handler)}


def _special_end(case: Case, matter: dict, actor: str) -> dict:
    proc = _procedure(case, running=False)
    if proc is None:
        return {"TBCXJSSJ": wire_time(clock_now()), "TBCXJG": latest_opinion(case)}
    return {"TBCXLX": proc.kind_code, "TBCXMC": KIND_NAMES.get(proc.kind, proc.kind),
            "TBCXJSSJ": wire_time(proc.ended_at), "TBCXJG": (proc.result or "")[:TEXT_MAX], "TBCXTS": proc.counted_days}


def document_no(case: Case) -> str:
    """The decision's document number (文号): the latest a step recorded, else one in the case's data."""
    rows = db.session.execute(select(CaseEvent.data_change).where(
        CaseEvent.case_id == case.id, CaseEvent.action.in_(("complete", "reject"))).order_by(CaseEvent.id.desc())).scalars()
    for data in [*rows, case.data]:
        data = data if isinstance(data, dict) else {}
        found = next((data[k].strip()[:100] for k in DOC_KEYS if isinstance(data.get(k), str) and data[k].strip()), "")
        if found:
            return found
    return ""


def _complete(case: Case, matter: dict, actor: str, code: str) -> dict:
    name, org = _department(matter)
    opinion = latest_opinion(case)
    seg = {"BJBMMC": name, "BJBMZZJGDM": org, "SPRXM": _person(actor), "BJJGDM": code,
           "BJJGMS": f"{ywtb.RESULTS[code]}：{opinion}" if opinion else ywtb.RESULTS[code],
           "ZZMC": ((matter.get("result") or {}).get("name") or "") if code == "6" else "",
           "ZZBH": document_no(case), "SFJE": "0", "BJSJ": wire_time(case.decided_at or clock_now()),
           "FDBJRQ": _day(case.statutory_due), "CNBJRQ": _day(case.promised_due), "TBCXTS": case.suspended_days or 0,
           "JGWJ": [{k: f[k] for k in ("WJMC", "WJLX", "WJHX")} for f in _files(case, "result")]}
    return seg


def _deliver(case: Case, matter: dict, actor: str) -> dict:
    mail = db.session.get(CaseResult, case.id)
    return {"SDFS": "2" if mail is not None else "1", "SDFSMC": "邮寄送达" if mail is not None else "电子送达",
            "SDSJ": wire_time(clock_now()), "KDGS": mail.courier if mail is not None else "",
            "KDDH": mail.tracking_no if mail is not None else "",
            "JGWJ": [{k: f[k] for k in ("WJMC", "WJLX", "WJHX")} for f in _files(case, "result")]}


def stage_payload(case: Case, stage: str, segment: dict, n: int | None = None) -> dict:
    """The outbox payload of one stage (ywtb.build_xml renders it)."""
    return {"stage": stage, "stage_label": STAGES[stage][2], "round": n or 1, "at": wire_time(clock_now()),
            "header": header(case, _matter(case)), "segment": segment}


def _rounds(case: Case, status: str) -> int:
    """How many times the case has entered ``status`` (the change being made included)."""
    return db.session.execute(select(func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.action == "status", CaseEvent.to_status == status)).scalar() or 1


def _push(case: Case, stage: str, build, *args, n: int | None = None) -> None:
    key = f"ywtb:{case.case_no}:{stage}" + (f":{n}" if n else "")
    if db.session.execute(select(OutboxMessage.id).where(OutboxMessage.key == key)).first() is not None:
        return  # pushed before (the stage again: 受理 after a 补正 …): nothing to build
    segment = build(case, _matter(case), *args)
    outbox.enqueue(CHANNEL, PEER, "case_stage", stage_payload(case, stage, segment, n), case_id=case.id,
                   order_key=case.case_no, key=key)


@on_status
def _stage(case: Case, old: str, new: str, actor: str) -> None:
    if not case.case_no or not ywtb.enabled():
        return
    if new == S.SUBMITTED.value:
        _push(case, "apply", _apply, actor)
    elif new == S.ACCEPTED.value:
        if old == S.SPECIAL_PROCEDURE.value:
            _push(case, "special_end", _special_end, actor, n=_rounds(case, S.SPECIAL_PROCEDURE.value))
        _push(case, "accept", _accept, actor, True)
    elif new == S.CORRECTION.value:
        _push(case, "correction", _correction, actor, n=_rounds(case, new))
    elif new == S.SPECIAL_PROCEDURE.value:
        _push(case, "special", _special, actor, n=_rounds(case, new))
    elif new == S.REJECTED.value and case.accepted_at is None:
        _push(case, "refuse", _accept, actor, False)
    elif new in RESULT_OF:
        _push(case, "complete", _complete, actor, RESULT_OF[new])
    elif new == S.CLOSED.value:
        _push(case, "deliver", _deliver, actor)
