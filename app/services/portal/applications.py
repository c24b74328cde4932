"""Applying online (网上申报): a draft case of a matter's latest version, its start form saved on
demand (暂存), one upload slot per entry of the materials list — a new file, or one picked from
the materials library (一次提交、多次使用) — and the submission that starts the process.

A draft is a case in status ``draft`` (app/services/cases.create_case(submit=False)); only its
applicant sees it (anyone else: NotFound). Submitting refuses with every missing field and every
missing required material at once (ValidationError ``details``: form field keys and
``material.<n>``) and changes nothing; a second submit of the same draft is a Conflict, never a
second case."""
from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ...domain.case_status import CaseStatus
from ...domain.codes import is_project_code
from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...engine.forms import validate_submission
from ...extensions import db
from ...models import Case, CaseEvent, CaseFile, ProcessVersion
from ..cases import lifecycle as case_svc
from ..cases.registry import get_matter
from ..cases.steps import now, record_event
from ..common.blobs import read_stored, store_upload
from ..common.db_support import row_by_id
from ..identity.actors import Actor
from . import library
from .applicants import prefill
from .catalog import materials_of

PROJECT_CODE_MESSAGE = "项目代码格式应为 YYMM-XXXXXX-XX-XX-XXXXXX（24 位，如 2603-141124-89-05-346948）"
DRAFTS_MAX = 50  # open drafts per applicant


def _applicant(actor: Actor) -> None:
    if actor is None or not actor.is_applicant:
        raise NotAuthorized("只有申请人可以网上申报")


def _form_keys(form: dict | None) -> set[str]:
    keys = set()

    def walk(components):
        for comp in components or []:
            if isinstance(comp, dict):
                if comp.get("type") in ("group", "default") and not comp.get("path"):
                    walk(comp.get("components"))
                elif comp.get("key"):
                    keys.add(comp["key"])
    walk((form or {}).get("components"))
    return keys


def start_form(version: ProcessVersion) -> dict | None:
    key = (version.summary or {}).get("start_form")
    return version.forms.get(key) if key else None


def start_application(actor: Actor, process_id: str) -> Case:
    """A new draft of the matter, its form prefilled from the applicant's profile (name, credit
    code, legal representative, contact). Raises NotAuthorized, NotFound, ValidationError. Commits."""
    _applicant(actor)
    if not isinstance(process_id, str) or len(process_id) > 64:
        raise NotFound("事项不存在")
    matter = get_matter(process_id)
    open_drafts = db.session.execute(select(func.count()).select_from(Case).where(
        Case.applicant_id == actor.id, Case.status == CaseStatus.DRAFT.value)).scalar()
    if open_drafts >= DRAFTS_MAX:
        raise ValidationError(f"草稿最多 {DRAFTS_MAX} 件，请先提交或删除不用的草稿", details={"drafts": ["too many"]})
    form = start_form(matter.latest_version)
    keys = _form_keys(form)
    data = {k: v for k, v in prefill(actor).items() if k in keys}
    try:
        validate_submission(form, data, partial=True) if form else None
    except ValidationError as exc:  # a profile value the form does not take is left for the applicant
        data = {k: v for k, v in data.items() if k not in exc.details}
    return case_svc.create_case(actor, process_id, data, submit=False)


def _draft(actor: Actor, case_id, *, lock: bool = False) -> Case:
    _applicant(actor)
    case = row_by_id(Case, case_id, lock=lock)
    if case is None or case.applicant_id != actor.id:
        raise NotFound("草稿不存在")
    if case.status != CaseStatus.DRAFT.value:
        raise Conflict("该申请已提交，不能再修改草稿")
    return case


def get_draft(actor: Actor, case_id: int) -> Case:
    """The actor's own draft. Raises NotFound (not theirs, or no such case), Conflict (submitted)."""
    return _draft(actor, case_id)


def list_drafts(actor: Actor) -> list[dict]:
    _applicant(actor)
    rows = db.session.execute(select(Case).where(Case.applicant_id == actor.id, Case.status == CaseStatus.DRAFT.value)
                              .order_by(Case.updated_at.desc(), Case.id.desc())).scalars().all()
    names = {}
    out = []
    for c in rows:
        if c.process_id not in names:
            try:
                names[c.process_id] = get_matter(c.process_id).name
            except NotFound:
                names[c.process_id] = c.process_id
        out.append({"id": c.id, "process_id": c.process_id, "matter": names[c.process_id],
                    "project_name": c.project_name or (c.data or {}).get("project_name") or "",
                    "created_at": c.created_at, "updated_at": c.updated_at})
    return out


def _check_shapes(data: dict) -> dict:
    errors = {}
    code = data.get("project_code")
    if code not in (None, "") and not is_project_code(code):
        errors["project_code"] = [PROJECT_CODE_MESSAGE]
    return errors


def validate_start_data(form: dict | None, data, *, partial: bool) -> dict:
    """Form validation and the project-code shape, all errors in one ValidationError."""
    if not isinstance(data, dict):
        raise ValidationError("表单数据格式不正确", details={"data": ["应为 JSON 对象 (object expected)"]})
    errors = _check_shapes(data)
    clean = {}
    try:
        clean = validate_submission(form, data, partial=partial) if form else {}
    except ValidationError as exc:
        errors = {**exc.details, **errors}
    if errors:
        raise ValidationError("表单填写有误，请按提示修改", details=errors)
    return clean


def save_draft(actor: Actor, case_id: int, data: dict) -> Case:
    """暂存: replace the draft's form data (required fields may be empty; filled ones must be valid).
    Commits."""
    try:
        case = _draft(actor, case_id, lock=True)
        version = db.session.get(ProcessVersion, case.version_id)
        clean = validate_start_data(start_form(version), data, partial=True)
        case.data = clean
        case.project_code = clean.get("project_code") or None
        case.project_name = clean.get("project_name") or None
        case.updated_at = now()
        record_event(case, actor.username, "draft", data_change=clean)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return case


def _entry(version: ProcessVersion, index) -> dict:
    materials = materials_of(version.matter or {})
    try:
        index = int(index)
    except (TypeError, ValueError):
        index = -1
    if not 0 <= index < len(materials):
        raise ValidationError("材料清单中没有该项", details={"material": ["不是本事项材料清单中的一项 (unknown entry)"]})
    return materials[index]


def draft_files(case: Case) -> list[CaseFile]:
    return list(db.session.execute(select(CaseFile).where(CaseFile.case_id == case.id).order_by(CaseFile.id)).scalars())


def attach_material(actor: Actor, case_id: int, index, *, upload=None, library_item_id=None,
                    save_to_library: bool = False) -> CaseFile:
    """Answer materials-list entry ``index`` of the draft with an uploaded file (PDF/JPG/PNG/OFD by
    content, at most FILE_MAX_BYTES) or with a file of the actor's library (no upload: the same
    stored blob). Replaces what the entry had. With ``save_to_library`` an upload is also kept in
    the library under the entry's name. Raises NotFound, Conflict, ValidationError. Commits."""
    case = _draft(actor, case_id)
    version = db.session.get(ProcessVersion, case.version_id)
    entry = _entry(version, index)
    if library_item_id not in (None, ""):
        try:
            item = library.get_item(actor, int(library_item_id))
        except (TypeError, ValueError):
            raise NotFound("材料库中没有该文件") from None
        read_stored(item.storage_key, item.sha256)  # the blob is still there and intact
        stored = {"filename": item.filename, "content_type": item.content_type, "size": item.size,
                  "sha256": item.sha256, "storage_key": item.storage_key}
        source = {"library_item": item.id}
    else:
        stored = store_upload(upload, field=f"material.{entry['index']}")
        source = {"upload": True}
    try:
        case = _draft(actor, case_id, lock=True)
        old = [f for f in draft_files(case) if f.material == entry["name"]]
        for f in old:
            db.session.delete(f)
        f = CaseFile(case_id=case.id, uploaded_by=actor.username, kind="scan", material=entry["name"],
                     note=None, created_at=now(), **stored)
        db.session.add(f)
        case.updated_at = now()
        record_event(case, actor.username, "attach", data_change=dict(
            source, material=entry["name"], file=stored["filename"], sha256=stored["sha256"], size=stored["size"],
            replaced=[o.filename for o in old]))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if save_to_library and "upload" in source:
        library.save_case_file(actor, f, entry["name"])
    return f


def remove_material(actor: Actor, case_id: int, file_id: int) -> None:
    """Take a file off the draft (the stored blob stays: the library may use it). Commits."""
    try:
        case = _draft(actor, case_id, lock=True)
        f = row_by_id(CaseFile, file_id)
        if f is None or f.case_id != case.id or f.uploaded_by != actor.username:
            raise NotFound("附件不存在")
        record_event(case, actor.username, "detach", data_change={"material": f.material, "file": f.filename})
        db.session.delete(f)
        case.updated_at = now()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def save_file_to_library(actor: Actor, case_id: int, file_id: int):
    """Keep one of the draft's uploads in the library. Commits."""
    case = _draft(actor, case_id)
    f = row_by_id(CaseFile, file_id)
    if f is None or f.case_id != case.id:
        raise NotFound("附件不存在")
    return library.save_case_file(actor, f, f.material)


def materials_state(case: Case, version: ProcessVersion) -> list[dict]:
    """Each entry of the materials list with the draft's file for it."""
    files = draft_files(case)
    out = []
    for entry in materials_of(version.matter or {}):
        mine = [f for f in files if f.material == entry["name"]]
        out.append(dict(entry, files=mine))
    return out


def missing_materials(case: Case, version: ProcessVersion) -> dict:
    return {f"material.{e['index']}": [f"请上传必需材料「{e['name']}」 (required material missing)"]
            for e in materials_state(case, version) if e["required"] and not e["files"]}


def submit_draft(actor: Actor, case_id: int, data: dict | None = None) -> Case:
    """提交: check the form (``data`` if given, else the saved draft) and the required materials —
    every problem at once, nothing changed when any — then submit the case (number, process start).
    Raises NotFound, Conflict (already submitted: a double click), ValidationError. Commits."""
    case = _draft(actor, case_id)
    version = db.session.get(ProcessVersion, case.version_id)
    form = start_form(version)
    merged = dict(case.data or {}) if data is None else data
    errors = {}
    try:
        merged = validate_start_data(form, merged, partial=False)
    except ValidationError as exc:
        errors.update(exc.details)
    errors.update(missing_materials(case, version))
    if errors:
        raise ValidationError("申请未提交：以下内容缺失或有误，请补齐后再提交", details=errors)
    return case_svc.submit_case(actor, case.id, merged if data is not None else None)


def delete_draft(actor: Actor, case_id: int) -> None:
    """Delete a draft and its files' rows (stored blobs stay for the library). Commits."""
    try:
        case = _draft(actor, case_id, lock=True)
        db.session.execute(delete(CaseFile).where(CaseFile.case_id == case.id))
        db.session.execute(delete(CaseEvent).where(CaseEvent.case_id == case.id))
        db.session.delete(case)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("该草稿已被引用，不能删除") from None
    except BaseException:
        db.session.rollback()
        raise
