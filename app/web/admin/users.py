"""Administration pages: staff users (roles, passwords, locks, second factor) and departments.
Administrators only (checked on the server: 403 for anyone else)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ...domain.errors import Conflict, NotFound, ValidationError
from ...domain.org import ROLES
from ...services.identity import org as org_svc
from .. import i18n
from ..auth import current_actor, login_required

bp = Blueprint("admin_users", __name__, url_prefix="/admin", template_folder="templates")
admin_only = login_required(lambda a: a.is_admin)

i18n.EN.update({
    "用户管理": "Users", "部门管理": "Departments", "新建用户": "New user", "新建部门": "New department",
    "搜索": "Search", "用户名、姓名或电话": "User name, name or phone", "行政区划": "Region", "角色": "Role",
    "锁定状态": "Lock state", "已锁定": "Locked", "未锁定": "Not locked", "正常": "Active", "已停用": "Inactive",
    "姓名": "Name", "电话": "Phone", "启用": "Active", "两步验证": "Two-step verification",
    "编辑": "Edit", "初始密码（至少 10 位）": "Initial password (at least 10 characters)", "创建": "Create",
    "新密码（至少 10 位）": "New password (at least 10 characters)", "重置密码": "Reset password",
    "解除锁定": "Unlock", "分配角色": "Assign role", "移除": "Remove", "关闭两步验证": "Disable two-step verification",
    "无部门": "No department", "部门代码": "Department code", "停用": "Deactivate",
    "返回列表": "Back to the list", "共": "Total", "人": " users", "当前角色": "Current roles",
    "候选组": "Candidate groups", "失败次数": "Failures", "锁定至": "Locked until",
    "业务处室": "Division", "政务服务大厅": "Service hall", "委领导": "Leadership", "外部门（会签）": "Other department (countersign)",
    "平台": "Platform", "部门须在用户所在行政区划内": "The department must be in the user's region",
    "角色需要部门：经办人、处长、联络员": "Roles that need a department: handler, chief, liaison",
})
KIND_NAMES = {"division": "业务处室", "hall": "政务服务大厅", "leadership": "委领导", "external": "外部门（会签）",
              "platform": "平台"}


def _regions():
    return org_svc.list_regions()


def _flag(name: str) -> bool:
    return request.form.get(name) in {"1", "on", "true", "yes"}


# ---------------------------------------------------------------- users

@bp.get("/users")
@admin_only
def users():
    args = request.args
    locked = {"1": True, "0": False}.get(args.get("locked", ""))
    role = args.get("role") or None
    rows = org_svc.list_users(current_actor(), q=args.get("q", ""), region_code=args.get("region") or None,
                              role_code=role if role in ROLES else None, locked=locked)
    return render_template("admin/users.html", users=rows, regions=_regions(), roles=org_svc.list_roles(),
                           region_names={r.code: r.name for r in _regions()}, is_locked=org_svc.is_locked,
                           f=args, message=args.get("msg"))


@bp.route("/users/new", methods=["GET", "POST"])
@admin_only
def user_new():
    error = details = None
    if request.method == "POST":
        f = request.form
        try:
            user = org_svc.create_user(current_actor(), f.get("username", ""), f.get("display_name", ""),
                                       f.get("region_code", ""), f.get("password", ""), phone=f.get("phone"))
        except ValidationError as exc:
            error, details = exc.message, exc.details
        else:
            return redirect(url_for("admin_users.user_edit", user_id=user.id, msg="用户已创建"))
    return render_template("admin/users_new.html", regions=_regions(), f=request.form, error=error,
                           details=details), (422 if error else 200)


def _user_page(user_id: int, status: int = 200, **extra):
    user = org_svc.get_user(user_id)
    return render_template("admin/users_edit.html", user=user, regions=_regions(), roles=org_svc.list_roles(),
                           role_info=ROLES, assignments=org_svc.user_roles(user),
                           departments=org_svc.list_departments(user.region_code, active_only=True),
                           locked=org_svc.is_locked(user), message=request.args.get("msg"), **extra), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_only
def user_edit(user_id):
    if request.method == "POST":
        f = request.form
        try:
            org_svc.update_user(current_actor(), user_id, display_name=f.get("display_name", ""),
                                phone=f.get("phone"), region_code=f.get("region_code", ""), active=_flag("active"))
        except ValidationError as exc:
            return _user_page(user_id, 422, error=exc.message, details=exc.details)
        return redirect(url_for("admin_users.user_edit", user_id=user_id, msg="已保存"))
    return _user_page(user_id)


def _user_action(user_id: int, action, done: str):
    try:
        action()
    except (ValidationError, Conflict) as exc:
        return _user_page(user_id, exc.status, error=exc.message, details=exc.details)
    except NotFound as exc:
        org_svc.get_user(user_id)  # a missing user is a 404; a missing assignment is explained
        return _user_page(user_id, 404, error=exc.message)
    return redirect(url_for("admin_users.user_edit", user_id=user_id, msg=done))


@bp.post("/users/<int:user_id>/password")
@admin_only
def user_password(user_id):
    return _user_action(user_id, lambda: org_svc.reset_password(current_actor(), user_id,
                                                                request.form.get("password", "")), "密码已重置")


@bp.post("/users/<int:user_id>/unlock")
@admin_only
def user_unlock(user_id):
    return _user_action(user_id, lambda: org_svc.unlock(current_actor(), user_id), "已解除锁定")


@bp.post("/users/<int:user_id>/roles")
@admin_only
def user_role_add(user_id):
    return _user_action(user_id, lambda: org_svc.assign_role(
        current_actor(), user_id, request.form.get("role", ""), request.form.get("department") or None), "角色已分配")


@bp.post("/users/<int:user_id>/roles/<int:assignment_id>/delete")
@admin_only
def user_role_remove(user_id, assignment_id):
    return _user_action(user_id, lambda: org_svc.remove_assignment(current_actor(), user_id, assignment_id),
                        "角色已移除")


@bp.post("/users/<int:user_id>/totp/disable")
@admin_only
def user_totp_disable(user_id):
    return _user_action(user_id, lambda: org_svc.disable_totp(current_actor(), user_id), "两步验证已关闭")


# ---------------------------------------------------------------- departments

def _departments_page(status: int = 200, **extra):
    region = request.args.get("region") or None
    return render_template("admin/departments.html", departments=org_svc.list_departments(region),
                           regions=_regions(), region_names={r.code: r.name for r in _regions()},
                           kinds=org_svc.DEPT_KINDS, kind_names=KIND_NAMES, region=region,
                           f=request.form, message=request.args.get("msg"), **extra), status


@bp.get("/departments")
@admin_only
def departments():
    return _departments_page()


@bp.post("/departments")
@admin_only
def department_new():
    f = request.form
    try:
        dept = org_svc.create_department(current_actor(), f.get("code", ""), f.get("name", ""),
                                         f.get("region_code", ""), f.get("kind", ""))
    except ValidationError as exc:
        return _departments_page(422, error=exc.message, details=exc.details)
    return redirect(url_for("admin_users.departments", region=dept.region_code, msg=f"{dept.code} 已创建"))


@bp.route("/departments/<int:dept_id>", methods=["GET", "POST"])
@admin_only
def department_edit(dept_id):
    dept = org_svc.get_department(dept_id)
    error = details = None
    if request.method == "POST":
        f = request.form
        try:
            org_svc.update_department(current_actor(), dept_id, name=f.get("name", ""), kind=f.get("kind", ""),
                                      active=_flag("active"))
        except ValidationError as exc:
            error, details = exc.message, exc.details
        else:
            return redirect(url_for("admin_users.departments", region=dept.region_code, msg=f"{dept.code} 已保存"))
    return render_template("admin/departments_edit.html", dept=dept, kinds=org_svc.DEPT_KINDS, kind_names=KIND_NAMES,
                           region_names={r.code: r.name for r in _regions()}, error=error,
                           details=details), (422 if error else 200)
