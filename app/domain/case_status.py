"""The status of a case (办件状态) and the transitions the law and practice allow."""
from enum import StrEnum

from .errors import Conflict


class CaseStatus(StrEnum):
    DRAFT = "draft"                       # 暂存 (applicant has not submitted)
    SUBMITTED = "submitted"               # 已提交 (申报)
    RECEIVED = "received"                 # 已收件 (window is examining it)
    ACCEPTED = "accepted"                 # 已受理 (the statutory clock runs from here)
    CORRECTION = "correction"             # 补正 (one-time notice sent, waiting for the applicant)
    SPECIAL_PROCEDURE = "special_procedure"  # 特别程序 (clock suspended)
    APPROVED = "approved"                 # 准予 / 办结(通过)
    REJECTED = "rejected"                 # 不予受理 / 不予许可
    WITHDRAWN = "withdrawn"               # 申请人撤回
    CLOSED = "closed"                     # 归档 (result delivered)
    TERMINATED = "terminated"             # 终止 (an administrator ended the case)

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    CaseStatus.DRAFT: "暂存", CaseStatus.SUBMITTED: "已提交", CaseStatus.RECEIVED: "已收件",
    CaseStatus.ACCEPTED: "已受理", CaseStatus.CORRECTION: "补正中",
    CaseStatus.SPECIAL_PROCEDURE: "特别程序", CaseStatus.APPROVED: "准予许可/办结",
    CaseStatus.REJECTED: "不予受理/不予许可", CaseStatus.WITHDRAWN: "已撤回", CaseStatus.CLOSED: "已归档",
    CaseStatus.TERMINATED: "已终止",
}

S = CaseStatus
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.TERMINATED, S.RECEIVED, S.ACCEPTED, S.CORRECTION, S.REJECTED, S.APPROVED, S.WITHDRAWN}),
    S.RECEIVED: frozenset({S.TERMINATED, S.RECEIVED, S.ACCEPTED, S.CORRECTION, S.REJECTED, S.APPROVED, S.WITHDRAWN}),
    S.CORRECTION: frozenset({S.TERMINATED, S.RECEIVED, S.ACCEPTED, S.REJECTED, S.WITHDRAWN}),
    S.ACCEPTED: frozenset({S.TERMINATED, S.ACCEPTED, S.CORRECTION, S.SPECIAL_PROCEDURE, S.APPROVED, S.REJECTED, S.WITHDRAWN}),
    S.SPECIAL_PROCEDURE: frozenset({S.TERMINATED, S.ACCEPTED, S.APPROVED, S.REJECTED, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.CLOSED}),
    S.REJECTED: frozenset({S.CLOSED}),
    S.WITHDRAWN: frozenset({S.CLOSED}),
    S.TERMINATED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
FINAL = frozenset({S.APPROVED, S.REJECTED, S.WITHDRAWN, S.CLOSED, S.TERMINATED})
#: statuses a process element may set through its ``caseStatus`` property
SETTABLE_BY_PROCESS = frozenset(S) - {S.DRAFT, S.SUBMITTED, S.TERMINATED}


def can_transition(current: CaseStatus, new: CaseStatus) -> bool:
    return new in TRANSITIONS[current]


def check_transition(current: CaseStatus, new: CaseStatus) -> None:
    """Raises Conflict when the case may not go from ``current`` to ``new``."""
    if not can_transition(current, new):
        raise Conflict(f"办件状态不能从「{current.label}」变为「{new.label}」",
                       details={"from": current.value, "to": new.value})
