"""Checking and deploying what a designer posts (issue 6): the submission (BPMN, metadata, forms,
scenarios) parsed and refused with every problem named, the registry's deploy checks and the
matter's own path tests run on it without deploying (检查, 场景测试), and the deploy itself — the matter
row locked, the files written atomically next to the new version, put back if the deploy fails."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from ...domain.errors import Conflict, InvalidModel, ValidationError
from ...engine.matter import check_matter
from ...engine.parser import ID_RE, check_model
from ...engine.scenarios import run_scenario
from ...extensions import db
from ..cases import registry
from ..identity.actors import Actor
from .designer import (
    MAX_BPMN_BYTES,
    MAX_FORMS,
    MAX_SCENARIOS,
    MAX_SCENARIOS_BYTES,
    _forms_dir,
    _processes_dir,
    require_designer,
    text_problem,
)
from .scenarios import _calendar, _time_limit


@dataclass
class Submission:
    """Posted files, shape-checked: ``bpmn`` bytes, ``matter`` object, ``forms`` by id."""
    process_id: str
    bpmn: bytes
    matter: object
    forms: dict[str, dict]
    scenarios: list[dict] | None = None  # None: not sent (the scenarios file is left as it is)


def parse_submission(payload: object) -> Submission:
    """Refuse what is not ``{process_id, bpmn: str, matter: {…}, forms: {id: {…}}}`` (422)."""
    if not isinstance(payload, dict):
        raise ValidationError("请求内容应为 JSON 对象", details={"body": ["JSON object expected"]})
    problems: dict[str, list[str]] = {}
    for key in ("process_id", "bpmn", "matter", "forms", "scenarios"):
        bad = text_problem(payload.get(key))
        if bad:
            problems[key] = [bad]
    if problems:
        raise ValidationError("提交的内容含有无法保存的字符或结构", details=problems)
    pid = payload.get("process_id")
    if not isinstance(pid, str) or not ID_RE.match(pid) or len(pid) > 64:
        problems["process_id"] = ["流程标识无效 ([A-Za-z_][A-Za-z0-9_]*, ≤ 64)"]
    bpmn = payload.get("bpmn")
    if not isinstance(bpmn, str) or not bpmn.strip():
        problems["bpmn"] = ["缺少 BPMN 内容"]
    matter = payload.get("matter")
    if not isinstance(matter, dict):
        problems["matter"] = ["事项信息应为 JSON 对象"]
    forms = payload.get("forms", {})
    if not isinstance(forms, dict):
        problems["forms"] = ["表单应为 {表单标识: 表单} 对象"]
    elif len(forms) > MAX_FORMS:
        problems["forms"] = [f"一次最多 {MAX_FORMS} 个表单"]
    else:
        bad = [k for k, v in forms.items() if not (isinstance(k, str) and ID_RE.match(k) and len(k) <= 64)
               or not isinstance(v, dict)]
        if bad:
            problems["forms"] = [f"表单标识或内容无效: {', '.join(map(str, bad[:5]))}"]
    scenarios = payload.get("scenarios")
    if scenarios is not None:
        bad = _scenario_problems(scenarios)
        if bad:
            problems["scenarios"] = bad
    if problems:
        raise ValidationError("提交的内容不完整或格式不对", details=problems)
    data = bpmn.encode("utf-8")
    if len(data) > MAX_BPMN_BYTES:
        raise ValidationError("BPMN 文件过大", details={"bpmn": [f"最大 {MAX_BPMN_BYTES} 字节"]})
    return Submission(pid, data, matter, dict(forms), scenarios)


def _step_ok(step: object) -> bool:
    """``{task, data}`` (a user task completed) or ``{message, data}`` (a message delivered)."""
    if not isinstance(step, dict) or not isinstance(step.get("data", {}), dict):
        return False
    kind = "task" if "task" in step else "message"
    return isinstance(step.get(kind), str) and set(step) <= {kind, "data"}


def _scenario_problems(scenarios: object) -> list[str]:
    """The shape of posted path tests (what app.engine.scenarios reads): a list of at most
    MAX_SCENARIOS objects with a name, ``start`` object, ``steps`` [{task, data}], ``end`` id and an
    optional expected ``path`` (element ids)."""
    if not isinstance(scenarios, list):
        return ["场景测试应为列表"]
    if len(scenarios) > MAX_SCENARIOS:
        return [f"最多 {MAX_SCENARIOS} 个场景"]
    if len(json.dumps(scenarios, ensure_ascii=False)) > MAX_SCENARIOS_BYTES:
        return ["场景测试内容过大"]
    out = []
    for i, sc in enumerate(scenarios, 1):
        where = f"场景 {i}"
        if not isinstance(sc, dict):
            out.append(f"{where}: 应为对象")
            continue
        if not isinstance(sc.get("name"), str) or not sc["name"].strip():
            out.append(f"{where}: 缺少名称")
        if not isinstance(sc.get("start", {}), dict):
            out.append(f"{where}: start 应为对象")
        steps = sc.get("steps", [])
        if not isinstance(steps, list) or not all(_step_ok(st) for st in steps):
            out.append(f"{where}: steps 应为 [{{task: 环节标识, data: {{…}}}} 或 {{message: 消息名, data: {{…}}}}, …]")
        if not isinstance(sc.get("end"), str) or not sc["end"]:
            out.append(f"{where}: 缺少预期的结束事件 end")
        if "platform_level" in sc and sc["platform_level"] not in ("province", "city", "county"):
            out.append(f"{where}: platform_level 应为 province、city 或 county")
        path = sc.get("path")
        if path is not None and not (isinstance(path, list) and all(isinstance(p, str) for p in path)):
            out.append(f"{where}: path 应为环节标识列表")
    return out


def _all_forms(sub: Submission) -> dict[str, dict]:
    forms, _ = registry.load_forms(_forms_dir())
    forms.update(sub.forms)
    return forms


def _problems(sub: Submission, library=None) -> tuple[list[dict], object]:
    """Every problem the registry's deploy would find, plus the posted forms' own problems: the
    model checks (check_model, with ``library`` — default: processes/lib read now), the schema check
    of each form it uses or that was posted, and the metadata check. Returns (errors, checked model
    or None)."""
    forms = _all_forms(sub)
    errors: list[dict] = []
    model = None
    try:
        model = check_model(sub.bpmn, f"{sub.process_id}.bpmn", forms, expected_id=sub.process_id,
                            max_bytes=MAX_BPMN_BYTES, known_groups=registry.known_groups(),
                            library=library or registry.process_library(_processes_dir()))
    except InvalidModel as exc:
        errors += exc.errors
    form_ids = set(sub.forms) | set(model.form_keys if model else ())
    for form_id in sorted(form_ids):
        errors += registry._form_errors(form_id, forms[form_id], f"{form_id}.form.json")
    _, problems = check_matter(sub.matter, sub.process_id)
    errors += [{"element": None, "file": f"{sub.process_id}.matter.json", "message": p} for p in problems]
    unique, seen = [], set()
    for e in errors:
        key = (e.get("element"), e.get("file"), e.get("message"))
        if key not in seen:
            seen.add(key)
            unique.append(e)
    return unique, model


def check(actor: Actor, payload: object) -> list[dict]:
    """The deploy checks on posted files, deploying nothing: the list of ``{element, file, message}``
    (empty when the matter would deploy)."""
    require_designer(actor)
    sub = parse_submission(payload)
    errors, _ = _problems(sub)
    db.session.rollback()  # nothing to keep: reading only
    return errors


def _run_scenarios(sub: Submission, model) -> list[dict]:
    """Run the submission's scenarios against its (checked) model, in memory. A scenario with an
    expected ``path`` also fails when the path taken differs."""
    forms = _all_forms(sub)
    calendar = _calendar()
    out = []
    for sc in sub.scenarios or []:
        result = run_scenario(model, sc, forms=forms, calendar=calendar, time_limit_ms=_time_limit()).to_dict()
        expected = sc.get("path")
        if result["passed"] and expected is not None and list(expected) != result["path"]:
            result["passed"] = False
            result["message"] = f"expected path {' → '.join(expected)}, took {' → '.join(result['path'])}"
        result["expected_path"] = expected
        out.append(result)
    return out


def run_scenarios(actor: Actor, payload: object) -> dict:
    """Run the posted scenarios against the posted (unsaved) model: ``{ok, errors, results}``; when
    the model itself would not deploy, ``errors`` lists why and nothing runs."""
    require_designer(actor)
    sub = parse_submission(payload)
    if sub.scenarios is None:
        raise ValidationError("缺少场景测试", details={"scenarios": ["list expected"]})
    errors, model = _problems(sub)
    model_errors = [e for e in errors if not str(e.get("file") or "").endswith(".matter.json")]
    results = [] if model is None or model_errors else _run_scenarios(sub, model)
    db.session.rollback()
    return {"ok": not model_errors and all(r["passed"] for r in results), "errors": model_errors,
            "results": results}


def scenario_errors(sub: Submission, model) -> list[dict]:
    """Each failing scenario as a deploy error of ``<id>.scenarios.json``."""
    return [{"element": None, "file": f"{sub.process_id}.scenarios.json",
             "message": f"场景「{r['name']}」未通过: {r['message']}"}
            for r in _run_scenarios(sub, model) if not r["passed"]]


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _replace_files(files: dict[Path, bytes]) -> list[tuple[Path, Path | None]]:
    """Write every file atomically: all temp files first (same folder, fsynced), then renamed into
    place; the previous files are kept aside so ``_restore`` can put them back. Any failure restores
    what was replaced and removes the temp files before re-raising."""
    temps: dict[Path, Path] = {}
    replaced: list[tuple[Path, Path | None]] = []
    try:
        for target, data in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            temps[target] = Path(tmp)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for target, tmp in temps.items():
            backup = None
            if target.exists():
                fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".bak", dir=target.parent)
                os.close(fd)
                backup = Path(name)
                os.replace(target, backup)
            replaced.append((target, backup))
            os.replace(tmp, target)
    except BaseException:
        _restore(replaced)
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise
    return replaced


def _restore(replaced: list[tuple[Path, Path | None]]) -> None:
    for target, backup in reversed(replaced):
        if backup is not None:
            os.replace(backup, target)
        else:
            target.unlink(missing_ok=True)


def _drop_backups(replaced: list[tuple[Path, Path | None]]) -> None:
    for _, backup in replaced:
        if backup is not None:
            backup.unlink(missing_ok=True)


def deploy(actor: Actor, payload: object) -> dict:
    """Check, then deploy through the registry and write ``<id>.bpmn``, ``<id>.matter.json`` and the
    posted forms the model uses. Raises InvalidModel (422) with every problem, and then nothing is
    written or stored. Returns ``{process_id, version, created, content_hash, files, diff_counts}``."""
    require_designer(actor)
    sub = parse_submission(payload)
    library = registry.process_library(_processes_dir())  # read once: the check and the deploy use it
    errors, model = _problems(sub, library)
    if not errors and model is not None and sub.scenarios:
        errors = scenario_errors(sub, model)  # a matter whose own path tests fail is not deployed
    if errors or model is None:
        db.session.rollback()
        raise InvalidModel(f"模型有 {len(errors)} 处错误，未部署", errors)
    forms = _all_forms(sub)
    try:
        result = registry.deploy(sub.bpmn, sub.matter, forms, filename=f"{sub.process_id}.bpmn", actor=actor,
                                 expected_id=sub.process_id, library=library)
    except IntegrityError:  # another designer deployed the same matter (or content) at the same moment
        db.session.rollback()
        raise Conflict("另一位设计人员正在部署该事项，请刷新后重试") from None
    except BaseException:
        db.session.rollback()
        raise
    files = {_processes_dir() / f"{sub.process_id}.bpmn": sub.bpmn,
             _processes_dir() / f"{sub.process_id}.matter.json": _json_bytes(sub.matter)}
    scenarios_path = _processes_dir() / f"{sub.process_id}.scenarios.json"
    if sub.scenarios or (sub.scenarios is not None and scenarios_path.exists()):
        files[_processes_dir() / f"{sub.process_id}.scenarios.json"] = _json_bytes({"scenarios": sub.scenarios})
    for form_id in model.form_keys:
        if form_id in sub.forms:
            files[_forms_dir() / f"{form_id}.form.json"] = _json_bytes(sub.forms[form_id])
    files = {path: data for path, data in files.items() if not (path.exists() and path.read_bytes() == data)}
    try:
        replaced = _replace_files(files)
    except OSError as exc:
        db.session.rollback()
        raise Conflict(f"无法写入流程文件，未部署: {exc.strerror or exc}") from None
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _restore(replaced)
        raise
    _drop_backups(replaced)
    versions = registry.list_versions(actor, sub.process_id)
    this = next((v for v in versions if v["version_id"] == result.version_id), None)
    return {"process_id": result.process_id, "version": result.version, "created": result.created,
            "content_hash": result.content_hash, "files": sorted(p.name for p in files),
            "diff_counts": this and this["diff_counts"]}
