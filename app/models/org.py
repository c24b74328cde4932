from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow


class Region(db.Model):
    """行政区划 (GB/T 2260): province, city (地市) or county (区县)."""
    __tablename__ = "regions"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    parent_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    level: Mapped[str] = mapped_column(String(8))  # province | city | county


class Department(db.Model):
    """A 处室 of a commission, or another department that countersigns. Its ``code`` is what BPMN
    ``candidateGroups`` name (with a role suffix, see app.domain.org)."""
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(48))
    name: Mapped[str] = mapped_column(String(128))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), default="320000")
    kind: Mapped[str] = mapped_column(String(16), default="division")  # division | hall | leadership | external | platform
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (UniqueConstraint("code", "region_code", name="uq_departments_code_region"),)


class Role(db.Model):
    """A role a user holds in a department: window clerk, handler, chief, leader, liaison,
    inspector, designer, admin (codes fixed in app.domain.org)."""
    __tablename__ = "roles"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(300), default="")


class UserRole(db.Model):
    """One assignment: user × role × department (department is empty for platform-wide roles)."""
    __tablename__ = "user_roles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role_code: Mapped[str] = mapped_column(ForeignKey("roles.code"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "role_code", "department_id", name="uq_user_roles"),)
