"""The tamper-evident trail (issue 17): the signed daily Merkle roots over the case chains' heads.
The chain itself lives on ``case_events`` (seq, prev_hash, row_hash) and ``cases`` (trail_seq,
trail_head); see app/services/trail/."""
from __future__ import annotations

from sqlalchemy import JSON, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class TrailRoot(db.Model):
    """One Beijing day's RFC 6962 Merkle root over the heads (as of the day's end) of the cases whose
    chain changed that day, signed with the platform's Ed25519 key. ``leaves`` keeps the leaf list
    ``[[case_id, case_no, seq, row_hash], …]`` in tree order (sorted by case id), enough to rebuild
    every inclusion proof."""
    __tablename__ = "trail_roots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day = mapped_column(Date, unique=True, nullable=False)
    tree_size: Mapped[int] = mapped_column(Integer)
    root_hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)   # Base64 of the Ed25519 signature over the signed statement
    key_id: Mapped[str] = mapped_column(String(64))  # SHA-256 (hex, first 16) of the raw public key
    public_key: Mapped[str] = mapped_column(String(100))  # ed25519:<Base64>, for checking by hand
    signed_at = mapped_column(UTCDateTime, default=utcnow)
    leaves: Mapped[list] = mapped_column(JSON, default=list)
