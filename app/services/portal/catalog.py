"""事项清单 and 办事指南: the public catalog of deployed matters and each matter's service guide,
generated from the deployed version's metadata (``*.matter.json``, GB/T 39046-2020 fields) and forms —
never written twice by hand. Code sets are those of GB/T 39046 appendix A."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import undefer

from ...domain.errors import NotFound
from ...domain.groups import GROUPS
from ...engine.matter import CATEGORIES
from ...extensions import db
from ...models import ProcessVersion
from ..cases.registry import get_matter, list_matters

#: A.1 事项类型
MATTER_TYPES = {"01": "行政许可", "02": "行政处罚", "03": "行政强制", "04": "行政征收", "05": "行政给付",
                "06": "行政检查", "07": "行政确认", "08": "行政奖励", "09": "行政裁决", "10": "其他行政权力",
                "20": "公共服务"}
#: A.2 行使层级
LEVELS = {"1": "国家级", "2": "省级", "3": "市级", "4": "县级"}
#: A.4 服务对象
SERVICE_OBJECTS = {"1": "自然人", "2": "企业法人", "3": "事业法人", "4": "社会组织法人", "5": "非法人企业",
                   "6": "行政机关", "9": "其他组织"}
#: A.5 办理形式
HANDLING_FORMS = {"1": "窗口办理", "2": "网上办理", "3": "移动端办理", "4": "快递申请"}
#: A.6 办件类型
CASE_TYPES = {"1": "即办件", "2": "承诺件"}
UNITS = {"working_day": "个工作日", "natural_day": "个自然日", "month": "个月"}
FIELD_TYPES = {"textfield": "文本", "textarea": "多行文本", "number": "数字", "checkbox": "勾选", "checklist": "多选",
               "radio": "单选", "select": "下拉选择", "taglist": "多选", "datetime": "日期", "filepicker": "文件"}
Q_MAX = 100


def _limit(limit: dict | None) -> dict | None:
    if not limit:
        return None
    return {"value": limit.get("value"), "unit": limit.get("unit"), "unit_label": UNITS.get(limit.get("unit"), ""),
            "note": limit.get("note") or "", "text": f"{limit.get('value')}{UNITS.get(limit.get('unit'), '')}"}


def _labels(codes, table) -> list[str]:
    return [table.get(str(c), str(c)) for c in codes or ()]


def _summary(m) -> dict:
    meta = m.latest_version.matter or {}
    return {"process_id": m.process_id, "name": meta.get("name", m.name), "basic_code": meta.get("basic_code"),
            "implementation_code": meta.get("implementation_code"),
            "matter_type": meta.get("matter_type"), "matter_type_label": MATTER_TYPES.get(meta.get("matter_type"), ""),
            "level": meta.get("exercise_level"), "level_label": LEVELS.get(meta.get("exercise_level"), ""),
            "case_type": meta.get("case_type"), "case_type_label": CASE_TYPES.get(meta.get("case_type"), ""),
            "service_object": list(meta.get("service_object") or []),
            "service_object_labels": _labels(meta.get("service_object"), SERVICE_OBJECTS),
            "handling_forms_labels": _labels(meta.get("handling_forms"), HANDLING_FORMS),
            "implementing_body": (meta.get("implementing_body") or {}).get("name", ""),
            "category": meta.get("category") or "", "category_label": CATEGORIES.get(meta.get("category") or "", "其他事项"),
            "departments": list(meta.get("departments") or []),
            "department_labels": _labels(meta.get("departments"), GROUPS),
            "statutory_limit": _limit(meta.get("statutory_limit")), "promised_limit": _limit(meta.get("promised_limit")),
            "version": m.latest_version.number, "_meta": meta}


def _haystack(meta: dict) -> str:
    parts = [meta.get("name"), meta.get("basic_code"), meta.get("implementation_code"), meta.get("process_id"),
             meta.get("process_description"), (meta.get("result") or {}).get("name"),
             (meta.get("implementing_body") or {}).get("name")]
    parts += list(meta.get("acceptance_conditions") or []) + list(meta.get("legal_basis") or [])
    parts.append(meta.get("source"))
    parts += [x.get("name") for x in meta.get("materials") or []]
    parts += [f"{x.get('q')} {x.get('a')}" for x in meta.get("faq") or []]
    return "\n".join(str(p) for p in parts if p).lower()


def list_catalog(q: str | None = None, matter_type: str | None = None, level: str | None = None,
                 service_object: str | None = None, *, category: str | None = None,
                 department: str | None = None) -> list[dict]:
    """Every deployed matter (latest version) matching the filters, in category order (then by name).
    ``q`` is searched in the name, the codes and the guide's text (conditions, basis, description,
    materials, FAQ): every word of it must occur. ``department``: a handling department's group code.
    Unknown filter values match nothing; nothing here raises."""
    words = [w for w in (q or "")[:Q_MAX].lower().split() if w]
    out = []
    for m in list_matters():
        if m.latest_version is None:
            continue
        s = _summary(m)
        meta = s.pop("_meta")
        if matter_type and s["matter_type"] != matter_type:
            continue
        if level and s["level"] != level:
            continue
        if service_object and service_object not in s["service_object"]:
            continue
        if category and s["category"] != category:
            continue
        if department and department not in s["departments"]:
            continue
        if words:
            hay = _haystack(meta)
            if not all(w in hay for w in words):
                continue
        out.append(s)
    order = list(CATEGORIES)
    return sorted(out, key=lambda s: (order.index(s["category"]) if s["category"] in order else len(order), s["name"]))


def grouped(matters: list[dict]) -> list[tuple[str, list[dict]]]:
    """The catalog's matters under their category headings, in category order."""
    out: list[tuple[str, list[dict]]] = []
    for s in matters:
        if not out or out[-1][0] != s["category_label"]:
            out.append((s["category_label"], []))
        out[-1][1].append(s)
    return out


def _form_fields(form: dict | None) -> list[dict]:
    """The start form's input fields, in order, as the applicant will be asked them."""
    out = []

    def walk(components, section):
        for comp in components or []:
            if not isinstance(comp, dict):
                continue
            ctype = comp.get("type")
            if ctype == "text" and isinstance(comp.get("text"), str):
                section = comp["text"].lstrip("#").strip() or section
            elif ctype in ("group", "default"):
                walk(comp.get("components"), comp.get("label") or section)
            elif ctype in FIELD_TYPES:
                rules = comp.get("validate") or {}
                options = [v.get("label", v.get("value")) for v in comp.get("values") or [] if isinstance(v, dict)]
                out.append({"key": comp.get("key"), "label": comp.get("label") or comp.get("dateLabel") or comp.get("key"),
                            "type": FIELD_TYPES[ctype], "required": bool(rules.get("required")) and not comp.get("conditional"),
                            "description": comp.get("description") or "", "options": options, "section": section})
        return section

    walk((form or {}).get("components"), "")
    return out


def guide(process_id: str) -> dict:
    """The 办事指南 of a deployed matter (its latest version): every GB/T 39046 field of DOMAIN.md §2
    with code labels, the materials list, the start form's fields and the BPMN XML for the diagram.
    Raises NotFound."""
    if not isinstance(process_id, str) or len(process_id) > 64:
        raise NotFound("事项不存在")
    m = get_matter(process_id)
    version = db.session.execute(select(ProcessVersion).options(undefer(ProcessVersion.bpmn_xml))
                                 .where(ProcessVersion.id == m.latest_version_id)).scalar_one()
    meta = version.matter or {}
    s = _summary(m)
    s.pop("_meta")
    start_key = (version.summary or {}).get("start_form")
    body = meta.get("implementing_body") or {}
    return dict(
        s,
        implementing_body={"name": body.get("name", ""), "credit_code": body.get("credit_code", "")},
        legal_basis=list(meta.get("legal_basis") or []), source=meta.get("source") or "",
        acceptance_conditions=list(meta.get("acceptance_conditions") or []),
        process_description=meta.get("process_description") or "",
        departments=_labels(meta.get("departments"), GROUPS),
        joint_departments=_labels(meta.get("joint_departments"), GROUPS),
        result=meta.get("result") or {}, fees=meta.get("fees") or "",
        special_procedures=list(meta.get("special_procedures") or []),
        offline=[r.get("instruction", "") for r in meta.get("offline_rules") or []],
        handling_forms=list(meta.get("handling_forms") or []),
        place=meta.get("place") or "", hours=meta.get("hours") or "",
        consult_phone=meta.get("consult_phone") or "", supervise_phone=meta.get("supervise_phone") or "",
        faq=list(meta.get("faq") or []), materials=materials_of(meta),
        form_fields=_form_fields(version.forms.get(start_key) if start_key else None),
        bpmn_xml=version.bpmn_xml, version_id=version.id)


def materials_of(meta: dict) -> list[dict]:
    """The materials list (材料清单) of a version's metadata, numbered from 0 in file order."""
    return [{"index": i, "name": x.get("name", ""), "issuer": x.get("issuer", ""),
             "originals": x.get("originals", 0), "copies": x.get("copies", 0),
             "required": bool(x.get("required")), "paper_required": bool(x.get("paper_required")),
             "notes": x.get("notes", ""), "source": x.get("source", "")}
            for i, x in enumerate(meta.get("materials") or [])]


def filter_options() -> dict:
    """The filters' choices; the departments are those that handle a deployed matter."""
    departments = sorted({d for m in list_matters() if m.latest_version is not None
                          for d in (m.latest_version.matter or {}).get("departments") or []})
    return {"matter_types": MATTER_TYPES, "levels": LEVELS, "service_objects": SERVICE_OBJECTS,
            "categories": CATEGORIES, "departments": {d: GROUPS.get(d, d) for d in departments}}


__all__ = ["list_catalog", "grouped", "guide", "materials_of", "filter_options"]
