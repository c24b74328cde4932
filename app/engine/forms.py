"""form-js schemas: checked at deploy, and used to validate submitted data on the server.

Submitted data must name only fields of the form, with the right types and within the form's
``validate`` rules (required, minLength, maxLength, pattern, min, max) and options. Groups with a
``path`` nest their fields under that key. Fields with a ``conditional`` are optional on the server
(their FEEL condition is evaluated only in the browser).

A designer's ``validate.pattern`` runs with Python ``re`` (no time limit) on applicant input, so a
pattern that can backtrack exponentially — a quantified group that itself holds a variable
quantifier, ``(a+)+``, or alternatives that can start with the same character under a quantifier,
``(a|ab)*`` — is refused at deploy (:func:`risky_pattern`, a conservative check of the parse tree),
is never applied at run time if an older version still has one, and input longer than
:data:`MAX_PATTERN_INPUT` (or the field's own ``maxLength``) is refused before any pattern runs.
"""
from __future__ import annotations

import re
import re._constants as _sre
import re._parser as _sre_parse
from datetime import date, datetime, time
from functools import lru_cache

from ..domain.errors import ValidationError

INPUT_TYPES = {"textfield", "textarea", "number", "checkbox", "checklist", "radio", "select", "taglist",
               "datetime", "filepicker", "expression"}
DISPLAY_TYPES = {"text", "html", "spacer", "separator", "image", "button", "iframe", "table",
                 "documentPreview"}
CONTAINER_TYPES = {"group", "default"}
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")  # \Z: "$" would accept a trailing newline
MAX_TEXT = 20_000
MAX_PATTERN_INPUT = 10_000   # longest input a designer's pattern is applied to
MAX_PATTERN_SOURCE = 1_000   # longest pattern accepted at deploy
MAX_EMAIL = 254
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE_RE = re.compile(r"\+?[0-9\- ]{5,20}")
_MANY = 10  # a quantifier allowing more repetitions than this counts as "many"

_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None))
_SAMPLE = "0123456789azAZ_ -.,:;/\t\n\x00\xe9\u4e00\u4e2d\u9fa5\u3000\uffff"
_CATEGORY = {
    _sre.CATEGORY_DIGIT: str.isdigit, _sre.CATEGORY_NOT_DIGIT: lambda c: not c.isdigit(),
    _sre.CATEGORY_SPACE: str.isspace, _sre.CATEGORY_NOT_SPACE: lambda c: not c.isspace(),
    _sre.CATEGORY_WORD: lambda c: c.isalnum() or c == "_",
    _sre.CATEGORY_NOT_WORD: lambda c: not (c.isalnum() or c == "_"),
}

#: a required checkbox (the 承诺 / commitment) left unticked
MUST_TICK = "请勾选确认 (must be ticked)"


def _class_has(items, c: str) -> bool:
    """Whether the character class ``items`` (an IN node) matches ``c``."""
    negate, hit = False, False
    for op, av in items:
        if op is _sre.NEGATE:
            negate = True
        elif op is _sre.LITERAL:
            hit = hit or ord(c) == av
        elif op is _sre.RANGE:
            hit = hit or av[0] <= ord(c) <= av[1]
        elif op is _sre.CATEGORY:
            hit = hit or _CATEGORY.get(av, lambda _c: True)(c)
        else:
            hit = True
    return hit != negate


def _first(items, sample: str) -> set[str]:
    """Characters of ``sample`` a sequence of parse-tree items can start with (every character
    when it can match the empty string or starts with something this check does not model)."""
    for op, av in items:
        if op is _sre.AT:
            continue
        if op is _sre.LITERAL:
            return {chr(av)} | ({chr(av).swapcase()} & set(sample))
        if op is _sre.NOT_LITERAL:
            return set(sample) - {chr(av)}
        if op is _sre.IN:
            return {c for c in sample if _class_has(av, c)}
        if op is _sre.SUBPATTERN:
            return _first(av[-1], sample)
        if op is _sre.BRANCH:
            return set().union(*(_first(alt, sample) for alt in av[1]))
        if op in _REPEATS and av[0] > 0:
            return _first(av[2], sample)
        return set(sample)  # ANY, optional parts, look-arounds, back-references …
    return set(sample)


def _variable(items) -> int:
    """2 when ``items`` holds an unbounded variable quantifier (``+``, ``*``, ``{2,}``), 1 when only
    bounded variable ones (``?``, ``{1,5}``), else 0."""
    level = 0
    for op, av in items:
        if op in _REPEATS:
            lo, hi, body = av
            if hi != lo:
                level = max(level, 2 if hi is _sre.MAXREPEAT or hi > _MANY else 1)
            level = max(level, _variable(body))
        elif op is _sre.SUBPATTERN:
            level = max(level, _variable(av[-1]))
        elif op is _sre.BRANCH:
            level = max([level] + [_variable(alt) for alt in av[1]])
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            level = max(level, _variable(av[1]))
        if level == 2:
            break
    return level


def _ambiguous(items, sample: str) -> bool:
    """Whether ``items`` holds alternatives that can start with the same character."""
    for op, av in items:
        if op is _sre.BRANCH:
            firsts = [_first(alt, sample) for alt in av[1]]
            for i, a in enumerate(firsts):
                if any(a & b for b in firsts[i + 1:]):
                    return True
            if any(_ambiguous(alt, sample) for alt in av[1]):
                return True
        elif op is _sre.SUBPATTERN and _ambiguous(av[-1], sample):
            return True
        elif op in _REPEATS and _ambiguous(av[2], sample):
            return True
    return False


def _sample_of(tree) -> str:
    chars = set(_SAMPLE)

    def walk(items):
        for op, av in items:
            if op in (_sre.LITERAL, _sre.NOT_LITERAL):
                chars.add(chr(av))
            elif op is _sre.RANGE:
                chars.update((chr(av[0]), chr(av[1])))
            elif op is _sre.IN:
                walk(av)
            elif op is _sre.SUBPATTERN:
                walk(av[-1])
            elif op is _sre.BRANCH:
                for alt in av[1]:
                    walk(alt)
            elif op in _REPEATS:
                walk(av[2])
            elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
                walk(av[1])
    walk(tree)
    chars |= {c.swapcase() for c in chars if len(c.swapcase()) == 1}
    return "".join(sorted(chars))


@lru_cache(maxsize=1024)
def risky_pattern(pattern: str) -> str | None:
    """Why ``pattern`` could take exponential time on a crafted input, or None when it looks safe.

    Conservative (some harmless patterns such as ``(\s*,\s*\w+)*`` or ``(\d{4}-?)+`` are refused
    too — rewrite them as ``\d{4}(-\d{4})*``): inside a repeated group no unbounded variable
    quantifier; inside a group repeated more than a few times no variable quantifier at all and no
    alternatives that can start with the same character. Polynomial cases such as ``\d+\d+`` are
    not refused; the input length cap bounds them."""
    if len(pattern) > MAX_PATTERN_SOURCE:
        return f"pattern is longer than {MAX_PATTERN_SOURCE} characters"
    tree = _sre_parse.parse(pattern)
    sample = _sample_of(tree)

    def walk(items) -> str | None:
        for op, av in items:
            if op in _REPEATS:
                lo, hi, body = av
                many = hi is _sre.MAXREPEAT or hi > _MANY
                if hi > 1:
                    variable = _variable(body)
                    if variable == 2 or (variable and many):
                        return "nested quantifiers such as (a+)+ or (a?a?)+ can take exponential time"
                if many:
                    if _ambiguous(body, sample):
                        return "alternatives that overlap under a quantifier such as (a|ab)* can take " \
                               "exponential time"
                found = walk(body)
            elif op is _sre.SUBPATTERN:
                found = walk(av[-1])
            elif op is _sre.BRANCH:
                found = next((r for r in (walk(alt) for alt in av[1]) if r), None)
            elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
                found = walk(av[1])
            elif op is _sre.GROUPREF_EXISTS:
                found = walk(av[1]) or (walk(av[2]) if av[2] else None)
            else:
                found = None
            if found:
                return found
        return None
    return walk(tree)


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
                    if not isinstance(pattern, str):
                        problems.append(f"{where}: field {key!r} pattern must be a string")
                        continue
                    try:
                        re.compile(pattern)
                    except (re.error, RecursionError, OverflowError) as exc:
                        problems.append(f"{where}: field {key!r} pattern does not compile: {exc}")
                        continue
                    risk = risky_pattern(pattern)
                    if risk:
                        problems.append(f"{where}: field {key!r} pattern {pattern!r} 可能导致校验超时，"
                                        f"请改写 (unsafe: {risk})")
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


def _check_pattern(pattern, value: str, rules: dict, errors: list[str]):
    """Apply a designer's pattern only to input of bounded length, and never a pattern the deploy
    check would refuse (a form deployed before that check existed)."""
    cap = MAX_PATTERN_INPUT
    try:
        cap = min(cap, int(rules["maxLength"])) if "maxLength" in rules else cap
    except (TypeError, ValueError):
        pass
    if len(value) > cap:
        if not ("maxLength" in rules and len(value) > cap and any("too long" in e for e in errors)):
            errors.append(f"最多 {cap} 个字符才能校验格式 (longer than {cap} characters, the pattern is not applied)")
        return
    try:
        unsafe = not isinstance(pattern, str) or risky_pattern(pattern) is not None
    except (re.error, RecursionError, OverflowError):
        unsafe = True
    if unsafe:
        errors.append("表单的格式规则不安全，无法校验，请联系管理员 (the form's pattern is unsafe and was not applied)")
    elif not re.fullmatch(pattern, value):
        errors.append("格式不正确 (does not match the required pattern)")


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
        pattern = rules.get("pattern")
        if pattern and value:
            _check_pattern(pattern, value, rules, errors)
        vtype = rules.get("validationType")
        if vtype == "email" and value and (len(value) > MAX_EMAIL or not EMAIL_RE.fullmatch(value)):
            errors.append("邮箱格式不正确 (not an e-mail address)")
        if vtype == "phone" and value and not PHONE_RE.fullmatch(value):
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
            if _empty(value) or (ctype == "checkbox" and value is False and required):  # an unticked 承诺
                if required and not partial and not comp.get("disabled") and not comp.get("readonly"):
                    errors[prefix + key] = [MUST_TICK if ctype == "checkbox" else "必填 (required)"]
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
