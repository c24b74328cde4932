"""What a sealed document says: the decision document of a decided case, or one of its notices.

Which decision document (行政许可法 art. 38 / 企业投资项目核准和备案管理条例):
- a licensing matter (matter.json ``matter_type`` "01", e.g. xmgl_hezhun 核准): 准予行政许可决定书 /
  不予行政许可决定书 (kinds ``licence_approve`` / ``licence_reject``);
- a filing (备案: the process id ends in ``beian`` or the result's name names 备案): 项目备案通知书 /
  不予备案决定书 (``filing_approve`` / ``filing_reject``);
- anything else: 办理结果通知书 / 不予办理决定书 (``other_approve`` / ``other_reject``).

The text is a Jinja template (sandboxed): ``processes/<process_id>.decision.json`` may give, per outcome
(``approved`` / ``rejected``), a ``title`` and a ``text`` (paragraphs separated by blank lines);
otherwise app/services/seals/templates/<kind>.txt. The notices (受理通知书 / 不予受理决定书) print
the text recorded in case_notices (app/services/portal/notices.py), never re-composed."""
from __future__ import annotations

import json
from pathlib import Path

from flask import current_app
from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ...domain.decisions import matter_family
from ...domain.errors import Conflict
from ...extensions import db
from ...models import Case, ProcessVersion
from ...models.notice import CaseNotice
from ..common.clock import BEIJING
from ..feedback.disclosure import decision_data
from ..portal.notices import REMEDY, notice_view
from ..portal.sms_moments import chinese_date
from .render import Document

TEMPLATES = Path(__file__).resolve().parent / "templates"
TITLES = {"licence_approve": "准予行政许可决定书", "licence_reject": "不予行政许可决定书",
          "filing_approve": "项目备案通知书", "filing_reject": "不予备案决定书",
          "other_approve": "办理结果通知书", "other_reject": "不予办理决定书"}
#: the 文号 prefix when the decision's form recorded none
NUMBER_PREFIX = {"licence": "XK", "filing": "BA", "other": "JD"}
_ENV = SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


def matter_of(case: Case) -> dict:
    version = db.session.get(ProcessVersion, case.version_id)
    return (version.matter if version is not None else None) or {}


def organ_of(matter: dict) -> str:
    return ((matter.get("implementing_body") or {}).get("name") or current_app.config["AGENCY_NAME"])[:200]


def organ_code_of(matter: dict) -> str | None:
    return (matter.get("implementing_body") or {}).get("credit_code") or current_app.config.get("AGENCY_CREDIT_CODE") \
        or None


def family(case: Case, matter: dict) -> str:
    """licence | filing | other (see the module's docstring; app/domain/decisions.py)."""
    return matter_family(case.process_id, matter)


def _day(ts) -> str:
    return chinese_date(ts.astimezone(BEIJING).date()) if ts else "—"


def _custom(case: Case, outcome: str) -> dict | None:
    """The matter's own template for ``outcome`` (processes/<id>.decision.json), or None."""
    path = Path(current_app.config["PROCESSES_DIR"]) / f"{case.process_id}.decision.json"
    if not path.is_file():
        return None
    try:
        spec = json.loads(path.read_text("utf-8")).get(outcome)
    except (OSError, ValueError, AttributeError):
        raise Conflict(f"事项的文书模板无法读取（{path.name}），请联系事项管理员") from None
    return spec if isinstance(spec, dict) and isinstance(spec.get("text"), str) else None


def decision_document(case: Case) -> Document:
    """The decision document of a case decided on the merits (approved, or rejected after acceptance)."""
    matter = matter_of(case)
    outcome = "approved" if case.status == "approved" else "rejected"
    fam = family(case, matter)
    kind = f"{fam}_{'approve' if outcome == 'approved' else 'reject'}"
    found = decision_data(case)
    doc_no = found.get("document_no") or f"{NUMBER_PREFIX[fam]}-{case.case_no}"
    values = {"organ": organ_of(matter), "applicant_name": case.applicant_name,
              "applicant_code": case.applicant_code or "", "case_no": case.case_no,
              "project_code": case.project_code or "", "project_name": case.project_name or "",
              "matter": matter.get("name") or case.process_id, "result_name": (matter.get("result") or {}).get("name") or "",
              "submitted_date": _day(case.submitted_at), "accepted_date": _day(case.accepted_at),
              "decided_date": _day(case.decided_at), "document_no": doc_no, "opinion": found.get("opinion") or "",
              "remedy": REMEDY, "data": dict(case.data or {})}
    custom = _custom(case, outcome)
    source = custom["text"] if custom else (TEMPLATES / f"{kind}.txt").read_text("utf-8")
    try:
        text = _ENV.from_string(source).render(**values)
    except TemplateError as exc:
        raise Conflict(f"事项的文书模板有误，未能生成文书：{exc}") from None
    paragraphs = [p.strip().replace("\n", "") for p in text.split("\n\n") if p.strip()]
    facts = [("办件编号", case.case_no), ("事项名称", values["matter"])]
    if case.project_code:
        facts.append(("项目代码", case.project_code))
    if case.project_name:
        facts.append(("项目名称", case.project_name))
    title = (custom.get("title") if custom and isinstance(custom.get("title"), str) else None) or TITLES[kind]
    return Document(kind="decision", title=title[:100], doc_no=doc_no[:100], organ=values["organ"],
                    addressee=case.applicant_name, applicant_code=case.applicant_code, paragraphs=paragraphs,
                    facts=facts, date_text=_day(case.decided_at), case_no=case.case_no)


def notice_document(notice: CaseNotice) -> Document:
    """受理通知书 / 不予受理决定书 from the notice as issued (its text snapshot)."""
    view = notice_view(notice)
    facts = [("办件编号", notice.case_no), ("事项名称", notice.matter_name)]
    return Document(kind=notice.kind, title=view["title"], doc_no=view["notice_no"], organ=view["organ"],
                    addressee=view["addressee"], applicant_code=view["applicant_code"], paragraphs=view["body"],
                    facts=facts, date_text=view["date"], case_no=notice.case_no)
