"""Reading a task's form-js form: its fields (nested groups by dotted path), the decision field and
its values, the opinion field, and preparing submitted data for the step (validated against the
form, the decision and opinion put where the form keeps them)."""
from __future__ import annotations

from ...domain.errors import Conflict
from ...engine.forms import validate_submission

APPROVE_VALUES = ("approve", "accept", "agree", "yes", "pass")


def _fields(form: dict | None):
    """(key, component) of every input field of a form-js schema, nested keys dotted."""
    def walk(components, prefix=""):
        for comp in components or ():
            key = comp.get("key")
            path = f"{prefix}{key}" if key else None
            if comp.get("components"):
                yield from walk(comp["components"], prefix + (f"{comp['path']}." if comp.get("path") else ""))
            if path:
                yield path, comp
    return list(walk((form or {}).get("components")))


def decision_field(form: dict | None) -> tuple[str, list[str]] | None:
    """The form's decision field (a select/radio keyed ``*decision`` or ``*agree``) and its values."""
    for key, comp in _fields(form):
        leaf = key.rsplit(".", 1)[-1]
        if (leaf.endswith("decision") or leaf == "agree") and comp.get("values"):
            return key, [str(v.get("value")) for v in comp["values"]]
    return None


def _opinion_field(form: dict | None) -> str | None:
    for key, comp in _fields(form):
        if "opinion" in key.rsplit(".", 1)[-1] and comp.get("type") in ("textarea", "textfield"):
            return key
    return None


def _get_path(data: dict, key: str):
    cur = data
    for part in key.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set_path(data: dict, key: str, value) -> None:
    parts = key.split(".")
    cur = data
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value


def _prepare(form, data: dict, opinion: str | None, outcome: str | None) -> tuple[dict, str | None]:
    """Fill the decision and opinion fields from the operation, then validate. Returns (clean data,
    outcome)."""
    data = dict(data)
    dec = decision_field(form)
    if outcome == "reject":
        if dec is None or "reject" not in dec[1]:
            raise Conflict("该环节不能作出不予受理/不予许可决定")
        _set_path(data, dec[0], "reject")
    elif outcome == "approve" and dec is not None and _get_path(data, dec[0]) in (None, ""):
        for value in APPROVE_VALUES:
            if value in dec[1]:
                _set_path(data, dec[0], value)
                break
    op_field = _opinion_field(form)
    if opinion and op_field and not _get_path(data, op_field):
        _set_path(data, op_field, opinion)
    clean = validate_submission(form, data) if form else {}
    chosen = _get_path(clean, dec[0]) if dec else None
    if outcome == "approve" and chosen == "reject":
        outcome = "reject"  # the decision taken is what counts (and needs its reason)
    if outcome is None:
        outcome = "reject" if chosen == "reject" else "return" if chosen == "return" else \
            "approve" if chosen in APPROVE_VALUES or dec is None else str(chosen)[:16]
    return clean, outcome


#: the form's opinion field (the task page asks for the opinion once)
opinion_field = _opinion_field
