"""事项目录同步 (issue 15 point 2): the designer page of the 一张网's catalog — the matters whose entry
there differs from the deployed version, each difference side by side, 接受 (a new version with the
chosen values, through the designer's deploy) or 忽略, and the button that pulls the catalog.

Designers and administrators only (checked here and again in app/services/docking/catalog.py).
Plain HTML forms with the session's CSRF token; the services say what is refused."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ...domain.errors import Conflict, InvalidModel, NotFound, ValidationError
from ...services.design import designer as design_svc
from ...services.docking import catalog as svc
from ...services.docking.catalog_mapping import FIELD_LABELS, MATERIAL_LABELS, MappingInvalid
from .. import i18n
from ..auth import current_actor, login_required
from .pages import _editor

catalog_bp = Blueprint("designer_catalog", __name__, url_prefix="/designer/catalog", template_folder="templates")

STATUS_LABELS = {"ok": i18n.N_("成功"), "partial": i18n.N_("部分条目被拒绝"), "failed": i18n.N_("失败"),
                 "running": i18n.N_("进行中"), "accepted": i18n.N_("已接受"), "dismissed": i18n.N_("已忽略")}


def _designer_page(view):
    return login_required(design_svc.is_designer)(view)


def _entry_id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise NotFound("目录差异不存在")
    return int(raw)


@catalog_bp.get("")
@_designer_page
def index():
    return render_template("designer/catalog.html", review=svc.review(current_actor()),
                           labels=FIELD_LABELS, material_labels=MATERIAL_LABELS, statuses=STATUS_LABELS)


@catalog_bp.post("/pull")
@_designer_page
def pull():
    """拉取: the incremental pull (``full=1``: everything again); the outcome as a flash message."""
    try:
        out = svc.pull(current_actor(), full=request.form.get("full") == "1")
    except (svc.PullFailed, svc.CatalogNotConfigured, MappingInvalid, Conflict) as exc:
        flash(i18n.gettext(exc.message), "error")
        return redirect(url_for("designer_catalog.index"))
    flash(i18n.gettext("已拉取：%(matters)s 个事项，收到 %(received)s 个条目，新存 %(stored)s 个，其中 %(differing)s 个与当前版本不同",
                       matters=out["matters"], received=out["received"], stored=out["stored"],
                       differing=out["differing"]), "ok")
    for p in out["problems"][:20]:
        flash(i18n.gettext("条目 %(entry)s（%(process_id)s）被拒绝：%(field)s %(message)s", entry=p["entry"],
                           process_id=p["process_id"], field=p["field"], message=i18n.gettext(p["message"])), "error")
    return redirect(url_for("designer_catalog.index"))


@catalog_bp.post("/<entry_id>/accept")
@_designer_page
def accept(entry_id):
    """接受: the ticked parts (``parts``, all that differ when none is ticked) into a new version."""
    parts = [p for p in request.form.getlist("parts") if p]
    if len(parts) > len(svc.PARTS) or any(p not in svc.PARTS for p in parts):
        raise ValidationError("所选内容无效", details={"parts": [", ".join(svc.PARTS)]})
    try:
        out = svc.accept(current_actor(), _entry_id(entry_id), parts or None)
    except InvalidModel as exc:
        flash(i18n.gettext("%(message)s：%(errors)s", message=i18n.gettext(exc.message),
                           errors=i18n.gettext("；").join(i18n.gettext(e["message"]) for e in exc.errors[:5])), "error")
        return redirect(url_for("designer_catalog.index"))
    except Conflict as exc:
        flash(i18n.gettext(exc.message), "error")
        return redirect(url_for("designer_catalog.index"))
    flash(i18n.gettext("已接受：%(process_id)s 部署为新版本 v%(version)s（运行中的办件仍按原版本办理）",
                       process_id=out["process_id"], version=out["version"]), "ok")
    return redirect(url_for("designer_catalog.index"))


@catalog_bp.get("/<entry_id>/edit")
@_designer_page
def edit(entry_id):
    """在设计器中修改: the designer's editor on the deployed version with the entry's values written in;
    nothing is stored until the designer deploys from there."""
    try:
        doc = svc.draft(current_actor(), _entry_id(entry_id))
    except Conflict as exc:
        flash(i18n.gettext(exc.message), "error")
        return redirect(url_for("designer_catalog.index"))
    return _editor(doc)


@catalog_bp.post("/<entry_id>/dismiss")
@_designer_page
def dismiss(entry_id):
    try:
        svc.dismiss(current_actor(), _entry_id(entry_id))
    except Conflict as exc:
        flash(i18n.gettext(exc.message), "error")
        return redirect(url_for("designer_catalog.index"))
    flash(i18n.gettext("已忽略该差异"), "ok")
    return redirect(url_for("designer_catalog.index"))
