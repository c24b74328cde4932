"""/verify (public, no sign-in): anyone uploads a PDF — or opens /verify/<code> from a document's QR
code — and sees whether its electronic seal is valid, which agency sealed it, when and for which case,
or exactly why not. Also the staff's 盖章签发 (POST /inbox/cases/<id>/seal/<kind>) and the download of a
sealed document by its applicant or staff (the services check every permission)."""
from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for

from ..domain.errors import DomainError, NotAuthenticated, NotFound, ValidationError
from ..services.common.blobs import read_stored
from ..services.seals import sealing
from ..services.seals.verification import REASONS, verify_pdf
from ..services.identity.rate_limit import hit
from .auth import _safe_next, client_ip, current_actor
from .errors import wants_json
from .inbox.pages import ACTION_LABELS

bp = Blueprint("verify", __name__)
ACTION_LABELS.update({"seal": "盖章签发", "licence": "颁发电子证照"})  # the trail's names of our steps
KIND_BUTTONS = {"decision": "盖章签发决定文书", "accept": "盖章签发受理通知书", "refuse": "盖章签发不予受理决定书"}


def _read_pdf() -> bytes:
    """The uploaded file's bytes; a missing, empty, oversized or non-PDF upload is refused (422)."""
    hit(f"verify:{client_ip()}", current_app.config["VERIFY_PER_10_MIN"], 600,
        message="验证次数过多，请 10 分钟后再试 (too many checks from this address)")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("请选择要验证的PDF文件", details={"file": ["必填 (required)"]})
    limit = current_app.config["VERIFY_MAX_BYTES"]
    blob = upload.stream.read(limit + 1)
    if len(blob) > limit:
        raise ValidationError(f"文件超过 {limit // (1024 * 1024)} MB，无法验证", details={"file": ["文件过大"]})
    if not blob:
        raise ValidationError("文件为空", details={"file": ["文件为空"]})
    if not blob.startswith(b"%PDF-"):
        raise ValidationError(f"{REASONS['not_pdf']}：请上传本机关签发的PDF文书（按内容识别，不看扩展名）",
                              details={"file": [REASONS["not_pdf"]]})
    return blob


def _answer(verdict, record=None, licence=None):
    if verdict.code == "damaged":  # not a document we can say anything about: a bad upload
        raise ValidationError(verdict.message, details={"file": [verdict.message]})
    if wants_json():
        return jsonify(verdict.as_json())
    return render_template("verify/result.html", v=verdict, record=record or verdict.record,
                           licence=licence or (sealing.licence_of(verdict.record.case_id) if verdict.record else None))


@bp.get("/verify")
def index():
    return render_template("verify/index.html")


@bp.post("/verify")
def check():
    return _answer(verify_pdf(_read_pdf()))


@bp.get("/verify/<code>")
def record(code):
    row = sealing.record_for_code(code)
    licence = sealing.licence_of(row.case_id) if row.kind == sealing.DECISION else None
    if wants_json():
        return jsonify({"verify_code": row.verify_code, "title": row.title, "doc_no": row.doc_no,
                        "case_no": row.case_no, "organ": row.organ, "sha256": row.sha256,
                        "cert_sha256": row.cert_sha256, "cert_subject": row.cert_subject,
                        "sealed_at": row.sealed_at.isoformat() if row.sealed_at else None,
                        "licence": {"licence_id": licence.licence_id, "licence_no": licence.licence_no,
                                    "type_name": licence.type_name, "holder_name": licence.holder_name,
                                    "status": licence.status} if licence else None})
    return render_template("verify/record.html", r=row, licence=licence)


@bp.post("/verify/<code>")
def check_record(code):
    row = sealing.record_for_code(code)
    return _answer(verify_pdf(_read_pdf(), expected=row), record=row)


# -- staff: 盖章签发 -------------------------------------------------------------------------------
@bp.post("/inbox/cases/<int:case_id>/seal/<kind>")
def seal(case_id, kind):
    actor = current_actor()
    if actor is None:
        raise NotAuthenticated("请先登录")
    back = _safe_next(request.form.get("back"))
    if back == "/":
        back = url_for("inbox.case_page", case_id=case_id)
    try:
        if kind == sealing.DECISION:
            row = sealing.seal_decision(actor, case_id)
        else:
            row = sealing.seal_notice(actor, case_id, kind)
    except DomainError as exc:
        if wants_json() or exc.status == 404:
            raise
        flash(exc.message, "error")
        return redirect(back)
    message = f"{row.title}（{row.doc_no}）已加盖电子印章签发，申请人可在办件页下载"
    if wants_json():
        return jsonify({"message": message, "id": row.id, "verify_code": row.verify_code, "sha256": row.sha256,
                        "file_id": row.file_id})
    flash(message, "ok")
    return redirect(back)


@bp.get("/cases/<int:case_id>/sealed/<int:doc_id>.pdf")
def download(case_id, doc_id):
    actor = current_actor()
    if actor is None:
        raise NotFound("文书不存在")
    row, f = sealing.readable_sealed(actor, case_id, doc_id)
    blob = read_stored(f.storage_key, f.sha256)
    return send_file(io.BytesIO(blob), mimetype="application/pdf", as_attachment=False, download_name=f.filename)


@bp.app_template_global("seal_panel")
def seal_panel(case):
    """The staff case page's seal card (None: nothing to show)."""
    return sealing.panel(current_actor(), case)


@bp.app_template_global("case_seals")
def case_seals(case_id):
    """The applicant's case page: the sealed documents and the licence of the case."""
    return {"sealed": sealing.sealed_of(case_id), "licence": sealing.licence_of(case_id),
            "status": sealing.LICENCE_STATUS}


@bp.app_template_global("seal_buttons")
def seal_buttons():
    return KIND_BUTTONS
