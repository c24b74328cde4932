"""Organisation administration: departments, staff users, their roles in departments, and the
candidate groups those roles give; TOTP enrollment.

Only administrators manage (``actor.is_admin``); a user may enroll and disable their own second
factor. Every function that changes something commits, or changes nothing and raises
ValidationError (with ``details`` by field), NotFound, Conflict or NotAuthorized."""
from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import delete, exists, func, or_, select

from ...domain import totp
from ...domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from ...domain.groups import GROUPS
from ...domain.org import DEPT_CODE_RE, PROVINCE, REGIONS, ROLES, group_for
from ...extensions import db
from ...models import Department, Region, Role, User, UserRole
from ..common.clock import clock_now
from ..common.db_support import commit as _commit
from .actors import Actor
from .auth import set_password

DEPT_KINDS = ("division", "hall", "leadership", "external", "platform")
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{1,63}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{5,18}$")
PLATFORM_GROUPS = {"admin", "inspector", "designer"}


def _require_admin(actor: Actor) -> None:
    if actor is None or not actor.is_admin:
        raise NotAuthorized("只有系统管理员可以管理用户和部门 (administrators only)")


def _text(value, field: str, errors: dict, *, max_len: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        errors.setdefault(field, []).append("必填 (required)")
    elif len(value) > max_len:
        errors.setdefault(field, []).append(f"最多 {max_len} 字 (at most {max_len} characters)")
    return value


def _check_region(code, errors: dict, field: str = "region_code") -> str:
    code = (code or "").strip()
    if not code or db.session.get(Region, code) is None:
        errors.setdefault(field, []).append("行政区划不存在 (unknown region)")
    return code


def _raise(errors: dict, message: str = "输入有误 (invalid input)") -> None:
    if errors:
        raise ValidationError(message, details=errors)


# ---------------------------------------------------------------- regions, roles, departments

def list_regions() -> list[Region]:
    return list(db.session.execute(select(Region).order_by(Region.code)).scalars())


def list_roles() -> list[Role]:
    return list(db.session.execute(select(Role).order_by(Role.code)).scalars())


def role_needs_department(role_code: str) -> bool:
    return bool(ROLES.get(role_code, ("", "", False))[2])


def list_departments(region_code: str | None = None, *, active_only: bool = False) -> list[Department]:
    q = select(Department).order_by(Department.region_code, Department.code)
    if region_code:
        q = q.where(Department.region_code == region_code)
    if active_only:
        q = q.where(Department.active.is_(True))
    return list(db.session.execute(q).scalars())


def get_department(dept_id: int) -> Department:
    dept = db.session.get(Department, dept_id)
    if dept is None:
        raise NotFound("部门不存在 (no such department)")
    return dept


def find_department(code: str, region_code: str) -> Department | None:
    return db.session.execute(select(Department).where(Department.code == code,
                                                       Department.region_code == region_code)).scalar_one_or_none()


def create_department(actor: Actor, code: str, name: str, region_code: str = PROVINCE,
                      kind: str = "division") -> Department:
    _require_admin(actor)
    errors: dict = {}
    code = (code or "").strip()
    if not DEPT_CODE_RE.match(code):
        errors["code"] = ["部门代码应为小写字母开头的字母、数字或下划线，2–41 位 (lower-case letters, digits, _)"]
    name = _text(name, "name", errors, max_len=128)
    region_code = _check_region(region_code, errors)
    if kind not in DEPT_KINDS:
        errors["kind"] = [f"类型应为 {', '.join(DEPT_KINDS)} 之一"]
    _raise(errors)
    if find_department(code, region_code) is not None:
        raise ValidationError("该行政区划下已有此部门代码 (code already used in this region)",
                              details={"code": ["already exists in this region"]})
    dept = Department(code=code, name=name, region_code=region_code, kind=kind, active=True)
    db.session.add(dept)
    _commit()
    return dept


def update_department(actor: Actor, dept_id: int, *, name: str | None = None, kind: str | None = None,
                      active: bool | None = None) -> Department:
    """Rename, change kind or (de)activate; code and region stay (BPMN groups name the code)."""
    _require_admin(actor)
    dept = get_department(dept_id)
    errors: dict = {}
    if name is not None:
        name = _text(name, "name", errors, max_len=128)
    if kind is not None and kind not in DEPT_KINDS:
        errors["kind"] = [f"类型应为 {', '.join(DEPT_KINDS)} 之一"]
    _raise(errors)
    if name is not None:
        dept.name = name
    if kind is not None:
        dept.kind = kind
    if active is not None:
        dept.active = bool(active)
    _commit()
    return dept


def seed_reference_data() -> None:
    """Insert the regions and roles of app.domain.org that are missing (migration 0004 seeds them;
    this repairs a database whose rows were removed). Does not commit."""
    have_regions = set(db.session.execute(select(Region.code)).scalars())
    for code, name, parent, level in REGIONS:
        if code not in have_regions:
            db.session.add(Region(code=code, name=name, parent_code=parent, level=level))
    have_roles = set(db.session.execute(select(Role.code)).scalars())
    for code, (zh, _en, _needs) in ROLES.items():
        if code not in have_roles:
            db.session.add(Role(code=code, name=zh, description=""))
    db.session.flush()


def _dept_kind(code: str) -> str:
    if code.startswith("cs_"):
        return "external"
    return {"window": "hall", "leader": "leadership", "head": "leadership"}.get(code, "division")


def seed_departments(region_code: str = PROVINCE) -> list[Department]:
    """Create the departments the shipped processes name (from app.domain.groups.GROUPS) in
    ``region_code`` when missing (and the reference regions and roles). Idempotent; does not commit.
    Returns the ones created."""
    seed_reference_data()
    created = []
    for group, label in GROUPS.items():
        if group in PLATFORM_GROUPS or group.endswith("_chief") or group.endswith("_liaison"):
            continue
        if find_department(group, region_code) is not None:
            continue
        name = label.split(" ")[0]
        dept = Department(code=group, name=name, region_code=region_code, kind=_dept_kind(group), active=True)
        db.session.add(dept)
        created.append(dept)
    db.session.flush()
    return created


def role_for_group(group: str) -> tuple[str, str | None]:
    """The (role, department code) that gives candidate group ``group`` (inverse of group_for)."""
    if group == "window":
        return "window_clerk", None
    if group in ROLES and not role_needs_department(group):
        return group, None
    for suffix, role in (("_chief", "chief"), ("_liaison", "liaison")):
        if group.endswith(suffix):
            return role, group[: -len(suffix)]
    return "handler", group


def department_names(codes, region_code: str | None = None) -> dict[str, str]:
    """Department names by code: the departments table (this region's first), else the group's
    label (its department part), else the code."""
    codes = {c for c in codes if c}
    names = {c: (GROUPS.get(c) or c).split(" ")[0] for c in codes}
    region = region_code or current_app.config.get("REGION_CODE")
    rows = db.session.execute(select(Department.code, Department.name, Department.region_code).where(
        Department.code.in_(codes))).all() if codes else []
    for code, name, region_of in sorted(rows, key=lambda r: r[2] == region):  # this region's last: it wins
        names[code] = name
    return names


# ---------------------------------------------------------------- users

def get_user(user: int | str | User) -> User:
    """A user by id, user name or the object itself."""
    if isinstance(user, User):
        return user
    if isinstance(user, int):
        found = db.session.get(User, user)
    else:
        found = db.session.execute(select(User).where(User.username == user)).scalar_one_or_none()
    if found is None:
        raise NotFound("用户不存在 (no such user)")
    return found


def is_locked(user: User) -> bool:
    return bool(user.locked_until and user.locked_until > clock_now())


def list_users(actor: Actor, *, q: str = "", region_code: str | None = None, role_code: str | None = None,
               locked: bool | None = None, kind: str | None = "staff", limit: int = 500) -> list[User]:
    _require_admin(actor)
    query = select(User).order_by(User.region_code, User.username).limit(limit)
    if kind:
        query = query.where(User.kind == kind)
    q = (q or "").strip()
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        query = query.where(or_(User.username.ilike(like), User.display_name.ilike(like), User.phone.ilike(like)))
    if region_code:
        query = query.where(User.region_code == region_code)
    if role_code:
        query = query.where(exists().where(UserRole.user_id == User.id, UserRole.role_code == role_code))
    if locked is not None:
        cond = User.locked_until > clock_now()
        query = query.where(cond if locked else or_(User.locked_until.is_(None), ~cond))
    return list(db.session.execute(query).scalars())


def user_roles(user: User | int) -> list[tuple[UserRole, Role, Department | None]]:
    user_id = user.id if isinstance(user, User) else user
    rows = db.session.execute(
        select(UserRole, Role, Department).join(Role, Role.code == UserRole.role_code)
        .outerjoin(Department, Department.id == UserRole.department_id)
        .where(UserRole.user_id == user_id).order_by(UserRole.role_code, Department.code)).all()
    return [tuple(r) for r in rows]


def _check_user_fields(display_name, phone, region_code, errors) -> tuple[str, str | None, str]:
    display_name = _text(display_name, "display_name", errors, max_len=128)
    phone = (phone or "").strip() or None
    if phone and not PHONE_RE.match(phone):
        errors.setdefault("phone", []).append("电话号码格式不正确 (invalid phone number)")
    region_code = _check_region(region_code, errors)
    return display_name, phone, region_code


def create_user(actor: Actor, username: str, display_name: str, region_code: str, password: str,
                phone: str | None = None) -> User:
    """A staff user with a sign-in password (≥ 10 characters) and no roles yet."""
    _require_admin(actor)
    errors: dict = {}
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        errors["username"] = ["用户名以字母开头，可含字母、数字、_ . -，2–64 位 (letters, digits, _ . -)"]
    display_name, phone, region_code = _check_user_fields(display_name, phone, region_code, errors)
    if not isinstance(password, str) or len(password) < 10:
        errors["password"] = ["密码至少 10 位 (at least 10 characters)"]
    _raise(errors)
    if db.session.execute(select(User.id).where(User.username == username)).first() is not None:
        raise ValidationError("用户名已存在 (user name taken)", details={"username": ["already exists"]})
    user = User(username=username, display_name=display_name, kind="staff", groups=[], region_code=region_code,
                phone=phone, active=True, failed_logins=0, totp_enabled=False)
    set_password(user, password)
    db.session.add(user)
    _commit()
    return user


def update_user(actor: Actor, user: int | str | User, *, display_name: str, phone: str | None,
                region_code: str, active: bool) -> User:
    _require_admin(actor)
    user = get_user(user)
    errors: dict = {}
    display_name, phone, region_code = _check_user_fields(display_name, phone, region_code, errors)
    if not errors and region_code != user.region_code and any(
            d is not None and d.region_code != region_code for _, _, d in user_roles(user)):
        errors["region_code"] = ["该用户在原行政区划的部门中有角色，请先移除 (remove department roles first)"]
    if not active and user.id == actor.id:
        errors["active"] = ["不能停用自己的账户 (cannot deactivate yourself)"]
    _raise(errors)
    user.display_name, user.phone, user.region_code, user.active = display_name, phone, region_code, bool(active)
    _commit()
    return user


def set_active(actor: Actor, user: int | str | User, active: bool) -> User:
    _require_admin(actor)
    user = get_user(user)
    if not active and user.id == actor.id:
        raise ValidationError("不能停用自己的账户 (cannot deactivate yourself)", details={"active": ["self"]})
    user.active = bool(active)
    _commit()
    return user


def unlock(actor: Actor, user: int | str | User) -> User:
    """Clear the failed sign-in count and the lock."""
    _require_admin(actor)
    user = get_user(user)
    user.failed_logins, user.locked_until = 0, None
    _commit()
    return user


def reset_password(actor: Actor, user: int | str | User, password: str) -> User:
    """Set a new password (≥ 10 characters); also unlocks."""
    _require_admin(actor)
    user = get_user(user)
    try:
        set_password(user, password)
    except ValidationError:
        db.session.rollback()
        raise
    _commit()
    return user


# ---------------------------------------------------------------- roles

def recompute_groups(user: User) -> list[str]:
    """User.groups := the sorted candidate-group codes of the user's role assignments. Does not commit."""
    db.session.flush()
    groups = sorted({group_for(ur.role_code, dept.code if dept else None) for ur, _, dept in user_roles(user)})
    user.groups = groups
    return groups


def _resolve_department(user: User, role_code: str, department: int | str | None) -> Department | None:
    if not role_needs_department(role_code):
        if department not in (None, ""):
            raise ValidationError(f"角色 {role_code} 不属于部门 (this role takes no department)",
                                  details={"department": ["must be empty for this role"]})
        return None
    if department in (None, ""):
        raise ValidationError(f"角色 {role_code} 需要指定部门 (this role needs a department)",
                              details={"department": ["required for this role"]})
    if isinstance(department, int) or (isinstance(department, str) and department.isdigit()):
        dept = db.session.get(Department, int(department))
    else:
        dept = find_department(department, user.region_code)
    if dept is None:
        raise ValidationError("部门不存在 (no such department)", details={"department": ["not found"]})
    if dept.region_code != user.region_code:
        raise ValidationError("部门须在用户所在行政区划内 (department must be in the user's region)",
                              details={"department": ["in another region"]})
    if not dept.active:
        raise ValidationError("部门已停用 (department inactive)", details={"department": ["inactive"]})
    return dept


def assign_role(actor: Actor, user: int | str | User, role_code: str,
                department: int | str | None = None) -> UserRole:
    """Give ``user`` a role (in a department of their region: by id or code, for the roles that need
    one); the user's groups are recomputed. Assigning a role already held is a Conflict."""
    _require_admin(actor)
    user = get_user(user)
    if db.session.get(Role, role_code or "") is None or role_code not in ROLES:
        raise ValidationError("角色不存在 (no such role)", details={"role": ["unknown role"]})
    dept = _resolve_department(user, role_code, department)
    dept_id = dept.id if dept else None
    dup = select(UserRole.id).where(UserRole.user_id == user.id, UserRole.role_code == role_code,
                                    UserRole.department_id.is_(None) if dept_id is None
                                    else UserRole.department_id == dept_id)
    if db.session.execute(dup).first() is not None:
        raise Conflict("该用户已有此角色 (role already assigned)")
    ur = UserRole(user_id=user.id, role_code=role_code, department_id=dept_id)
    db.session.add(ur)
    recompute_groups(user)
    _commit()
    return ur


def remove_role(actor: Actor, user: int | str | User, role_code: str, department: int | str | None = None) -> None:
    """Take a role (in a department, by id or code) away; the user's groups are recomputed."""
    _require_admin(actor)
    user = get_user(user)
    for ur, _, dept in user_roles(user):
        if ur.role_code != role_code:
            continue
        if department in (None, ""):
            match = dept is None
        elif isinstance(department, int) or str(department).isdigit():
            match = dept is not None and dept.id == int(department)
        else:
            match = dept is not None and dept.code == department
        if match:
            return remove_assignment(actor, user, ur.id)
    raise NotFound("该用户没有此角色 (role not assigned)")


def remove_assignment(actor: Actor, user: int | str | User, user_role_id: int) -> None:
    _require_admin(actor)
    user = get_user(user)
    ur = db.session.get(UserRole, user_role_id)
    if ur is None or ur.user_id != user.id:
        raise NotFound("该用户没有此角色 (role not assigned)")
    if ur.role_code == "admin" and user.id == actor.id:
        raise ValidationError("不能移除自己的管理员角色 (cannot remove your own admin role)",
                              details={"role": ["self"]})
    db.session.delete(ur)
    recompute_groups(user)
    _commit()


def set_roles_from_groups(user: User, groups) -> None:
    """Replace ``user``'s assignments by the ones giving ``groups`` (departments of the user's region
    must exist). For seeding; does not commit."""
    db.session.execute(delete(UserRole).where(UserRole.user_id == user.id))
    for group in sorted(set(groups)):
        role, dept_code = role_for_group(group)
        dept = find_department(dept_code, user.region_code) if dept_code else None
        if dept_code and dept is None:
            raise ValidationError(f"部门 {dept_code} 不存在于 {user.region_code}", details={"department": [dept_code]})
        db.session.add(UserRole(user_id=user.id, role_code=role, department_id=dept.id if dept else None))
    recompute_groups(user)


def count_by_role() -> dict[str, int]:
    return dict(db.session.execute(select(UserRole.role_code, func.count()).group_by(UserRole.role_code)).all())


# ---------------------------------------------------------------- TOTP

def _self_or_admin(actor: Actor, user: User) -> None:
    if actor is None or (actor.id != user.id and not actor.is_admin):
        raise NotAuthorized("只能管理自己的两步验证 (only your own second factor)")


def begin_enrollment(actor: Actor, user: int | str | User | None = None) -> tuple[str, str]:
    """Store a new secret for the actor's own account (not enabled until confirmed). Returns
    (secret, otpauth URI)."""
    user = get_user(user if user is not None else actor.id)
    if actor is None or actor.id != user.id:
        raise NotAuthorized("只能为自己的账户开启两步验证 (only for your own account)")
    if user.totp_enabled:
        raise Conflict("两步验证已开启，请先关闭 (already enabled)")
    user.totp_secret = totp.new_secret()
    _commit()
    return user.totp_secret, totp.otpauth_uri(user.totp_secret, user.username)


def confirm_enrollment(actor: Actor, code: str, user: int | str | User | None = None) -> None:
    """Enable the second factor once the user shows a code of the stored secret."""
    user = get_user(user if user is not None else actor.id)
    if actor is None or actor.id != user.id:
        raise NotAuthorized("只能为自己的账户开启两步验证 (only for your own account)")
    if user.totp_enabled:
        raise Conflict("两步验证已开启 (already enabled)")
    if not user.totp_secret:
        raise Conflict("请先生成密钥 (start the enrollment first)")
    step = totp.verify(user.totp_secret, code, clock_now().timestamp(), user.totp_last_step)
    if step is None:
        raise ValidationError("验证码不正确 (wrong code)", details={"code": ["wrong or expired code"]})
    user.totp_enabled, user.totp_last_step = True, step
    _commit()


def disable_totp(actor: Actor, user: int | str | User) -> None:
    """Turn the second factor off (the user themself or an administrator)."""
    user = get_user(user)
    _self_or_admin(actor, user)
    user.totp_enabled, user.totp_secret = False, None
    _commit()
