"""流程设计 (issue 6): the designer pages — matters and their versions, the Camunda 7 modeler with
the properties panel, the matter's metadata and its forms (form-js editor), check and deploy.

Designers and administrators only (server-checked on every route). The JSON posts carry the
session's CSRF token in ``X-CSRF-Token`` (app.web.auth.check_csrf). See docs/designer.md."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from ...domain.errors import Conflict, InvalidModel, NotAuthenticated, NotFound, ValidationError
from ...domain.groups import GROUPS
from ...engine.parser import ID_RE
from ...services.design import deploy as deploy_svc
from ...services.design import import_assistant as assistant_svc
from ...services.design import designer as svc
from ...services.design import migration as migration_svc
from .. import i18n
from ..auth import current_actor, login_required

bp = Blueprint("designer", __name__, url_prefix="/designer", template_folder="templates",
               static_folder="static")

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("没有发现问题"),)


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
    matters = svc.overview(actor)
    return render_template("designer/index.html", matters=matters, library=svc.library_overview(actor),
                           names={m["process_id"]: m["name"] for m in matters})


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
    """Open a BPMN file from disk: ``{bpmn, filename}`` → the editor's document for its process and
    the import assistant's findings (``assistant``); 422 with element-level ``errors`` when the XML
    cannot open. Stores nothing."""
    actor = _json_actor()
    try:
        return jsonify(assistant_svc.import_document(actor, _payload()))
    except InvalidModel as exc:
        return jsonify({"ok": False, "message": exc.message, "errors": exc.errors}), 422


@bp.post("/import/apply")
def import_apply():
    """The import assistant's fixes the designer accepted: ``{bpmn, filename, accept, defaults?,
    group?}`` → ``{bpmn, process_id, forms, matter, applied, findings, errors, ok}`` (the deploy
    check of the result). Stores nothing."""
    actor = _json_actor()
    try:
        return jsonify(assistant_svc.apply(actor, _payload()))
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
        flash(i18n.gettext("已迁移 %(n)s 件: %(cases)s", n=len(moved),
                           cases=i18n.gettext("、").join(_case_label(c) for c in moved)), "ok")
    for c in refused:
        flash(i18n.gettext("%(case)s 未迁移: %(reasons)s", case=_case_label(c), reasons="; ".join(c.reasons)), "error")
    if not outcomes:
        flash(i18n.gettext("没有需要迁移的办件"), "ok")
    return redirect(url_for("designer.migrate", process_id=process_id))


def _case_label(outcome) -> str:
    """The case number of a migration outcome, or ``#<instance id>`` for an instance without a case."""
    return outcome.case_no or f"#{outcome.instance_id}"
