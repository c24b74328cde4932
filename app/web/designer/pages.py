"""流程设计 (issue 6): the designer pages — matters and their versions, the Camunda 7 modeler with
the properties panel, the matter's metadata and its forms (form-js editor), check and deploy.

Designers and administrators only (server-checked on every route). The JSON posts carry the
session's CSRF token in ``X-CSRF-Token`` (app.web.auth.check_csrf). See docs/designer.md."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from ...domain.errors import Conflict, InvalidModel, NotAuthenticated, NotFound, ValidationError
from ...domain.groups import GROUPS
from ...engine.parser import ID_RE
from ...services.common.clock import BEIJING
from ...services.design import deploy as deploy_svc
from ...services.design import designer as svc
from ...services.design import migration as migration_svc
from .. import i18n
from ..auth import current_actor, login_required

bp = Blueprint("designer", __name__, url_prefix="/designer", template_folder="templates",
               static_folder="static")

i18n.EN.update({
    "流程设计": "Process designer", "事项与版本": "Matters and versions", "新建流程": "New process",
    "版本": "Version", "部署人": "Deployed by", "部署时间": "Deployed at", "内容摘要": "Hash",
    "变更": "Changes", "运行中实例": "Running instances", "打开": "Open", "检查": "Check", "部署": "Deploy",
    "流程图": "Diagram", "事项信息": "Matter", "表单": "Forms", "下载 BPMN": "Download BPMN",
    "流程标识": "Process id", "事项名称": "Matter name", "创建": "Create", "检查结果": "Check results",
    "没有发现问题": "No problems found", "最新": "latest", "首个版本": "first version",
    "新增": "added", "删除": "removed", "修改": "changed", "元素": "elements", "元数据": "metadata",
    "还没有部署任何事项。": "No matter has been deployed yet.",
    "字母、数字、下划线，不以数字开头": "letters, digits, underscores; not starting with a digit",
    "迁移到新版本": "Move to the newest version", "迁移": "Move", "全部迁移": "Move all movable",
    "办件编号": "Case no.", "当前版本": "On version", "当前环节": "Current step", "可以迁移": "Movable",
    "不能迁移": "Not movable", "原因": "Reason", "没有需要迁移的办件。": "No waiting case runs on an older version.",
    "场景测试": "Scenario tests", "打开文件": "Open file", "目标版本": "Target version", "等待中的环节": "Waiting at", "返回": "Back", "公共子流程": "Shared sub-processes", "流程": "Process",
    "调用它的事项": "Called by", "修改公共子流程即为每个调用它的事项部署新版本": "Changing a shared sub-process deploys a new version of every matter that calls it",
})


def _designer_page(view):
    return login_required(svc.is_designer)(view)


def _json_actor():
    actor = current_actor()
    if actor is None:
        raise NotAuthenticated("需要登录")
    svc.require_designer(actor)
    return actor


@bp.get("")
@_designer_page
def index():
    actor = current_actor()
    return render_template("designer/index.html", matters=svc.overview(actor), library=svc.library_overview(actor),
                           tz=BEIJING)


@bp.get("/new")
@_designer_page
def new():
    pid = (request.args.get("process_id") or "").strip()
    name = (request.args.get("name") or "").strip()
    if not pid:
        return render_template("designer/new.html", process_id="", name="", error=None)
    try:
        doc = svc.new_matter(current_actor(), pid, name)
    except (ValidationError, Conflict) as exc:  # shown on the form
        return render_template("designer/new.html", process_id=pid, name=name, error=exc.message), exc.status
    return _editor(doc)


@bp.get("/<process_id>")
@_designer_page
def edit(process_id):
    if not ID_RE.match(process_id):
        raise NotFound(f"事项不存在: {process_id}")
    return _editor(svc.open_matter(current_actor(), process_id))


def _editor(doc: dict):
    data = dict(doc, form_ids=svc.existing_form_ids(),
                groups=[{"code": c, "name": n} for c, n in GROUPS.items()],
                urls={"check": url_for("designer.check"), "scenarios": url_for("designer.scenarios"), "import": url_for("designer.import_file"), "deploy": url_for("designer.deploy"),
                      "form": url_for("designer.form", form_id="FORM_ID"), "index": url_for("designer.index")})
    return render_template("designer/edit.html", doc=doc, data=data)


@bp.get("/forms/<form_id>")
def form(form_id):
    """A form of FORMS_DIR as JSON (the editor opens a formKey the loaded version does not carry)."""
    return jsonify(svc.form_schema(_json_actor(), form_id))


def _payload():
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # nesting too deep for the JSON decoder (silent covers only ValueError)
        payload = None
    if payload is None:
        raise ValidationError("请求内容应为 JSON (application/json)", details={"body": ["JSON expected"]})
    return payload


@bp.post("/check")
def check():
    """Run the deploy checks on the posted files without deploying: ``{errors: [...]}``."""
    actor = _json_actor()
    errors = deploy_svc.check(actor, _payload())
    return jsonify({"ok": not errors, "errors": errors})


@bp.post("/scenarios")
def scenarios():
    """Run the posted path tests against the posted (unsaved) model: ``{ok, errors, results}``."""
    return jsonify(deploy_svc.run_scenarios(_json_actor(), _payload()))


@bp.post("/import")
def import_file():
    """Open a BPMN file from disk: ``{bpmn, filename}`` → the editor's document for its process
    (422 with element-level ``errors`` when it cannot open). Stores nothing."""
    actor = _json_actor()
    try:
        return jsonify(svc.import_file(actor, _payload()))
    except InvalidModel as exc:
        return jsonify({"ok": False, "message": exc.message, "errors": exc.errors}), 422


@bp.post("/deploy")
def deploy():
    """Check, then write the files and deploy (422 with ``errors`` when anything is wrong)."""
    actor = _json_actor()
    try:
        return jsonify(dict(deploy_svc.deploy(actor, _payload()), ok=True))
    except InvalidModel as exc:
        return jsonify({"ok": False, "message": exc.message, "errors": exc.errors}), 422


# -- migration (issue 6 point 3) -------------------------------------------------------------------
@bp.get("/<process_id>/migrate")
@_designer_page
def migrate(process_id):
    """The waiting cases of older versions: which can move to the newest version, and why not."""
    if not ID_RE.match(process_id):
        raise NotFound(f"事项不存在: {process_id}")
    return render_template("designer/migrate.html", preview=migration_svc.preview(current_actor(), process_id))


@bp.post("/<process_id>/migrate")
@_designer_page
def migrate_post(process_id):
    """Move one instance (``instance_id``) or every movable one (no ``instance_id``); CSRF-checked."""
    if not ID_RE.match(process_id):
        raise NotFound(f"事项不存在: {process_id}")
    actor = current_actor()
    raw = (request.form.get("instance_id") or "").strip()
    if raw:
        if not raw.isdigit() or len(raw) > 18:
            raise ValidationError("实例编号无效", details={"instance_id": ["integer expected"]})
        outcomes = [migration_svc.move_one(actor, int(raw), process_id)]
    else:
        out = migration_svc.move(actor, process_id)
        outcomes = out["moved"] + out["refused"]
    moved = [c for c in outcomes if c.movable]
    refused = [c for c in outcomes if not c.movable]
    if moved:
        flash(f"已迁移 {len(moved)} 件: " + "、".join(c.case_no or f"#{c.instance_id}" for c in moved), "ok")
    for c in refused:
        flash(f"{c.case_no or '#' + str(c.instance_id)} 未迁移: {'; '.join(c.reasons)}", "error")
    if not outcomes:
        flash("没有需要迁移的办件", "ok")
    return redirect(url_for("designer.migrate", process_id=process_id))
