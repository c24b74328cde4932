"""Uploaded bytes: told by their content (PDF, JPEG, PNG, OFD — never by the name), checked for
size, stored once per SHA-256 under FILES_DIR (outside the web root) and read back only after their
checksum is checked. No rows: the callers (case files, the materials library, intake, 补正, results)
write those."""
from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from pathlib import Path

from flask import current_app, request

from ...domain.errors import NotFound, ValidationError

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
    request.max_content_length = current_app.config["FILE_MAX_BYTES"] + 64 * 1024


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
