"""事项目录 import (issue 15 point 2): pull the 一张网's catalog entries of our matters, keep them, and
show the designers how they differ from the deployed versions — never applied by themselves.

The pull is incremental, per matter: ``GET {YWTB_CATALOG_URL or YWTB_BASE_URL}/catalog/entries``
with the area code (REGION_CODE), the matter code, the state and ``since`` = the newest update time
received before for that matter (docking_catalog_cursors), signed with the gateway headers
(signing.py). Field names on the wire are not public for Jiangsu: the mapping of their names onto
the guide's fields is a JSON file (YWTB_CATALOG_MAPPING; default ``catalog_mapping.json`` here).

Every answer is fetched before anything is written: a pull that fails (timeout, 5xx, a refused
signature, an answer that is not the protocol) is recorded as failed with the remote error and
changes nothing else. A malformed entry is refused — reported in the pull (which entry, which field,
why) and stored nowhere — and the rest of the pull goes on. A well-formed entry is stored once per
content with its differences to the matter's deployed version: names, codes (basic / implementation
code), statutory and promised limits, materials (added / removed / changed).

A designer then accepts (``accept``: the chosen values written into a new version of the matter
through the designer's own deploy — checks, scenario tests, files — while the cases running on the
current version stay on it) or dismisses (``dismiss``) each difference."""
from __future__ import annotations

import copy
import hashlib
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...domain.errors import Conflict, DomainError, NotFound, ValidationError
from ...extensions import db
from ...models import Matter
from ...models.docking_catalog import CatalogCursor, CatalogEntry, CatalogPull
from ..cases.registry import canonical, list_matters
from ..common.clock import clock_now
from ..design import deploy as deploy_svc
from ..design.designer import open_matter, read_scenarios, require_designer
from ..identity.actors import Actor
from . import http
from .catalog_mapping import FIELD_LABELS, MATERIAL_LABELS, load_mapping, map_entry

PARTS = ("name", "basic_code", "implementation_code", "statutory_limit", "promised_limit", "materials")
MATERIAL_DEFAULTS = {"issuer": "", "originals": 1, "copies": 0, "required": True, "paper_required": False, "notes": ""}


class CatalogNotConfigured(DomainError):
    status = 409
    code = "not_configured"


class PullFailed(DomainError):
    """The 一张网 did not answer the pull usefully; ``code`` is the remote error's (timeout, http_500,
    bad_signature, bad_answer …). Nothing was stored but the failed pull's record."""
    status = 502
    code = "pull_failed"

    def __init__(self, message: str, remote_code: str):
        super().__init__(message, details={"remote_code": [remote_code]})
        self.remote_code = remote_code


def catalog_url() -> str:
    return (current_app.config.get("YWTB_CATALOG_URL") or current_app.config.get("YWTB_BASE_URL") or "").rstrip("/")


def _get(obj, dotted: str):
    for part in (dotted or "").split("."):
        if not part:
            continue
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


# -- fetching --------------------------------------------------------------------------------------
def _fetch(url: str, mapping: dict, code: str, since: datetime | None) -> list:
    """Every entry the 一张网 returns for one matter code since ``since`` (all pages). Raises
    http.Unavailable / http.Rejected."""
    req, resp = mapping["request"], mapping["response"]
    names = req["params"]
    params = {names["area"]: current_app.config["REGION_CODE"], names["matter_code"]: code}
    if req.get("state") not in (None, ""):
        params[names["state"]] = req["state"]
    if since is not None:
        offset = mapping["_offset"]
        params[names["since"]] = since.astimezone(offset).strftime(req["time_format"])
    credentials = (current_app.config["YWTB_ACCESS_KEY"], current_app.config["YWTB_SECRET"])
    out: list = []
    for page in range(1, int(req["max_pages"]) + 1):
        params.update({names["page"]: str(page), names["page_size"]: str(req["page_size"])})
        answer = http.check(http.request("GET", url + req["path"], params=params, credentials=credentials,
                                         timeout=float(current_app.config["YWTB_TIMEOUT_SECONDS"])))
        body = answer.json()
        if not isinstance(body, dict):
            raise http.Unavailable("应答不是 JSON 对象", "bad_answer")
        if resp.get("status_field"):
            status = _get(body, resp["status_field"])
            if str(status) not in {str(s) for s in resp["ok"]}:
                message = str(_get(body, resp.get("message_field", "")) or "")[:200]
                raise http.Rejected(f"一张网拒绝了请求（{resp['status_field']}={status}）：{message}",
                                    f"remote_{str(status)[:30]}")
        items = _get(body, resp["list"])
        if items is None and resp.get("total") and _get(body, resp["total"]) in (0, "0"):
            items = []
        if not isinstance(items, list):
            raise http.Unavailable(f"应答中没有条目列表 {resp['list']}", "bad_answer")
        out += items
        total = _get(body, resp.get("total", ""))
        if len(items) < int(req["page_size"]) or (isinstance(total, int) and len(out) >= total):
            return out
    return out


# -- differences -----------------------------------------------------------------------------------
def _limit_pair(limit: dict | None):
    return (limit or {}).get("value"), (limit or {}).get("unit")


def compute_diff(mapped: dict, meta: dict) -> dict:
    """The differences of a mapped entry to a version's metadata: ``{fields: [{field, label, ours,
    theirs}], materials: {added, removed, changed: [{name, fields: [...]}]}}``. Only what the entry
    gives is compared (a field the mapping does not carry is no difference)."""
    fields = []
    for key in ("name", "basic_code", "implementation_code"):
        if mapped.get(key) is not None and mapped[key] != meta.get(key):
            fields.append({"field": key, "label": FIELD_LABELS[key], "ours": meta.get(key), "theirs": mapped[key]})
    for key in ("statutory_limit", "promised_limit"):
        theirs = mapped.get(key)
        if theirs is not None and _limit_pair(theirs) != _limit_pair(meta.get(key)):
            ours = meta.get(key) or {}
            fields.append({"field": key, "label": FIELD_LABELS[key],
                           "ours": {"value": ours.get("value"), "unit": ours.get("unit")},
                           "theirs": {"value": theirs["value"], "unit": theirs["unit"]}})
    if mapped.get("state") == "withdrawn":
        fields.append({"field": "state", "label": FIELD_LABELS["state"], "ours": "active", "theirs": "withdrawn"})
    materials = {"added": [], "removed": [], "changed": []}
    if mapped.get("materials") is not None:
        ours = {m.get("name"): m for m in meta.get("materials") or []}
        theirs = {m["name"]: m for m in mapped["materials"]}
        materials["added"] = [m for name, m in theirs.items() if name not in ours]
        materials["removed"] = [m for name, m in ours.items() if name not in theirs]
        for name, t in theirs.items():
            o = ours.get(name)
            if o is None:
                continue
            changed = [{"field": k, "label": MATERIAL_LABELS[k], "ours": o.get(k, MATERIAL_DEFAULTS.get(k)),
                        "theirs": v}
                       for k, v in t.items() if k != "name" and v != o.get(k, MATERIAL_DEFAULTS.get(k))]
            if changed:
                materials["changed"].append({"name": name, "fields": changed})
    return {"fields": fields, "materials": materials}


def diff_parts(diff: dict) -> list[str]:
    """The parts of a difference a designer can accept (PARTS order)."""
    have = {f["field"] for f in diff.get("fields", [])}
    m = diff.get("materials") or {}
    if m.get("added") or m.get("removed") or m.get("changed"):
        have.add("materials")
    return [p for p in PARTS if p in have]


def is_empty(diff: dict) -> bool:
    return not diff.get("fields") and not diff_parts(diff)


def apply_values(meta: dict, mapped: dict, parts: list[str]) -> dict:
    """A copy of ``meta`` with the entry's values of ``parts``: names and codes replaced, limits'
    value and unit (our note kept), the materials list in the entry's order — a material we have
    keeps what the entry does not say, a new one gets the defaults."""
    out = copy.deepcopy(meta)
    for key in ("name", "basic_code", "implementation_code"):
        if key in parts:
            out[key] = mapped[key]
    for key in ("statutory_limit", "promised_limit"):
        if key in parts:
            out[key] = dict(out.get(key) or {}, value=mapped[key]["value"], unit=mapped[key]["unit"])
            if mapped[key].get("note"):
                out[key]["note"] = mapped[key]["note"]
    if "materials" in parts:
        ours = {m.get("name"): m for m in out.get("materials") or []}
        out["materials"] = [dict(ours.get(t["name"]) or MATERIAL_DEFAULTS, **t) for t in mapped["materials"]]
    return out


# -- the pull --------------------------------------------------------------------------------------
def _entry_label(raw, mapped: dict | None, mapping: dict, index: int) -> str:
    for key in ("remote_id", "implementation_code", "basic_code"):
        value = (mapped or {}).get(key)
        if not value and isinstance(raw, dict):
            value = _get(raw, mapping["fields"].get(key, ""))
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)[:100]
    return f"#{index + 1}"


def _record_failure(pull: CatalogPull, exc: Exception) -> None:
    pull.status, pull.finished_at = "failed", clock_now()
    pull.error_code = str(getattr(exc, "code", "network"))[:48]
    pull.error = str(exc)[:500]
    db.session.add(pull)
    db.session.commit()


def pull(actor: Actor, process_id: str | None = None, full: bool = False) -> dict:
    """Pull the entries of every deployed matter (or of ``process_id``) changed since the last pull
    (``full``: all of them), store the well-formed ones with their differences and commit. Returns
    ``{pull_id, status, matters, received, stored, differing, refused, problems}``. Raises
    CatalogNotConfigured, PullFailed (recorded; nothing else changed), NotFound, NotAuthorized."""
    require_designer(actor)
    url = catalog_url()
    if not url:
        raise CatalogNotConfigured("未配置一张网地址（YWTB_CATALOG_URL 或 YWTB_BASE_URL），无法拉取事项目录")
    if not url.startswith(("http://", "https://")):
        raise CatalogNotConfigured("一张网事项目录地址应以 http:// 或 https:// 开头")
    mapping = load_mapping(current_app.config.get("YWTB_CATALOG_MAPPING") or None)
    matters = [m for m in list_matters() if m.latest_version is not None]
    if process_id is not None:
        matters = [m for m in matters if m.process_id == process_id]
        if not matters:
            raise NotFound(f"事项不存在: {process_id}")
    cursors = {c.process_id: c for c in db.session.execute(select(CatalogCursor)).scalars()}
    run = CatalogPull(actor=actor.username, started_at=clock_now(), status="running", matters=len(matters),
                      problems=[], error_code="", error="")
    fetched = []
    try:
        for m in matters:
            code = (m.latest_version.matter or {}).get(mapping["request"]["matter_code"]) or m.basic_code
            since = None if full or m.process_id not in cursors else cursors[m.process_id].since
            fetched.append((m, _fetch(url, mapping, str(code), since)))
    except (http.Unavailable, http.Rejected) as exc:
        db.session.rollback()
        _record_failure(run, exc)
        raise PullFailed(f"拉取一张网事项目录失败：{exc}", run.error_code) from None
    db.session.add(run)
    db.session.flush()
    problems: list[dict] = []
    for m, raws in fetched:
        run.received += len(raws)
        _take(run, m, raws, mapping, cursors, problems)
    run.refused = len({(p["process_id"], p["entry"]) for p in problems})
    run.problems = problems[:200]
    run.status = "partial" if problems else "ok"
    run.finished_at = clock_now()
    try:
        db.session.commit()
    except IntegrityError:  # another pull stored the same entry at the same moment
        db.session.rollback()
        raise Conflict("另一次拉取正在进行，请稍后再试") from None
    return {"pull_id": run.id, "status": run.status, "matters": run.matters, "received": run.received,
            "stored": run.stored, "differing": run.differing, "refused": run.refused, "problems": problems}


def _take(run: CatalogPull, m: Matter, raws: list, mapping: dict, cursors: dict, problems: list) -> None:
    """Map, check, match and store one matter's entries (see ``pull``)."""
    meta = m.latest_version.matter or {}
    good = []
    for i, raw in enumerate(raws):
        mapped, bad = map_entry(raw, mapping)
        label = _entry_label(raw, mapped, mapping, i)
        if bad:
            problems += [{"process_id": m.process_id, "entry": label, "field": f, "message": msg} for f, msg in bad]
            continue
        good.append((label, raw, mapped))
    if not good:
        return
    newest = max(mapped["updated_at"] for _, _, mapped in good)
    if len(good) > 1:  # several implementations of the code: ours is the one of our implementation code
        ours = [g for g in good if g[2]["implementation_code"] == meta.get("implementation_code")]
        for label, _, mapped in good:
            if not ours:
                problems.append({"process_id": m.process_id, "entry": label, "field": "implementation_code",
                                 "message": f"同一事项编码有 {len(good)} 个条目，且实施编码均与本事项（"
                                            f"{meta.get('implementation_code')}）不同：无法确定哪个是本事项的，未采用"})
        good = ours
    cursor = cursors.get(m.process_id)
    if cursor is None:
        cursor = cursors[m.process_id] = CatalogCursor(process_id=m.process_id, since=newest)
        db.session.add(cursor)
    elif cursor.since is None or newest > cursor.since:
        cursor.since = newest
    if not good:
        return
    label, raw, mapped = max(good, key=lambda g: g[2]["updated_at"])
    digest = hashlib.sha256(canonical(raw).encode("utf-8")).hexdigest()
    if db.session.execute(select(CatalogEntry.id).where(CatalogEntry.process_id == m.process_id,
                                                        CatalogEntry.content_hash == digest)).first():
        return  # received before as it is
    diff = compute_diff(mapped, meta)
    status = "same" if is_empty(diff) else "differs"
    for older in db.session.execute(select(CatalogEntry).where(CatalogEntry.process_id == m.process_id,
                                                               CatalogEntry.status == "differs")).scalars():
        older.status = "superseded"
    stored = dict(mapped, updated_at=mapped["updated_at"].isoformat())
    db.session.add(CatalogEntry(pull_id=run.id, process_id=m.process_id, remote_id=mapped.get("remote_id") or "",
                                remote_updated_at=mapped["updated_at"], content_hash=digest, raw=raw, mapped=stored,
                                base_version_id=m.latest_version_id, base_version=m.latest_version.number,
                                diff=diff, status=status))
    run.stored += 1
    run.differing += status == "differs"


# -- review ----------------------------------------------------------------------------------------
def _entry_out(row: CatalogEntry, m: Matter | None) -> dict:
    current = m.latest_version if m is not None else None
    diff = compute_diff(row.mapped, current.matter or {}) if current is not None else row.diff
    return {"id": row.id, "process_id": row.process_id, "name": m.name if m else row.process_id,
            "remote_id": row.remote_id, "remote_updated_at": row.remote_updated_at, "received_at": row.received_at,
            "status": row.status, "base_version": row.base_version,
            "current_version": current.number if current is not None else None,
            "diff": diff, "parts": diff_parts(diff), "in_step": is_empty(diff), "decided_by": row.decided_by,
            "decided_at": row.decided_at, "new_version": row.new_version}


def review(actor: Actor) -> dict:
    """What the catalog page shows: the open differences (compared again with the version deployed
    now), the recent decisions and the recent pulls."""
    require_designer(actor)
    matters = {m.process_id: m for m in db.session.execute(select(Matter)).scalars()}
    open_rows = db.session.execute(select(CatalogEntry).where(CatalogEntry.status == "differs")
                                   .order_by(CatalogEntry.process_id, CatalogEntry.id)).scalars()
    decided = db.session.execute(select(CatalogEntry).where(CatalogEntry.status.in_(("accepted", "dismissed")))
                                 .order_by(CatalogEntry.decided_at.desc()).limit(20)).scalars()
    pulls = db.session.execute(select(CatalogPull).order_by(CatalogPull.id.desc()).limit(10)).scalars()
    return {"configured": bool(catalog_url()), "url": catalog_url(),
            "open": [_entry_out(r, matters.get(r.process_id)) for r in open_rows],
            "decided": [_entry_out(r, matters.get(r.process_id)) for r in decided],
            "pulls": [{c: getattr(p, c) for c in ("id", "started_at", "finished_at", "actor", "status", "matters",
                                                  "received", "stored", "differing", "refused", "error_code", "error",
                                                  "problems")} for p in pulls]}


def _open_entry(entry_id: int) -> CatalogEntry:
    row = db.session.get(CatalogEntry, entry_id) if isinstance(entry_id, int) and 0 < entry_id < 2 ** 31 else None
    if row is None:
        raise NotFound("目录差异不存在")
    if row.status != "differs":
        raise Conflict("该差异已处理（已接受、已忽略或已有更新的条目）")
    return row


def accept(actor: Actor, entry_id: int, parts: list[str] | None = None) -> dict:
    """接受: write the entry's values of ``parts`` (default: every part that differs from the version
    deployed now) into a new version of the matter, deployed as a designer deploys (checks, scenario
    tests, files); the version running cases started on is not touched. Returns the deploy's result.
    Raises NotFound, Conflict (decided already, or nothing differs any more), ValidationError (a part
    that does not differ), InvalidModel (the new version would not deploy: nothing changed)."""
    require_designer(actor)
    row = _open_entry(entry_id)
    m = db.session.get(Matter, row.process_id)
    if m is None or m.latest_version is None:
        raise NotFound(f"事项不存在: {row.process_id}")
    version = m.latest_version
    diff = compute_diff(row.mapped, version.matter or {})
    available = diff_parts(diff)
    if not available:
        raise Conflict("当前部署的版本与一张网的条目已无可接受的差异：请忽略该差异")
    chosen = list(parts) if parts else available
    unknown = [p for p in chosen if p not in available]
    if unknown:
        raise ValidationError("所选内容与当前版本没有差异：" + "、".join(map(str, unknown)),
                              details={"parts": [f"one of {', '.join(available)}"]})
    matter = apply_values(version.matter or {}, row.mapped, chosen)
    scenarios, _ = read_scenarios(m.process_id)
    payload = {"process_id": m.process_id, "bpmn": version.bpmn_xml, "matter": matter,
               "forms": dict(version.forms or {}),
               "scenarios": scenarios or None}
    if payload["scenarios"] is None:
        del payload["scenarios"]
    row.status, row.decided_by, row.decided_at = "accepted", actor.username, clock_now()
    result = deploy_svc.deploy(actor, payload)  # commits with the entry's decision, or rolls both back
    row.new_version = result["version"]
    row.diff = dict(row.diff, accepted=chosen)
    db.session.commit()
    return dict(result, parts=chosen)


def draft(actor: Actor, entry_id: int) -> dict:
    """The designer's editor document of the matter's deployed version with every differing value of
    the entry written in — to change further and deploy from the editor (部署); stores nothing."""
    require_designer(actor)
    row = _open_entry(entry_id)
    doc = open_matter(actor, row.process_id)
    available = diff_parts(compute_diff(row.mapped, doc["matter"] or {}))
    if not available:
        raise Conflict("当前部署的版本与一张网的条目已无可接受的差异：请忽略该差异")
    return dict(doc, matter=apply_values(doc["matter"] or {}, row.mapped, available))


def dismiss(actor: Actor, entry_id: int) -> None:
    """忽略: the difference is closed without changing the matter."""
    require_designer(actor)
    row = _open_entry(entry_id)
    row.status, row.decided_by, row.decided_at = "dismissed", actor.username, clock_now()
    db.session.commit()


def open_count() -> int:
    return len(db.session.execute(select(CatalogEntry.id).where(CatalogEntry.status == "differs")).all())


__all__ = ["pull", "review", "accept", "draft", "dismiss", "compute_diff", "apply_values", "PullFailed",
           "CatalogNotConfigured", "catalog_url"]
