"""The national investment project platform (全国投资项目在线审批监管平台) in the case's life:
一次填报、多次使用.

- **Submission check** (``@on_submit``, every submission: portal, API, the 一张网's intake): when
  TZXM_BASE_URL is set and the case names a 项目代码, the platform is asked for the project
  (tzxm.lookup; during an outage a record fetched within tzxm.OUTAGE_GRACE). An unknown code is
  refused (``project_not_found``), so is a project whose 项目单位 is not the applicant
  (``project_owner_mismatch``: the owner's 统一社会信用代码 must equal the verified code of the
  applicant's account, or — for an account without one — the start form's ``applicant_code``), and
  one that cannot be checked now (``project_unverifiable``). A refusal rolls the submission back:
  nothing is written. An accepted project takes the platform's name (``cases.project_name``) and
  its record is kept (docking_projects). A case forwarded in from another level was checked there
  and is not asked again. Without TZXM_BASE_URL only the code's shape is checked, as before.
- **Results back** (``@on_status``): each decision — 准予许可 / 不予许可 (不予受理 before
  acceptance), and an application 撤回 or 终止 — is written to the outbox channel ``tzxm`` (peer
  ``tzxm``, kind ``result``) in the step's transaction, ordered per project (``order_key`` = the
  项目代码) and once per (case, result) (``key`` = ``tzxm:<case no>:<status>``). ``send`` POSTs it,
  signed, to ``{TZXM_BASE_URL}/api/results``. A case forwarded up to another level is decided there,
  and reported by that level's platform, not here.
- **The applicant's side**: ``prefill`` (the start form's fields of a project the applicant owns)
  and ``project_page`` (every case of a project code on this platform, for its owner)."""
from __future__ import annotations

import time

from flask import current_app, g
from sqlalchemy import or_, select

from ...domain.case_status import LABELS, CaseStatus
from ...domain.codes import is_project_code
from ...domain.errors import NotAuthorized, NotFound
from ...extensions import db
from ...models import Case, ProcessVersion, Region, User
from ...models.exchange import OutboxMessage
from ..cases.hooks import on_prepare_submit, on_status, on_submit
from ..common.clock import BEIJING, clock_now
from ..feedback.disclosure import decision_data
from ..feedback.evaluations import handling_department
from ..identity.actors import Actor, verified_credit_code
from ..identity.org import find_department
from ..messaging import outbox
from ..messaging.outbox import Channel, Defer, Outgoing, Retry
from . import http, tzxm

CHANNEL = PEER = "tzxm"
RESULTS_PATH = "/api/results"
#: case status → (result code, result as the platform shows it)
RESULTS = {CaseStatus.APPROVED.value: ("approved", "准予许可"), CaseStatus.REJECTED.value: ("rejected", "不予许可"),
           CaseStatus.WITHDRAWN.value: ("withdrawn", "撤回"), CaseStatus.TERMINATED.value: ("terminated", "终止")}
NOT_ACCEPTED = ("not_accepted", "不予受理")
#: refusals of a result that time or the platform's operators mend: sent again later, not dead
TRANSIENT = {"stale", "unknown_key"}
#: how long the platform's answer asked before a submission's transaction stands for it (seconds)
PREFETCH_SECONDS = 60.0


# -- the applicant -----------------------------------------------------------------------------------

def _prefetched() -> dict:
    if "tzxm_prefetched" not in g:
        g.tzxm_prefetched = {}
    return g.tzxm_prefetched


@on_prepare_submit
def prefetch_project(data: dict) -> None:
    """Before a submission's transaction (cases/hooks.prepare_submit): ask the platform for the start
    form's 项目代码 now, with no transaction held — on SQLite every transaction holds the database's
    write lock, which must not wait for the platform. ``check_project`` uses the answer (or the
    refusal) of this submission; nothing is written here (the commit only ends the request's reads)."""
    code = data.get("project_code")
    if not tzxm.configured() or not isinstance(code, str) or not is_project_code(code):
        return
    db.session.commit()  # the request's reads end here (nothing is pending: cases/hooks.prepare_submit)
    try:
        result = tzxm.lookup_or_cached(code)
    except tzxm.ProjectError as exc:
        result = exc
    finally:
        db.session.rollback()  # the stored record read during an outage: no transaction left open
    _prefetched()[code] = (time.monotonic(), result)


def _lookup(code: str) -> tuple[tzxm.Project, bool]:
    """The answer asked before the transaction (prefetch_project), else the platform now."""
    hit = _prefetched().pop(code, None)
    if hit is None or time.monotonic() - hit[0] > PREFETCH_SECONDS:
        return tzxm.lookup_or_cached(code)
    if isinstance(hit[1], Exception):
        raise hit[1]
    return hit[1]


@on_submit
def check_project(case: Case, data: dict) -> None:
    """The submission check (see the module's doc). Raises tzxm.ProjectError."""
    if not tzxm.configured() or not case.project_code or case.origin_region:
        return
    project, from_cache = _lookup(case.project_code)
    required = verified_credit_code(case.applicant_id) or case.applicant_code
    if not required or project.owner_code != required:
        raise tzxm.ProjectNotOwned()
    if not from_cache:
        tzxm.remember(project)
    case.project_name = project.name


def prefill(actor: Actor, code: str) -> dict:
    """For the start form: the project of ``code`` if the signed-in applicant's enterprise owns it.
    Returns {"project", "prefill" (form key → value), "from_cache"}. Raises NotAuthorized (not an
    applicant), tzxm.ProjectError (bad shape, unknown, not theirs, platform unavailable or not
    configured). Keeps the platform's record (commits) only for its owner."""
    if not actor.is_applicant:
        raise NotAuthorized("只有申请人可以查询项目信息")
    code = (code or "").strip()
    if not tzxm.configured():
        raise tzxm.ProjectError("本平台未接入投资项目在线审批监管平台，请手工填写项目信息", "not_configured", 503)
    mine = verified_credit_code(actor.id)
    db.session.rollback()  # no transaction (on SQLite: no write lock) held across the platform's answer
    project, from_cache = tzxm.lookup_or_cached(code)
    if not mine or project.owner_code != mine:
        db.session.rollback()
        raise tzxm.ProjectNotOwned()
    if not from_cache:
        try:
            tzxm.remember(project)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return {"project": project.as_dict(), "prefill": project.prefill(), "from_cache": from_cache}


# -- the project page --------------------------------------------------------------------------------

def _doc_no(case: Case) -> str | None:
    return decision_data(case).get("document_no") if case.status in (
        CaseStatus.APPROVED.value, CaseStatus.REJECTED.value, CaseStatus.CLOSED.value) else None


def _project_cases(actor: Actor, mine: str | None, code: str) -> list[dict]:
    """The submitted cases of ``code`` on this platform that are the applicant's: its own, and (for an
    enterprise) those of any account with the same credit code (e.g. one forwarded in)."""
    mine_clause = Case.applicant_id == actor.id
    if mine:
        mine_clause = or_(mine_clause, User.org_code == mine)
    rows = db.session.execute(
        select(Case, ProcessVersion.matter).join(User, User.id == Case.applicant_id)
        .join(ProcessVersion, ProcessVersion.id == Case.version_id)
        .where(Case.project_code == code, Case.status != CaseStatus.DRAFT.value, Case.case_no.is_not(None), mine_clause)
        .order_by(Case.submitted_at, Case.id)).all()
    out = []
    for case, matter in rows:
        matter = matter or {}
        out.append({"id": case.id, "case_no": case.case_no, "own": case.applicant_id == actor.id,
                    "matter": matter.get("name") or case.process_id, "basic_code": matter.get("basic_code") or "",
                    "status": case.status, "status_label": LABELS[CaseStatus(case.status)],
                    "submitted_at": case.submitted_at, "decided_at": case.decided_at, "doc_no": _doc_no(case)})
    return out


def project_page(actor: Actor, code: str) -> dict:
    """一次填报、多次使用: the project of ``code`` (the platform's record, refreshed when older than
    tzxm.PAGE_REFRESH) and every case of it on this platform, for the applicant whose enterprise owns
    it. Raises NotAuthorized (not an applicant), NotFound (no such project of theirs: also when it is
    another enterprise's). Returns {"code", "project" (tzxm.Project or None), "cases", "stale"}."""
    if not actor.is_applicant:
        raise NotAuthorized("项目页面仅供申请人查看")
    if not is_project_code(code or ""):
        raise NotFound("项目不存在")
    mine = verified_credit_code(actor.id)
    project = tzxm.cached(code)
    stale = False
    if tzxm.configured() and mine and (project is None or clock_now() - project.fetched_at > tzxm.PAGE_REFRESH):
        db.session.rollback()  # no transaction held across the platform's answer
        try:
            fresh = tzxm.lookup(code)
            if fresh.owner_code == mine:
                tzxm.remember(fresh)
                db.session.commit()
            project = fresh
        except tzxm.ProjectNotFound:
            project = None
        except tzxm.ProjectUnavailable:
            stale = project is not None
    owned = project is not None and mine is not None and project.owner_code == mine
    cases = _project_cases(actor, mine, code)
    if not owned and not cases:
        raise NotFound("项目不存在，或不属于您的单位")
    return {"code": code, "project": project if owned else None, "cases": cases, "stale": stale}


# -- results back to the platform ----------------------------------------------------------------------

def _forwarded_up(case: Case) -> bool:
    return db.session.execute(select(OutboxMessage.id).where(
        OutboxMessage.case_id == case.id, OutboxMessage.channel == "federation",
        OutboxMessage.kind == "forward")).first() is not None


def result_payload(case: Case, status: str) -> dict:
    """What the platform is told of a decision: project, matter, time, result, document number (批复文号),
    department and region."""
    version = db.session.get(ProcessVersion, case.version_id)
    matter = (version.matter if version else None) or {}
    body = matter.get("implementing_body") or {}
    code, name = RESULTS[status]
    if status == CaseStatus.REJECTED.value and case.accepted_at is None:
        code, name = NOT_ACCEPTED
    division_code = handling_department(case)
    division = find_department(division_code, case.region_code)
    region = db.session.get(Region, case.region_code)
    at = (case.decided_at if status in (CaseStatus.APPROVED.value, CaseStatus.REJECTED.value) else None) or clock_now()
    doc_no = decision_data(case).get("document_no") if code in ("approved", "rejected") else None
    return {"project_code": case.project_code,
            "project_name": case.project_name or (case.data or {}).get("project_name"), "case_no": case.case_no,
            "matter": {"basic_code": matter.get("basic_code") or "", "name": matter.get("name") or case.process_id,
                       "implementation_code": matter.get("implementation_code") or "", "process_id": case.process_id},
            "result": code, "result_name": name, "decided_at": at.astimezone(BEIJING).isoformat(timespec="seconds"),
            "doc_no": doc_no, "document": (matter.get("result") or {}).get("name") if code == "approved" else None,
            "department": {"name": body.get("name") or current_app.config.get("AGENCY_NAME", ""),
                           "credit_code": body.get("credit_code") or "",
                           "division": division.name if division is not None else division_code},
            "region": {"code": case.region_code, "name": region.name if region is not None else ""}}


@on_status
def report_result(case: Case, old: str, new: str, actor: str) -> None:
    """A decision (or 撤回 / 终止) of a case with a 项目代码 goes to the platform (see the module's doc)."""
    if new not in RESULTS or not case.project_code or not case.case_no:
        return
    if not tzxm.configured() or CHANNEL not in outbox.channels() or _forwarded_up(case):
        return
    outbox.enqueue(CHANNEL, PEER, "result", result_payload(case, new), case_id=case.id,
                   order_key=case.project_code, key=f"tzxm:{case.case_no}:{new}")


def send(out: Outgoing) -> dict:
    """Deliver one result: a signed POST of the payload (with the message id, which the platform
    keeps to apply it once) to ``{TZXM_BASE_URL}/api/results``. The answer must be JSON with
    ``status`` ``accepted`` or ``duplicate`` (a repeat). Raises Retry / Refused (http.outbox_error),
    Defer while TZXM_BASE_URL is not set."""
    base = (current_app.config.get("TZXM_BASE_URL") or "").rstrip("/")
    if not base:
        raise Defer("未配置 TZXM_BASE_URL：消息保留，配置后发送", "not_configured")
    try:
        answer = http.check(http.request("POST", base + RESULTS_PATH, json=dict(out.payload, message_id=out.message_id),
                                         credentials=tzxm.credentials(),
                                         timeout=float(current_app.config.get("TZXM_TIMEOUT_SECONDS", 10)),
                                         max_bytes=64 * 1024))
        reply = answer.json()
    except http.Rejected as exc:
        if exc.code in TRANSIENT:
            raise Retry(str(exc), exc.code) from exc
        raise http.outbox_error(exc) from exc
    except http.Unavailable as exc:
        raise http.outbox_error(exc) from exc
    if not isinstance(reply, dict) or reply.get("status") not in ("accepted", "duplicate"):
        raise Retry(f"应答不是结果回执：{str(reply)[:200]}", "bad_answer")
    return reply


def register_channel(app) -> None:
    """Register the ``tzxm`` outbox channel when TZXM_BASE_URL is configured. The claim's lease
    outlasts one send's deadline (three times TZXM_TIMEOUT_SECONDS) with a margin."""
    if not app.config.get("TZXM_BASE_URL"):
        return
    timeout = float(app.config.get("TZXM_TIMEOUT_SECONDS", 10))
    outbox.register_channel(Channel(CHANNEL, send, max_attempts=20,
                                    base_seconds=float(app.config["DOCKING_RETRY_SECONDS"]),
                                    max_backoff_seconds=3600, lease_seconds=3 * timeout + 30))

