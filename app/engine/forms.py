"""form-js schemas: checked at deploy, and used to validate submitted data on the server.

Submitted data must name only fields of the form, with the right types and within the form's
``validate`` rules (required, minLength, maxLength, pattern, min, max) and options. Groups with a
``path`` nest their fields under that key. Fields with a ``conditional`` are optional on the server
(their FEEL condition is evaluated only in the browser).
"""
from __future__ import annotations

import re
from datetime import date, datetime, time

from ..domain.errors import ValidationError

INPUT_TYPES = {"textfield", "textarea", "number", "checkbox", "checklist", "radio", "select", "taglist",
               "datetime", "filepicker", "expression"}
DISPLAY_TYPES = {"text", "html", "spacer", "separator", "image", "button", "iframe", "table",
                 "documentPreview"}
CONTAINER_TYPES = {"group", "default"}
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_TEXT = 20_000


def check_form_schema(form: object, form_id: str) -> list[str]:
    """Return the problems of a form-js schema (empty when it is usable)."""
    problems: list[str] = []
    if not isinstance(form, dict):
        return ["form must be a JSON object"]
    if form.get("id") != form_id:
        problems.append(f"form id {form.get('id')!r} must equal the file name {form_id!r}")
    if not isinstance(form.get("components"), list):
        return problems + ["form has no components list"]

    def walk(components, where):
        seen = set()
        for comp in components:
            if not isinstance(comp, dict) or not isinstance(comp.get("type"), str):
                problems.append(f"{where}: component without a type")
                continue
            ctype = comp["type"]
            if ctype in CONTAINER_TYPES:
                path = comp.get("path")
                if path is not None and not KEY_RE.match(str(path)):
                    problems.append(f"{where}: group path {path!r} is not a valid name")
                walk(comp.get("components") or [], f"{where}/{path or comp.get('id')}")
            elif ctype in INPUT_TYPES:
                key = comp.get("key")
                if not isinstance(key, str) or not KEY_RE.match(key):
                    problems.append(f"{where}: field key {key!r} is not a valid name")
                elif key in seen:
                    problems.append(f"{where}: field key {key!r} appears twice")
                seen.add(key)
                pattern = (comp.get("validate") or {}).get("pattern")
                if pattern:
                    try:
                        re.compile(pattern)
                    except re.error as exc:
                        problems.append(f"{where}: field {key!r} pattern does not compile: {exc}")
            elif ctype not in DISPLAY_TYPES:
                problems.append(f"{where}: unsupported component type {ctype!r}")

    walk(form["components"], form_id)
    return problems


def _options(comp) -> list | None:
    values = comp.get("values")
    if isinstance(values, list):
        return [v.get("value") for v in values if isinstance(v, dict)]
    return None  # dynamic options (valuesKey / valuesExpression): not checked here


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _check_field(comp, value, errors: list[str]):
    ctype = comp["type"]
    rules = comp.get("validate") or {}
    if ctype in {"textfield", "textarea"}:
        if not isinstance(value, str):
            return errors.append("必须是文本 (must be a string)")
        if len(value) > MAX_TEXT:
            return errors.append(f"文本过长 (longer than {MAX_TEXT})")
        if "minLength" in rules and len(value) < int(rules["minLength"]):
            errors.append(f"至少 {rules['minLength']} 个字符 (too short)")
        if "maxLength" in rules and len(value) > int(rules["maxLength"]):
            errors.append(f"最多 {rules['maxLength']} 个字符 (too long)")
        if rules.get("pattern") and value and not re.fullmatch(rules["pattern"], value):
            errors.append("格式不正确 (does not match the required pattern)")
        vtype = rules.get("validationType")
        if vtype == "email" and value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            errors.append("邮箱格式不正确 (not an e-mail address)")
        if vtype == "phone" and value and not re.fullmatch(r"\+?[0-9\- ]{5,20}", value):
            errors.append("电话格式不正确 (not a phone number)")
    elif ctype == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return errors.append("必须是数字 (must be a number)")
        if value != value or value in (float("inf"), float("-inf")):
            return errors.append("必须是有限数字 (must be finite)")
        if "min" in rules and value < float(rules["min"]):
            errors.append(f"不能小于 {rules['min']} (below minimum)")
        if "max" in rules and value > float(rules["max"]):
            errors.append(f"不能大于 {rules['max']} (above maximum)")
    elif ctype == "checkbox":
        if not isinstance(value, bool):
            errors.append("必须是 true/false (must be a boolean)")
    elif ctype in {"radio", "select"}:
        opts = _options(comp)
        if not isinstance(value, (str, int, float, bool)):
            return errors.append("必须是单个选项 (must be one option)")
        if opts is not None and value not in opts:
            errors.append(f"不是有效选项 (not one of {opts})")
    elif ctype in {"checklist", "taglist"}:
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            return errors.append("必须是选项列表 (must be a list of options)")
        opts = _options(comp)
        bad = [v for v in value if opts is not None and v not in opts]
        if bad:
            errors.append(f"无效选项 (not allowed: {bad})")
        if len(value) != len(set(map(str, value))):
            errors.append("选项重复 (duplicate options)")
    elif ctype == "datetime":
        sub = comp.get("subtype", "date")
        try:
            if not isinstance(value, str):
                raise ValueError
            {"date": date.fromisoformat, "time": time.fromisoformat}.get(sub, datetime.fromisoformat)(value)
        except ValueError:
            errors.append(f"日期时间格式不正确 (expected ISO 8601 {sub})")
    elif ctype == "filepicker":
        if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            errors.append("必须是文件引用 (must be a file reference or a list of them)")


def validate_submission(form: dict, data: object, *, partial: bool = False) -> dict:
    """Check ``data`` against the form and return it (only form fields). Raises ValidationError with
    ``details`` mapping dotted field paths to messages. ``partial`` skips required checks (drafts)."""
    if not isinstance(data, dict):
        raise ValidationError("提交的数据必须是 JSON 对象", details={"_schema": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    clean: dict = {}

    def walk(components, payload: dict, out: dict, prefix: str):
        known = set()
        for comp in components:
            ctype = comp.get("type")
            if ctype in CONTAINER_TYPES:
                path = comp.get("path")
                if path:
                    known.add(path)
                    sub = payload.get(path, {})
                    if not isinstance(sub, dict):
                        errors[prefix + path] = ["必须是对象 (must be an object)"]
                        continue
                    out[path] = {}
                    known_sub = walk(comp.get("components") or [], sub, out[path], f"{prefix}{path}.")
                    for extra in set(sub) - known_sub:
                        errors[f"{prefix}{path}.{extra}"] = ["表单中没有该字段 (unknown field)"]
                    if not out[path]:
                        out.pop(path)
                else:
                    known |= walk(comp.get("components") or [], payload, out, prefix)
                continue
            if ctype not in INPUT_TYPES or ctype == "expression":
                continue
            key = comp["key"]
            known.add(key)
            value = payload.get(key)
            required = (comp.get("validate") or {}).get("required") and not comp.get("conditional")
            if _empty(value):
                if required and not partial and not comp.get("disabled") and not comp.get("readonly"):
                    errors[prefix + key] = ["必填 (required)"]
                if key in payload:
                    out[key] = value
                continue
            field_errors: list[str] = []
            _check_field(comp, value, field_errors)
            if field_errors:
                errors[prefix + key] = field_errors
            else:
                out[key] = value
        return known

    known = walk(form.get("components") or [], data, clean, "")
    for extra in set(data) - known:
        errors[extra] = ["表单中没有该字段 (unknown field)"]
    if errors:
        raise ValidationError("提交的数据未通过校验", details=errors)
    return clean
