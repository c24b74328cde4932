"""What the applicant's draft page needs of a start form beyond the engine's checks (issue 19):

- ``field_order``: the keys of the form's input fields as the page shows them (dotted under a
  group with a ``path``), then ``material.<n>`` of the materials list — the order of the
  validation summary (a dict's key order does not survive JSON: Flask sorts the keys);
- ``unticked_required``: a required checkbox (the 承诺 / commitment) left unticked, as form-js and
  the engine's ``validate_submission`` count it (the engine refuses it on every path; the draft page
  checks it first to answer with the whole list, materials included);
- ``ordered``: a ValidationError's details in that order (unknown keys last, as they came)."""
from __future__ import annotations

from ...engine.forms import CONTAINER_TYPES, INPUT_TYPES, MUST_TICK  # noqa: F401 (the message, re-exported)


def _walk(components, prefix: str):
    """(dotted key, component) of every input field, in the form's order."""
    for comp in components or []:
        if not isinstance(comp, dict):
            continue
        ctype = comp.get("type")
        if ctype in CONTAINER_TYPES:
            path = comp.get("path")
            yield from _walk(comp.get("components"), f"{prefix}{path}." if path else prefix)
        elif ctype in INPUT_TYPES and ctype != "expression" and isinstance(comp.get("key"), str):
            yield prefix + comp["key"], comp


def field_order(form: dict | None, material_indexes=()) -> list[str]:
    """The summary's order: the form's fields top to bottom, then the materials list."""
    keys = [key for key, _ in _walk((form or {}).get("components"), "")]
    return keys + [f"material.{i}" for i in material_indexes]


def _value(data: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def unticked_required(form: dict | None, data) -> dict[str, list[str]]:
    """Required, always-shown, editable checkboxes whose value is not ``true``."""
    if not isinstance(data, dict):
        return {}
    out = {}
    for key, comp in _walk((form or {}).get("components"), ""):
        required = (comp.get("validate") or {}).get("required")
        if (comp.get("type") == "checkbox" and required and not comp.get("conditional")
                and not comp.get("disabled") and not comp.get("readonly") and _value(data, key) is not True):
            out[key] = [MUST_TICK]
    return out


def ordered(errors: dict | None, order: list[str]) -> dict:
    """``errors`` re-keyed in ``order``; keys not in it follow in their own order."""
    errors = errors or {}
    rank = {key: i for i, key in enumerate(order)}
    return {k: errors[k] for k in sorted(errors, key=lambda k: (rank.get(k, len(rank)), list(errors).index(k)))}
