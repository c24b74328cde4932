"""The process designer (issue 6): what the designer pages show and do, for designers and
administrators only.

* ``overview`` — every matter with its versions (who, when, hash, diff counts) and running instances;
* ``open_matter`` — the latest version's BPMN, metadata and forms, to edit in the browser;
* ``new_matter`` — a fresh executable diagram (camunda namespace, a start event) and a metadata
  skeleton for a process id nobody uses yet;
* ``check`` — the deploy checks of the registry (app.engine.parser.check_model, the forms'
  schema check, app.engine.matter.check_matter) on posted files, WITHOUT deploying: a list of
  ``{element, file, message}``;
* ``deploy`` — the same checks, then ``registry.deploy`` and the files written into PROCESSES_DIR /
  FORMS_DIR; all or nothing (the database transaction commits only once the files are in place, and
  the files are put back as they were when anything fails).

Posted content is untrusted: the BPMN goes through the registry's safe XML parser (no DTD, no
entities, bounded size), ids that become file names are checked against ``ID_RE``.
"""
from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from flask import current_app
from sqlalchemy import func, select

from ...domain.errors import Conflict, InvalidModel, NotAuthorized, NotFound, ValidationError
from ...engine.layout import BPMNDI_NS, add_layout
from ...engine.parser import BPMN_NS, ID_RE, parse_xml
from ...extensions import db
from ...models import Matter, ProcessInstance
from ..cases import registry
from ..identity.actors import Actor
from .import_fixes import main_process, proposed_process_id
from .scenarios import load_scenarios

MAX_FORMS = 50
MAX_SCENARIOS = 100
MAX_SCENARIOS_BYTES = 512 * 1024
MAX_BPMN_BYTES = 1024 * 1024  # as the registry's parser


def is_designer(actor: Actor | None) -> bool:
    """Designers and administrators (staff with the group ``designer`` or ``admin``; the system)."""
    if actor is None:
        return False
    if actor.kind == "system":
        return True
    return actor.is_staff and ("designer" in actor.groups or "admin" in actor.groups)


def require_designer(actor: Actor | None) -> None:
    if not is_designer(actor):
        raise NotAuthorized("只有流程设计人员和管理员可以使用流程设计器")


# -- reading ---------------------------------------------------------------------------------------
def overview(actor: Actor) -> list[dict]:
    """Every deployed matter (active or not), newest version first, with running-instance counts."""
    require_designer(actor)
    matters = list(db.session.execute(select(Matter).order_by(Matter.process_id)).scalars())
    running = dict(db.session.execute(
        select(ProcessInstance.process_id, func.count()).where(ProcessInstance.status.in_(registry.RUNNING))
        .group_by(ProcessInstance.process_id)).all())
    out = []
    for m in matters:
        try:
            versions = registry.list_versions(actor, m.process_id)
        except NotFound:
            versions = []
        out.append({"process_id": m.process_id, "name": m.name, "active": m.active,
                    "running_instances": running.get(m.process_id, 0), "versions": versions})
    return out


def library_overview(actor: Actor) -> list[dict]:
    """The shared sub-processes of ``processes/lib`` (families, app/engine/library.py), each with the
    matters whose latest version calls it: an edit of one is a new version of each of them."""
    require_designer(actor)
    lib = registry.process_library(_processes_dir())
    callers: dict[str, list[str]] = {}
    for m in db.session.execute(select(Matter).where(Matter.active.is_(True)).order_by(Matter.process_id)).scalars():
        for pid in ((m.latest_version.summary or {}).get("library") or {}) if m.latest_version else ():
            callers.setdefault(pid, []).append(m.process_id)
    return [{"process_id": pid, "file": p.filename, "name": p.root.find(
                f"{{{BPMN_NS}}}process[@id='{pid}']").get("name") or pid,
             "digest": p.digest[:12], "callers": callers.get(pid, [])}
            for pid, p in sorted(lib.processes.items())] + \
           [{"process_id": None, "file": e["file"], "name": e["message"], "digest": "", "callers": []}
            for e in lib.problems]


def _forms_dir() -> Path:
    return Path(current_app.config["FORMS_DIR"])


def _processes_dir() -> Path:
    return Path(current_app.config["PROCESSES_DIR"])


def open_matter(actor: Actor, process_id: str) -> dict:
    """The latest deployed version's files: ``{process_id, name, version, bpmn, matter, forms}``."""
    require_designer(actor)
    row = db.session.get(Matter, process_id)
    if row is None or row.latest_version_id is None:
        raise NotFound(f"事项不存在: {process_id}")
    v = row.latest_version
    scenarios, problem = read_scenarios(process_id)
    return {"process_id": process_id, "name": row.name, "version": v.number, "content_hash": v.content_hash,
            "bpmn": v.bpmn_xml, "matter": v.matter, "forms": dict(v.forms or {}), "new": False,
            "scenarios": scenarios, "scenarios_problem": problem}


def read_scenarios(process_id: str) -> tuple[list, str | None]:
    """The path tests of ``PROCESSES_DIR/<id>.scenarios.json``: (list, None), ([], None) when there
    is no file, ([], problem) when it cannot be read."""
    path = _processes_dir() / f"{process_id}.scenarios.json"
    if not path.exists():
        return [], None
    scenarios, problem = load_scenarios(path)
    return (scenarios or []), problem


def form_schema(actor: Actor, form_id: str) -> dict:
    """A form of FORMS_DIR (what the editor opens for a formKey the loaded version does not carry)."""
    require_designer(actor)
    forms, _ = registry.load_forms(_forms_dir())
    if not ID_RE.match(form_id or "") or form_id not in forms:
        raise NotFound(f"表单不存在: {form_id}")
    return forms[form_id]


def existing_form_ids() -> list[str]:
    """The form ids of FORMS_DIR (to pick from, or to see that a formKey names a form that exists)."""
    return sorted(p.name[: -len(".form.json")] for p in _forms_dir().glob("*.form.json"))


NEW_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  xmlns:modeler="http://camunda.org/schema/modeler/1.0"
                  id="Definitions_{pid}" targetNamespace="http://bpmn.io/schema/bpmn"
                  exporter="阳光发改 流程设计" exporterVersion="1.0"
                  modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.21.0">
  <bpmn:process id="{pid}" name="{name}" isExecutable="true">
    <bpmn:startEvent id="start" name="提交申请" camunda:formKey="{pid}_apply" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_{pid}">
    <bpmndi:BPMNPlane id="BPMNPlane_{pid}" bpmnElement="{pid}">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="180" y="160" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="170" y="203" width="56" height="14" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def import_file(actor: Actor, payload: object) -> dict:
    """Open a BPMN file made elsewhere (Camunda Modeler 7, bpmn.io): ``{bpmn: "<xml>"}`` → the editor's
    document for its executable process: the deployed matter's metadata, forms and scenarios when
    the process id is a matter, else the metadata of ``PROCESSES_DIR/<id>.matter.json`` or a new
    skeleton. A process id that is not a valid matter id does not stop it: the document is then
    that of the id the import assistant proposes (import_assistant.py lists the fix). The BPMN is
    returned exactly as sent (its camunda:* extensions stay as they are), except
    that a file without any diagram gets one (``laid_out``: app/engine/layout.py); nothing is
    stored. Raises ValidationError / InvalidModel (element-level) for what cannot open."""
    require_designer(actor)
    text = payload.get("bpmn") if isinstance(payload, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("缺少 BPMN 文件内容", details={"bpmn": ["BPMN XML text expected"]})
    bad = text_problem(text)
    if bad:
        raise ValidationError("BPMN 文件含有无效字符", details={"bpmn": [bad]})
    filename = payload.get("filename") if isinstance(payload.get("filename"), str) else "<file>"
    filename = filename if text_problem(filename) is None else "<file>"
    filename = filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or "<file>"
    data = text.encode("utf-8")
    if len(data) > MAX_BPMN_BYTES:
        raise ValidationError("BPMN 文件过大", details={"bpmn": [f"最大 {MAX_BPMN_BYTES} 字节"]})
    root = parse_xml(data, filename, MAX_BPMN_BYTES)
    proc = main_process(root)[0]  # the executable one, else the one no call activity calls
    if proc is None:
        raise InvalidModel("文件中没有流程", [{"element": None, "file": filename,
                                           "message": "no bpmn:process in the file (a collaboration needs one)"}])
    pid = proc.get("id") or ""
    if not ID_RE.match(pid) or len(pid) > 64:  # it opens; the import assistant proposes this id
        pid = proposed_process_id(root, proc)
    row = db.session.get(Matter, pid)
    if row is not None and row.latest_version_id is not None:
        doc = open_matter(actor, pid)
    else:
        doc = _skeleton(pid, (proc.get("name") or "").strip()[:200] or pid)
        meta_path = _processes_dir() / f"{pid}.matter.json"
        if meta_path.exists():
            try:
                doc["matter"] = json.loads(meta_path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                pass
        doc["scenarios"], doc["scenarios_problem"] = read_scenarios(pid)
    db.session.rollback()
    # a file written by hand without any diagram (no BPMN DI) would open as an empty canvas: it gets an
    # automatic layout, and the page keeps (and deploys) that text. A file with a diagram stays as sent,
    # even one missing a shape: the designer's own layout is worth more than a complete new one.
    laid_out = root.find(f"{{{BPMNDI_NS}}}BPMNDiagram") is None
    if laid_out:
        text = add_layout(data).decode("utf-8")
    return dict(doc, bpmn=text, imported=filename, laid_out=laid_out)


def new_matter(actor: Actor, process_id: str, name: str = "") -> dict:
    """A new executable diagram for ``process_id`` (a start event with its start form), a metadata
    skeleton to fill in and an empty start form. Refused when the id is taken (deployed or a file)."""
    require_designer(actor)
    process_id = (process_id or "").strip()
    name = (name or "").strip()[:200] or process_id
    if not ID_RE.match(process_id) or len(process_id) > 64:
        raise ValidationError("流程标识只能由字母、数字和下划线组成，且不以数字开头（最长 64 个字符）",
                              details={"process_id": ["[A-Za-z_][A-Za-z0-9_]*, ≤ 64"]})
    if db.session.get(Matter, process_id) is not None or (_processes_dir() / f"{process_id}.bpmn").exists():
        raise Conflict(f"流程标识已被使用: {process_id}")
    return _skeleton(process_id, name)


def _skeleton(process_id: str, name: str) -> dict:
    """A new executable diagram and metadata skeleton for ``process_id`` (see new_matter)."""
    start_form = f"{process_id}_apply"
    matter = {
        "process_id": process_id, "name": name, "basic_code": "", "implementation_code": "",
        "matter_type": "01", "exercise_level": "2", "case_type": "2",
        "implementing_body": {"name": current_app.config.get("AGENCY_NAME", ""), "credit_code": ""},
        "legal_basis": [], "statutory_limit": {"value": 20, "unit": "working_day", "note": ""},
        "promised_limit": {"value": 10, "unit": "working_day", "note": ""},
        "service_object": ["2"], "handling_forms": ["2"], "departments": [], "joint_departments": [],
        "acceptance_conditions": [], "process_description": "", "result": {"name": "", "type": ""},
        "fees": "不收费", "materials": [],
    }
    forms = {}
    if not (_forms_dir() / f"{start_form}.form.json").exists():
        forms[start_form] = empty_form(start_form)
    return {"process_id": process_id, "name": name, "version": None, "content_hash": None,
            "bpmn": NEW_BPMN.replace("{pid}", process_id).replace("{name}", xml_escape(name, {'"': "&quot;"})),
            "matter": matter, "forms": forms, "new": True, "scenarios": [], "scenarios_problem": None}


def empty_form(form_id: str) -> dict:
    """A form-js schema with one text field, for a formKey whose form does not exist yet."""
    return {"id": form_id, "type": "default", "schemaVersion": 16,
            "exporter": {"name": "阳光发改 流程设计", "version": "1.0"},
            "components": [{"type": "textarea", "key": "opinion", "label": "意见", "id": "Field_opinion"}]}


# -- checking --------------------------------------------------------------------------------------


MAX_DEPTH = 64


def text_problem(obj: object) -> str | None:
    """Why posted JSON cannot be checked or stored as it is (None when it can): a string with a NUL
    (PostgreSQL text refuses it) or a lone surrogate (``"\\ud800"`` is valid JSON but not UTF-8: it
    cannot be hashed, written or stored), or nesting deeper than MAX_DEPTH. Iterative: no recursion."""
    stack = [(obj, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"嵌套超过 {MAX_DEPTH} 层"
        if isinstance(item, str):
            if "\x00" in item:
                return "含有 NUL 字符"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "含有无效的 Unicode 字符（孤立的代理项）"
        elif isinstance(item, dict):
            stack += [(k, depth + 1) for k in item] + [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
    return None


# -- scenario tests --------------------------------------------------------------------------------


# -- deploying -------------------------------------------------------------------------------------


