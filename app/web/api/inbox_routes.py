"""Inbox API: the four lists and every task operation (the pages use the same services)."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from ...services.common import blobs
from ...services.identity import permissions as perms
from ...services.inbox import admin_ops, handover, task_base
from ...services.inbox import case_files as file_svc
from ...services.inbox import lists as inbox_svc
from ...services.inbox import operations as ops
from ...services.inbox import signers as signer_svc
from ...services.inbox import tasks as task_svc
from .routes import _task_out, actor
from .schemas import Strict

inbox_bp = Blueprint("inbox_api", __name__, url_prefix="/api/inbox", description="工作台 (staff inbox lists)")
ops_bp = Blueprint("task_ops", __name__, url_prefix="/api/tasks", description="办理操作 (task operations)")
admin_cases_bp = Blueprint("case_admin", __name__, url_prefix="/api/cases",
                           description="挂起/激活/终止 (administrators)")


class InboxArgs(Strict):
    tab = fields.String(load_default="todo", validate=validate.OneOf(inbox_svc.TABS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=inbox_svc.PER_PAGE_MAX))
    process_id = fields.String(load_default=None)
    colour = fields.String(load_default=None, validate=validate.OneOf(inbox_svc.COLOURS))
    applicant = fields.String(load_default=None, validate=validate.Length(max=64))
    project_code = fields.String(load_default=None, validate=validate.Length(max=64))
    case_no = fields.String(load_default=None, validate=validate.Length(max=64))


class CompleteIn(Strict):
    data = fields.Dict(load_default=dict)
    revision = fields.Integer(load_default=None)
    opinion = fields.String(load_default=None, validate=validate.Length(max=task_base.OPINION_MAX))


class ReasonIn(Strict):
    reason = fields.String(load_default=None, validate=validate.Length(max=task_base.OPINION_MAX))


class ReturnIn(Strict):
    target = fields.String(required=True, validate=validate.Length(max=36))
    reason = fields.String(load_default=None, validate=validate.Length(max=task_base.OPINION_MAX))


class UserIn(Strict):
    user = fields.String(required=True, validate=validate.Length(max=64))
    reason = fields.String(load_default=None, validate=validate.Length(max=task_base.OPINION_MAX))


class ResolveIn(Strict):
    opinion = fields.String(load_default=None, validate=validate.Length(max=task_base.OPINION_MAX))
    data = fields.Dict(load_default=None)


class SignersIn(Strict):
    users = fields.List(fields.String(validate=validate.Length(max=64)), required=True)
    mode = fields.String(required=True)
    opinion = fields.String(load_default=None, validate=validate.Length(max=task_base.OPINION_MAX))
    data = fields.Dict(load_default=None)


class CcIn(Strict):
    users = fields.List(fields.String(validate=validate.Length(max=64)), required=True)
    note = fields.String(load_default=None, validate=validate.Length(max=task_base.OPINION_MAX))


class DraftIn(Strict):
    data = fields.Dict(required=True)


def _plain(out: dict) -> dict:
    for key in ("created_at", "completed_at", "due_date"):
        if out.get(key) is not None:
            out[key] = out[key].isoformat()
    return out


def _row_out(row):
    task, case = row["task"], row["case"]
    out = {"colour": row["colour"], "at": row["at"].isoformat() if row["at"] else None,
           "task": _plain(_task_out(task, case)) if task is not None else None,
           "case": {"id": case.id, "case_no": case.case_no, "process_id": case.process_id,
                    "applicant_name": case.applicant_name, "project_code": case.project_code,
                    "project_name": case.project_name, "status": case.status,
                    "current_step": case.current_step} if case is not None else None}
    if "action" in row:
        out["action"] = row["action"]
    if "cc" in row:
        out["cc"] = {"from": row["cc"].from_user, "note": row["cc"].note, "read": row["cc"].read_at is not None}
    return out


@inbox_bp.route("")
class Inbox(MethodView):
    @inbox_bp.arguments(InboxArgs, location="query")
    def get(self, args):
        """One page of 待办 (todo) / 已办 (done) / 我经手的 (handled) / 抄送给我 (cc), with the counts of all
        four. 待办 is in urgency order: nearest deadline first."""
        f = inbox_svc.Filters(**{k: args[k] for k in ("process_id", "colour", "applicant", "project_code",
                                                        "case_no")})
        page = inbox_svc.list_inbox(actor(), args["tab"], f, page=args["page"], per_page=args["per_page"])
        return {"tab": page.tab, "page": page.page, "per_page": page.per_page, "has_next": page.has_next,
                "counts": page.counts, "rows": [_row_out(r) for r in page.rows]}


def _task(task):
    out = _task_out(task)
    out["draft"] = task.draft
    out["due_date"] = task.due_date.isoformat() if task.due_date else None
    for key in ("created_at", "completed_at"):
        out[key] = out[key].isoformat() if out[key] else None
    return out


def _op(name, schema, call, doc):
    """Register POST /api/tasks/<task_id>/<name>."""
    @ops_bp.route(f"/<task_id>/{name}", endpoint=f"op_{name.replace('-', '_')}")
    class _View(MethodView):
        @ops_bp.arguments(schema)
        def post(self, body, task_id):
            result = call(actor(), task_id, body)
            if isinstance(result, list):
                return {"items": [_task(r) if hasattr(r, "kind") else {"id": r.id, "to_user": r.to_user}
                                  for r in result]}
            if isinstance(result, tuple):
                task, case, inst = result
                return {"task": _task(task), "revision": inst.revision, "instance_status": inst.status,
                        "case_status": case.status if case else None}
            return {"task": _task(result) if result is not None else None}
    _View.post.__doc__ = doc
    return _View


class Empty(Strict):
    pass


_op("claim", Empty, lambda a, t, b: ops.claim(a, t), "签收 (claim)")
_op("unclaim", Empty, lambda a, t, b: ops.unclaim(a, t), "取消签收 (unclaim)")
_op("approve", CompleteIn, lambda a, t, b: ops.complete(a, t, b["data"], revision=b["revision"], opinion=b["opinion"],
                                                        outcome="approve", require_opinion=True),
    "办理/同意 with a mandatory opinion")
_op("reject", CompleteIn, lambda a, t, b: ops.complete(a, t, b["data"], revision=b["revision"], opinion=b["opinion"],
                                                       outcome="reject", require_opinion=True),
    "不予受理/不予许可 with a mandatory reason")
_op("return", ReturnIn, lambda a, t, b: ops.return_to(a, t, b["target"], b["reason"]),
    "退回 to an earlier step the case passed (reason mandatory)")
_op("withdraw", ReasonIn, lambda a, t, b: ops.withdraw(a, t, b["reason"]),
    "撤回 a task the caller completed while the next step has not acted")
_op("transfer", UserIn, lambda a, t, b: handover.transfer(a, t, b["user"], b["reason"]), "转办 for good")
_op("delegate", UserIn, lambda a, t, b: handover.delegate(a, t, b["user"], b["reason"]), "委派")
_op("resolve", ResolveIn, lambda a, t, b: handover.resolve(a, t, b["opinion"], b["data"]), "委派办理完毕，交回")
_op("reclaim", Empty, lambda a, t, b: handover.reclaim(a, t), "收回委派")
_op("signers", SignersIn, lambda a, t, b: signer_svc.add_signers(a, t, b["users"], b["mode"], b["opinion"], b["data"]),
    "加签 before / after")
_op("remove-signer", ReasonIn, lambda a, t, b: signer_svc.remove_signer(a, t, b["reason"]), "减签 (on the 加签 task)")
_op("cc", CcIn, lambda a, t, b: handover.cc(a, t, b["users"], b["note"]), "抄送")
_op("urge", ReasonIn, lambda a, t, b: handover.urge(a, t, b["reason"]), "催办")
_op("draft", DraftIn, lambda a, t, b: ops.save_draft(a, t, b["data"]), "暂存")


@ops_bp.route("/<task_id>/return-targets")
class ReturnTargets(MethodView):
    def get(self, task_id):
        """The earlier steps this task may be returned to."""
        who = actor()
        task, case, form, revision = task_svc.get_task(who, task_id)
        if not perms.may_act(who, task):
            from ...domain.errors import NotAuthorized
            raise NotAuthorized("无权办理该任务")
        return {"targets": ops.return_targets(task)}


class CaseReasonIn(Strict):
    reason = fields.String(load_default=None, validate=validate.Length(max=task_base.OPINION_MAX))


def _case_op(name, call, doc):
    @admin_cases_bp.route(f"/<int:case_id>/{name}", endpoint=f"case_{name}")
    class _View(MethodView):
        @admin_cases_bp.arguments(CaseReasonIn)
        def post(self, body, case_id):
            case = call(actor(), case_id, body["reason"])
            return {"id": case.id, "case_no": case.case_no, "status": case.status}
    _View.post.__doc__ = doc
    return _View


_case_op("suspend", admin_ops.suspend, "挂起 (administrators)")
_case_op("resume", admin_ops.resume, "激活 (administrators)")
_case_op("terminate", admin_ops.terminate, "终止 (administrators)")


@admin_cases_bp.route("/<int:case_id>/files")
class CaseFiles(MethodView):
    def get(self, case_id):
        """Files attached to the case."""
        return {"files": [file_svc.file_out(f) for f in file_svc.list_files(actor(), case_id)]}

    def post(self, case_id):
        """Attach a scan (multipart field ``file``; ``kind``, ``note``, ``task_id`` optional)."""
        blobs.allow_upload_size()
        upload = request.files.get("file")
        f = file_svc.attach(actor(), case_id, upload, kind=request.form.get("kind") or "other",
                            note=request.form.get("note"), task_id=request.form.get("task_id"))
        return file_svc.file_out(f), 201


@admin_cases_bp.route("/<int:case_id>/files/<int:file_id>")
class CaseFileDownload(MethodView):
    def get(self, case_id, file_id):
        """Download an attached file (same rights as reading the case)."""
        return file_svc.send(actor(), case_id, file_id)
