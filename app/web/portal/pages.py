"""Applicant portal pages (网上办事大厅): the public catalog (事项清单) and service guides (办事指南),
applicant registration and sign-in by SMS code (or an optional password), the profile, the materials
library (材料库) and applying online (drafts, uploads per materials-list entry, submit).

Views parse, call one service and render; the services check who may do what. Every POST carries
the session's CSRF token (form field, or ``X-CSRF-Token`` for the draft page's fetch). A refused
action re-renders its page with the service's message (422/409/429…) and changes nothing."""
from __future__ import annotations

import json
from functools import wraps

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from ...domain.errors import Conflict, DomainError, NotAuthorized, NotFound, ValidationError
from ...services.cases.registry import get_version
from ...services.common.clock import clock_now
from ...services.inbox import case_files as file_svc
from ...services.portal import applicants as acct
from ...services.portal import applications as apply_svc
from ...services.portal import catalog
from ...services.portal import library as lib
from ...services.portal import start_checks
from .. import i18n
from ..auth import _fresh_session, _safe_next, current_actor, sign_in

bp = Blueprint("portal", __name__, template_folder="templates")

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("投资项目管理"), i18n.N_("节能审查"), i18n.N_("政府投资"), i18n.N_("资金申请"), i18n.N_("招标投标"), i18n.N_("外商及境外投资"),
    i18n.N_("资格认定"), i18n.N_("价格管理"), i18n.N_("信用管理"), i18n.N_("特许经营"), i18n.N_("转报事项"), i18n.N_("结果类型"),
    i18n.N_("必要性"), i18n.N_("上传时间"), i18n.N_("申请事项"), i18n.N_("申请未提交：以下内容缺失或有误，请补齐后再提交"), i18n.N_("已暂存"),
    i18n.N_("个人中心"), i18n.N_("登录后申请"), i18n.N_("承诺件"), i18n.N_("即办件"), i18n.N_("注册成功，欢迎使用网上办事大厅"))


# -- helpers -----------------------------------------------------------------------------------------
def _ip() -> str:
    return (request.remote_addr or "unknown")[:64]


def applicant_required(view):
    """Signed-in applicants only: others are sent to the portal sign-in (staff get 403)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        actor = current_actor()
        if actor is None:
            return redirect(url_for("portal.login", next=request.full_path.rstrip("?")))
        if not actor.is_applicant:
            raise NotAuthorized("该页面仅供申请人使用（请用申请人账户登录）")
        return view(*args, **kwargs)
    return wrapped


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _form_fields(*keys) -> dict:
    return {k: request.form.get(k, "") for k in keys}


@bp.app_template_filter("tr")
def _tr(text):
    """gettext as a filter, for lists of code-set names (``labels|map('tr')``)."""
    return i18n.gettext(text)


# GB/T 39046 code-set names (app/services/catalog.py) and units, in English
# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("行政许可"), i18n.N_("行政处罚"), i18n.N_("行政强制"), i18n.N_("行政征收"), i18n.N_("行政给付"), i18n.N_("行政检查"),
    i18n.N_("行政确认"), i18n.N_("行政奖励"), i18n.N_("行政裁决"), i18n.N_("其他行政权力"), i18n.N_("公共服务"), i18n.N_("国家级"),
    i18n.N_("自然人"), i18n.N_("企业法人"), i18n.N_("事业法人"), i18n.N_("社会组织法人"), i18n.N_("非法人企业"), i18n.N_("行政机关"),
    i18n.N_("其他组织"), i18n.N_("窗口办理"), i18n.N_("网上办理"), i18n.N_("移动端办理"), i18n.N_("快递申请"), i18n.N_("个自然日"),
    i18n.N_("个月"), i18n.N_("企业（法人）"), i18n.N_("个人（自然人）"))


@bp.app_template_filter("bjtime")
def _bjtime(ts):
    return i18n.format_time(ts)


@bp.app_template_filter("filesize")
def _filesize(n):
    n = int(n or 0)
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{max(1, round(n / 1024))} KB"


# -- catalog and guide -------------------------------------------------------------------------------
@bp.get("/portal/")
def catalog_page():
    args = {k: (request.args.get(k) or "").strip()[:100] for k in ("q", "type", "level", "object", "category", "dept")}
    matters = catalog.list_catalog(args["q"] or None, args["type"] or None, args["level"] or None,
                                   args["object"] or None, category=args["category"] or None,
                                   department=args["dept"] or None)
    return render_template("portal/catalog.html", matters=matters, groups=catalog.grouped(matters), f=args,
                           options=catalog.filter_options())


@bp.get("/portal")
def catalog_bare():
    return redirect(url_for("portal.catalog_page"))


@bp.get("/portal/matters/<process_id>")
def guide_page(process_id):
    g = catalog.guide(process_id)
    return render_template("portal/guide.html", g=g, handling=catalog.HANDLING_FORMS)


# -- accounts ----------------------------------------------------------------------------------------
REG_FIELDS = ("kind", "name", "credit_code", "id_number", "legal_representative", "contact_person", "mobile",
              "email", "address")


@bp.route("/portal/register", methods=["GET", "POST"])
def register():
    values = _form_fields(*REG_FIELDS)
    values["kind"] = values["kind"] or request.args.get("kind") or "enterprise"
    if request.method == "GET":
        return render_template("portal/register.html", v=values, errors={})
    try:
        if request.form.get("action") == "send_code":
            acct.check_registration(values)
            acct.request_registration_code(values["mobile"], _ip())
            return render_template("portal/register.html", v=values, errors={}, sent=True)
        actor = acct.register(values, request.form.get("code", ""), _ip())
    except DomainError as exc:
        return render_template("portal/register.html", v=values, error=exc.message, errors=exc.details or {},
                               sent=request.form.get("action") != "send_code"), exc.status
    sign_in(actor.id, "sms")
    flash("注册成功，欢迎使用网上办事大厅", "ok")
    return redirect(_safe_next(request.args.get("next") or url_for("portal.catalog_page")))


@bp.route("/portal/login", methods=["GET", "POST"])
def login():
    mode = request.values.get("mode") or "code"
    mode = mode if mode in ("code", "password") else "code"
    values = _form_fields("mobile")
    if request.method == "GET":
        return render_template("portal/login.html", v=values, mode=mode)
    try:
        if request.form.get("action") == "send_code":
            acct.request_login_code(values["mobile"], _ip())
            return render_template("portal/login.html", v=values, mode="code", sent=True)
        if mode == "password":
            actor = acct.login_with_password(values["mobile"], request.form.get("password", ""), _ip())
        else:
            actor = acct.login_with_code(values["mobile"], request.form.get("code", ""), _ip())
    except DomainError as exc:
        from ...services.identity.auth import SecondFactorRequired
        if isinstance(exc, SecondFactorRequired):  # TOTP enrolled: the staff second step serves applicants too
            _fresh_session(pending_uid=exc.user_id, pending_at=clock_now().timestamp(),
                           pending_next=_safe_next(request.args.get("next") or url_for("portal.catalog_page")))
            return redirect(url_for("auth.login_code"))
        return render_template("portal/login.html", v=values, mode=mode, error=exc.message,
                               errors=exc.details or {}, sent=mode == "code"), exc.status
    sign_in(actor.id, "password" if mode == "password" else "sms")
    return redirect(_safe_next(request.args.get("next") or url_for("portal.catalog_page")))


def _profile_page(status=200, **extra):
    actor = current_actor()
    profile = acct.get_profile(actor)
    from ...extensions import db
    from ...models import User
    has_password = bool(db.session.get(User, actor.id).password_hash)
    return render_template("portal/profile.html", p=acct.profile_out(profile), has_password=has_password,
                           errors=extra.pop("errors", {}), **extra), status


@bp.get("/portal/profile")
@applicant_required
def profile():
    return _profile_page()


@bp.post("/portal/profile")
@applicant_required
def profile_save():
    try:
        acct.update_profile(current_actor(), _form_fields("name", "legal_representative", "contact_person",
                                                          "email", "address"))
    except DomainError as exc:
        return _profile_page(exc.status, error=exc.message, errors=exc.details)
    flash("资料已保存", "ok")
    return redirect(url_for("portal.profile"))


@bp.post("/portal/profile/mobile")
@applicant_required
def profile_mobile():
    new = request.form.get("new_mobile", "")
    try:
        if request.form.get("action") == "send_code":
            acct.request_mobile_change_code(current_actor(), new, _ip())
            return _profile_page(new_mobile=new, mobile_sent=True)
        acct.change_mobile(current_actor(), new, request.form.get("code", ""))
    except DomainError as exc:
        return _profile_page(exc.status, mobile_error=exc.message, new_mobile=new,
                             mobile_sent=request.form.get("action") != "send_code")
    flash("手机号码已更换", "ok")
    return redirect(url_for("portal.profile"))


@bp.post("/portal/profile/password")
@applicant_required
def profile_password():
    try:
        acct.set_applicant_password(current_actor(), request.form.get("password", ""),
                                    request.form.get("confirm", ""), request.form.get("current"))
    except DomainError as exc:
        return _profile_page(exc.status, password_error=exc.message)
    flash("登录密码已设置，可用手机号码 + 密码登录", "ok")
    return redirect(url_for("portal.profile"))


# -- materials library -------------------------------------------------------------------------------
def _library_page(status=200, **extra):
    items = lib.list_items(current_actor())
    return render_template("portal/library.html", items=items, **extra), status


@bp.get("/portal/library")
@applicant_required
def library():
    return _library_page()


@bp.post("/portal/library")
@applicant_required
def library_add():
    try:
        item = lib.add_item(current_actor(), request.form.get("material", ""), request.files.get("file"))
    except DomainError as exc:
        return _library_page(exc.status, error=exc.message, errors=exc.details or {},
                             material=request.form.get("material", ""))
    flash(f"已存入材料库：{item.material}（{item.filename}）", "ok")
    return redirect(url_for("portal.library"))


@bp.post("/portal/library/<int:item_id>/delete")
@applicant_required
def library_delete(item_id):
    lib.delete_item(current_actor(), item_id)
    flash("已从材料库删除（已提交的申请不受影响）", "ok")
    return redirect(url_for("portal.library"))


@bp.post("/portal/library/<int:item_id>/rename")
@applicant_required
def library_rename(item_id):
    try:
        lib.rename_item(current_actor(), item_id, request.form.get("material", ""))
    except ValidationError as exc:
        return _library_page(exc.status, error=exc.message)
    return redirect(url_for("portal.library"))


@bp.get("/portal/library/<int:item_id>/download")
@applicant_required
def library_download(item_id):
    return lib.send_item(current_actor(), item_id)


# -- applying ----------------------------------------------------------------------------------------
@bp.route("/portal/apply/<process_id>", methods=["GET", "POST"])
def apply(process_id):
    g = catalog.guide(process_id)  # 404 for an unknown matter, before anything else
    actor = current_actor()
    if actor is None:
        return redirect(url_for("portal.login", next=url_for("portal.apply", process_id=process_id)))
    if not actor.is_applicant:
        raise NotAuthorized("只有申请人可以网上申报（请用申请人账户登录）")
    if request.method == "GET":
        drafts = [d for d in apply_svc.list_drafts(actor) if d["process_id"] == process_id]
        return render_template("portal/apply.html", g=g, drafts=drafts)
    try:
        case = apply_svc.start_application(actor, process_id)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("portal.apply", process_id=process_id))
    return redirect(url_for("portal.draft", case_id=case.id))


@bp.get("/portal/drafts")
@applicant_required
def drafts():
    return render_template("portal/drafts.html", drafts=apply_svc.list_drafts(current_actor()))


def _draft_context(case_id: int) -> dict:
    actor = current_actor()
    case = apply_svc.get_draft(actor, case_id)
    version = get_version(case.version_id)
    form = apply_svc.start_form(version)
    labels = {f["key"]: f["label"] for f in catalog._form_fields(form)}
    materials = apply_svc.materials_state(case, version)
    for m in materials:
        labels[f"material.{m['index']}"] = m["name"]
    items = lib.list_items(actor)
    order = start_checks.field_order(form, [m["index"] for m in materials])
    return {"case": case, "matter": (version.matter or {}), "form": form, "materials": materials,
            "library": items, "labels": labels, "field_order": order}


def _draft_page(case_id: int, status: int = 200, **extra):
    try:
        ctx = _draft_context(case_id)
    except Conflict:  # submitted meanwhile: its page is the case's
        return redirect(f"/portal/cases/{case_id}")
    errors = start_checks.ordered(extra.pop("errors", None), ctx["field_order"])  # as the page asks them
    return render_template("portal/draft.html", errors=errors, **ctx, **extra), status


def _refuse_unticked(actor, case_id: int, data) -> None:
    """A required checkbox left unticked (the 承诺): refuse the submission with the whole list —
    the engine's checks and the missing materials too — before anything is submitted."""
    case = apply_svc.get_draft(actor, case_id)
    version = get_version(case.version_id)
    form = apply_svc.start_form(version)
    merged = dict(case.data or {}) if data is None else data
    unticked = start_checks.unticked_required(form, merged)
    if not unticked:
        return
    errors = dict(unticked)
    try:
        apply_svc.validate_start_data(form, merged, partial=False)
    except ValidationError as exc:
        errors.update(exc.details or {})
    errors.update(apply_svc.missing_materials(case, version))
    raise ValidationError("申请未提交：以下内容缺失或有误，请补齐后再提交", details=errors)


@bp.get("/portal/drafts/<int:case_id>")
@applicant_required
def draft(case_id):
    return _draft_page(case_id)


def _json_data():
    """The form data of a draft save or submit: ``{"data": {...}}`` as JSON, or a form field
    ``data`` holding JSON text (absent: the saved draft)."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ValidationError("请求格式不正确 (JSON object expected)", details={"data": ["object expected"]})
        return body.get("data")
    raw = request.form.get("data")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ValidationError("表单数据格式不正确", details={"data": ["not JSON"]}) from None


@bp.post("/portal/drafts/<int:case_id>/save")
@applicant_required
def draft_save(case_id):
    try:
        data = _json_data()
        if data is None:  # no form data sent: never wipe what the draft holds
            raise ValidationError("没有收到表单数据，草稿未改变", details={"data": ["必填 (required)"]})
        apply_svc.save_draft(current_actor(), case_id, data)
    except (ValidationError, Conflict) as exc:
        if _wants_json():
            return jsonify({"message": exc.message, "errors": exc.details}), exc.status
        return _draft_page(case_id, exc.status, error=exc.message, errors=exc.details)
    if _wants_json():
        return jsonify({"message": "已暂存", "saved_at": _bjtime(clock_now())})
    flash("已暂存", "ok")
    return redirect(url_for("portal.draft", case_id=case_id))


@bp.post("/portal/drafts/<int:case_id>/submit")
@applicant_required
def draft_submit(case_id):
    actor = current_actor()
    try:
        data = _json_data()
        _refuse_unticked(actor, case_id, data)
        case = apply_svc.submit_draft(actor, case_id, data)
    except Conflict as exc:
        # already submitted (a second click): the case exists once; go to it
        from ...services.cases.lifecycle import get_case
        try:
            case = get_case(actor, case_id)
        except NotFound:
            raise exc from None
        target = f"/portal/cases/{case.id}"
        if _wants_json():
            return jsonify({"message": "该申请已提交", "redirect": target, "case_no": case.case_no}), 409
        return redirect(target)
    except ValidationError as exc:
        if _wants_json():
            return jsonify({"message": exc.message, "errors": exc.details}), 422
        return _draft_page(case_id, 422, error=exc.message, errors=exc.details)
    target = f"/portal/cases/{case.id}"
    flash(f"申请已提交，办件编号 {case.case_no}", "ok")
    if _wants_json():
        return jsonify({"message": "申请已提交", "case_no": case.case_no, "redirect": target})
    return redirect(target)


@bp.post("/portal/drafts/<int:case_id>/delete")
@applicant_required
def draft_delete(case_id):
    apply_svc.delete_draft(current_actor(), case_id)
    flash("草稿已删除", "ok")
    return redirect(url_for("portal.drafts"))


@bp.post("/portal/drafts/<int:case_id>/materials/<int:index>")
@applicant_required
def draft_material(case_id, index):
    try:
        f = apply_svc.attach_material(current_actor(), case_id, index, upload=request.files.get("file"),
                                      library_item_id=request.form.get("library_item") or None,
                                      save_to_library=request.form.get("save_to_library") in ("1", "on", "true"))
    except (ValidationError, Conflict) as exc:
        details = exc.details or {}
        if "material" in details or "file" in details:
            details = {f"material.{index}": details.get("material") or details.get("file")}
        return _draft_page(case_id, exc.status, error=exc.message, errors=details)
    flash(f"「{f.material}」已上传：{f.filename}", "ok")
    return redirect(url_for("portal.draft", case_id=case_id) + f"#material-{index}")


@bp.post("/portal/drafts/<int:case_id>/files/<int:file_id>/remove")
@applicant_required
def draft_file_remove(case_id, file_id):
    apply_svc.remove_material(current_actor(), case_id, file_id)
    flash("已移除", "ok")
    return redirect(url_for("portal.draft", case_id=case_id))


@bp.post("/portal/drafts/<int:case_id>/files/<int:file_id>/keep")
@applicant_required
def draft_file_keep(case_id, file_id):
    try:
        item = apply_svc.save_file_to_library(current_actor(), case_id, file_id)
    except ValidationError as exc:
        return _draft_page(case_id, exc.status, error=exc.message)
    flash(f"已存入材料库：{item.material}", "ok")
    return redirect(url_for("portal.draft", case_id=case_id))


@bp.get("/portal/drafts/<int:case_id>/files/<int:file_id>")
@applicant_required
def draft_file(case_id, file_id):
    apply_svc.get_draft(current_actor(), case_id)
    return file_svc.send(current_actor(), case_id, file_id)


__all__ = ["bp"]
