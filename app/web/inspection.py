"""The inspectors' trail pages (issue 17): ``/inspection/trail`` runs the verification of the
tamper-evident trail (the whole database, or one case) and lists the signed daily roots;
``/inspection/trail/<case_no>`` shows one case's chain row by row and its proof in the latest signed
root that holds it (checked here, with the public key to check it by hand). Inspectors (group
``inspector``) and administrators only."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from ..domain.errors import NotFound
from ..services.common.clock import BEIJING
from ..services.trail import views as trail_views
from . import i18n
from .auth import current_actor, login_required
from .inbox.pages import ACTION_LABELS

bp = Blueprint("inspection", __name__, url_prefix="/inspection")


def _allowed(actor) -> bool:
    return actor.is_inspector or actor.is_admin


@bp.get("/trail")
@login_required(_allowed)
def trail():
    case_no = (request.args.get("case") or "").strip()[:50] or None
    run = request.args.get("run") == "1"
    error, data = None, None
    try:
        data = trail_views.overview(current_actor(), run=run, case_no=case_no,
                                    files=request.args.get("files", "1") == "1")
    except NotFound as exc:
        error = i18n.gettext("办件 %(case)s：%(message)s", case=case_no, message=i18n.gettext(exc.message))
        data = trail_views.overview(current_actor(), run=False)
    return render_template("inspection/trail.html", d=data, case_no=case_no or "", run=run, error=error, tz=BEIJING,
                           files=request.args.get("files", "1") == "1")


@bp.get("/trail/<case_no>")
@login_required(_allowed)
def case_trail(case_no: str):
    return render_template("inspection/case_trail.html", d=trail_views.case_trail(current_actor(), case_no), tz=BEIJING,
                           action_labels=ACTION_LABELS)
