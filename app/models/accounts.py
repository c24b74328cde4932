"""Applicant accounts (申请人账户: enterprise or individual, verified mobile) and the materials
library (材料库, 一次提交、多次使用). Drafts are cases in status ``draft`` (app/models/case.py); a
draft's uploads are ``case_files`` rows naming the materials-list entry they answer (``material``)."""
from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class ApplicantProfile(db.Model):
    """The applicant behind a ``users`` row of kind ``applicant``. ``users.display_name``,
    ``users.phone`` and ``users.org_code`` mirror name, mobile and credit code (notices read them)."""
    __tablename__ = "applicant_profiles"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # enterprise | individual
    name: Mapped[str] = mapped_column(String(200))
    #: 统一社会信用代码 (enterprise), unique
    credit_code: Mapped[str | None] = mapped_column(String(18), nullable=True, unique=True)
    #: 公民身份号码 (individual), unique
    id_number: Mapped[str | None] = mapped_column(String(18), nullable=True, unique=True)
    legal_representative: Mapped[str | None] = mapped_column(String(50), nullable=True)
    contact_person: Mapped[str | None] = mapped_column(String(50), nullable=True)
    mobile: Mapped[str] = mapped_column(String(20), unique=True)  # verified by an SMS code
    email: Mapped[str | None] = mapped_column(String(120), nullable=True)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    updated_at = mapped_column(UTCDateTime, default=utcnow)


class LibraryItem(db.Model):
    """A file in an applicant's materials library, named by the material it is (e.g. 营业执照).
    The bytes are stored once by SHA-256 (app/services/files.py); a case file picked from the
    library points at the same stored blob."""
    __tablename__ = "library_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    material: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_library_items_user_material", "user_id", "material"),)
