"""Recompute the trail (issue 17): every case's chain row by row, the head kept on the case, the
stored files' hashes against the chain and their bytes, and every signed daily root (signature, root
over its leaves, each leaf against the chain). Names the FIRST altered, removed or inserted row of each
case. Streams the events ordered by case and seq (one query), the cases and files likewise; the roots
are read once, their leaves checked against the cases' rows as they stream by (no per-leaf query).

What the signed roots protect, and what they do not (an attacker with write access to the database
but not the platform's signing key, who recomputes every hash and every case head):
- every event up to the head a signed root holds for its case: altering, removing or inserting one is
  seen against that leaf (the head hashes the whole chain before it);
- the roots themselves: the job (roots.seal_due) signs EVERY ended Beijing day, empty days too (a root
  with no leaves), and seal_day refuses to leave or fill a hole, so the signed days run without a gap
  from the first to the last: a deleted root in between is named ("缺少 … 的签名日根（可能被删除）");
- the cases: every leaf must name a case that still exists, with the same case number (a leaf written
  before the number was given — a draft — matches any number; a deleted draft, whose leaves carry no
  number, is not a finding: its applicant may delete it), whose chain holds that seq with that hash.
It does NOT protect:
- events recorded after the last signed root (today's, and yesterday's until the job signs it);
- the NEWEST roots: deleting the last days' roots (and rewriting what they covered) leaves a shorter
  run with no gap. Verify warns (not a failure: it cannot tell whether the job runs) when the last
  signed day is more than 2 days back, but only a copy kept elsewhere proves it: the signed roots should
  be exported regularly to an external archive (``flask trail export-roots`` prints them as JSON lines,
  each one checkable with the platform's public key) and the archive compared with the database;
- the oldest roots: deleting the first days' roots is seen only as a warning when the first signed
  day comes after the first recorded event's day;
- anything, against someone who holds the signing key (instance/ or FEDERATION_SIGNING_KEY).
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from ...extensions import db
from ...models import Case, CaseEvent, CaseFile
from ...models.trail import TrailRoot
from ...domain.trail_chain import FIELDS, GENESIS, chained_sha256, hash_of
from ..common.clock import BEIJING, today_beijing
from .roots import check_root

BATCH = 2000
#: the last signed day may lie this many days before today (the job signs yesterday's every hour)
STALE_DAYS = 2


@dataclass
class Problem:
    kind: str            # altered | removed | inserted | deleted | head | file | root
    message: str
    case_id: int | None = None
    case_no: str | None = None
    seq: int | None = None
    event_id: int | None = None


def _label(case_id, case_no) -> str:
    return f"办件 {case_no or '#' + str(case_id)}"


def _sealed_leaves(roots: list[TrailRoot], case_id: int | None) -> dict[int, list]:
    """case id → [(seq, head, day, case_no)] of every signed leaf (of one case when given)."""
    out: dict[int, list] = {}
    for row in roots:
        for leaf in row.leaves if isinstance(row.leaves, list) else ():
            try:
                cid, no, seq, head = leaf
            except (TypeError, ValueError):
                continue
            if case_id is None or cid == case_id:
                out.setdefault(cid, []).append((seq, head, row.day, no))
    return out


def _day_findings(roots: list[TrailRoot]) -> tuple[list[Problem], list[str]]:
    """The signed days must run without a gap (the job signs every ended day, empty ones too): a
    missing day is a problem. A last signed day more than STALE_DAYS back, or a first one after the
    first event's day, is a warning: it is what deleting the newest (oldest) roots leaves, but also
    what a stopped job (a first root signed by hand) leaves."""
    problems, warnings = [], []
    days = [r.day for r in roots]
    for before, after in zip(days, days[1:]):
        day = before + timedelta(days=1)
        while day < after:
            problems.append(Problem("root", f"缺少 {day.isoformat()} 的签名日根（可能被删除）"))
            day += timedelta(days=1)
    first_at = db.session.execute(select(func.min(CaseEvent.at))).scalar()
    first_event = first_at.astimezone(BEIJING).date() if first_at is not None else None
    today = today_beijing()
    if days and (today - days[-1]).days > STALE_DAYS:
        warnings.append(f"最近的签名日根是 {days[-1].isoformat()}，之后未签署（签署任务是否在运行？若日根被删除，"
                        f"只能与外部留存的日根副本核对）")
    if days and first_event is not None and first_event < days[0]:
        warnings.append(f"最早的签名日根是 {days[0].isoformat()}，但最早的记录在 {first_event.isoformat()}，"
                        f"其间的日期未签署")
    if not days and first_event is not None and (today - first_event).days > STALE_DAYS:
        warnings.append(f"尚无签名日根（最早的记录在 {first_event.isoformat()}）")
    return problems, warnings


def _leaf_findings(case_id: int, case_no: str | None, sealed: list) -> Problem | None:
    """A signed leaf naming another case number than the case's (a leaf without one: a draft's)."""
    for _seq, _head, day, no in sorted(sealed, key=lambda s: str(s[2])):
        if no is not None and no != case_no:
            return Problem("altered", f"{_label(case_id, case_no)}：办件编号与 {day} 签署的日根（{no}）不符",
                           case_id, case_no)
    return None


def _deleted_cases(sealed: dict[int, list], seen: set) -> list[Problem]:
    """A case a signed leaf names that no longer exists (a draft's leaves carry no number: not counted)."""
    out = []
    for cid in sorted(set(sealed) - seen):
        numbered = [(str(day), no) for _s, _h, day, no in sealed[cid] if no is not None]
        if numbered:
            day, no = max(numbered)
            out.append(Problem("deleted", f"办件 {no} 已被删除（见 {day} 日根）", cid, None))
    return out


def check_chain(case_id: int, case_no: str | None, head_seq: int, head_hash: str | None, rows,
                sealed: list) -> tuple[Problem | None, set, int]:
    """The first problem of one case's rows (ordered by seq, unchained rows last), the sha256 values its
    rows carry, and how many rows were read."""
    label = _label(case_id, case_no)
    expected, prev, last_id, count = 1, GENESIS, 0, 0
    shas: set = set()
    wanted = {s[0] for s in sealed}
    by_seq: dict[int, str] = {}
    problem = None

    def found(kind, msg, row=None, seq=None):
        return Problem(kind, f"{label}：{msg}", case_id, case_no, seq if seq is not None else
                       (row.seq if row is not None else None), row.id if row is not None else None)

    for row in rows:
        count += 1
        chained_sha256(row.data_change, shas)
        if problem is not None:
            continue
        if row.seq is None or row.row_hash is None or row.prev_hash is None:
            problem = found("inserted", f"第 {expected - 1} 条之后插入了记录（id {row.id}，未入链）", row)
        elif row.seq < expected:
            problem = found("inserted", f"插入了记录（id {row.id}，重复的第 {row.seq} 条）", row)
        elif row.seq > expected:
            problem = found("removed", f"第 {expected - 1} 条之后缺少记录（缺第 {expected}"
                            f"{'' if row.seq - 1 == expected else '–' + str(row.seq - 1)} 条）", row, expected - 1)
        elif row.seq > head_seq:
            problem = found("inserted", f"插入了记录（第 {row.seq} 条，id {row.id}，在办件链头第 {head_seq} 条之后）",
                            row)
        else:
            computed = hash_of(row)
            if computed != row.row_hash and row.id < last_id:
                problem = found("inserted", f"插入了记录（第 {row.seq} 条，id {row.id}，编号顺序与写入顺序不符）", row)
            elif computed != row.row_hash:
                problem = found("altered", f"第 {row.seq} 条记录内容被修改（内容与其哈希不符，id {row.id}）", row)
            elif row.prev_hash != prev:
                problem = found("altered", f"第 {row.seq - 1} 条记录内容被修改（其哈希被重算，与第 {row.seq} 条的"
                                           f"前序哈希不符）", row, row.seq - 1)
        if problem is None:
            prev, last_id, expected = row.row_hash, row.id, expected + 1
            if row.seq in wanted:
                by_seq[row.seq] = row.row_hash
    last = expected - 1
    if problem is None and last < head_seq:
        problem = found("removed", f"第 {last} 条之后缺少记录（办件链头为第 {head_seq} 条）", seq=last)
    elif problem is None and last and head_hash != prev:
        problem = found("altered", f"第 {last} 条记录内容被修改（其哈希被重算，与办件上记录的链头不符）", seq=last)
    elif problem is None and last == 0 and head_hash:
        problem = found("head", "办件上记录了链头，但没有任何记录")
    if problem is None:
        for seq, head, day, _no in sorted(sealed, key=lambda s: (s[0], str(s[2]))):
            if seq > last:
                problem = found("removed", f"第 {last} 条之后缺少记录（{day} 签署的日根已记到第 {seq} 条）", seq=last)
                break
            if by_seq.get(seq) != head:
                problem = found("altered", f"第 {seq} 条与 {day} 签署的日根不符", seq=seq)
                break
    return problem, shas, count


def _file_problems(case_id, case_no, files, shas, cache: dict | None) -> list[Problem]:
    """A file row whose sha256 no chained event carries; with ``cache`` (re-hashing on), one whose
    stored bytes are missing or no longer hash to it."""
    out = []
    base = Path(current_app.config["FILES_DIR"])
    for f in files:
        name = f"附件《{f.filename}》（id {f.id}）"
        if f.sha256 not in shas:
            out.append(Problem("file", f"{_label(case_id, case_no)}：{name}的 SHA-256 与链上记录的不符（或未入链）",
                               case_id, case_no))
            continue
        if cache is None:
            continue
        if f.storage_key not in cache:
            path = base / f.storage_key
            try:
                h = hashlib.sha256()
                with path.open("rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
                cache[f.storage_key] = h.hexdigest()
            except OSError:
                cache[f.storage_key] = None
        actual = cache[f.storage_key]
        if actual is None:
            out.append(Problem("file", f"{_label(case_id, case_no)}：{name}的文件缺失", case_id, case_no))
        elif actual != f.sha256:
            out.append(Problem("file", f"{_label(case_id, case_no)}：{name}的文件内容已被改动（与链上的 SHA-256 不符）",
                               case_id, case_no))
    return out


def verify(case_id: int | None = None, *, files: bool = True) -> dict:
    """The whole trail (or one case's): ``{"ok", "cases", "events", "files", "roots", "problems",
    "warnings"}`` (warnings do not make it fail). ``files=False``: the files' rows are checked against
    the chain, their bytes are not re-read."""
    problems: list[Problem] = []
    roots = list(db.session.execute(select(TrailRoot).order_by(TrailRoot.day)).scalars())
    for row in roots:
        problems.extend(Problem("root", msg) for msg in check_root(row))
    gaps, warnings = _day_findings(roots)
    problems.extend(gaps)
    sealed = _sealed_leaves(roots, case_id)
    cq = select(Case.id, Case.case_no, Case.trail_seq, Case.trail_head).order_by(Case.id)
    eq = select(CaseEvent.id, CaseEvent.row_hash, *[getattr(CaseEvent, f) for f in FIELDS]).order_by(
        CaseEvent.case_id, CaseEvent.seq.is_(None), CaseEvent.seq, CaseEvent.id)
    fq = select(CaseFile.id, CaseFile.case_id, CaseFile.filename, CaseFile.sha256, CaseFile.storage_key).order_by(
        CaseFile.case_id, CaseFile.id)
    if case_id is not None:
        cq, eq, fq = cq.where(Case.id == case_id), eq.where(CaseEvent.case_id == case_id), \
            fq.where(CaseFile.case_id == case_id)
    events = itertools.groupby(db.session.execute(eq.execution_options(yield_per=BATCH)),
                               key=lambda r: r.case_id)
    file_rows = itertools.groupby(db.session.execute(fq.execution_options(yield_per=BATCH)),
                                  key=lambda r: r.case_id)
    pending_events = next(events, None)
    pending_files = next(file_rows, None)
    n_cases = n_events = n_files = 0
    blob_cache: dict | None = {} if files else None
    seen: set = set()
    for c in db.session.execute(cq).all():
        n_cases += 1
        seen.add(c.id)
        rows = ()
        if pending_events is not None and pending_events[0] == c.id:
            rows = pending_events[1]
        problem, shas, count = check_chain(c.id, c.case_no, c.trail_seq or 0, c.trail_head, rows,
                                           sealed.get(c.id, []))
        if rows:
            pending_events = next(events, None)
        n_events += count
        problem = problem or _leaf_findings(c.id, c.case_no, sealed.get(c.id, []))
        if problem is not None:
            problems.append(problem)
        if pending_files is not None and pending_files[0] == c.id:
            fl = list(pending_files[1])
            n_files += len(fl)
            problems.extend(_file_problems(c.id, c.case_no, fl, shas, blob_cache))
            pending_files = next(file_rows, None)
    if case_id is None:
        problems.extend(_deleted_cases(sealed, seen))
    return {"ok": not problems, "cases": n_cases, "events": n_events, "files": n_files, "roots": len(roots),
            "problems": [asdict(p) for p in problems], "warnings": warnings}
