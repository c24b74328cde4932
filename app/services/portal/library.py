"""材料库 (一次提交、多次使用): an applicant's stored files, named by material (营业执照 …). Uploaded
once (type by content, size limit, SHA-256: app/services/files.store_upload) and then picked for any
application without uploading again; the case file then points at the same stored blob.

Only the owner sees, downloads or deletes an item: for anyone else it does not exist (NotFound)."""
from __future__ import annotations

import io

from flask import send_file
from sqlalchemy import func, select

from ...domain.errors import NotAuthorized, NotFound, ValidationError
from ...extensions import db
from ...models import CaseFile
from ...models.accounts import LibraryItem
from ..common.blobs import read_stored, store_upload
from ..common.clock import clock_now
from ..common.db_support import row_by_id
from ..identity.actors import Actor

MATERIAL_MAX = 200
ITEMS_MAX = 200  # per applicant


def _applicant(actor: Actor) -> None:
    if actor is None or not actor.is_applicant:
        raise NotAuthorized("只有申请人有材料库")


def clean_material(material) -> str:
    if not isinstance(material, str) or not material.strip():
        raise ValidationError("请填写材料名称（如 营业执照）", details={"material": ["必填 (required)"]})
    material = " ".join(material.split())
    if len(material) > MATERIAL_MAX:
        raise ValidationError(f"材料名称最多 {MATERIAL_MAX} 字", details={"material": ["too long"]})
    return material


def list_items(actor: Actor, material: str | None = None) -> list[LibraryItem]:
    _applicant(actor)
    stmt = select(LibraryItem).where(LibraryItem.user_id == actor.id)
    if material:
        stmt = stmt.where(LibraryItem.material == material)
    return list(db.session.execute(stmt.order_by(LibraryItem.material, LibraryItem.id.desc())).scalars())


def get_item(actor: Actor, item_id) -> LibraryItem:
    _applicant(actor)
    item = row_by_id(LibraryItem, item_id)
    if item is None or item.user_id != actor.id:
        raise NotFound("材料库中没有该文件")
    return item


def _count(actor: Actor) -> int:
    return db.session.execute(select(func.count()).select_from(LibraryItem)
                              .where(LibraryItem.user_id == actor.id)).scalar()


def add_item(actor: Actor, material: str, upload) -> LibraryItem:
    """Store an uploaded file in the actor's library under ``material``. Commits."""
    _applicant(actor)
    material = clean_material(material)
    if _count(actor) >= ITEMS_MAX:
        raise ValidationError(f"材料库最多保存 {ITEMS_MAX} 个文件，请先删除不用的文件", details={"file": ["library full"]})
    stored = store_upload(upload)
    return _add(actor, material, stored)


def _add(actor: Actor, material: str, stored: dict) -> LibraryItem:
    item = LibraryItem(user_id=actor.id, material=material, created_at=clock_now(), **stored)
    try:
        db.session.add(item)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return item


def save_case_file(actor: Actor, case_file: CaseFile, material: str | None = None) -> LibraryItem:
    """Keep a file uploaded while applying in the library (same stored blob), unless the library
    already holds these bytes under this material. Commits."""
    _applicant(actor)
    if case_file.uploaded_by != actor.username:
        raise NotFound("附件不存在")
    material = clean_material(material or case_file.material or case_file.filename)
    same = db.session.execute(select(LibraryItem).where(
        LibraryItem.user_id == actor.id, LibraryItem.material == material,
        LibraryItem.sha256 == case_file.sha256)).scalars().first()
    if same is not None:
        return same
    if _count(actor) >= ITEMS_MAX:
        raise ValidationError(f"材料库最多保存 {ITEMS_MAX} 个文件", details={"file": ["library full"]})
    return _add(actor, material, {"filename": case_file.filename, "content_type": case_file.content_type,
                                  "size": case_file.size, "sha256": case_file.sha256,
                                  "storage_key": case_file.storage_key})


def rename_item(actor: Actor, item_id: int, material: str) -> LibraryItem:
    item = get_item(actor, item_id)
    material = clean_material(material)
    try:
        item.material = material
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return item


def delete_item(actor: Actor, item_id: int) -> None:
    """Remove an item from the library. Applications that used it keep their copy (the blob is
    shared and never deleted here). Commits."""
    item = get_item(actor, item_id)
    try:
        db.session.delete(item)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def send_item(actor: Actor, item_id: int):
    """The item as a download, after the owner check and the checksum check."""
    item = get_item(actor, item_id)
    blob = read_stored(item.storage_key, item.sha256)
    return send_file(io.BytesIO(blob), mimetype=item.content_type, as_attachment=True, download_name=item.filename)


def item_out(item: LibraryItem) -> dict:
    return {"id": item.id, "material": item.material, "filename": item.filename, "content_type": item.content_type,
            "size": item.size, "sha256": item.sha256, "created_at": item.created_at.isoformat() if item.created_at else None}
