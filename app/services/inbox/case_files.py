"""Files attached to a case: scans of meeting opinions, expert reviews, other departments' opinions.

The type is told by the content (PDF, JPEG, PNG, OFD), never by the name; the bytes are stored once
per SHA-256 under FILES_DIR, outside the web root, and served only through a permission check."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

from flask import current_app, send_file
from sqlalchemy import select

from ...domain.errors import NotAuthorized, NotFound, ValidationError
from ...extensions import db
from ...models import Case, CaseFile, HumanTask
from ..cases.steps import now, record_event
from ..common.blobs import keep_blob, safe_filename, sniff
from ..common.db_support import row_by_id
from ..identity.actors import Actor
from ..identity.permissions import can_read_case
from .task_base import touch

KINDS = {"meeting": "会议纪要", "expert_review": "专家评审意见", "dept_opinion": "部门意见", "scan": "材料扫描件",
         "other": "其他"}


def _case_for(actor: Actor, case_id: int) -> Case:
    case = row_by_id(Case, case_id)
    if case is None:
        raise NotFound("办件不存在")
    if not can_read_case(actor, case):
        raise NotAuthorized("无权查看该办件的附件")
    return case


def _visible(actor: Actor, f: CaseFile) -> bool:
    """Staff papers (meeting minutes, expert and department opinions) are internal: an applicant
    sees only what they uploaded themselves."""
    return not actor.is_applicant or f.uploaded_by == actor.username


def attach(actor: Actor, case_id: int, upload, *, kind: str = "other", note: str | None = None,
           task_id: str | None = None) -> CaseFile:
    """Store an uploaded file on a case (staff who may read the case, not inspectors). Commits."""
    case = _case_for(actor, case_id)
    if not actor.is_staff or actor.groups <= {"inspector"}:
        raise NotAuthorized("只有办理人员可以上传附件")
    errors = {}
    if upload is None or not getattr(upload, "filename", None):
        raise ValidationError("请选择要上传的文件", details={"file": ["必填 (required)"]})
    if kind not in KINDS:
        errors["kind"] = [f"应为 {' / '.join(KINDS)}"]
    if note is not None and (len(note) > 500 or "\x00" in note):
        errors["note"] = ["最多 500 字，且不能含空字符"]
    limit = current_app.config["FILE_MAX_BYTES"]
    blob = upload.stream.read(limit + 1)
    if len(blob) > limit:
        errors["file"] = [f"文件超过 {limit // (1024 * 1024)} MB"]
    elif not blob:
        errors["file"] = ["文件为空"]
    ctype = sniff(blob[:16], blob) if "file" not in errors else None
    if "file" not in errors and ctype is None:
        errors["file"] = ["只接受 PDF、JPG、PNG、OFD 文件（按内容识别）"]
    if task_id is not None and task_id != "":
        owner = db.session.get(HumanTask, task_id) if isinstance(task_id, str) and len(task_id) <= 36 else None
        if owner is None or owner.case_id != case.id:
            errors["task_id"] = ["不是本办件的任务"]
    if errors:
        raise ValidationError("附件未通过校验", details=errors)
    digest, key = keep_blob(blob)
    filename = safe_filename(upload.filename, ctype)
    f = CaseFile(case_id=case.id, task_id=task_id or None,
                 uploaded_by=actor.username, kind=kind, filename=filename, content_type=ctype,
                 size=len(blob), sha256=digest, storage_key=key, note=note, created_at=now())
    try:
        db.session.add(f)
        record_event(case, actor.username, "attach", task_id=f.task_id, opinion=note,
                     data_change={"file": f.filename, "sha256": digest, "size": len(blob), "kind": kind})
        touch(case, actor.username, "attach")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return f


def list_files(actor: Actor, case_id: int) -> list[CaseFile]:
    case = _case_for(actor, case_id)
    return [f for f in db.session.execute(select(CaseFile).where(CaseFile.case_id == case.id)
                                          .order_by(CaseFile.id)).scalars() if _visible(actor, f)]


def send(actor: Actor, case_id: int, file_id: int):
    """The file as a download, after checking the actor may read the case and the checksum."""
    case = _case_for(actor, case_id)
    f = row_by_id(CaseFile, file_id)
    if f is None or f.case_id != case.id:
        raise NotFound("附件不存在")
    if not _visible(actor, f):
            raise NotAuthorized("内部材料，申请人不可下载")
    path = Path(current_app.config["FILES_DIR"]) / f.storage_key
    if not path.exists():
        raise NotFound("附件文件缺失")
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != f.sha256:
        raise NotFound("附件校验失败（文件已损坏）")
    return send_file(io.BytesIO(blob), mimetype=f.content_type, as_attachment=True, download_name=f.filename)


def file_out(f: CaseFile) -> dict:
    return {"id": f.id, "case_id": f.case_id, "task_id": f.task_id, "kind": f.kind, "kind_label": KINDS.get(f.kind),
            "filename": f.filename, "content_type": f.content_type, "size": f.size, "sha256": f.sha256,
            "uploaded_by": f.uploaded_by, "note": f.note, "created_at": f.created_at.isoformat() if f.created_at else None}


def store_file(case: Case, blob: bytes, ctype: str, filename: str, *, kind: str, uploaded_by: str,
               note: str | None = None) -> CaseFile:
    """Keep the bytes under FILES_DIR by SHA-256 (outside the web root) and add the case file row
    (flushed, not committed)."""
    digest, key = keep_blob(blob)
    f = CaseFile(case_id=case.id, uploaded_by=uploaded_by, kind=kind, filename=filename[:200], content_type=ctype,
                 size=len(blob), sha256=digest, storage_key=key, note=note, created_at=now())
    db.session.add(f)
    db.session.flush()
    return f
