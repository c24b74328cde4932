"""事项目录 export (issue 15 point 2): every deployed matter's service guide (办事指南) as GB/T 39046
fields and codes, for the 一张网 to pull — the same fields the portal's guide shows
(app/services/portal/catalog.py), read from each matter's deployed version, with that version's
number and deployment time.

Incremental: each entry carries ``changed_at`` (when the matter last changed here: a version
deployed or the matter withdrawn). ``since`` returns only the entries changed after it; entries
come ordered by (changed_at, process_id) and a page that is not the last names the ``next_cursor``
to continue from. A client keeps the ``watermark`` of the last page as its next ``since``.
Public: the guides are published anyway; nothing internal (handling groups, forms, BPMN) is in it."""
from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import and_, or_, select

from ...domain.errors import ValidationError
from ...domain.groups import GROUPS
from ...extensions import db
from ...models import Matter, ProcessVersion
from ..common.clock import BEIJING
from ..portal.catalog import CASE_TYPES, HANDLING_FORMS, LEVELS, MATTER_TYPES, SERVICE_OBJECTS, UNITS, materials_of

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
#: ISO-8601 date-times the ``since`` parameter takes (the OpenAPI pattern says the same); a time
#: without an offset is Beijing time
SINCE_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
_SINCE_RE = re.compile(SINCE_PATTERN)
CURSOR_MAX = 200
MATERIAL_KEYS = ("name", "issuer", "originals", "copies", "required", "paper_required", "notes")


def parse_since(text: str | None) -> datetime | None:
    """``since`` as an aware datetime (UTC); ValidationError (422) when it is not an ISO-8601 time."""
    if text is None or text == "":
        return None
    if not isinstance(text, str) or not _SINCE_RE.match(text):
        raise ValidationError("since 应为 ISO-8601 时间，例如 2026-03-02T09:00:00+08:00",
                              details={"since": ["ISO-8601 date-time expected, e.g. 2026-03-02T09:00:00+08:00"]})
    value = text.replace(" ", "T", 1)
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"since 不是有效的时间：{text}", details={"since": ["no such date or time"]}) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=BEIJING)
    if at.utcoffset() is not None and abs(at.utcoffset()) > timedelta(hours=14):
        raise ValidationError("since 的时区偏移无效", details={"since": ["offset beyond ±14:00"]})
    try:
        return at.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before the first representable moment
        raise ValidationError(f"since 超出可表示的时间范围：{text}", details={"since": ["out of range"]}) from None


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z") if at else None


def encode_cursor(changed_at: datetime, process_id: str) -> str:
    raw = json.dumps([_iso(changed_at), process_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None) -> tuple[datetime, str] | None:
    """The (changed_at, process_id) a cursor continues after; ValidationError when it is not one of ours."""
    if not text:
        return None
    bad = ValidationError("cursor 无效：请使用上一页应答中的 next_cursor", details={"cursor": ["not a cursor of this API"]})
    if not isinstance(text, str) or len(text) > CURSOR_MAX or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise bad
    try:
        at, pid = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8"))
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        if not isinstance(pid, str) or moment.tzinfo is None:
            raise bad
        moment = moment.astimezone(timezone.utc)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, AttributeError, OverflowError):
        raise bad from None
    return moment, pid


def _limit(limit: dict | None) -> dict | None:
    if not limit:
        return None
    return {"value": limit.get("value"), "unit": limit.get("unit"), "unit_label": UNITS.get(limit.get("unit"), ""),
            "note": limit.get("note") or ""}


def _codes(values, table) -> list[dict]:
    return [{"code": str(v), "label": table.get(str(v), "")} for v in values or ()]


def entry(m: Matter, v: ProcessVersion) -> dict:
    """One matter's catalog entry: the guide fields of its deployed version ``v``."""
    meta = v.matter or {}
    body = meta.get("implementing_body") or {}
    result = meta.get("result") or {}
    return {
        "process_id": m.process_id, "state": "active" if m.active else "withdrawn",
        "region_code": current_app.config["REGION_CODE"], "changed_at": m.updated_at,
        "version": v.number, "deployed_at": v.deployed_at,
        "name": meta.get("name", m.name), "basic_code": meta.get("basic_code", ""),
        "implementation_code": meta.get("implementation_code", ""),
        "matter_type": {"code": meta.get("matter_type", ""), "label": MATTER_TYPES.get(meta.get("matter_type"), "")},
        "exercise_level": {"code": meta.get("exercise_level", ""), "label": LEVELS.get(meta.get("exercise_level"), "")},
        "case_type": {"code": meta.get("case_type", ""), "label": CASE_TYPES.get(meta.get("case_type"), "")},
        "implementing_body": {"name": body.get("name", ""), "credit_code": body.get("credit_code", "")},
        "legal_basis": list(meta.get("legal_basis") or []),
        "statutory_limit": _limit(meta.get("statutory_limit")), "promised_limit": _limit(meta.get("promised_limit")),
        "service_object": _codes(meta.get("service_object"), SERVICE_OBJECTS),
        "handling_forms": _codes(meta.get("handling_forms"), HANDLING_FORMS),
        "joint_departments": [GROUPS.get(d, d) for d in meta.get("joint_departments") or []],
        "acceptance_conditions": list(meta.get("acceptance_conditions") or []),
        "process_description": meta.get("process_description") or "",
        "result": {"name": result.get("name", ""), "type": result.get("type", "")},
        "fees": meta.get("fees") or "", "special_procedures": list(meta.get("special_procedures") or []),
        "place": meta.get("place") or "", "hours": meta.get("hours") or "",
        "consult_phone": meta.get("consult_phone") or "", "supervise_phone": meta.get("supervise_phone") or "",
        "faq": [{"q": x.get("q", ""), "a": x.get("a", "")} for x in meta.get("faq") or []],
        "materials": [{k: x[k] for k in MATERIAL_KEYS} for x in materials_of(meta)],
    }


def export(since: str | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> dict:
    """A page of the catalog: ``{entries, count, next_cursor, watermark}``. ``since`` (ISO-8601)
    keeps the entries changed after it; ``cursor`` continues a paged answer. Raises ValidationError
    for a bad ``since``, ``cursor`` or ``limit``; reads only."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit 应在 1 到 {MAX_LIMIT} 之间", details={"limit": [f"1..{MAX_LIMIT}"]})
    after = parse_since(since)
    position = decode_cursor(cursor)
    q = (select(Matter, ProcessVersion).join(ProcessVersion, ProcessVersion.id == Matter.latest_version_id)
         .order_by(Matter.updated_at, Matter.process_id))
    if after is not None:
        q = q.where(Matter.updated_at > after)
    if position is not None:
        at, pid = position
        q = q.where(or_(Matter.updated_at > at, and_(Matter.updated_at == at, Matter.process_id > pid)))
    rows = db.session.execute(q.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [entry(m, v) for m, v in rows]
    last = rows[-1][0] if rows else None
    return {"entries": entries, "count": len(entries),
            "next_cursor": encode_cursor(last.updated_at, last.process_id) if more and last else None,
            "watermark": last.updated_at if last else after}


__all__ = ["export", "entry", "parse_since", "SINCE_PATTERN", "DEFAULT_LIMIT", "MAX_LIMIT"]
