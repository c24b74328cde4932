"""Matter registry: validate and deploy process files; versions by content hash."""
from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import func, select

from ...domain.errors import InvalidModel, NotAuthorized, NotFound
from ...domain.org import ROLES, group_for
from ...engine.diff import diff_counts, version_diff
from ...engine.forms import check_form_schema
from ...engine.library import Library, LibraryProcess, library_dir, load_library
from ...engine.matter import check_matter
from ...engine.parser import RESERVED_VARIABLES, check_model, parse_xml
from ...engine.sandbox import RESERVED
from ...engine.serializer import dump_spec
from ...extensions import db
from ...models import Department, Matter, ProcessInstance, ProcessVersion
from ..common.db_support import is_sqlite
from ..identity.actors import SYSTEM, Actor


@dataclass
class DeployResult:
    process_id: str
    version: int
    version_id: int
    content_hash: str
    created: bool


def canonical(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


#: the folder of shared form fragments, relative to the forms folder
FRAGMENTS_DIR = "fragments"
MAX_FRAGMENT_DEPTH = 4


def load_fragments(forms_dir: str | Path) -> tuple[dict[str, list], list[dict]]:
    """Shared form fragments (``forms/fragments/<name>.json``: ``{"components": [...]}``): parts
    several matters' forms have in common — the applicant unit, the project's basic facts, the
    涉密 declaration and the commitment — so a change is one edit. Returns (components by name,
    problems)."""
    fragments, problems = {}, []
    for path in sorted((Path(forms_dir) / FRAGMENTS_DIR).glob("*.json")):
        name = f"{FRAGMENTS_DIR}/{path.name}"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append({"element": None, "file": name, "message": f"not valid JSON: {exc}"})
            continue
        comps = doc.get("components") if isinstance(doc, dict) else None
        if not isinstance(comps, list) or not all(isinstance(c, dict) for c in comps):
            problems.append({"element": None, "file": name, "message": '片段应为 {"components": [...]}'})
            continue
        fragments[path.stem] = comps
    return fragments, problems


def expand_fragments(components, fragments: dict[str, list], form_id: str, problems: list, depth: int = 0) -> list:
    """``components`` with every ``{"$fragment": "<name>"}`` replaced by that fragment's components
    (recursively, in groups too). An unknown fragment, or fragments nested deeper than
    MAX_FRAGMENT_DEPTH (a cycle), is a problem of the form and is left out."""
    out = []
    for comp in components if isinstance(components, list) else []:
        if isinstance(comp, dict) and "$fragment" in comp:
            name = comp["$fragment"]
            if depth >= MAX_FRAGMENT_DEPTH:
                problems.append({"element": None, "file": f"{form_id}.form.json",
                                 "message": f"表单片段嵌套过深或循环引用: {name}"})
            elif not isinstance(name, str) or name not in fragments:
                problems.append({"element": None, "file": f"{form_id}.form.json",
                                 "message": f"表单片段不存在: forms/{FRAGMENTS_DIR}/{name}.json"})
            else:
                out += expand_fragments(json.loads(json.dumps(fragments[name])), fragments, form_id, problems,
                                        depth + 1)
            continue
        if isinstance(comp, dict) and isinstance(comp.get("components"), list):
            comp = dict(comp, components=expand_fragments(comp["components"], fragments, form_id, problems, depth))
        out.append(comp)
    return out


def load_forms(forms_dir: str | Path) -> tuple[dict[str, dict], list[dict]]:
    """Read every ``*.form.json``, its shared fragments expanded; returns (forms by id, problems).
    A version stores the expanded forms, so a case keeps the form it started with."""
    forms, problems = {}, []
    fragments, problems = load_fragments(forms_dir)
    for path in sorted(Path(forms_dir).glob("*.form.json")):
        form_id = path.name[: -len(".form.json")]
        try:
            form = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append({"element": None, "file": path.name, "message": f"not valid JSON: {exc}"})
            continue
        if isinstance(form, dict) and isinstance(form.get("components"), list):
            form["components"] = expand_fragments(form["components"], fragments, form_id, problems)
        forms[form_id] = form
    return forms, problems


def _form_errors(form_id, form, filename):
    try:
        return _schema_errors(form_id, form, filename)
    except (TypeError, AttributeError, ValueError, RecursionError) as exc:  # wrong types inside the schema
        return [{"element": None, "file": filename,
                 "message": f"表单结构无效 (malformed form-js schema: {type(exc).__name__}: {exc})"}]


def _schema_errors(form_id, form, filename):
    errors = [{"element": None, "file": filename, "message": p} for p in check_form_schema(form, form_id)]

    def keys(components):
        for comp in components or []:
            if isinstance(comp, dict):
                if comp.get("key"):
                    yield comp["key"]
                if comp.get("path"):
                    yield comp["path"]
                yield from keys(comp.get("components"))
    for key in keys(form.get("components") if isinstance(form, dict) else []):
        if key in RESERVED or key in RESERVED_VARIABLES:
            errors.append({"element": None, "file": filename,
                           "message": f"field key {key!r} is reserved for the engine"})
    return errors


def known_groups() -> frozenset[str]:
    """Candidate groups the organisation can staff: each active department's handler, chief and
    liaison groups, and the platform roles (see app.domain.org.group_for)."""
    codes = db.session.execute(select(Department.code).where(Department.active.is_(True))).scalars().all()
    out = {group_for(role, None) for role, (_, _, needs) in ROLES.items() if not needs}
    for code in codes:
        out |= {group_for(role, code) for role, (_, _, needs) in ROLES.items() if needs}
    return frozenset(out)


def process_library(processes_dir: str | Path) -> Library:
    """The shared sub-processes of ``processes_dir/lib`` (app/engine/library.py), and the deployed
    matters a call activity may name (looked up when called; the latest version, pinned)."""
    lib = load_library(library_dir(processes_dir), parse_xml)
    lib.resolver = deployed_process
    return lib


def deployed_process(process_id: str) -> LibraryProcess | None:
    """The latest deployed version of a matter, as a process another matter's call activity runs:
    its digest (the version's content hash) goes into the caller's content hash, its spec into the
    caller's version — a later version of the called matter is a new version of the caller."""
    row = db.session.get(Matter, process_id)
    if row is None or not row.active or row.latest_version is None:
        return None
    version = row.latest_version
    data = version.bpmn_xml.encode("utf-8")
    try:
        root = parse_xml(data, f"{process_id}.bpmn")
    except InvalidModel:
        return None
    return LibraryProcess(process_id, f"{process_id}.bpmn（已部署第 {version.number} 版）", data, root,
                          version.content_hash)


#: the calledElement of a call activity, read from the file's bytes (for the check cache's key)
CALLED_RE = re.compile(rb"""calledElement\s*=\s*["']([^"']*)["']""")


def called_in(data: bytes) -> set[str]:
    return {c.decode("utf-8", "replace").strip() for c in CALLED_RE.findall(data)} - {""}


def _deployed_digest(called: set[str]) -> str:
    """What a call activity to a deployed matter depends on: the latest version of each called matter."""
    rows = db.session.execute(select(Matter.process_id, ProcessVersion.content_hash).join(
        ProcessVersion, ProcessVersion.id == Matter.latest_version_id).where(
        Matter.active.is_(True), Matter.process_id.in_(called))).all()
    return ",".join(f"{p}:{h}" for p, h in sorted(rows))


#: checked models by everything their check depends on (content hashes): a redeploy of unchanged
#: files — every start of the app, every test's fresh database — does not parse them again
_CHECKED: OrderedDict[str, tuple] = OrderedDict()
_CHECKED_MAX = 256
_checked_lock = threading.Lock()


def forms_digest(forms: dict[str, dict]) -> str:
    return hashlib.sha256(canonical(forms).encode("utf-8")).hexdigest()


def _checked(bpmn: bytes, matter_data: object, forms: dict[str, dict], digest_of_forms: str | None, *,
             filename: str, expected_id: str | None, library: Library | None):
    """(model, form errors, clean matter, matter problems) of a deploy, from the cache when the same
    files were checked before against the same forms, groups and library. Raises InvalidModel."""
    groups = known_groups()
    key = None
    if digest_of_forms is not None:
        parts = [hashlib.sha256(bpmn if isinstance(bpmn, bytes) else bpmn.encode("utf-8")).hexdigest(),
                 filename, expected_id or "", digest_of_forms, ",".join(sorted(groups)), canonical(matter_data),
                 ",".join(f"{k}:{v.digest}" for k, v in sorted((library.processes if library else {}).items()))]
        # a call to a deployed matter (from the file or from a library process) pins that matter's
        # latest version
        libs = library.processes if library else {}
        called = called_in(bpmn if isinstance(bpmn, bytes) else bpmn.encode("utf-8")).union(
            *(called_in(lib.data) for lib in libs.values())) - set(libs)
        if called:
            parts.append(_deployed_digest(called))
        key = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
        with _checked_lock:
            hit = _CHECKED.get(key)
            if hit is not None:
                _CHECKED.move_to_end(key)
                model, form_errors, matter, problems = hit
                # the summary is the caller's to extend: each hit gets its own
                return (replace(model, summary=copy.deepcopy(model.summary)), list(form_errors),
                        copy.deepcopy(matter), list(problems))
    model = check_model(bpmn, filename, forms, expected_id=expected_id, known_groups=groups, library=library)
    form_errors = []
    for form_key in model.form_keys:
        form_errors += _form_errors(form_key, forms[form_key], f"{form_key}.form.json")
    matter, problems = check_matter(matter_data, model.process_id)
    if key is not None:
        with _checked_lock:
            _CHECKED[key] = (model, list(form_errors), copy.deepcopy(matter), list(problems))
            while len(_CHECKED) > _CHECKED_MAX:
                _CHECKED.popitem(last=False)
    return model, form_errors, matter, problems


def deploy(bpmn: bytes, matter_data: object, forms: dict[str, dict], *, filename: str,
           actor: Actor = SYSTEM, expected_id: str | None = None, library: Library | None = None,
           digest_of_forms: str | None = None) -> DeployResult:
    """Check and store one matter. An unchanged matter (same hash) creates no new version.

    Raises InvalidModel with every problem found; nothing is written then. Does not commit."""
    if not actor.is_admin and "designer" not in actor.groups:
        raise NotAuthorized("只有流程设计人员可以部署流程")
    model, errors, matter, problems = _checked(bpmn, matter_data, forms, digest_of_forms, filename=filename,
                                               expected_id=expected_id, library=library)
    errors += [{"element": None, "file": f"{model.process_id}.matter.json", "message": p} for p in problems]
    if errors:
        raise InvalidModel(f"模型有 {len(errors)} 处错误，未部署", errors)

    # one deploy of a matter at a time: the version number (max + 1) and the files a designer writes
    # before committing must not interleave with another deploy of the same matter (PostgreSQL; a
    # SQLite transaction holds the write lock already). A matter deployed for the first time by two
    # at once: the second's INSERT of the matter row fails (IntegrityError, the caller answers 409).
    if not is_sqlite():  # the column only: FOR UPDATE cannot cover the eagerly joined latest version
        db.session.execute(select(Matter.process_id).where(Matter.process_id == model.process_id).with_for_update())
    used_forms = {k: forms[k] for k in model.form_keys}
    digest = hashlib.sha256()
    digest.update(bpmn if isinstance(bpmn, bytes) else bpmn.encode("utf-8"))
    digest.update(b"\0" + canonical(matter).encode("utf-8"))
    digest.update(b"\0" + canonical(used_forms).encode("utf-8"))
    if model.library:  # a changed shared sub-process is a new version of each matter calling it
        digest.update(b"\0" + canonical(model.library).encode("utf-8"))
    content_hash = digest.hexdigest()

    existing = db.session.execute(
        select(ProcessVersion).where(ProcessVersion.content_hash == content_hash)).scalar_one_or_none()
    created = existing is None
    if existing is None:
        number = (db.session.execute(select(func.max(ProcessVersion.number)).where(
            ProcessVersion.process_id == model.process_id)).scalar() or 0) + 1
        bpmn_xml = bpmn.decode("utf-8") if isinstance(bpmn, bytes) else bpmn
        # the diff is against the version new cases started on until now (the matter's latest)
        base = db.session.get(Matter, model.process_id)
        base = base.latest_version if base is not None else None
        diff = version_diff(base and {"bpmn": base.bpmn_xml, "forms": base.forms, "matter": base.matter},
                            {"bpmn": bpmn_xml, "forms": used_forms, "matter": matter})
        diff["base"] = base.number if base is not None else None
        existing = ProcessVersion(
            process_id=model.process_id, content_hash=content_hash, number=number,
            bpmn_xml=bpmn_xml, matter=matter,
            forms=used_forms, spec_json=dump_spec(model.spec, model.subprocess_specs),
            summary=dict(model.summary, diff=diff), source_file=filename, deployed_by=actor.username)
        db.session.add(existing)
        db.session.flush()
    row = db.session.get(Matter, model.process_id)
    if row is None:
        row = Matter(process_id=model.process_id)
        db.session.add(row)
    row.name = matter["name"]
    row.basic_code = matter["basic_code"]
    row.implementation_code = matter["implementation_code"]
    row.matter_type = matter["matter_type"]
    row.case_type = matter["case_type"]
    row.latest_version_id = existing.id
    row.active = True
    db.session.flush()
    return DeployResult(model.process_id, existing.number, existing.id, content_hash, created)


def _callees_first(sources: dict[Path, bytes]) -> list[Path]:
    """The folder's files with each matter after the matters of the folder it calls (a call activity
    pins the called matter's version deployed just before it); a cycle keeps the name order (the
    check refuses it)."""
    paths = list(sources)
    by_id = {p.stem: p for p in paths}
    calls = {p.stem: called_in(data) & set(by_id) for p, data in sources.items()}
    out, done = [], set()

    def visit(pid: str, path: tuple) -> None:
        if pid in done or pid in path:
            return
        for callee in sorted(calls[pid]):
            visit(callee, path + (pid,))
        done.add(pid)
        out.append(by_id[pid])

    for p in paths:
        visit(p.stem, ())
    return out


def deploy_directory(processes_dir: str | Path, forms_dir: str | Path, actor: Actor = SYSTEM) -> list[DeployResult]:
    """Deploy every ``*.bpmn`` of ``processes_dir`` in one transaction: all or nothing.

    Raises InvalidModel listing the problems of every file."""
    forms, errors = load_forms(forms_dir)
    library = process_library(processes_dir)
    errors += library.problems
    digest_of_forms = forms_digest(forms)
    results = []
    sources = {path: path.read_bytes() for path in sorted(Path(processes_dir).glob("*.bpmn"))}
    for path in _callees_first(sources):
        pid = path.stem
        meta_path = path.with_name(f"{pid}.matter.json")
        try:
            matter = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            errors.append({"element": None, "file": meta_path.name, "message": "matter metadata file missing"})
            continue
        except ValueError as exc:
            errors.append({"element": None, "file": meta_path.name, "message": f"not valid JSON: {exc}"})
            continue
        try:
            results.append(deploy(sources[path], matter, forms, filename=path.name, actor=actor,
                                  expected_id=pid, library=library, digest_of_forms=digest_of_forms))
        except InvalidModel as exc:
            errors += exc.errors
    if errors:
        db.session.rollback()
        raise InvalidModel(f"{len(errors)} 处错误，未部署任何流程", errors)
    db.session.commit()
    return results


def list_matters() -> list[Matter]:
    return list(db.session.execute(
        select(Matter).where(Matter.active.is_(True)).order_by(Matter.process_id)).scalars())


def get_matter(process_id: str) -> Matter:
    row = db.session.get(Matter, process_id)
    if row is None or not row.active or row.latest_version_id is None:
        raise NotFound(f"事项不存在: {process_id}")
    return row


def get_version(version_id: int) -> ProcessVersion:
    row = db.session.get(ProcessVersion, version_id)
    if row is None:
        raise NotFound(f"流程版本不存在: {version_id}")
    return row


RUNNING = ("running", "waiting", "error")  # instance statuses that still run on their version


def _designer(actor: Actor) -> None:
    if not actor.is_admin and "designer" not in actor.groups:
        raise NotAuthorized("只有流程设计人员和管理员可以查看流程版本")


def list_versions(actor: Actor, process_id: str) -> list[dict]:
    """Every version of a matter, newest first: who deployed it when, how many instances still run
    on it, and the counts of its diff against the version before. Designers and administrators."""
    _designer(actor)
    rows = list(db.session.execute(select(ProcessVersion).where(ProcessVersion.process_id == process_id)
                                   .order_by(ProcessVersion.number.desc())).scalars())
    if not rows:
        raise NotFound(f"事项不存在: {process_id}")
    running = dict(db.session.execute(
        select(ProcessInstance.version_id, func.count()).where(
            ProcessInstance.process_id == process_id, ProcessInstance.status.in_(RUNNING))
        .group_by(ProcessInstance.version_id)).all())
    latest = db.session.get(Matter, process_id)
    return [{"number": v.number, "version_id": v.id, "content_hash": v.content_hash,
             "source_file": v.source_file, "deployed_by": v.deployed_by, "deployed_at": v.deployed_at,
             "latest": latest is not None and latest.latest_version_id == v.id,
             "running_instances": running.get(v.id, 0),
             "base": ((v.summary or {}).get("diff") or {}).get("base"),
             "diff_counts": diff_counts((v.summary or {}).get("diff"))} for v in rows]


def version_details(actor: Actor, process_id: str, number: int) -> dict:
    """One version with its full diff (``None`` for versions deployed before diffs were recorded)."""
    for out in list_versions(actor, process_id):
        if out["number"] == number:
            v = db.session.get(ProcessVersion, out["version_id"])
            return dict(out, diff=(v.summary or {}).get("diff"))
    raise NotFound(f"流程版本不存在: {process_id} v{number}")
