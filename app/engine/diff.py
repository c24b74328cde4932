"""What changed between two versions of a matter: flow elements (by id), forms, metadata.

Pure lxml over the stored BPMN source; no SpiffWorkflow. Diagram layout (``bpmndi``), attribute
order, namespace prefixes and whitespace-only differences are not changes. Every value returned is
plain JSON (stored in ``ProcessVersion.summary["diff"]``).
"""
from __future__ import annotations

import json
import textwrap

from lxml import etree

from .parser import BPMN_NS, NS, parse_xml

CAMUNDA_NS = NS["camunda"]
#: children of a process / sub-process that are not flow elements of their own
NOT_ELEMENTS = {"extensionElements", "documentation", "laneSet", "ioSpecification", "property",
                "multiInstanceLoopCharacteristics", "standardLoopCharacteristics"}
CONTAINERS = {"process", "subProcess", "transaction", "adHocSubProcess"}
EVENT_DEFINITIONS = {"timerEventDefinition", "messageEventDefinition", "signalEventDefinition",
                     "errorEventDefinition", "escalationEventDefinition", "conditionalEventDefinition",
                     "terminateEventDefinition", "cancelEventDefinition", "compensateEventDefinition",
                     "linkEventDefinition"}


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _attr_name(key: str) -> str:
    q = etree.QName(key)
    if q.namespace == CAMUNDA_NS:
        return f"camunda:{q.localname}"
    if q.namespace in (None, BPMN_NS):
        return q.localname
    return key


def _text(el) -> str:
    """Text with whitespace runs collapsed: re-indenting or re-wrapping is no change."""
    return " ".join((el.text or "").split())


def _script(text: str | None) -> str:
    """A script keeps its (Python) indentation; trailing blanks, blank lines and a common indent
    are ignored."""
    lines = [ln.rstrip() for ln in textwrap.dedent((text or "").expandtabs(4)).splitlines()]
    return "\n".join(ln for ln in lines if ln)


def _generic(el):
    """A canonical, JSON-friendly form of a subtree (for anything without a dedicated field)."""
    if not isinstance(el.tag, str):
        return None
    out = {"tag": _attr_name(el.tag)}
    attrs = {_attr_name(k): v for k, v in el.attrib.items() if k != "id"}  # modeler-made ids
    if attrs:
        out["attrs"] = dict(sorted(attrs.items()))
    if _text(el):
        out["text"] = _text(el)
    children = [c for c in (_generic(c) for c in el) if c is not None]
    if children:
        out["children"] = children
    return out


def _timer(defn) -> dict:
    out = {}
    for child in defn:
        if isinstance(child.tag, str):
            out[_local(child.tag)] = _text(child)
    return out


def _fingerprint(el, flows_in: dict, flows_out: dict) -> dict:
    """Every field of one flow element that matters for execution, by field name."""
    fields: dict[str, object] = {}
    for key, value in el.attrib.items():
        name = _attr_name(key)
        if name != "id":
            fields[name] = " ".join(value.split()) if name != "name" else value.strip()
    eid = el.get("id")
    if eid in flows_in:
        fields["incoming"] = sorted(flows_in[eid])
    if eid in flows_out:
        fields["outgoing"] = sorted(flows_out[eid])
    for child in el:
        if not isinstance(child.tag, str):
            continue
        tag = _local(child.tag)
        if tag in ("incoming", "outgoing"):
            continue  # derived from the sequence flows above, whether or not the file lists them
        if _local(el.tag) in CONTAINERS and tag not in NOT_ELEMENTS and child.get("id"):
            continue  # a nested flow element: compared on its own
        if tag == "conditionExpression":
            fields["condition"] = _text(child)
        elif tag == "script":
            fields["script"] = _script(child.text)
        elif tag == "timerEventDefinition":
            fields["timer"] = _timer(child)
        elif tag in EVENT_DEFINITIONS:
            fields[tag] = _generic(child)
        elif tag == "multiInstanceLoopCharacteristics":
            mi = {_attr_name(k): v for k, v in child.attrib.items() if k != "id"}
            for sub in child:
                if isinstance(sub.tag, str):
                    mi[_local(sub.tag)] = _text(sub) or _generic(sub)
            fields["multiInstance"] = dict(sorted(mi.items()))
        elif tag == "extensionElements":
            for ext in child:
                if not isinstance(ext.tag, str):
                    continue
                if etree.QName(ext.tag).namespace == CAMUNDA_NS and _local(ext.tag) == "properties":
                    fields["camunda:properties"] = {
                        p.get("name"): p.get("value")
                        for p in ext.findall("camunda:property", NS)}
                else:
                    fields.setdefault(_attr_name(ext.tag), []).append(_generic(ext))
        elif tag == "documentation":
            fields["documentation"] = _text(child)
        else:
            fields.setdefault(tag, []).append(_generic(child))
    return fields


def _elements(root) -> dict[str, dict]:
    """Flow elements of the executable process (sub-processes included) by id:
    {id: {"type", "name", "fields"}}. Lanes count as elements (their flowNodeRefs are fields)."""
    procs = [p for p in root.findall("bpmn:process", NS) if p.get("isExecutable", "false") == "true"]
    if not procs:
        procs = root.findall("bpmn:process", NS)[:1]
    found: list = []

    def walk(container):
        for child in container:
            if not isinstance(child.tag, str) or not child.get("id"):
                continue
            tag = _local(child.tag)
            if tag == "laneSet":
                for lane in child.iter(f"{{{BPMN_NS}}}lane"):
                    found.append(lane)
                continue
            if tag in NOT_ELEMENTS:
                continue
            found.append(child)
            if tag in CONTAINERS:
                walk(child)

    for proc in procs:
        walk(proc)
    flows_in: dict[str, list] = {}
    flows_out: dict[str, list] = {}
    for el in found:
        if _local(el.tag) == "sequenceFlow":
            flows_out.setdefault(el.get("sourceRef"), []).append(el.get("id"))
            flows_in.setdefault(el.get("targetRef"), []).append(el.get("id"))
    out = {}
    for el in found:
        if _local(el.tag) == "lane":
            fields = {"name": (el.get("name") or "").strip(),
                      "flowNodeRef": sorted(_text(r) for r in el.findall("bpmn:flowNodeRef", NS))}
        else:
            fields = _fingerprint(el, flows_in, flows_out)
        out[el.get("id")] = {"type": _local(el.tag), "name": (el.get("name") or "").strip() or None,
                             "fields": fields}
    return out


def _brief(eid: str, e: dict) -> dict:
    return {"id": eid, "type": e["type"], "name": e["name"]}


def element_diff(old_bpmn: bytes | str | None, new_bpmn: bytes | str) -> dict:
    """Flow elements of the executable process compared by id.

    ``{"added": [{id, type, name}], "removed": [...], "changed": [{id, type, name, fields: [...],
    changes: {field: [old, new]}}]}``; with no old version, every element is added."""
    new = _elements(parse_xml(new_bpmn))
    old = _elements(parse_xml(old_bpmn)) if old_bpmn else {}
    added = [_brief(i, new[i]) for i in sorted(new) if i not in old]
    removed = [_brief(i, old[i]) for i in sorted(old) if i not in new]
    changed = []
    for i in sorted(set(old) & set(new)):
        a, b = old[i], new[i]
        keys = sorted(k for k in set(a["fields"]) | set(b["fields"]) if a["fields"].get(k) != b["fields"].get(k))
        if a["type"] != b["type"]:
            keys.insert(0, "type")
        if keys:
            changes = {k: [a["fields"].get(k), b["fields"].get(k)] for k in keys if k != "type"}
            if a["type"] != b["type"]:
                changes["type"] = [a["type"], b["type"]]
            changed.append(dict(_brief(i, b), fields=keys, changes=changes))
    return {"added": added, "removed": removed, "changed": changed}


def _canonical(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _form_fields(form: dict) -> dict[str, str]:
    """Form components by key (or path, or id), canonical JSON each, nested ones included."""
    out = {}

    def walk(components, where=""):
        for n, comp in enumerate(components or []):
            if not isinstance(comp, dict):
                continue
            key = comp.get("key") or comp.get("path") or comp.get("id") or f"{where}#{n}"
            out[key] = _canonical({k: v for k, v in comp.items() if k != "components"})
            walk(comp.get("components"), key)
    walk(form.get("components") if isinstance(form, dict) else None)
    return out


def forms_diff(old_forms: dict | None, new_forms: dict) -> dict:
    """Form ids added / removed / changed; a changed form names the field keys it added, removed
    or changed."""
    old_forms = old_forms or {}
    changed = []
    for fid in sorted(set(old_forms) & set(new_forms)):
        if _canonical(old_forms[fid]) == _canonical(new_forms[fid]):
            continue
        a, b = _form_fields(old_forms[fid]), _form_fields(new_forms[fid])
        changed.append({"id": fid, "fields_added": sorted(set(b) - set(a)),
                        "fields_removed": sorted(set(a) - set(b)),
                        "fields_changed": sorted(k for k in set(a) & set(b) if a[k] != b[k])})
    return {"added": sorted(set(new_forms) - set(old_forms)),
            "removed": sorted(set(old_forms) - set(new_forms)), "changed": changed}


def matter_diff(old_matter: dict | None, new_matter: dict) -> dict:
    """Top-level keys of the matter metadata (service guide) that were added, removed or changed."""
    old_matter = old_matter or {}
    keys = set(old_matter) | set(new_matter)
    return {"changed": sorted(k for k in keys if _canonical(old_matter.get(k)) != _canonical(new_matter.get(k)))}


def version_diff(old: dict | None, new: dict) -> dict:
    """The whole diff of two versions, each ``{"bpmn", "forms", "matter"}`` (``old`` None: the first)."""
    old = old or {}
    return {"elements": element_diff(old.get("bpmn"), new["bpmn"]),
            "forms": forms_diff(old.get("forms"), new["forms"]),
            "matter": matter_diff(old.get("matter"), new["matter"])}


def diff_counts(diff: dict | None) -> dict | None:
    """Counts for lists: elements and forms added/removed/changed, matter keys changed."""
    if not diff:
        return None
    el, fo = diff.get("elements", {}), diff.get("forms", {})
    return {"elements": {k: len(el.get(k, [])) for k in ("added", "removed", "changed")},
            "forms": {k: len(fo.get(k, [])) for k in ("added", "removed", "changed")},
            "matter": len(diff.get("matter", {}).get("changed", []))}
