"""What the inspectors' trail pages show (issue 17): the verification, the signed roots, one case's
chain row by row with its proof. Inspectors and administrators only (checked here, on the server)."""
from __future__ import annotations

from sqlalchemy import select

from ...domain.errors import NotAuthorized
from ...domain.trail_chain import GENESIS, hash_of
from ...extensions import db
from ...models import CaseEvent
from ...models.trail import TrailRoot
from ..federation.peers import signing_key
from ..federation.protocol import public_key_text
from ..identity.actors import Actor
from .roots import case_by_no, key_id, proof_for_case
from .verify import verify

ROOTS_SHOWN = 30


def _check(actor: Actor) -> None:
    if actor is None or not (actor.is_inspector or actor.is_admin):
        raise NotAuthorized("只有纪检监察人员和管理员可以查看留痕核验")


def platform_key() -> dict:
    pub = signing_key().public_key()
    return {"public_key": public_key_text(pub), "key_id": key_id(pub)}


def overview(actor: Actor, *, run: bool, case_no: str | None = None, files: bool = True) -> dict:
    """The latest signed roots and, when asked, the verification (whole database or one case)."""
    _check(actor)
    result, case = None, None
    if case_no:
        case = case_by_no(case_no.strip())
    if run:
        result = verify(case.id if case else None, files=files)
    roots = db.session.execute(select(TrailRoot).order_by(TrailRoot.day.desc()).limit(ROOTS_SHOWN)).scalars().all()
    return {"result": result, "case": case, "roots": roots, "key": platform_key()}


def case_trail(actor: Actor, case_no: str) -> dict:
    """One case's chain (each row recomputed: ok, or how it fails), its verification and its proof."""
    _check(actor)
    case = case_by_no(case_no)
    rows = db.session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(
        CaseEvent.seq.is_(None), CaseEvent.seq, CaseEvent.id)).scalars().all()
    prev, chain = GENESIS, []
    for ev in rows:
        content_ok = ev.row_hash is not None and hash_of(ev) == ev.row_hash
        link_ok = ev.prev_hash == prev
        chain.append({"ev": ev, "content_ok": content_ok, "link_ok": link_ok})
        prev = ev.row_hash
    return {"case": case, "chain": chain, "result": verify(case.id), "proof": proof_for_case(case),
            "key": platform_key()}
