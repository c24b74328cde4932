"""The investment project in the portal (一次填报、多次使用): the start form's prefill from the national
investment project platform (``/portal/projects/lookup?code=``, JSON, for the signed-in applicant)
and a project's page (``/portal/projects/<项目代码>``: every case of the project on this platform,
for the enterprise that owns it; anyone else gets 404). The services (app/services/docking/projects.py)
check who may see what."""
from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from ...domain.errors import NotAuthenticated, NotAuthorized
from ...services.docking import projects as project_svc
from ..auth import current_actor

bp = Blueprint("portal_projects", __name__, template_folder="templates")


@bp.get("/portal/projects/lookup")
def lookup():
    """``{"project", "prefill", "from_cache"}``; an error as the ``Error`` body (app/web/errors.py) with
    401 (not signed in), 403 (not an applicant, or not the applicant's project), 404/422 (unknown
    code, bad shape), 503 (the platform cannot be asked now, or is not configured)."""
    actor = current_actor()
    if actor is None:
        raise NotAuthenticated("请先登录")
    return jsonify(project_svc.prefill(actor, request.args.get("code", "")[:40]))


@bp.get("/portal/projects/<code>")
def page(code):
    actor = current_actor()
    if actor is None:
        return redirect(url_for("portal.login", next=request.path))
    if not actor.is_applicant:
        raise NotAuthorized("项目页面仅供申请人查看（请用申请人账户登录）")
    view = project_svc.project_page(actor, code[:40])
    return render_template("projects/page.html", v=view, p=view["project"])


__all__ = ["bp"]
