"""SMS to the applicant at the moments of DOMAIN.md §5 (listener of app.services.cases.hooks).

Runs inside the status change's transaction (app/services/steps.set_case_status), so the notice is
written, or not, together with the change. Keys are per case and moment: a case accepted again after
a special procedure or a correction does not send "accepted" twice.

Covered here: submitted (已提交), accepted (已受理, with the promised date that start_case_clock has
just computed), approved / rejected (办结, with the result). Elsewhere: received with the receipt
(paper-mail intake), correction_requested with the item count (corrections), special procedures and
extensions (clocks), result_sent (results)."""
from __future__ import annotations

from datetime import date

from ...extensions import db
from ...models import Case, ProcessVersion
from ..cases.hooks import on_status
from ..messaging.notify import TEMPLATES, notify_applicant

TEMPLATES.setdefault("accepted_no_due", "【阳光发改】您的办件{case_no}已受理，办结时限以受理通知书为准。")


def chinese_date(d: date) -> str:
    """2026-03-30 → 2026年3月30日"""
    return f"{d.year}年{d.month}月{d.day}日"


def _matter(case: Case) -> dict:
    version = db.session.get(ProcessVersion, case.version_id)
    return (version.matter if version else None) or {}


def decision_text(case: Case, status: str) -> str:
    """准予许可 / 不予许可 for a licence (行政许可, type 01); 不予受理 for a refusal before acceptance;
    办结（通过） / 不予通过 for other matters."""
    licence = str(_matter(case).get("matter_type") or "01") == "01"
    if status == "approved":
        return "准予许可" if licence else "办结（通过）"
    if case.accepted_at is None:
        return "不予受理"
    return "不予许可" if licence else "不予通过"


@on_status
def sms_at_key_moments(case: Case, old: str, new: str, actor: str) -> None:
    if new == "submitted":
        notify_applicant(case, "submitted", f"case:{case.id}:submitted",
                         matter=_matter(case).get("name") or case.process_id)
    elif new == "accepted":
        due = case.promised_due or case.statutory_due
        if due is not None:
            notify_applicant(case, "accepted", f"case:{case.id}:accepted", promised_due=chinese_date(due))
        else:
            notify_applicant(case, "accepted_no_due", f"case:{case.id}:accepted")
    elif new in ("approved", "rejected"):
        notify_applicant(case, "decided", f"case:{case.id}:decided", result=decision_text(case, new))
