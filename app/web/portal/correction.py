"""一次性告知 / 补正 pages.

Staff: the panel on the task page (``correction/_staff_panel.html``, included by inbox/task.html)
with the structured notice editor; ``POST /correction/tasks/<task_id>`` sends the notice,
``POST /correction/requests/<id>/withdraw`` takes back one made after acceptance.
Applicant: ``/portal/cases/<id>/correction`` shows the notice and takes the answer (one upload and a
remark per item, a reply); past notices are listed below. The services check every permission;
a refusal is a message on the page (or ``{"message": …}`` with its status for a JSON request)."""
from __future__ import annotations

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for

from ...domain.errors import DomainError, ValidationError
from ...services.cases.steps import now
from ...services.inbox import case_files as file_svc
from ...services.portal import correction_views
from ...services.portal import corrections as svc
from .. import i18n
from ..inbox.pages import task_page
from ..auth import current_actor, login_required

bp = Blueprint("correction", __name__, template_folder="templates")
staff_only = login_required(lambda a: a.is_staff)
applicant_only = login_required(lambda a: a.is_applicant)
FREE_ROWS = 5

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("已补正"), i18n.N_("已撤回"), i18n.N_("待补正"), i18n.N_("申请人的补正"), i18n.N_("告知人"))


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


@bp.app_template_global("correction_panel")
def correction_panel(task, case):
    """The task page's 补正 panel data (see services.corrections.staff_panel)."""
    actor = current_actor()
    if actor is None or task is None:
        return {"show": False}
    return correction_views.staff_panel(actor, task, case)


@bp.app_template_global("staff_file_url")
def staff_file_url(case_id: int):
    return lambda file_id: url_for("inbox.download", case_id=case_id, file_id=file_id)


@bp.app_template_global("applicant_file_url")
def applicant_file_url(case_id: int):
    return lambda file_id: url_for("correction.download", case_id=case_id, file_id=file_id)


@bp.app_template_global("correction_status_label")
def correction_status_label(status: str) -> str:
    return {"open": "待补正", "answered": "已补正", "withdrawn": "已撤回"}.get(status, status)


# -- staff -----------------------------------------------------------------------------------------
def _items_from_form(form) -> list[dict]:
    """Ticked materials (``mat`` = index into the matter's list, ``problem_<i>``) and free rows
    (``free_material_<k>`` / ``free_problem_<k>``). A material with a problem typed but not ticked
    counts too; a ticked one without a problem is kept so that the service names it."""
    items = []
    names = form.getlist("mat_name")
    ticked = set(form.getlist("mat"))
    for i, name in enumerate(names):
        problem = (form.get(f"problem_{i}") or "").strip()
        if str(i) in ticked or problem:
            items.append({"material": name, "problem": problem})
    for k in range(FREE_ROWS):
        material = (form.get(f"free_material_{k}") or "").strip()
        problem = (form.get(f"free_problem_{k}") or "").strip()
        if material or problem:
            items.append({"material": material, "problem": problem})
    return items


def _task_page(task_id: str, status: int):
    return make_response(task_page(task_id), status)


@bp.post("/correction/tasks/<task_id>")
@staff_only
def request_(task_id):
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify({"message": "请求格式不正确 (JSON object expected)"}), 422
        items, note, days = body.get("items"), body.get("note"), body.get("days")
    else:
        items, note, days = _items_from_form(request.form), request.form.get("note"), request.form.get("days")
    try:
        req = svc.request_correction(current_actor(), task_id, items, note=note, days=days)
    except DomainError as exc:
        if _wants_json():
            return jsonify({"message": exc.message, "errors": exc.details or None}), exc.status
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
        return _task_page(task_id, exc.status)
    message = f"已发出一次性告知（{len(req.items)} 项），已短信通知申请人"
    target = url_for("inbox.task_page", task_id=task_id)
    if _wants_json():
        flash(message, "ok")
        return jsonify({"message": message, "redirect": target, "request": req.id}), 201
    flash(message, "ok")
    return redirect(target)


@bp.post("/correction/requests/<int:request_id>/withdraw")
@staff_only
def withdraw(request_id):
    reason = request.get_json(silent=True).get("reason") if request.is_json and \
        isinstance(request.get_json(silent=True), dict) else request.form.get("reason")
    try:
        req = svc.withdraw_correction(current_actor(), request_id, reason)
    except DomainError as exc:
        if _wants_json():
            return jsonify({"message": exc.message}), exc.status
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
        return redirect(request.referrer or url_for("inbox.index"))
    target = url_for("inbox.task_page", task_id=req.task_id) if req.task_id else url_for("inbox.index")
    flash("已撤回补正要求，办理时限恢复计算", "ok")
    if _wants_json():
        return jsonify({"message": "已撤回补正要求", "redirect": target}), 200
    return redirect(target)


# -- applicant -------------------------------------------------------------------------------------
def _applicant_page(case_id: int, status: int = 200, errors: dict | None = None):
    view = correction_views.applicant_view(current_actor(), case_id)
    return render_template("correction/applicant.html", errors=errors or {}, today=now(), **view), status


@bp.get("/portal/cases/<int:case_id>/correction")
@applicant_only
def applicant(case_id):
    return _applicant_page(case_id)


@bp.post("/portal/cases/<int:case_id>/correction")
@applicant_only
def answer(case_id):
    view = correction_views.applicant_view(current_actor(), case_id)  # 404 before reading anything else
    req = view["open"]
    count = len(req.items) if req is not None else 0
    answers = [{"upload": request.files.get(f"file_{n}"), "remark": request.form.get(f"remark_{n}")}
               for n in range(1, count + 1)]
    try:
        raw = request.form.get("request_id")
        request_id = int(raw) if raw and raw.isdigit() and len(raw) < 10 else None
        if raw and request_id is None:
            raise ValidationError("请求格式不正确", details={"request_id": ["integer"]})
        svc.answer_correction(current_actor(), case_id, answers, reply=request.form.get("reply"),
                              express_no=request.form.get("express_no"), request_id=request_id)
    except DomainError as exc:
        if exc.status == 404:
            raise
        if _wants_json():
            return jsonify({"message": exc.message, "errors": exc.details or None}), exc.status
        flash(exc.message, "error")
        return _applicant_page(case_id, exc.status, exc.details if isinstance(exc.details, dict) else None)
    flash("补正已提交，办理人员将继续审查", "ok")
    return redirect(url_for("correction.applicant", case_id=case_id))


@bp.get("/portal/cases/<int:case_id>/correction/files/<int:file_id>")
@applicant_only
def download(case_id, file_id):
    correction_views.applicant_view(current_actor(), case_id)  # own case only
    return file_svc.send(current_actor(), case_id, file_id)
