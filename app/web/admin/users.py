"""Administration pages: staff users (roles, passwords, locks, second factor) and departments.
Administrators only (checked on the server: 403 for anyone else)."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ...domain.errors import Conflict, NotFound, ValidationError
from ...domain.org import ROLES
from ...services.identity import cert_policy
from ...services.identity import certificates as cert_svc
from ...services.identity import org as org_svc
from .. import i18n
from ..auth import current_actor, login_required
from . import labels

bp = Blueprint("admin_users", __name__, url_prefix="/admin", template_folder="templates")
bp.context_processor(labels.helpers)
admin_only = login_required(lambda a: a.is_admin)

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("停用"), i18n.N_("业务处室"), i18n.N_("政务服务大厅"), i18n.N_("委领导"), i18n.N_("外部门（会签）"), i18n.N_("平台"))
KIND_NAMES = {"division": "业务处室", "hall": "政务服务大厅", "leadership": "委领导", "external": "外部门（会签）",
              "platform": "平台"}


def _regions():
    return org_svc.list_regions()


def _dept_names() -> dict[str, dict[str, str]]:
    """{region code: {department code: name}}: the names a candidate group's label shows."""
    names: dict[str, dict[str, str]] = {}
    for d in org_svc.list_departments():
        names.setdefault(d.region_code, {})[d.code] = d.name
    return names


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
                           dept_names=_dept_names(), f=args, message=args.get("msg"))


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
            return redirect(url_for("admin_users.user_edit", user_id=user.id, msg=i18n.gettext("用户已创建")))
    return render_template("admin/users_new.html", regions=_regions(), f=request.form, error=error,
                           details=details), (422 if error else 200)


def _user_page(user_id: int, status: int = 200, **extra):
    user = org_svc.get_user(user_id)
    return render_template("admin/users_edit.html", user=user, regions=_regions(), roles=org_svc.list_roles(),
                           role_info=ROLES, assignments=org_svc.user_roles(user),
                           certificates=cert_svc.user_certificates(user.id), cert_attempts=cert_svc.unbound_attempts(),
                           cert_audit=cert_policy.audit_log(user.id, 20),
                           departments=org_svc.list_departments(user.region_code, active_only=True),
                           locked=org_svc.is_locked(user), dept_names=_dept_names().get(user.region_code, {}),
                           message=request.args.get("msg"), **extra), status


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
        return redirect(url_for("admin_users.user_edit", user_id=user_id, msg=i18n.gettext("已保存")))
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
                                                                request.form.get("password", "")),
                        i18n.gettext("密码已重置"))


@bp.post("/users/<int:user_id>/unlock")
@admin_only
def user_unlock(user_id):
    return _user_action(user_id, lambda: org_svc.unlock(current_actor(), user_id), i18n.gettext("已解除锁定"))


@bp.post("/users/<int:user_id>/roles")
@admin_only
def user_role_add(user_id):
    return _user_action(user_id, lambda: org_svc.assign_role(
        current_actor(), user_id, request.form.get("role", ""), request.form.get("department") or None),
        i18n.gettext("角色已分配"))


@bp.post("/users/<int:user_id>/roles/<int:assignment_id>/delete")
@admin_only
def user_role_remove(user_id, assignment_id):
    return _user_action(user_id, lambda: org_svc.remove_assignment(current_actor(), user_id, assignment_id),
                        i18n.gettext("角色已移除"))


@bp.post("/users/<int:user_id>/totp/disable")
@admin_only
def user_totp_disable(user_id):
    return _user_action(user_id, lambda: org_svc.disable_totp(current_actor(), user_id),
                        i18n.gettext("两步验证已关闭"))


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
    return redirect(url_for("admin_users.departments", region=dept.region_code,
                            msg=i18n.gettext("部门 %(code)s 已创建", code=dept.code)))


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
            return redirect(url_for("admin_users.departments", region=dept.region_code,
                                    msg=i18n.gettext("部门 %(code)s 已保存", code=dept.code)))
    return render_template("admin/departments_edit.html", dept=dept, kinds=org_svc.DEPT_KINDS, kind_names=KIND_NAMES,
                           region_names={r.code: r.name for r in _regions()}, error=error,
                           details=details), (422 if error else 200)


# ---------------------------------------------------------------- certificates (issue 17)

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("证书已绑定"), i18n.N_("证书已解除绑定"), i18n.N_("策略已保存"))


def _cert_action(user_id: int, action, done: str):
    try:
        action()
    except (ValidationError, Conflict, NotFound) as exc:
        org_svc.get_user(user_id)  # a missing user is a 404
        return _user_page(user_id, exc.status, error=exc.message, details=exc.details)
    return redirect(url_for("admin_users.user_edit", user_id=user_id, msg=done) + "#certificates")


@bp.post("/users/<int:user_id>/certificates")
@admin_only
def user_cert_bind(user_id):
    upload = request.files.get("file")
    data = upload.read(64 * 1024) if upload and upload.filename else (request.form.get("pem") or "").strip()
    return _cert_action(user_id, lambda: cert_svc.bind_certificate(current_actor(), user_id, data),
                        i18n.gettext("证书已绑定"))


@bp.post("/users/<int:user_id>/certificates/from-attempt")
@admin_only
def user_cert_bind_attempt(user_id):
    raw = request.form.get("attempt", "")
    attempt_id = int(raw) if raw.isdigit() and len(raw) < 10 else None
    return _cert_action(user_id, lambda: cert_svc.bind_attempt(current_actor(), user_id, attempt_id),
                        i18n.gettext("证书已绑定"))


@bp.post("/users/<int:user_id>/certificates/<int:cert_id>/delete")
@admin_only
def user_cert_unbind(user_id, cert_id):
    return _cert_action(user_id, lambda: cert_svc.unbind(current_actor(), user_id, cert_id),
                        i18n.gettext("证书已解除绑定"))


def _policy_page(status: int = 200, **extra):
    return render_template("admin/cert_policy.html", roles=org_svc.list_roles(), policies=cert_policy.policies(),
                           audit=cert_policy.audit_log(), message=request.args.get("msg"), **extra), status


@bp.route("/cert-policy", methods=["GET", "POST"])
@admin_only
def cert_policy_page():
    if request.method == "POST":
        form = request.form
        try:
            current = cert_policy.policies()
            for role in org_svc.list_roles():
                want = (f"cert_{role.code}" in form, f"high_{role.code}" in form)
                have = current.get(role.code)
                if (bool(have and have.require_certificate), bool(have and have.decision_high)) != want:
                    cert_policy.set_policy(current_actor(), role.code, require_certificate=want[0],
                                           decision_high=want[1])
        except ValidationError as exc:
            return _policy_page(422, error=exc.message, details=exc.details)
        return redirect(url_for("admin_users.cert_policy_page", msg=i18n.gettext("策略已保存")))
    return _policy_page()
