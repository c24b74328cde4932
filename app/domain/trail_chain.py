"""The hash chain of a case's trail (issue 17; pure functions, used by record_event in
app/services/cases/steps.py, by app/services/trail/ and by migration 0022): every ``case_events`` row carries ``seq`` (1, 2, … per
case), ``prev_hash`` (the previous row's ``row_hash``; 64 zeros for the first) and ``row_hash``.

Canonical form (version ``yg-trail-v1``) — what ``row_hash`` is the SHA-256 (lower-case hex) of:
the UTF-8 bytes of the JSON array

    ["yg-trail-v1", case_id, seq, at, actor, action, task_id, element_id, step_name, opinion,
     from_status, to_status, data_change, prev_hash]

written with ``json.dumps(…, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``:
- ``at`` in UTC with fixed microsecond precision, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (both databases keep
  microseconds; SQLite drops the zone, UTCDateTime gives it back as UTC);
- absent values are JSON ``null``; ids and seq are JSON numbers;
- ``data_change`` is the value as the JSON column gives it back: before hashing, record_event stores
  ``json.loads(json.dumps(value))`` (tuples become lists, keys strings), ``None`` becomes ``{}``; object
  keys are sorted at every depth, so PostgreSQL's and SQLite's key order never matters.

The chain's head (last seq, last row hash) is kept on the case row (``cases.trail_seq`` /
``trail_head``) so recording an event never reads the previous row: the UPDATE of the case the step
makes anyway carries it. ``UNIQUE (case_id, seq)`` stops two racing writers from both appending the
same seq: the second one's INSERT fails and its transaction rolls back whole (the engine's steps lock
the instance row, the lifecycle and special procedures the case row, so a race needs an unlocked path).

Stored files: an event that records an upload carries the file's ``sha256`` in its data_change (as a
``sha256`` key: a string or a list of strings, at any depth); ``chained_sha256`` collects them.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

VERSION = "yg-trail-v1"
GENESIS = "0" * 64


def json_value(value):
    """The value as a JSON column gives it back (what is stored is what is hashed)."""
    if value is None:
        return {}
    return json.loads(json.dumps(value))


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass")


def fmt_at(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:  # never from UTCDateTime; a naive value is taken as UTC
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_row(*, case_id, seq, at, actor, action, task_id, element_id, step_name, opinion, from_status,
                  to_status, data_change, prev_hash) -> bytes:
    return canonical_json([VERSION, case_id, seq, fmt_at(at), actor, action, task_id, element_id, step_name,
                           opinion, from_status, to_status, data_change, prev_hash])


def row_hash(**fields) -> str:
    return hashlib.sha256(canonical_row(**fields)).hexdigest()


FIELDS = ("case_id", "seq", "at", "actor", "action", "task_id", "element_id", "step_name", "opinion",
          "from_status", "to_status", "data_change", "prev_hash")


def hash_of(ev) -> str:
    """The row hash an event (a CaseEvent or any object/row with its attributes) should carry."""
    return row_hash(**{f: getattr(ev, f) for f in FIELDS})


def link(case, ev) -> None:
    """Give a new event its place in the case's chain and move the case's head (in memory: the
    flush writes both rows). Several events in one transaction follow each other."""
    ev.data_change = json_value(ev.data_change)
    ev.seq = (case.trail_seq or 0) + 1
    ev.prev_hash = case.trail_head or GENESIS
    ev.row_hash = hash_of(ev)
    case.trail_seq, case.trail_head = ev.seq, ev.row_hash


def chained_sha256(value, into: set | None = None) -> set:
    """Every string under a ``sha256`` key (or in a list under it), at any depth of a data_change."""
    out = set() if into is None else into
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "sha256":
                for s in (v if isinstance(v, list) else [v]):
                    if isinstance(s, str):
                        out.add(s)
            else:
                chained_sha256(v, out)
    elif isinstance(value, list):
        for v in value:
            chained_sha256(v, out)
    return out
