"""Files attached to a case: scans of meeting opinions, expert reviews, other departments' opinions.

The type is told by the content (PDF, JPEG, PNG, OFD), never by the name; the bytes are stored once
per SHA-256 under FILES_DIR, outside the web root, and served only through a permission check."""
from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

from flask import current_app, send_file
from sqlalchemy import select

from ..domain.errors import NotFound, ValidationError
from ..extensions import db
from ..models import Case, CaseFile
from .actors import Actor
from .cases import can_read_case
from .db_support import row_by_id
from .operations import touch
from .steps import now, record_event

KINDS = {"meeting": "会议纪要", "expert_review": "专家评审意见", "dept_opinion": "部门意见", "scan": "材料扫描件",
         "other": "其他"}
TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png", "application/ofd": ".ofd"}
SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff（）() ]+")


def sniff(head: bytes, blob: bytes) -> str | None:
    """The content type told by the bytes themselves, or None when not one we accept."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"PK\x03\x04"):  # OFD (GB/T 33190) is a zip package with OFD.xml at its root
        try:
            with zipfile.ZipFile(io.BytesIO(blob)) as z:
                if "OFD.xml" in z.namelist():
                    return "application/ofd"
        except zipfile.BadZipFile:
            return None
    return None


def allow_upload_size() -> None:
    """Let this request's body be as large as a file may be (the app's default is smaller)."""
    from flask import request
    request.max_content_length = current_app.config["FILE_MAX_BYTES"] + 64 * 1024


def _case_for(actor: Actor, case_id: int) -> Case:
    from ..domain.errors import NotAuthorized
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
    from ..domain.errors import NotAuthorized
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
        from ..models import HumanTask
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


def keep_blob(blob: bytes) -> tuple[str, str]:
    """Store the bytes once per SHA-256 under FILES_DIR (outside the web root): ``(sha256, storage key)``."""
    digest = hashlib.sha256(blob).hexdigest()
    key = f"{digest[:2]}/{digest[2:4]}/{digest}"
    path = Path(current_app.config["FILES_DIR"]) / key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    return digest, key


def safe_filename(raw: str, ctype: str) -> str:
    """The uploaded name without directories or odd characters, with the extension of its real type."""
    name = SAFE_NAME.sub("_", os.path.basename(raw or ""))[:150] or "file"
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem + TYPES[ctype]


def read_upload(upload, field: str, errors: dict) -> tuple[bytes, str, str] | None:
    """The bytes, content type (told by the content) and a safe file name of one upload; problems go
    into ``errors[field]`` (the caller refuses the whole request when any is there)."""
    if upload is None or not getattr(upload, "filename", None):
        errors[field] = ["请选择文件 (required)"]
        return None
    limit = current_app.config["FILE_MAX_BYTES"]
    blob = upload.stream.read(limit + 1)
    if len(blob) > limit:
        errors[field] = [f"文件超过 {limit // (1024 * 1024)} MB"]
        return None
    if not blob:
        errors[field] = ["文件为空"]
        return None
    ctype = sniff(blob[:16], blob)
    if ctype is None:
        errors[field] = ["只接受 PDF、JPG、PNG、OFD 文件（按内容识别，不看扩展名）"]
        return None
    return blob, ctype, safe_filename(upload.filename, ctype)


def store_upload(upload, field: str = "file") -> dict:
    """Check an applicant's upload (present, not empty, at most FILE_MAX_BYTES, PDF/JPG/PNG/OFD by
    content) and store its bytes once by SHA-256. Returns ``{filename, content_type, size, sha256,
    storage_key}``; raises ValidationError naming ``field``. Writes no row (the caller does)."""
    if upload is None or not getattr(upload, "filename", None):
        raise ValidationError("请选择要上传的文件", details={field: ["必填 (required)"]})
    limit = current_app.config["FILE_MAX_BYTES"]
    blob = upload.stream.read(limit + 1)
    if len(blob) > limit:
        raise ValidationError(f"文件超过 {limit // (1024 * 1024)} MB", details={
            field: [f"文件超过 {limit // (1024 * 1024)} MB (larger than {limit} bytes)"]})
    if not blob:
        raise ValidationError("文件为空", details={field: ["文件为空 (empty file)"]})
    ctype = sniff(blob[:16], blob)
    if ctype is None:
        raise ValidationError("只接受 PDF、JPG、PNG、OFD 文件（按内容识别）", details={
            field: ["只接受 PDF、JPG、PNG、OFD 文件（按内容识别，不看扩展名）"]})
    digest, key = keep_blob(blob)
    filename = safe_filename(upload.filename, ctype)
    return {"filename": filename, "content_type": ctype, "size": len(blob), "sha256": digest,
            "storage_key": key}


def read_stored(storage_key: str, sha256: str) -> bytes:
    """The stored bytes, after checking they still match their checksum. Raises NotFound."""
    path = Path(current_app.config["FILES_DIR"]) / storage_key
    if not path.exists():
        raise NotFound("附件文件缺失")
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise NotFound("附件校验失败（文件已损坏）")
    return blob


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
        from ..domain.errors import NotAuthorized
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
