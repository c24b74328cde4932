"""The signed daily roots as JSON lines for an archive kept outside the database (issue 17): one line per
day, oldest first, with everything needed to check it by hand — the signed statement, its Ed25519
signature, the public key and the leaves (each leaf's bytes are ``roots.leaf_bytes``). Deleting the
newest roots from the database can only be proven against such a copy (see verify.py)."""
from __future__ import annotations

import json
from datetime import date
from typing import Iterator

from sqlalchemy import select

from ...extensions import db
from ...models.trail import TrailRoot
from .roots import statement


def export_lines(since: date | None = None) -> Iterator[str]:
    q = select(TrailRoot).order_by(TrailRoot.day)
    if since is not None:
        q = q.where(TrailRoot.day >= since)
    for row in db.session.execute(q).scalars():
        yield json.dumps({"day": row.day.isoformat(), "tree_size": row.tree_size, "root": row.root_hash,
                          "key_id": row.key_id, "public_key": row.public_key, "signature": row.signature,
                          "statement": statement(row.day, row.tree_size, row.root_hash, row.key_id).decode("utf-8"),
                          "signed_at": row.signed_at.isoformat() if row.signed_at else None,
                          "leaves": row.leaves or []}, ensure_ascii=False, sort_keys=True)
