"""The signed daily roots (issue 17): per Beijing day, an RFC 6962 Merkle tree over the heads — as of
the day's end — of the cases whose chain changed that day, sorted by case id; its root signed with the
platform's Ed25519 key (the federation node key, app/services/federation/peers.py) and kept in
``trail_roots`` with the leaf list.

Why only the cases that changed: a tree over every case every day grows as cases × days; each head
hashes the case's whole chain, so a case's latest sealed head (in the latest root that holds it)
commits to everything before it, and a later deletion of its tail is seen against that leaf.

Leaf bytes: canonical JSON ``["yg-trail-leaf-v1", case_id, case_no, seq, row_hash]``.
Signed statement: canonical JSON ``{"alg": "ed25519", "day": "YYYY-MM-DD", "hash": "sha256",
"key_id": …, "root": <hex>, "tree_size": n, "v": "yg-trail-root-v1"}``.
"""
from __future__ import annotations

import base64
import hashlib
from datetime import date, datetime, time, timedelta, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import and_, func, select

from ...domain.errors import Conflict, NotFound, ValidationError
from ...extensions import db
from ...models import Case, CaseEvent
from ...models.trail import TrailRoot
from ..common.clock import BEIJING, clock_now, today_beijing
from ..federation.peers import signing_key
from ..federation.protocol import public_key_text
from . import merkle
from ...domain.trail_chain import canonical_json

LEAF_VERSION = "yg-trail-leaf-v1"
ROOT_VERSION = "yg-trail-root-v1"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The Beijing day as a UTC half-open interval."""
    start = datetime.combine(day, time.min, tzinfo=BEIJING)
    return start.astimezone(timezone.utc), (start + timedelta(days=1)).astimezone(timezone.utc)


def leaf_bytes(case_id: int, case_no: str | None, seq: int, head: str) -> bytes:
    return canonical_json([LEAF_VERSION, case_id, case_no, seq, head])


def leaf_hashes(leaves: list) -> list[bytes]:
    return [merkle.leaf_hash(leaf_bytes(*leaf)) for leaf in leaves]


def key_id(pub: Ed25519PublicKey) -> str:
    return hashlib.sha256(pub.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def statement(day: date, tree_size: int, root_hex: str, kid: str) -> bytes:
    return canonical_json({"alg": "ed25519", "day": day.isoformat(), "hash": "sha256", "key_id": kid,
                           "root": root_hex, "tree_size": tree_size, "v": ROOT_VERSION})


def heads_of_day(day: date) -> list[list]:
    """``[[case_id, case_no, seq, row_hash], …]`` of the cases with an event that day: their head
    (highest seq) as of the day's end, sorted by case id. Two statements' worth in one query."""
    start, end = day_bounds(day)
    changed = select(CaseEvent.case_id).where(CaseEvent.at >= start, CaseEvent.at < end).distinct().subquery()
    head = (select(CaseEvent.case_id, func.max(CaseEvent.seq).label("seq"))
            .where(CaseEvent.case_id.in_(select(changed.c.case_id)), CaseEvent.at < end,
                   CaseEvent.seq.is_not(None))
            .group_by(CaseEvent.case_id).subquery())
    rows = db.session.execute(
        select(CaseEvent.case_id, Case.case_no, CaseEvent.seq, CaseEvent.row_hash)
        .join(head, and_(head.c.case_id == CaseEvent.case_id, head.c.seq == CaseEvent.seq))
        .join(Case, Case.id == CaseEvent.case_id).order_by(CaseEvent.case_id)).all()
    return [[r.case_id, r.case_no, r.seq, r.row_hash] for r in rows]


def seal_day(day: date | None = None) -> TrailRoot:
    """Sign the root of ``day`` (default: yesterday, Beijing) and keep it. A day not yet over, one
    already signed, one before the last signed day (filling a hole would hide a deleted root) or one
    that would leave a day unsigned after the last signed one is refused (Conflict): the signed days
    run without a gap, so verify names a missing one. Commits."""
    today = today_beijing()
    day = day or today - timedelta(days=1)
    if day >= today:
        raise Conflict(f"{day.isoformat()} 尚未结束，只能签署已结束的日期")
    if db.session.execute(select(TrailRoot.id).where(TrailRoot.day == day)).first() is not None:
        raise Conflict(f"{day.isoformat()} 的日根已签署")
    last = db.session.execute(select(func.max(TrailRoot.day))).scalar()
    if last is not None and day < last:
        raise Conflict(f"{day.isoformat()} 早于最近签署的日根（{last.isoformat()}），不能补签")
    if last is not None and day > last + timedelta(days=1):
        raise Conflict(f"请先签署 {(last + timedelta(days=1)).isoformat()} 的日根（签署的日期须连续）")
    leaves = heads_of_day(day)
    root_hex = merkle.root(leaf_hashes(leaves)).hex()
    key = signing_key()
    kid = key_id(key.public_key())
    sig = key.sign(statement(day, len(leaves), root_hex, kid))
    row = TrailRoot(day=day, tree_size=len(leaves), root_hash=root_hex, key_id=kid,
                    public_key=public_key_text(key.public_key()), signature=base64.b64encode(sig).decode("ascii"),
                    signed_at=clock_now(), leaves=leaves)
    db.session.add(row)
    db.session.commit()
    return row


def seal_due(max_days: int = 31) -> list[TrailRoot]:
    """The scheduler's job: sign every ended day not signed yet, from the day after the last signed
    one (or the first event's day) up to yesterday, at most ``max_days`` per run (a scheduler that
    was down catches up). A day another scheduler signed meanwhile is skipped."""
    yesterday = today_beijing() - timedelta(days=1)
    last = db.session.execute(select(func.max(TrailRoot.day))).scalar()
    if last is None:
        first = db.session.execute(select(func.min(CaseEvent.at))).scalar()
        if first is None:
            return []
        start = first.astimezone(BEIJING).date()
    else:
        start = last + timedelta(days=1)
    out = []
    day = start
    while day <= yesterday and len(out) < max_days:
        try:
            out.append(seal_day(day))
        except Conflict:
            db.session.rollback()
        day += timedelta(days=1)
    return out


def parse_day(text: str | None) -> date | None:
    if text is None or text == "":
        return None
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValidationError("日期格式应为 YYYY-MM-DD") from None


def check_root(row: TrailRoot) -> list[str]:
    """What is wrong with a stored root by itself: its signature (checked with the platform's key, not
    the one stored beside it) and its root against its leaves. Empty when sound."""
    problems = []
    pub = signing_key().public_key()
    if row.key_id != key_id(pub):
        problems.append(f"{row.day} 日根的签名密钥（{row.key_id}）不是本平台的密钥（{key_id(pub)}）")
    try:
        pub.verify(base64.b64decode(row.signature or "", validate=True),
                   statement(row.day, row.tree_size, row.root_hash, row.key_id))
    except (InvalidSignature, ValueError):
        problems.append(f"{row.day} 日根的签名无效")
    leaves = row.leaves if isinstance(row.leaves, list) else []
    try:
        computed = merkle.root(leaf_hashes(leaves)).hex()
    except (TypeError, ValueError):
        computed = None
    if len(leaves) != row.tree_size or computed != row.root_hash:
        problems.append(f"{row.day} 日根与其叶子不符（树大小 {row.tree_size}，记录 {len(leaves)} 片叶子）")
    return problems


def proof_for_case(case: Case) -> dict | None:
    """The case's inclusion proof in the latest signed root that holds it, verified here; None when
    no signed root holds the case yet."""
    for row in db.session.execute(select(TrailRoot).order_by(TrailRoot.day.desc())).scalars():
        leaves = row.leaves or []
        idx = next((i for i, leaf in enumerate(leaves) if leaf[0] == case.id), None)
        if idx is None:
            continue
        hashes = leaf_hashes(leaves)
        audit = merkle.path(idx, hashes)
        root_ok = merkle.verify_inclusion(hashes[idx], idx, len(hashes), audit, bytes.fromhex(row.root_hash))
        problems = check_root(row)
        leaf = leaves[idx]
        return {"day": row.day.isoformat(), "index": idx, "tree_size": row.tree_size, "root": row.root_hash,
                "leaf": {"case_id": leaf[0], "case_no": leaf[1], "seq": leaf[2], "head": leaf[3]},
                "leaf_bytes": leaf_bytes(*leaf).decode("utf-8"), "leaf_hash": hashes[idx].hex(),
                "path": [p.hex() for p in audit], "inclusion_ok": root_ok, "root_problems": problems,
                "signature": row.signature, "key_id": row.key_id, "public_key": row.public_key,
                "statement": statement(row.day, row.tree_size, row.root_hash, row.key_id).decode("utf-8"),
                "signed_at": row.signed_at.isoformat() if row.signed_at else None,
                "ok": root_ok and not problems}
    return None


def case_by_no(case_no: str) -> Case:
    if not isinstance(case_no, str) or not case_no or len(case_no) > 50:
        raise NotFound("办件不存在")
    case = db.session.execute(select(Case).where(Case.case_no == case_no)).scalar_one_or_none()
    if case is None and case_no.startswith("#") and case_no[1:].isdigit() and int(case_no[1:]) < 2 ** 31:
        case = db.session.get(Case, int(case_no[1:]))
    if case is None:
        raise NotFound("办件不存在")
    return case
