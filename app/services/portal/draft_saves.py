"""The applicant's 暂存 of a draft on their own timeline (issue 19): every save of the start form is a
``draft`` case event (the staff trail lists each one); the applicant sees them as one row,
"暂存（N 次）" at the time of the last save, before the submission."""
from __future__ import annotations

from sqlalchemy import func, select

from ...extensions import db
from ...models import Case, CaseEvent, User


def draft_saves(case: Case) -> tuple[int, object]:
    """(how many times the applicant saved the start form, when last) — (0, None) if never. Saves
    of a task's form (``task_id`` set) and anyone else's are not the applicant's draft."""
    owner = db.session.get(User, case.applicant_id)
    if owner is None:
        return 0, None
    mine = (CaseEvent.case_id == case.id, CaseEvent.action == "draft", CaseEvent.task_id.is_(None),
            CaseEvent.actor == owner.username)
    count = db.session.execute(select(func.count(CaseEvent.id)).where(*mine)).scalar() or 0
    last = db.session.execute(select(CaseEvent.at).where(*mine).order_by(CaseEvent.id.desc()).limit(1)).scalar()
    return int(count), last
