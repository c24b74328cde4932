"""What the applicant sees after submitting (issue 5, points 4, 7, 8, 12): my cases, the case page,
paper-mail intake, the receipt PDF, the progress query (logged in, case number + SMS code, the QR
page) and results; plus the staff panel on the inbox task/case pages (confirm or refuse a mail
intake, upload the decision scan, record the mailed original's tracking number).

Thin views: the services (intake, receipts, progress, results) check every permission."""
from __future__ import annotations

import io
from functools import wraps
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)

from ...domain.errors import DomainError, NotAuthenticated, NotAuthorized, NotFound, RateLimited, ValidationError
from ...services.cases import requirements as requirements_svc
from ...services.common.clock import BEIJING
from ...services.portal import intake as intake_svc
from ...services.portal import notices as notice_svc
from ...services.portal import progress as progress_svc
from ...services.portal import receipts as receipt_svc
from ...services.portal import results as result_svc
from ...services.portal.draft_saves import draft_saves
from .. import i18n
from ..auth import _safe_next, current_actor

bp = Blueprint("portal_cases", __name__, template_folder="templates")

# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("办件详情"), i18n.N_("法定办结期限"), i18n.N_("承诺办结期限"), i18n.N_("快递面单扫描件"), i18n.N_("材料清单"),
    i18n.N_("签署的承诺书"), i18n.N_("剩余"), i18n.N_("办理机关"))

# the staff timeline (inbox pages) names this part's actions too
from ..inbox.pages import ACTION_LABELS  # noqa: E402

ACTION_LABELS.update({"mail_submit": "上传快递收件材料", "mail_confirm": "确认快递收件", "mail_refuse": "退回快递收件材料",
                      "result_upload": "上传结果文书", "result_mail": "登记结果寄送"})
# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("上传快递收件材料"), i18n.N_("确认快递收件"), i18n.N_("退回快递收件材料"), i18n.N_("上传结果文书"), i18n.N_("登记结果寄送"))
# msgids shown through _() from data: marked for `scripts/i18n extract`; English in app/translations
_MSGIDS = (i18n.N_("受理通知书"), i18n.N_("不予受理决定书"))


# -- helpers ---------------------------------------------------------------------------------------
def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _applicant():
    """The signed-in applicant; staff go to their inbox, anonymous users to the sign-in page."""
    actor = current_actor()
    if actor is None:
        raise NotAuthenticated("请先登录")
    return actor


def _case_page(case_id: int, **kw):
    return url_for("portal_cases.case_page", case_id=case_id, **kw)


def _staff_operation(view):
    """Staff POSTs of the panel: a refusal is flashed back on the inbox page (or JSON)."""
    @wraps(view)
    def wrapped(case_id, *args, **kwargs):
        back = _safe_next(request.form.get("back"))  # a path of this site only (no //host, tab or \\ tricks)
        if back == "/":
            back = url_for("inbox.case_page", case_id=case_id)
        actor = current_actor()
        if actor is None:
            raise NotAuthenticated("请先登录")
        try:
            message = view(actor, case_id, *args, **kwargs)
        except DomainError as exc:
            if exc.status in (403, 404) or _wants_json():
                if _wants_json():
                    return jsonify({"message": exc.message, "errors": exc.details or None}), exc.status
                raise
            detail = "；".join(f"{m}" for msgs in (exc.details or {}).values() for m in msgs)
            flash(exc.message + (f"：{detail}" if detail else ""), "error")
            return redirect(back)
        if _wants_json():
            return jsonify({"message": message})
        flash(message, "ok")
        return redirect(back)
    return wrapped


def _send_blob(f, *, inline: bool = False):
    import hashlib
    path = Path(current_app.config["FILES_DIR"]) / f.storage_key
    if not path.exists():
        raise NotFound("文件缺失")
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != f.sha256:
        raise NotFound("文件校验失败（文件已损坏）")
    return send_file(io.BytesIO(blob), mimetype=f.content_type, as_attachment=not inline, download_name=f.filename)


def _with_draft_saves(view: dict, label: str) -> dict:
    """The applicant's saves of the draft as one row "暂存（N 次）" at the last save's time, first on
    the timeline (every save precedes the submission). The staff trail keeps one row per save."""
    count, last = draft_saves(view["case"])
    if count:
        row = {"at": last.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if last else None, "action": "draft",
               "label": label % count, "step": None, "detail": None, "by": "申请人"}
        view["timeline"] = [row] + list(view["timeline"])
    return view


# -- my cases / case page --------------------------------------------------------------------------
@bp.get("/portal/cases")
def my_cases():
    actor = _applicant()
    if actor.is_staff:
        return redirect(url_for("inbox.index", tab="handled"))
    rows = progress_svc.my_cases(actor)
    if _wants_json():
        return jsonify({"cases": rows})
    return render_template("portal_cases/list.html", rows=rows)


@bp.get("/portal/cases/<int:case_id>")
def case_page(case_id):
    actor = _applicant()
    if actor.is_staff:
        return redirect(url_for("inbox.case_page", case_id=case_id))
    view = _with_draft_saves(progress_svc.owner_view(actor, case_id), i18n.gettext("暂存（%d 次）"))
    return render_template("portal_cases/case.html", v=view, card=view["card"], kinds=intake_svc.KIND_LABELS,
                           notices=notice_svc.notices_of(case_id), notice_kinds=notice_svc.KINDS)


@bp.get("/api/portal/cases")
def api_my_cases():
    return jsonify({"cases": progress_svc.my_cases(_api_actor())})


@bp.get("/api/portal/cases/<int:case_id>")
def api_case(case_id):
    actor = _api_actor()
    view = _with_draft_saves(progress_svc.owner_view(actor, case_id), "暂存（%d 次）")
    cur = view["intake"]
    return jsonify({
        **view["card"], "timeline": view["timeline"], "mailing": view["mailing"],
        "files": [{"id": f.id, "kind": f.kind, "filename": f.filename, "size": f.size,
                   "url": _case_page(case_id) + f"/files/{f.id}"} for f in view["files"]],
        "paper_materials": [m.get("name") for m in view["paper"]],
        "intake": {"status": cur.status, "courier": cur.courier, "tracking_no": cur.tracking_no,
                   "refuse_reason": cur.refuse_reason} if cur else None})


def _api_actor():
    actor = current_actor()
    if actor is None:
        from ...services.identity.actors import actor_for_token
        header = request.headers.get("Authorization", "")
        actor = actor_for_token(header[7:] if header.startswith("Bearer ") else None)
    return actor


@bp.get("/portal/cases/<int:case_id>/files/<int:file_id>")
def download(case_id, file_id):
    actor = _applicant()
    case = progress_svc.owner_case(actor, case_id)
    f = next((f for f in progress_svc.applicant_files(actor, case) if f.id == file_id), None)
    if f is None:
        raise NotFound("文件不存在")
    return _send_blob(f)


@bp.get("/portal/cases/<int:case_id>/receipt.pdf")
def receipt(case_id):
    """The receipt: its applicant, and staff who may read the case (others: 404)."""
    actor = _applicant()
    if actor.is_applicant:
        case = progress_svc.owner_case(actor, case_id)
    else:
        from ...services.cases.lifecycle import get_case
        case = get_case(actor, case_id)
    f = receipt_svc.latest_receipt(case.id)
    if f is None:
        raise NotFound("尚未出具电子回执")
    return _send_blob(f, inline=True)


@bp.get("/portal/cases/<int:case_id>/notice/<kind>")
def notice(case_id, kind):
    """受理通知书 / 不予受理决定书, printable: its applicant, and staff who may read the case (others: 404)."""
    actor = _applicant()
    case, row = notice_svc.readable_notice(actor, case_id, kind)
    return render_template("portal_cases/notice.html", n=notice_svc.notice_view(row), case=case)


@bp.app_template_global("matter_prerequisites")
def matter_prerequisites(version_id):
    """The guide's 前置事项: the names of the matters a version's metadata requires (requires)."""
    return requirements_svc.prerequisite_names(version_id)


# -- paper-mail intake (applicant) -----------------------------------------------------------------
@bp.route("/portal/cases/<int:case_id>/mail", methods=["GET", "POST"])
def mail(case_id):
    actor = _applicant()
    if actor.is_staff:
        if _wants_json():  # a JSON client gets the refusal, not the staff page (see the OpenAPI document)
            raise NotAuthorized("快递收件材料由申请人提交 (applicants only)")
        return redirect(url_for("inbox.case_page", case_id=case_id))
    case = progress_svc.owner_case(actor, case_id)
    errors, message, status = {}, None, 200
    if request.method == "POST":
        try:
            intake_svc.submit_intake(actor, case.id, courier=request.form.get("courier", ""),
                                     tracking_no=request.form.get("tracking_no", ""),
                                     slip=request.files.get("slip"), content_list=request.files.get("content_list"),
                                     commitment=request.files.get("commitment"))
        except (ValidationError,) as exc:
            errors, message, status = exc.details, exc.message, exc.status
        except DomainError as exc:
            if exc.status == 404:
                raise
            errors, message, status = exc.details, exc.message, exc.status
        else:
            if _wants_json():
                return jsonify({"message": "已提交，等待窗口核对"}), 201
            flash("快递收件材料已提交，窗口核对后将出具电子回执并短信通知您", "ok")
            return redirect(_case_page(case.id))
        if _wants_json():
            return jsonify({"message": message, "errors": errors}), status
    return render_template("portal_cases/mail.html", case=case, paper=intake_svc.paper_materials(case),
                           intake=intake_svc.current_intake(case.id), needed=intake_svc.mail_needed(case),
                           errors=errors or {}, message=message, form=request.form), status


# -- progress query --------------------------------------------------------------------------------
def _grants() -> dict:
    from ...services.common.clock import clock_now
    now = clock_now().timestamp()
    grants = {k: v for k, v in (session.get("progress_cases") or {}).items() if v > now}
    return grants


def _client_ip() -> str:
    return request.remote_addr or "unknown"


@bp.route("/progress", methods=["GET", "POST"])
def progress():
    """Step 1: case number + mobile number → the same "验证码已发送" whatever they are."""
    actor = current_actor()
    mine = progress_svc.my_cases(actor)[:20] if actor is not None and actor.is_applicant else []
    error, status, retry = None, 200, 60
    if request.method == "POST":
        case_no, phone = request.form.get("case_no", ""), request.form.get("phone", "")
        try:
            progress_svc.request_progress_code(case_no, phone, _client_ip())
        except RateLimited as exc:
            error, status, retry = exc.message, 429, exc.retry_after
        except ValidationError as exc:
            error, status = exc.message, 422
        else:
            from ...services.common.clock import clock_now
            session["progress_query"] = {"case_no": case_no.strip(), "phone": phone.strip(),
                                         "at": clock_now().timestamp(), "attempts": 0}
            return render_template("portal_cases/progress_code.html", case_no=case_no.strip(),
                                   phone=_masked(phone.strip()), error=None)
        resp = render_template("portal_cases/progress.html", error=error, mine=mine, form=request.form)
        if status == 429:
            return resp, 429, {"Retry-After": str(retry)}
        return resp, status
    return render_template("portal_cases/progress.html", error=None, mine=mine, form={})


def _masked(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else phone


@bp.post("/progress/verify")
def progress_verify():
    """Step 2: the code → the progress of that case, remembered in this session for a while.

    The refusal messages come from this query's own state in the session (age, attempts), never
    from whether a code was really sent: a case number that does not exist, or a phone that is not
    the applicant's, answers exactly like a wrong code for a real case."""
    from ...services.common.clock import clock_now
    pending = session.get("progress_query") or {}
    if not pending:
        flash("请先填写办件编号和手机号码获取验证码", "error")
        return redirect(url_for("portal_cases.progress"))
    ttl = int(current_app.config.get("SMS_CODE_TTL_SECONDS", 300))
    most = int(current_app.config.get("SMS_CODE_MAX_ATTEMPTS", 5))
    shown = {"case_no": pending.get("case_no"), "phone": _masked(pending.get("phone", ""))}
    if clock_now().timestamp() - float(pending.get("at", 0)) >= ttl:
        session.pop("progress_query", None)
        return render_template("portal_cases/progress_code.html", error="验证码已过期，请重新获取", spent=True,
                               **shown), 422
    try:
        case = progress_svc.verify_progress_code(pending.get("case_no"), pending.get("phone"),
                                                 request.form.get("code", "").strip())
    except (ValidationError, RateLimited):
        attempts = int(pending.get("attempts", 0)) + 1
        if attempts >= most:
            session.pop("progress_query", None)
            return render_template("portal_cases/progress_code.html", error="错误次数过多，请重新获取验证码",
                                   spent=True, **shown), 422
        session["progress_query"] = dict(pending, attempts=attempts)
        return render_template("portal_cases/progress_code.html", error=f"验证码错误，还可尝试{most - attempts}次",
                               **shown), 422
    grants = _grants()
    grants[str(case.id)] = clock_now().timestamp() + progress_svc.SESSION_SECONDS
    session["progress_cases"] = grants
    session.pop("progress_query", None)
    return redirect(url_for("portal_cases.progress_view", case_id=case.id))


@bp.get("/progress/cases/<int:case_id>")
def progress_view(case_id):
    actor = current_actor()
    if actor is not None and actor.is_applicant:
        try:
            progress_svc.owner_case(actor, case_id)
            return redirect(_case_page(case_id))
        except NotFound:
            pass
    if str(case_id) not in _grants():
        flash("查询已过期，请重新获取验证码", "error")
        return redirect(url_for("portal_cases.progress"))
    from ...extensions import db
    from ...models import Case
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("办件不存在")
    view = progress_svc.verified_view(case)
    return render_template("portal_cases/progress_view.html", v=view, card=view["card"], public=False)


@bp.get("/p/<token>")
def qr_page(token):
    """The receipt's QR code: the progress card only, no personal data (see services/progress.py)."""
    case = receipt_svc.case_for_token(token)
    view = progress_svc.public_view(case)
    if _wants_json():
        return jsonify(view["card"])
    return render_template("portal_cases/progress_view.html", v=view, card=view["card"], public=True)


# -- the staff panel (inbox task / case pages) -----------------------------------------------------
@bp.app_template_global("portal_staff_panel")
def staff_panel(case):
    """What the staff panel shows for ``case`` to the current staff user (None: nothing)."""
    actor = current_actor()
    if actor is None or not actor.is_staff or case is None:
        return None
    paper = intake_svc.paper_materials(case)
    intakes = []
    if paper:
        from sqlalchemy import select

        from ...extensions import db
        from ...models.intake import MailIntake
        intakes = list(db.session.execute(select(MailIntake).where(MailIntake.case_id == case.id)
                                          .order_by(MailIntake.id.desc())).scalars())
    decided = case.status in result_svc.DECIDED and case.decided_at is not None
    return {"paper": paper, "intakes": intakes, "current": intakes[0] if intakes else None,
            "may_receive": bool(paper) and intake_svc.may_receive(actor, case),
            "receipt": receipt_svc.latest_receipt(case.id), "decided": decided,
            "may_result": decided and result_svc.may_record_result(actor, case),
            "results": result_svc.result_files(case.id) if decided else [],
            "mailing": result_svc.mailing(case.id) if decided else None}


def _json_body() -> dict:
    """A JSON request's object ({} for anything else: a list or a string is no answer, not a 500)."""
    body = request.get_json(silent=True) if request.is_json else None
    return body if isinstance(body, dict) else {}


@bp.post("/inbox/cases/<int:case_id>/intake/confirm")
@_staff_operation
def intake_confirm(actor, case_id):
    intake_svc.confirm_intake(actor, case_id)
    return "已确认收件，电子回执已出具并短信通知申请人"


@bp.post("/inbox/cases/<int:case_id>/intake/refuse")
@_staff_operation
def intake_refuse(actor, case_id):
    intake_svc.refuse_intake(actor, case_id, request.form.get("reason") or _json_body().get("reason", ""))
    return "已退回快递收件材料，申请人将收到通知"


@bp.post("/inbox/cases/<int:case_id>/result")
@_staff_operation
def result_upload(actor, case_id):
    result_svc.upload_result(actor, case_id, request.files.get("file"), request.form.get("note"))
    return "结果文书扫描件已上传，申请人可在办件页下载"


@bp.post("/inbox/cases/<int:case_id>/result/mail")
@_staff_operation
def result_mail(actor, case_id):
    body = request.form if not request.is_json else _json_body()
    result_svc.record_mailing(actor, case_id, body.get("courier", ""), body.get("tracking_no", ""))
    return "寄送信息已登记，已短信通知申请人"
