"""Uploaded bytes: told by their content (PDF, JPEG, PNG, OFD — never by the name), checked for
size, stored once per SHA-256 under FILES_DIR (outside the web root) and read back only after their
checksum is checked. No rows: the callers (case files, the materials library, intake, 补正, results)
write those — and ``sweep_files`` deletes the stored files no row references any more (a replaced or
removed upload), once they are older than a grace period."""
from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import time
import zipfile
import zlib
from pathlib import Path

from flask import current_app, request
from lxml import etree
from sqlalchemy import select

from ...domain.errors import NotFound, ValidationError
from ...extensions import db

log = logging.getLogger(__name__)

TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png", "application/ofd": ".ofd"}


SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff（）() ]+")

#: OFD (GB/T 33190-2016): a zip package whose OFD.xml, at the package root, has the ofd:OFD root element
OFD_NS = "http://www.ofdspec.org/2016"
OFD_MAX_ENTRIES = 10_000
OFD_MAX_UNCOMPRESSED = 256 * 1024 * 1024  # all entries together, as the zip's directory declares them
OFD_MAX_XML = 1024 * 1024  # OFD.xml itself (a few hundred bytes in practice)
_LOCAL_HEADER = 30  # bytes of a zip local file header before its name


def sniff(head: bytes, blob: bytes) -> str | None:
    """The content type told by the bytes themselves, or None when not one we accept."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"PK\x03\x04") and is_ofd(blob):
        return "application/ofd"
    return None


def is_ofd(blob: bytes) -> bool:
    """Whether the bytes are an OFD package by its structure — not merely a zip with an entry named
    OFD.xml: a sound zip directory (at most OFD_MAX_ENTRIES entries, no duplicate names, no entries
    overlapping each other or reaching past the end, at most OFD_MAX_UNCOMPRESSED bytes unpacked, so
    a zip bomb is refused without unpacking it) whose OFD.xml parses (no DTD, no entities, no network)
    to the ofd:OFD root element of GB/T 33190."""
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            if not _sound_directory(z.infolist(), len(blob)):
                return False
            entry = z.getinfo("OFD.xml")
            if entry.file_size > OFD_MAX_XML:
                return False
            with z.open(entry) as f:
                xml = f.read(OFD_MAX_XML + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, EOFError, OSError, RuntimeError,
            NotImplementedError, ValueError, zlib.error):
        return False  # not a zip, no OFD.xml, encrypted, an unknown compression, a bad checksum
    return len(xml) <= OFD_MAX_XML and _ofd_root(xml)


def _sound_directory(infos: list[zipfile.ZipInfo], size: int) -> bool:
    """Bounded entry count and unpacked size, unique names, and every entry's bytes within the file
    and apart from the others (overlapping entries are how the small zip bombs reach gigabytes)."""
    if not infos or len(infos) > OFD_MAX_ENTRIES:
        return False
    if len({i.filename for i in infos}) != len(infos):
        return False
    if sum(i.file_size for i in infos) > OFD_MAX_UNCOMPRESSED:
        return False
    end = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset < end:
            return False
        end = info.header_offset + _LOCAL_HEADER + len(info.orig_filename.encode("utf-8", "replace")) \
            + info.compress_size
        if end > size:
            return False
    return True


def _ofd_root(xml: bytes) -> bool:
    """OFD.xml is the ofd:OFD document of GB/T 33190 (parsed as untrusted XML: no DTD, no entity
    expansion, no network, no huge trees)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_pis=True)
    try:
        root = etree.fromstring(xml, parser=parser)
    except (etree.XMLSyntaxError, ValueError):
        return False
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        return False
    return root.tag == f"{{{OFD_NS}}}OFD"


def allow_upload_size() -> None:
    """Let this request's body be as large as a file may be (the app's default is smaller)."""
    request.max_content_length = current_app.config["FILE_MAX_BYTES"] + 64 * 1024


def keep_blob(blob: bytes) -> tuple[str, str]:
    """Store the bytes once per SHA-256 under FILES_DIR (outside the web root): ``(sha256, storage key)``.

    A file already there is touched: its new mtime keeps ``sweep_files`` away from it until the
    caller's row is committed, even when an older row that referenced it is gone."""
    digest = hashlib.sha256(blob).hexdigest()
    key = f"{digest[:2]}/{digest[2:4]}/{digest}"
    path = Path(current_app.config["FILES_DIR"]) / key
    try:
        os.utime(path)
    except FileNotFoundError:
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


# -- the sweep ---------------------------------------------------------------------------------------
_STORED = re.compile(r"([0-9a-f]{64})((?:\.tmp\d+|\.sweep\d+)*)\Z")
_BATCH = 500


def _referencing_columns() -> list:
    """Every ``storage_key`` column of the schema (case files, library items, and whatever table
    stores one later): a stored file is in use while one of them names it."""
    return [table.c.storage_key for table in db.metadata.tables.values() if "storage_key" in table.c]


def referenced(keys: list[str]) -> set[str]:
    found: set[str] = set()
    try:
        for column in _referencing_columns():
            found.update(db.session.execute(select(column).where(column.in_(keys)).distinct()).scalars())
    finally:
        db.session.rollback()  # read only; on SQLite do not keep the write lock over the file work
    return found


def _candidates(root: Path, cutoff: float):
    """(storage key, leftover?, path, size) of the files under ``root`` last written or kept before
    ``cutoff`` — only names this module writes: ``ab/cd/<sha256>``, and the leftovers of a write or a
    sweep that was interrupted (``.tmp<pid>``, ``.sweep<pid>``), which go whether referenced or not."""
    for path in root.glob("??/??/*"):
        match = _STORED.match(path.name)
        digest = match.group(1) if match else ""
        if not match or path.parent.name != digest[2:4] or path.parent.parent.name != digest[:2]:
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        if stat.st_mtime < cutoff:
            yield f"{digest[:2]}/{digest[2:4]}/{digest}", bool(match.group(2)), path, stat.st_size


def _delete_unless_kept(path: Path, key: str | None, cutoff: float) -> bool:
    """Delete a file found unreferenced — unless it was kept or referenced meanwhile. The file is
    first moved aside (a keep_blob from then on writes it anew), then its mtime and, for a stored
    file (``key``), its references are read again (a row copying another row's key, such as a
    library item, brings no keep_blob): kept or referenced meanwhile, it is put back."""
    aside = path.with_name(f"{path.name}.sweep{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False  # another sweep took it
    if aside.stat().st_mtime >= cutoff or (key is not None and referenced([key])):
        os.replace(aside, path)  # the same bytes either way (the name is their checksum)
        os.utime(path)  # a fresh grace period, as keep_blob gives
        return False
    aside.unlink()
    return True


def sweep_files(grace_seconds: int | None = None, *, dry_run: bool = False) -> dict:
    """Delete the stored files under FILES_DIR no row references (a replaced draft material, a
    removed library item, a file whose row was rolled back) once they were last written or kept
    more than ``grace_seconds`` ago (default FILES_SWEEP_GRACE_SECONDS): an upload whose row is not
    committed yet is never taken. Safe beside other sweeps and uploads. Returns ``{"checked",
    "deleted", "bytes"}`` (with ``dry_run``, what would go)."""
    root = Path(current_app.config["FILES_DIR"])
    grace = current_app.config["FILES_SWEEP_GRACE_SECONDS"] if grace_seconds is None else grace_seconds
    cutoff = time.time() - max(0, int(grace))  # file times are wall-clock times, never the app clock
    counts = {"checked": 0, "deleted": 0, "bytes": 0}
    if not root.is_dir():
        return counts
    batch: list[tuple[str, bool, Path, int]] = []
    for item in _candidates(root, cutoff):
        batch.append(item)
        if len(batch) >= _BATCH:
            _sweep_batch(batch, cutoff, dry_run, counts)
            batch = []
    if batch:
        _sweep_batch(batch, cutoff, dry_run, counts)
    if counts["deleted"]:
        log.info("swept %(deleted)d unreferenced files (%(bytes)d bytes) of %(checked)d old enough", counts)
    return counts


def _sweep_batch(batch: list[tuple[str, bool, Path, int]], cutoff: float, dry_run: bool, counts: dict) -> None:
    counts["checked"] += len(batch)
    in_use = referenced(sorted({key for key, _, _, _ in batch}))
    for key, leftover, path, size in batch:
        if key in in_use and not leftover:
            continue
        if dry_run or _delete_unless_kept(path, None if leftover else key, cutoff):
            counts["deleted"] += 1
            counts["bytes"] += size
