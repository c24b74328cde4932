"""Docking (issue 15): the matter catalog pulled from the 一张网 (app/services/docking/catalog.py).

- ``docking_catalog_pulls``: each pull — when, by whom, its outcome, its counts, and the entries it
  refused (which entry, which field, why); a failed pull records the remote error and nothing else;
- ``docking_catalog_cursors``: per matter, the newest update time of a well-formed entry received:
  the next incremental pull's ``since``;
- ``docking_catalog_entries``: each well-formed entry received (once per content), mapped to the
  guide's fields, with its differences to the deployed version it was compared with, and what the
  designers decided (accepted into a new version, dismissed). Nothing here changes a version."""
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class CatalogPull(db.Model):
    __tablename__ = "docking_catalog_pulls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at = mapped_column(UTCDateTime, default=utcnow)
    finished_at = mapped_column(UTCDateTime, nullable=True)
    actor: Mapped[str] = mapped_column(String(64), default="system")
    #: ok (every entry taken), partial (some refused), failed (the 一张网 did not answer usefully)
    status: Mapped[str] = mapped_column(String(16), default="running")
    matters: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    differing: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str] = mapped_column(String(48), default="")
    error: Mapped[str] = mapped_column(String(500), default="")
    #: the refused entries: [{process_id, entry, field, message}]
    problems: Mapped[list] = mapped_column(JSON, default=list)


class CatalogCursor(db.Model):
    __tablename__ = "docking_catalog_cursors"
    process_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    since = mapped_column(UTCDateTime)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CatalogEntry(db.Model):
    __tablename__ = "docking_catalog_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pull_id: Mapped[int] = mapped_column(ForeignKey("docking_catalog_pulls.id"))
    process_id: Mapped[str] = mapped_column(String(64))
    remote_id: Mapped[str] = mapped_column(String(100), default="")
    remote_updated_at = mapped_column(UTCDateTime)
    #: SHA-256 of the entry as received (canonical JSON): the same entry is stored once
    content_hash: Mapped[str] = mapped_column(String(64))
    raw: Mapped[dict] = mapped_column(JSON)
    #: the guide's fields the mapping gives (name, codes, limits, materials)
    mapped: Mapped[dict] = mapped_column(JSON)
    #: the deployed version compared with, and the differences found then
    base_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    diff: Mapped[dict] = mapped_column(JSON)
    #: differs, same, accepted, dismissed, superseded (a newer entry of the matter arrived)
    status: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at = mapped_column(UTCDateTime, nullable=True)
    #: accepted: the number of the version deployed with the accepted values
    new_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    received_at = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("process_id", "content_hash", name="uq_docking_catalog_entries_content"),
                      Index("ix_docking_catalog_entries_status", "status", "process_id"))
