"""The staff inbox lists: 待办 (todo), 已办 (done), 我经手的 (handled), 抄送给我 (cc), with filters,
urgency order, pagination and counts, served from projections and their indexes.

待办 reads ``task_candidates``: for each of the user's keys (``u:<me>``, ``g:<group>@<region>``) an
index range scan in urgency order (due date, then age) limited to the page, merged: the first page
costs the same whatever the size of the inbox."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select, union_all, update

from ...domain.errors import ValidationError
from ...domain.org import inbox_keys
from ...extensions import db
from ...models import Case, CaseParticipant, HumanTask, TaskCandidate, TaskCc
from ..cases.task_index import NO_DUE
from ..common.clock import BEIJING, clock_now
from ..identity.actors import Actor

TABS = ("todo", "done", "handled", "cc")
COLOURS = ("red", "yellow", "green", "none")
PER_PAGE_MAX = 100
YELLOW_DAYS = 2  # natural days before the due date a step turns yellow


@dataclass
class Filters:
    process_id: str | None = None
    colour: str | None = None
    applicant: str | None = None
    project_code: str | None = None
    case_no: str | None = None

    @classmethod
    def parse(cls, args) -> "Filters":
        """From query arguments; bad values are a ValidationError."""
        f = cls(**{k: (str(args.get(k)).strip() or None) if args.get(k) is not None else None
                   for k in ("process_id", "colour", "applicant", "project_code", "case_no")})
        errors = {}
        if f.colour and f.colour not in COLOURS:
            errors["colour"] = [f"应为 {' / '.join(COLOURS)}"]
        for name in ("process_id", "applicant", "project_code", "case_no"):
            value = getattr(f, name)
            if value and len(value) > 64:
                errors[name] = ["过长 (too long)"]
        if errors:
            raise ValidationError("筛选条件不正确", details=errors)
        return f

    @property
    def case_level(self) -> bool:
        return bool(self.applicant or self.project_code or self.case_no)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class Page:
    tab: str
    rows: list
    page: int
    per_page: int
    has_next: bool
    counts: dict = field(default_factory=dict)
    total: int | None = None


def today() -> date:
    return clock_now().astimezone(BEIJING).date()


def colour_of(due: date | None, on: date | None = None) -> str:
    """Deadline colour of a step: red overdue, yellow due within YELLOW_DAYS, green later, none."""
    if due is None or due >= NO_DUE:
        return "none"
    on = on or today()
    if due < on:
        return "red"
    if due <= on + timedelta(days=YELLOW_DAYS):
        return "yellow"
    return "green"


def _due_range(colour: str, on: date):
    col = TaskCandidate.due_sort
    if colour == "red":
        return col < on
    if colour == "yellow":
        return and_(col >= on, col <= on + timedelta(days=YELLOW_DAYS))
    if colour == "green":
        return and_(col > on + timedelta(days=YELLOW_DAYS), col < NO_DUE)
    return col == NO_DUE


def _case_filter(f: Filters):
    conds = []
    if f.project_code:
        conds.append(Case.project_code == f.project_code)
    if f.case_no:
        conds.append(Case.case_no == f.case_no)
    if f.applicant:
        like = "%" + f.applicant.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(or_(Case.applicant_name.like(like, escape="\\"), Case.applicant_code == f.applicant))
    if f.process_id:
        conds.append(Case.process_id == f.process_id)
    return conds


def _todo_ids(keys: list[str], f: Filters, limit: int, offset: int) -> list[str]:
    """Task ids of one 待办 page in urgency order: per key an index range scan limited to what the
    page needs, then merged and de-duplicated (a task may be offered through two of my groups)."""
    need = offset + limit + 1
    on = today()
    parts = []
    case_ids = None
    if f.case_level:  # selective: resolve the cases first (indexed by code / number)
        case_ids = select(HumanTask.id).join(Case, Case.id == HumanTask.case_id) \
            .where(HumanTask.state == "ready", *_case_filter(f))
    for key in keys:
        q = select(TaskCandidate.task_id, TaskCandidate.due_sort, TaskCandidate.created_at) \
            .where(TaskCandidate.key == key)
        if f.process_id:
            q = q.where(TaskCandidate.process_id == f.process_id)
        if f.colour:
            q = q.where(_due_range(f.colour, on))
        if case_ids is not None:
            q = q.where(TaskCandidate.task_id.in_(case_ids))
        parts.append(q.order_by(TaskCandidate.due_sort, TaskCandidate.created_at, TaskCandidate.task_id)
                     .limit(need).subquery().select())
    merged = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    stmt = select(merged.c.task_id).group_by(merged.c.task_id) \
        .order_by(func.min(merged.c.due_sort), func.min(merged.c.created_at), merged.c.task_id) \
        .limit(limit + 1).offset(offset)
    return list(db.session.execute(stmt).scalars())


COUNT_CAP = 999  # badges count exactly up to this, then say "999+"


def counts(actor: Actor) -> dict:
    """The badge numbers of the four lists, in one statement, each exact up to COUNT_CAP; the tabs
    with more are listed under ``"capped"`` (shown as "999+"). The cap keeps the cost of a badge
    bounded whatever the size of the inbox or of a long career's 已办.

    待办 reads at most COUNT_CAP × (number of keys) + 1 rows of the user's keys: a task has at most
    one row per key, so if that many rows exist there are more than COUNT_CAP distinct tasks, and if
    fewer, all were read and the distinct count is exact."""
    keys = inbox_keys(actor.username, actor.groups, actor.region_code)
    cap = COUNT_CAP
    rows = select(TaskCandidate.task_id).where(TaskCandidate.key.in_(keys)).limit(cap * len(keys) + 1).subquery()
    todo = select(func.count()).select_from(select(rows.c.task_id).distinct().subquery())

    def capped(stmt):
        return select(func.count()).select_from(stmt.limit(cap + 1).subquery())
    done = capped(select(HumanTask.id).where(HumanTask.completed_by == actor.username, HumanTask.state == "completed"))
    handled = capped(select(CaseParticipant.case_id).where(CaseParticipant.username == actor.username))
    cc_unread = capped(select(TaskCc.id).where(TaskCc.to_user == actor.username, TaskCc.read_at.is_(None)))
    row = db.session.execute(select(todo.scalar_subquery().label("todo"), done.scalar_subquery().label("done"),
                                    handled.scalar_subquery().label("handled"),
                                    cc_unread.scalar_subquery().label("cc"))).one()
    out = {"todo": row.todo, "done": row.done, "handled": row.handled, "cc": row.cc}
    more = sorted(k for k, v in out.items() if v > cap)
    out = {k: min(v, cap) for k, v in out.items()}
    out["capped"] = more
    return out


def badge(counts: dict, tab: str) -> str:
    """What a badge shows: the number, or "999+" past the cap."""
    n = counts.get(tab, 0)
    return f"{n}+" if tab in counts.get("capped", ()) else str(n)


def list_inbox(actor: Actor, tab: str = "todo", filters: Filters | None = None, *, page: int = 1,
               per_page: int = 20, with_counts: bool = True) -> Page:
    """One page of one list. Rows are dicts with the task (or case) and what a list shows."""
    if tab not in TABS:
        raise ValidationError("未知的列表", details={"tab": list(TABS)})
    if not isinstance(page, int) or page < 1 or page > 10_000:
        raise ValidationError("页码不正确", details={"page": ["1..10000"]})
    if not isinstance(per_page, int) or not 1 <= per_page <= PER_PAGE_MAX:
        raise ValidationError("每页条数不正确", details={"per_page": [f"1..{PER_PAGE_MAX}"]})
    f = filters or Filters()
    offset = (page - 1) * per_page
    on = today()
    if tab == "todo":
        keys = inbox_keys(actor.username, actor.groups, actor.region_code) if actor.is_staff or actor.is_applicant \
            else []
        ids = _todo_ids(keys, f, per_page, offset) if keys else []
        has_next = len(ids) > per_page
        ids = ids[:per_page]
        rows = []
        if ids:
            found = {t.id: (t, c) for t, c in db.session.execute(
                select(HumanTask, Case).outerjoin(Case, Case.id == HumanTask.case_id)
                .where(HumanTask.id.in_(ids))).all()}
            for tid in ids:
                if tid in found:
                    t, c = found[tid]
                    rows.append({"task": t, "case": c, "colour": colour_of(t.due_date, on), "at": t.created_at})
    elif tab == "done":
        stmt = select(HumanTask, Case).outerjoin(Case, Case.id == HumanTask.case_id) \
            .where(HumanTask.completed_by == actor.username, HumanTask.state == "completed")
        if f.process_id:
            stmt = stmt.where(HumanTask.process_id == f.process_id)
        if f.case_level:
            stmt = stmt.where(*_case_filter(f))
        result = db.session.execute(stmt.order_by(HumanTask.completed_at.desc(), HumanTask.id)
                                    .limit(per_page + 1).offset(offset)).all()
        has_next = len(result) > per_page
        rows = [{"task": t, "case": c, "colour": "none", "at": t.completed_at} for t, c in result[:per_page]]
    elif tab == "handled":
        stmt = select(CaseParticipant, Case).join(Case, Case.id == CaseParticipant.case_id) \
            .where(CaseParticipant.username == actor.username)
        if f.case_level or f.process_id:
            stmt = stmt.where(*_case_filter(f))
        result = db.session.execute(stmt.order_by(CaseParticipant.last_at.desc(), CaseParticipant.case_id.desc())
                                    .limit(per_page + 1).offset(offset)).all()
        has_next = len(result) > per_page
        rows = [{"task": None, "case": c, "colour": "none", "at": p.last_at, "action": p.last_action}
                for p, c in result[:per_page]]
    else:
        stmt = select(TaskCc, Case).join(Case, Case.id == TaskCc.case_id).where(TaskCc.to_user == actor.username)
        if f.case_level or f.process_id:
            stmt = stmt.where(*_case_filter(f))
        result = db.session.execute(stmt.order_by(TaskCc.created_at.desc(), TaskCc.id.desc())
                                    .limit(per_page + 1).offset(offset)).all()
        has_next = len(result) > per_page
        rows = [{"task": None, "case": c, "colour": "none", "at": cc.created_at, "cc": cc}
                for cc, c in result[:per_page]]
    return Page(tab=tab, rows=rows, page=page, per_page=per_page, has_next=has_next,
                counts=counts(actor) if with_counts else {})


def mark_cc_read(actor: Actor, case_id: int) -> None:
    """Opening a case clears the actor's unread copies of it (no commit: the caller's request)."""
    db.session.execute(update(TaskCc).where(TaskCc.case_id == case_id, TaskCc.to_user == actor.username,
                                            TaskCc.read_at.is_(None)).values(read_at=clock_now()))


__all__ = ["TABS", "COLOURS", "Filters", "Page", "list_inbox", "counts", "colour_of", "mark_cc_read", "badge", "COUNT_CAP"]
