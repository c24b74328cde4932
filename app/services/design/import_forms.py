"""form-js forms for files made elsewhere (issue 18): Camunda 7's generated task forms
(``camunda:formData`` with ``camunda:formField``) and Flowable's / Activiti's ``formProperty`` become a form-js schema the platform validates and
shows; a task without any form gets the empty form (one 意见 field). Pure: no database, no Flask."""
from __future__ import annotations

from ...engine.parser import RESERVED_VARIABLES
from ...engine.sandbox import RESERVED
from .designer import empty_form
from .import_fixes import NS, proposed_id

#: camunda:formField type → form-js component
FIELD_TYPES = {"string": "textfield", "long": "number", "integer": "number", "short": "number",
               "double": "number", "boolean": "checkbox", "date": "datetime", "enum": "select"}
#: constraints with a number argument → form-js validate keys
NUMBER_CONSTRAINTS = {"minlength": "minLength", "maxlength": "maxLength", "min": "min", "max": "max"}


#: Flowable's and Activiti's generated forms: ``<flowable:formProperty id name type required writable>``
#: with ``<flowable:value id name>`` for an enum
FORM_PROPERTY_NS = ("http://flowable.org/bpmn", "http://activiti.org/bpmn")


def _form_properties(el) -> list:
    ext = el.find("bpmn:extensionElements", NS)
    if ext is None:
        return []
    return [c for c in ext if isinstance(c.tag, str) and c.tag in {f"{{{ns}}}formProperty" for ns in FORM_PROPERTY_NS}]


def has_form_data(el) -> bool:
    return el.find("bpmn:extensionElements/camunda:formData", NS) is not None or bool(_form_properties(el))


def _base(ftype: str | None, fid: str | None, label: str | None, values: list, taken: set[str]) -> dict:
    """The component of a generated form field: its type, a unique valid key, its label, an enum's
    options (``<camunda:value>`` / ``<flowable:value>``: id and name)."""
    ctype = FIELD_TYPES.get((ftype or "string").strip().lower(), "textfield")
    key = _key(fid or "", taken)
    comp: dict = {"type": ctype, "key": key, "label": (label or fid or key).strip(), "id": f"Field_{key}"}
    if ctype == "datetime":
        comp.update(subtype="date", dateLabel=comp.pop("label"))
    if ctype == "select":
        comp["values"] = [{"label": (v.get("name") or v.get("id") or "").strip(), "value": v.get("id")}
                          for v in values if v.get("id")]
    return comp


def property_component(prop, taken: set[str]) -> dict:
    """One flowable:formProperty (or activiti:) as a form-js component."""
    values = [v for v in prop if isinstance(v.tag, str) and v.tag.endswith("}value")]
    comp = _base(prop.get("type"), prop.get("id"), prop.get("name"), values, taken)
    if (prop.get("required") or "").strip().lower() == "true":
        comp["validate"] = {"required": True}
    if (prop.get("writable") or "").strip().lower() == "false" or (prop.get("readable") or "") == "false":
        comp["disabled"] = True
    return comp


def _key(raw: str, taken: set[str]) -> str:
    key = proposed_id(raw or "field", prefix="f_")
    if key in RESERVED or key in RESERVED_VARIABLES:
        key = f"f_{key}"[:64]
    base, n = key, 2
    while key in taken:
        key = f"{base[:60]}_{n}"
        n += 1
    taken.add(key)
    return key


def _number(text: str | None):
    try:
        return int(text)
    except (TypeError, ValueError):
        try:
            return float(text)
        except (TypeError, ValueError):
            return None


def _default(ftype: str, raw: str | None):
    if raw is None or "${" in raw or "#{" in raw:  # an expression default means nothing in form-js
        return None
    if ftype == "checkbox":
        return raw.strip().lower() == "true"
    if ftype == "number":
        return _number(raw)
    return raw


def component(field, taken: set[str]) -> dict:
    """One camunda:formField as a form-js component."""
    comp = _base(field.get("type"), field.get("id"), field.get("label"), field.findall("camunda:value", NS), taken)
    ctype = comp["type"]
    default = _default(ctype, field.get("defaultValue"))
    if default is not None and ctype != "datetime":
        comp["defaultValue"] = default
    validate: dict = {}
    for rule in field.findall("camunda:validation/camunda:constraint", NS):
        name = (rule.get("name") or "").strip().lower()
        if name == "required":
            validate["required"] = True
        elif name == "readonly":
            comp["disabled"] = True
        elif name in NUMBER_CONSTRAINTS and _number(rule.get("config")) is not None:
            validate[NUMBER_CONSTRAINTS[name]] = _number(rule.get("config"))
    if validate:
        comp["validate"] = validate
    return comp


def form_for(el, form_id: str) -> dict:
    """The form-js form of a user task / start event: its camunda:formData fields, else the empty
    form (one textarea ``opinion`` 意见)."""
    form = empty_form(form_id)
    fields = el.findall("bpmn:extensionElements/camunda:formData/camunda:formField", NS)
    taken: set[str] = set()
    if fields:
        form["components"] = [component(f, taken) for f in fields]
    elif _form_properties(el):
        form["components"] = [property_component(p, taken) for p in _form_properties(el)]
    return form
