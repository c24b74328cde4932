"""The field mapping of the 一张网's catalog entries (YWTB_CATALOG_MAPPING, default
``catalog_mapping.json`` beside this module): which of their names carries which guide field, the
request's parameter names, the answer's envelope, their code values (time units, required flags).

``map_entry`` turns one received entry into the guide's fields, or says what is wrong with it —
which field (their name and ours) and why — so that a malformed entry is refused as a whole."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ...domain.errors import DomainError
from ..design.designer import text_problem

DEFAULT_FILE = Path(__file__).with_name("catalog_mapping.json")
FIELD_LABELS = {"remote_id": "条目标识", "updated_at": "更新时间", "state": "状态", "name": "事项名称",
                "basic_code": "基本编码", "implementation_code": "实施编码", "statutory_limit": "法定办结时限",
                "promised_limit": "承诺办结时限", "materials": "申请材料"}
MATERIAL_LABELS = {"name": "材料名称", "required": "是否必需", "originals": "原件份数", "copies": "复印件份数",
                   "issuer": "来源/出具单位", "notes": "备注", "paper_required": "需纸质材料"}
GUIDE_FIELDS = {"remote_id", "updated_at", "state", "name", "basic_code", "implementation_code",
                "statutory_limit.value", "statutory_limit.unit", "statutory_limit.note",
                "promised_limit.value", "promised_limit.unit", "promised_limit.note", "materials"}
REQUIRED_FIELDS = ("updated_at", "name", "basic_code", "implementation_code")
OUR_UNITS = ("working_day", "natural_day", "month")
MAX_MATERIALS = 200
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y%m%dT%H%M%S", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M")


class MappingInvalid(DomainError):
    """The mapping file cannot be used (a setup error: the pull does not start)."""
    status = 503
    code = "mapping_invalid"


_cache: dict[tuple[str, float], dict] = {}


def _offset(text: str) -> timezone:
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text or "+08:00")
    if not m:
        raise MappingInvalid(f"映射文件 request.utc_offset 无效：{text!r}（应为 +08:00 形式）")
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(delta if m.group(1) == "+" else -delta)


def load_mapping(path: str | None = None) -> dict:
    """The mapping, checked once per file version. Raises MappingInvalid naming what is wrong."""
    p = Path(path) if path else DEFAULT_FILE
    try:
        key = (str(p), p.stat().st_mtime)
    except OSError as exc:
        raise MappingInvalid(f"无法读取事项目录映射文件 {p}：{exc.strerror or exc}") from None
    if key in _cache:
        return _cache[key]
    try:
        data = json.loads(p.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise MappingInvalid(f"事项目录映射文件 {p} 不是有效的 JSON：{exc}") from None
    problems = []
    req, resp, flds = (data.get(k) if isinstance(data, dict) else None for k in ("request", "response", "fields"))
    if not isinstance(req, dict) or not isinstance(req.get("params"), dict):
        problems.append("request.params 缺失")
    else:
        missing = [n for n in ("area", "since", "matter_code", "state", "page", "page_size")
                   if not req["params"].get(n)]
        if missing:
            problems.append("request.params 缺少 " + ", ".join(missing))
        if not str(req.get("path", "")).startswith("/"):
            problems.append("request.path 应以 / 开头")
        if req.get("matter_code") not in ("basic_code", "implementation_code"):
            problems.append("request.matter_code 应为 basic_code 或 implementation_code")
        if not (isinstance(req.get("page_size"), int) and 1 <= req["page_size"] <= 1000) or \
                not (isinstance(req.get("max_pages"), int) and 1 <= req["max_pages"] <= 1000):
            problems.append("request.page_size / max_pages 应为 1 到 1000 的整数")
        if not isinstance(req.get("time_format"), str) or "%" not in req.get("time_format", ""):
            problems.append("request.time_format 应为 strftime 格式")
    if not isinstance(resp, dict) or not resp.get("list") or not isinstance(resp.get("ok", []), list):
        problems.append("response.list 缺失")
    if not isinstance(flds, dict) or not all(isinstance(v, str) and v for v in flds.values()):
        problems.append("fields 应为 {本平台字段: 对方字段名}")
    else:
        unknown = sorted(set(flds) - GUIDE_FIELDS)
        if unknown:
            problems.append("fields 中有未知的本平台字段：" + ", ".join(unknown))
        absent = [f for f in REQUIRED_FIELDS if f not in flds]
        if absent:
            problems.append("fields 缺少 " + ", ".join(absent))
    mat = data.get("material_fields", {}) if isinstance(data, dict) else None
    if not isinstance(mat, dict) or (mat and "name" not in mat) or set(mat) - set(MATERIAL_LABELS):
        problems.append("material_fields 应为 {材料字段: 对方字段名}，且含 name")
    codes = data.get("codes", {}) if isinstance(data, dict) else None
    if not isinstance(codes, dict) or any(u not in OUR_UNITS for u in (codes.get("unit") or {}).values()):
        problems.append("codes.unit 的值应为 " + " / ".join(OUR_UNITS))
    if problems:
        raise MappingInvalid(f"事项目录映射文件 {p} 有误：" + "；".join(problems))
    data = dict(data, material_fields=mat, codes=codes, _offset=_offset(req.get("utc_offset", "+08:00")))
    _cache[key] = data
    return data


MISSING = object()


def _value(raw: dict, name: str | None):
    if not name:
        return MISSING
    obj = raw
    for part in name.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return MISSING
        obj = obj[part]
    return obj


def parse_time(value, offset: timezone) -> datetime | None:
    """Their time stamp: ISO-8601 or ``YYYY-MM-DD HH:MM:SS`` (and the GB/T 39046 ``YYYYMMDDThhmmss``);
    without an offset, in the mapping's ``utc_offset``; a number: milliseconds since 1970."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not 0 < value < 4_102_444_800_000:
            return None
        return datetime.fromtimestamp(value / 1000, timezone.utc)
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = value.strip()
    at = None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                at = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=offset)).astimezone(timezone.utc)


def _int(value, low: int, high: int):
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,6}\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and low <= value <= high else None


def _text(value, high: int, allow_number: bool = False):
    if allow_number and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if 1 <= len(value) <= high else None


def _flag(value, table: dict):
    if isinstance(value, bool):
        return value
    return table.get(str(value)) if isinstance(value, (str, int)) else None


def _limit(raw: dict, mapping: dict, key: str, bad: list):
    f, units = mapping["fields"], mapping["codes"].get("unit") or {}
    value = _value(raw, f.get(f"{key}.value"))
    if value is MISSING or value is None or value == "":
        return None
    label = f"{f[f'{key}.value']}（{FIELD_LABELS[key]}）"
    number = _int(value, 0, 3650)
    if number is None:
        bad.append((label, f"应为 0 到 3650 的整数，收到 {str(value)[:40]!r}"))
        return None
    unit_raw = _value(raw, f.get(f"{key}.unit"))
    if unit_raw is MISSING or unit_raw is None or unit_raw == "":
        unit = "working_day"
    else:
        unit = units.get(str(unit_raw)) or (str(unit_raw) if str(unit_raw) in OUR_UNITS else None)
        if unit is None:
            bad.append((f"{f[f'{key}.unit']}（{FIELD_LABELS[key]}单位）", f"未知的时限单位 {str(unit_raw)[:20]!r}"))
            return None
    out = {"value": number, "unit": unit}
    note = _value(raw, f.get(f"{key}.note"))
    if isinstance(note, str) and note.strip():
        out["note"] = note.strip()[:500]
    return out


def _materials(raw: dict, mapping: dict, bad: list):
    name = mapping["fields"].get("materials")
    value = _value(raw, name)
    if value is MISSING or value is None:
        return None
    label = f"{name}（{FIELD_LABELS['materials']}）"
    if not isinstance(value, list) or len(value) > MAX_MATERIALS:
        bad.append((label, f"应为至多 {MAX_MATERIALS} 项的列表"))
        return None
    mf, flags = mapping["material_fields"], mapping["codes"].get("required") or {}
    out, seen = [], set()
    for i, item in enumerate(value, 1):
        where = f"{label}第 {i} 项"
        if not isinstance(item, dict):
            bad.append((where, "应为对象"))
            continue
        m = {}
        title = _text(_value(item, mf.get("name")), 200)
        if title is None:
            bad.append((f"{where}.{mf.get('name')}（材料名称）", "缺少材料名称或超过 200 字"))
            continue
        if title in seen:
            bad.append((f"{where}.{mf.get('name')}（材料名称）", f"材料「{title}」重复"))
            continue
        seen.add(title)
        m["name"] = title
        for key in ("required", "paper_required"):
            v = _value(item, mf.get(key))
            if v is not MISSING:
                flag = _flag(v, flags)
                if flag is None:
                    bad.append((f"{where}.{mf[key]}（{MATERIAL_LABELS[key]}）", f"无法识别的值 {str(v)[:20]!r}"))
                else:
                    m[key] = flag
        for key in ("originals", "copies"):
            v = _value(item, mf.get(key))
            if v is not MISSING and v not in (None, ""):
                n = _int(v, 0, 100)
                if n is None:
                    bad.append((f"{where}.{mf[key]}（{MATERIAL_LABELS[key]}）", "应为 0 到 100 的整数"))
                else:
                    m[key] = n
        for key in ("issuer", "notes"):
            v = _value(item, mf.get(key))
            if v is not MISSING and v is not None:
                if not isinstance(v, str) or len(v) > 500:
                    bad.append((f"{where}.{mf[key]}（{MATERIAL_LABELS[key]}）", "应为至多 500 字的文本"))
                else:
                    m[key] = v.strip()
        out.append(m)
    return out


def map_entry(raw, mapping: dict) -> tuple[dict | None, list[tuple[str, str]]]:
    """One received entry as the guide's fields: ``(mapped, [])``, or ``(None, [(field, why), …])``
    when anything in it is malformed (the whole entry is refused then)."""
    if not isinstance(raw, dict):
        return None, [("*", "条目应为 JSON 对象")]
    problem = text_problem(raw)
    if problem:
        return None, [("*", f"条目{problem}")]
    f, bad = mapping["fields"], []
    out: dict = {}
    at = parse_time(_value(raw, f["updated_at"]), mapping["_offset"])
    if at is None:
        bad.append((f"{f['updated_at']}（{FIELD_LABELS['updated_at']}）", "缺少或不是有效的时间"))
    out["updated_at"] = at
    for key, high, number_ok in (("name", 200, False), ("basic_code", 10, False), ("implementation_code", 24, False)):
        value = _text(_value(raw, f[key]), high, number_ok)
        if value is None:
            bad.append((f"{f[key]}（{FIELD_LABELS[key]}）", f"缺少、不是文本或超过 {high} 个字符"))
        out[key] = value
    rid = _value(raw, f.get("remote_id"))
    out["remote_id"] = (_text(rid, 100, True) or "") if rid is not MISSING else ""
    state = _value(raw, f.get("state"))
    active = [str(s) for s in mapping["codes"].get("state_active") or []]
    out["state"] = "withdrawn" if state is not MISSING and active and str(state) not in active else "active"
    for key in ("statutory_limit", "promised_limit"):
        out[key] = _limit(raw, mapping, key, bad)
    out["materials"] = _materials(raw, mapping, bad)
    return (None, bad) if bad else (out, [])
