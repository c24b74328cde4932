"""前置事项: a matter that depends on another matter's result (matter.json ``requires``). The stages of
a 政府投资项目 are the example: the 可行性研究报告 needs the approved 项目建议书 (and the 节能审查
opinion) of the same 项目代码, the 初步设计及概算 the approved 可研.

The check runs as a submit hook (every path of submission: portal, API, the 一张网's intake), inside
the submission's transaction, so a refusal rolls everything back — no case number, no case, no file.
A requirement is met by a case of the required matter, with the required result, for the same
项目代码, of the same applicant organisation:

- the same account, or
- an account whose *verified* 统一社会信用代码 (the enterprise profile, or the ``users`` row that
  mirrors it) equals the submitting account's verified code — an enterprise may change the account
  it applies with (staff leave), the project stays its own; the earlier case's own ``applicant_code``
  counts too, as the staff who approved it checked it.

The submitting side's self-declared ``applicant_code`` never counts: anyone can type a code, and
borrowing another enterprise's approval is exactly what the rule is there to stop.

A case forwarded in (转报) from another level is not checked again: its prerequisites were decided
where it was submitted, possibly by that level's commission (not in this database)."""
from __future__ import annotations

from sqlalchemy import select

from ...domain.case_status import CaseStatus
from ...domain.errors import ValidationError
from ...extensions import db
from ...models import Case, CaseEvent, ProcessVersion
from ..identity.actors import verified_credit_code
from .hooks import on_submit

NO_PROJECT_CODE = "本事项须填写项目代码：前置事项（{names}）的办理结果按项目代码核对"


def requirements_of(matter: dict | None) -> list[dict]:
    """The prerequisites (``requires``) of a version's metadata, [] when it has none."""
    return [r for r in (matter or {}).get("requires") or () if isinstance(r, dict) and r.get("matter")]


def prerequisite_names(version_id: int | None) -> list[str]:
    """The names of the matters a version requires (the service guide's 前置事项 line)."""
    version = db.session.get(ProcessVersion, version_id) if isinstance(version_id, int) else None
    return [r.get("name") or r["matter"] for r in requirements_of(version.matter if version else None)]


def _same_applicant(case: Case, earlier: Case, code: str | None) -> bool:
    if case.applicant_id is not None and earlier.applicant_id == case.applicant_id:
        return True
    if not code:
        return False
    return earlier.applicant_code == code or verified_credit_code(earlier.applicant_id) == code


def _reached(earlier: Case, status: str) -> bool:
    """Whether the case has the result ``status``: still in it, or archived (归档) after it."""
    if earlier.status == status:
        return True
    if earlier.status != CaseStatus.CLOSED.value:
        return False
    return db.session.execute(select(CaseEvent.id).where(
        CaseEvent.case_id == earlier.id, CaseEvent.to_status == status).limit(1)).first() is not None


def satisfied(case: Case, requirement: dict) -> bool:
    """Whether ``case`` (about to be submitted) meets one requirement."""
    status = requirement.get("status") or CaseStatus.APPROVED.value
    rows = db.session.execute(select(Case).where(
        Case.process_id == requirement["matter"], Case.project_code == case.project_code,
        Case.status.in_([status, CaseStatus.CLOSED.value]), Case.id != case.id)
        .order_by(Case.id)).scalars()
    code = verified_credit_code(case.applicant_id)
    return any(_same_applicant(case, row, code) and _reached(row, status) for row in rows)


@on_submit
def check_requirements(case: Case, data: dict) -> None:
    """The submission check (see the module's doc). Raises ValidationError at ``project_code``."""
    if case.origin_region:
        return
    version = db.session.get(ProcessVersion, case.version_id)
    required = requirements_of(version.matter if version is not None else None)
    if not required:
        return
    if not case.project_code:
        message = NO_PROJECT_CODE.format(names="、".join(r.get("name") or r["matter"] for r in required))
        raise ValidationError(message, details={"project_code": [message]})
    missing = [r["message"] for r in required if not satisfied(case, r)]
    if missing:
        raise ValidationError(missing[0], details={"project_code": missing})
