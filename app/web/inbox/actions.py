"""What staff post from the 工作台: every task operation of DOMAIN.md §8 (claim … terminate), drafts
and case files, each answered as a redirect with a flash message or as JSON (see pages._operation)."""
from __future__ import annotations

from flask import request, url_for

from ...domain.errors import ValidationError
from ...services.common import blobs
from ...services.federation import withdrawals
from ...services.inbox import admin_ops, handover
from ...services.inbox import case_files as file_svc
from ...services.inbox import operations as ops
from ...services.inbox import signers as signer_svc
from ..auth import current_actor
from .pages import _answer, _back, _body, _operation, _revision, _text, bp, staff_only


def _task_url(task_id: str) -> str:
    return url_for("inbox.task_page", task_id=task_id)


@bp.post("/tasks/<task_id>/claim")
@staff_only
@_operation
def claim(task_id):
    ops.claim(current_actor(), task_id)
    return _answer("已签收", _task_url(task_id))


@bp.post("/tasks/<task_id>/unclaim")
@staff_only
@_operation
def unclaim(task_id):
    ops.unclaim(current_actor(), task_id)
    return _answer("已取消签收，任务已退回候选人待办", url_for("inbox.index"))


def _complete(task_id, outcome):
    body = _body()
    data = body.get("data") or {}
    ops.complete(current_actor(), task_id, data, revision=_revision(body), opinion=_text(body, "opinion"),
                 outcome=outcome, require_opinion=True)


@bp.post("/tasks/<task_id>/approve")
@staff_only
@_operation
def approve(task_id):
    _complete(task_id, "approve")
    return _answer("办理完成，已提交下一环节", url_for("inbox.index"))


@bp.post("/tasks/<task_id>/reject")
@staff_only
@_operation
def reject(task_id):
    _complete(task_id, "reject")
    return _answer("已作出不予受理/不予许可决定", url_for("inbox.index"))


@bp.post("/tasks/<task_id>/return")
@staff_only
@_operation
def return_(task_id):
    body = _body()
    target = body.get("target")
    if not isinstance(target, str) or not target:
        raise ValidationError("请选择退回的环节", details={"target": ["required"]})
    ops.return_to(current_actor(), task_id, target, _text(body, "reason"))
    return _answer("已退回", url_for("inbox.index"))


@bp.post("/tasks/<task_id>/withdraw")
@staff_only
@_operation
def withdraw(task_id):
    ops.withdraw(current_actor(), task_id, _text(_body(), "reason"))
    return _answer("已撤回，任务回到您的待办", _task_url(task_id))


@bp.post("/tasks/<task_id>/transfer")
@staff_only
@_operation
def transfer(task_id):
    body = _body()
    handover.transfer(current_actor(), task_id, _text(body, "user") or "", _text(body, "reason"))
    return _answer(f"已转办给 {body.get('user')}", url_for("inbox.index"))


@bp.post("/tasks/<task_id>/delegate")
@staff_only
@_operation
def delegate(task_id):
    body = _body()
    handover.delegate(current_actor(), task_id, _text(body, "user") or "", _text(body, "reason"))
    return _answer(f"已委派给 {body.get('user')}，办理完毕后将交回给您", _task_url(task_id))


@bp.post("/tasks/<task_id>/resolve")
@staff_only
@_operation
def resolve(task_id):
    body = _body()
    handover.resolve(current_actor(), task_id, _text(body, "opinion"), body.get("data"))
    return _answer("已交回委派人", url_for("inbox.index"))


@bp.post("/tasks/<task_id>/reclaim")
@staff_only
@_operation
def reclaim(task_id):
    handover.reclaim(current_actor(), task_id)
    return _answer("已收回委派", _task_url(task_id))


@bp.post("/tasks/<task_id>/signers")
@staff_only
@_operation
def signers(task_id):
    body = _body()
    users = body.get("users") or []
    mode = body.get("mode") or ""
    signer_svc.add_signers(current_actor(), task_id, users, mode, _text(body, "opinion"), body.get("data"))
    return _answer("已加签：" + "、".join(str(u) for u in users), _task_url(task_id))


@bp.post("/tasks/<task_id>/remove-signer")
@staff_only
@_operation
def remove_signer(task_id):
    """减签: ``task_id`` is the 加签 task; back to its parent's page."""
    sign = signer_svc.remove_signer(current_actor(), task_id, _text(_body(), "reason"))
    return _answer(f"已减签：{sign.assignee}", _task_url(sign.parent_id) if sign.parent_id else url_for("inbox.index"))


@bp.post("/tasks/<task_id>/cc")
@staff_only
@_operation
def cc(task_id):
    body = _body()
    users = body.get("users") or []
    handover.cc(current_actor(), task_id, users, _text(body, "note"))
    return _answer("已抄送：" + "、".join(str(u) for u in users), _task_url(task_id))


@bp.post("/tasks/<task_id>/urge")
@staff_only
@_operation
def urge(task_id):
    handover.urge(current_actor(), task_id, _text(_body(), "note"))
    return _answer("已催办", _task_url(task_id))


@bp.post("/tasks/<task_id>/draft")
@staff_only
@_operation
def draft(task_id):
    body = _body()
    data = body.get("data")
    if data is None:
        data = {}
    ops.save_draft(current_actor(), task_id, data)
    return _answer("已暂存", _task_url(task_id))


def _case_op(case_id: int, call, done: str):
    call(current_actor(), case_id, _text(_body(), "reason"))
    return _answer(done, _back(url_for("inbox.case_page", case_id=case_id)))


@bp.post("/cases/<int:case_id>/suspend")
@staff_only
@_operation
def suspend(case_id):
    return _case_op(case_id, admin_ops.suspend, "办件已挂起")


@bp.post("/cases/<int:case_id>/resume")
@staff_only
@_operation
def resume(case_id):
    return _case_op(case_id, admin_ops.resume, "办件已激活")


@bp.post("/cases/<int:case_id>/terminate")
@staff_only
@_operation
def terminate(case_id):
    return _case_op(case_id, admin_ops.terminate, "办件已终止")


@bp.post("/cases/<int:case_id>/recall-forward")
@staff_only
@_operation
def recall_forward(case_id):
    """撤回转报 (app/services/federation/withdrawals.py): the upper platform is asked to take it back."""
    return _case_op(case_id, withdrawals.recall_forward, "已向上级平台发送撤回转报请求")


@bp.context_processor
def _recall_forward():
    """What the case page asks about 撤回转报: whether to offer it, and how the last one went."""
    return {"may_recall_forward": lambda case: withdrawals.may_recall(current_actor(), case),
            "last_recall": withdrawals.last_recall}


@bp.url_value_preprocessor
def _upload_size(endpoint, values):
    """An upload may be larger than other requests; this runs before the CSRF check reads the form."""
    if endpoint == "inbox.upload" and request.method == "POST":
        blobs.allow_upload_size()


@bp.post("/cases/<int:case_id>/files")
@staff_only
@_operation
def upload(case_id):
    try:
        f = file_svc.attach(current_actor(), case_id, request.files.get("file"),
                            kind=request.form.get("kind") or "other", note=(request.form.get("note") or None),
                            task_id=request.form.get("task_id") or None)
    except ValidationError as exc:  # say which check failed: "附件未通过校验：只接受 PDF…"
        reasons = "；".join(str(m) for msgs in exc.details.values() if isinstance(msgs, list) for m in msgs)
        raise ValidationError(f"{exc.message}：{reasons}" if reasons else exc.message, details=exc.details) from None
    return _answer(f"已上传附件：{f.filename}", _back(url_for("inbox.case_page", case_id=case_id)))


@bp.get("/cases/<int:case_id>/files/<int:file_id>")
@staff_only
def download(case_id, file_id):
    return file_svc.send(current_actor(), case_id, file_id)
