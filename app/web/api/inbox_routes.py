"""Inbox API: the four lists and every task operation (the pages use the same services)."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...services.common import blobs
from ...services.federation import withdrawals
from ...services.identity import permissions as perms
from ...services.inbox import admin_ops, handover, task_base
from ...services.inbox import case_files as file_svc
from ...services.inbox import lists as inbox_svc
from ...services.inbox import operations as ops
from ...services.inbox import signers as signer_svc
from ...services.inbox import tasks as task_svc
from .routes import SEMANTIC, _task_out, actor
from .schemas import NOT_BLANK, Strict, TaskOut, text_field

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


OPINION = task_base.OPINION_MAX


class CompleteIn(Strict):
    data = fields.Dict(load_default=dict, metadata={"description": "the step's form data (checked against the form)"})
    revision = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "the revision the form was read at: a stale one is a 409"})
    opinion = text_field(OPINION, description="办理意见 / 理由: required (not blank) unless the form data holds an "
                                               "opinion field")


class ReasonIn(Strict):
    reason = text_field(OPINION)


class ReturnIn(Strict):
    target = fields.String(required=True, validate=validate.Length(max=36), metadata={
        "description": "the task_id of one of the return targets (GET …/return-targets)"})
    reason = text_field(OPINION, required=True)


class UserIn(Strict):
    user = fields.String(required=True, validate=validate.Length(max=64), metadata={
        "description": "a staff member of the task's region"})
    reason = text_field(OPINION)


class ResolveIn(Strict):
    opinion = text_field(OPINION, required=True)
    data = fields.Dict(load_default=None, allow_none=True)


class SignersIn(Strict):
    """加签: 1 to 20 staff members; 后加签 (``after``) completes the step now and needs an opinion."""
    users = fields.List(fields.String(validate=validate.Length(max=64)), required=True,
                        validate=validate.Length(min=1, max=20))
    mode = fields.String(required=True, validate=validate.OneOf(["before", "after"]))
    opinion = text_field(OPINION, description="required (not blank) when mode is after")
    data = fields.Dict(load_default=None, allow_none=True)


def document_rules(spec) -> None:
    """What marshmallow cannot say in the generated component: 后加签 needs an opinion (the service
    refuses without one before it looks at the task)."""
    after = {"properties": {"mode": {"type": "string", "enum": ["after"]}, "opinion": {
        "type": "string", "pattern": NOT_BLANK}}, "required": ["mode", "opinion"]}
    before = {"properties": {"mode": {"type": "string", "enum": ["before"]}}, "required": ["mode"]}
    spec.components.schemas["SignersIn"]["anyOf"] = [before, after]


class CcIn(Strict):
    users = fields.List(fields.String(validate=validate.Length(max=64)), required=True,
                        validate=validate.Length(min=1, max=50))
    note = text_field(OPINION)


class DraftIn(Strict):
    data = fields.Dict(required=True)


class InboxCaseOut(Schema):
    id = fields.Integer()
    case_no = fields.String(allow_none=True)
    process_id = fields.String()
    applicant_name = fields.String()
    project_code = fields.String(allow_none=True)
    project_name = fields.String(allow_none=True)
    status = fields.String()
    current_step = fields.String(allow_none=True)


class CcOut(Schema):
    from_ = fields.String(data_key="from")
    note = fields.String(allow_none=True)
    read = fields.Boolean()


class InboxRowOut(Schema):
    colour = fields.String(validate=validate.OneOf(inbox_svc.COLOURS))
    at = fields.DateTime(allow_none=True)
    task = fields.Nested(TaskOut, allow_none=True, metadata={"description": "待办 / 已办: the task"})
    case = fields.Nested(InboxCaseOut, allow_none=True)
    action = fields.String(allow_none=True, metadata={"description": "我经手的: the last thing the caller did"})
    cc = fields.Nested(CcOut, metadata={"description": "抄送给我: who sent it, the note, whether it was read"})


class InboxCountsOut(Schema):
    todo = fields.Integer()
    done = fields.Integer()
    handled = fields.Integer()
    cc = fields.Integer()
    capped = fields.List(fields.String(validate=validate.OneOf(inbox_svc.TABS)), metadata={
        "description": "the lists with more than the cap (shown as \"999+\")"})


class InboxOut(Schema):
    tab = fields.String(validate=validate.OneOf(inbox_svc.TABS))
    page = fields.Integer()
    per_page = fields.Integer()
    has_next = fields.Boolean()
    counts = fields.Nested(InboxCountsOut)
    rows = fields.List(fields.Nested(InboxRowOut))


class OpTaskOut(TaskOut):
    draft = fields.Dict(allow_none=True)


class TaskResultOut(Schema):
    task = fields.Nested(OpTaskOut, allow_none=True)


class StepOut(Schema):
    """A completion: the task, and where the instance and the case stand now."""
    task = fields.Nested(OpTaskOut)
    revision = fields.Integer()
    instance_status = fields.String()
    case_status = fields.String(allow_none=True)


class SignersOut(Schema):
    items = fields.List(fields.Nested(OpTaskOut), metadata={"description": "the new 加签 tasks"})


class CcRowOut(Schema):
    id = fields.Integer()
    to_user = fields.String()


class CcItemsOut(Schema):
    items = fields.List(fields.Nested(CcRowOut))


class ReturnTargetOut(Schema):
    task_id = fields.String()
    element_id = fields.String()
    name = fields.String()
    completed_by = fields.String(allow_none=True)


class ReturnTargetsOut(Schema):
    targets = fields.List(fields.Nested(ReturnTargetOut))


class CaseStatusOut(Schema):
    id = fields.Integer()
    case_no = fields.String(allow_none=True)
    status = fields.String()


class FileOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    task_id = fields.String(allow_none=True)
    kind = fields.String(validate=validate.OneOf(list(file_svc.KINDS)))
    kind_label = fields.String(allow_none=True)
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_by = fields.String()
    note = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class FilesOut(Schema):
    files = fields.List(fields.Nested(FileOut))


def _row_out(row):
    task, case = row["task"], row["case"]
    out = {"colour": row["colour"], "at": row["at"],
           "task": _task_out(task, case) if task is not None else None,
           "case": {"id": case.id, "case_no": case.case_no, "process_id": case.process_id,
                    "applicant_name": case.applicant_name, "project_code": case.project_code,
                    "project_name": case.project_name, "status": case.status,
                    "current_step": case.current_step} if case is not None else None}
    if "action" in row:
        out["action"] = row["action"]
    if "cc" in row:
        out["cc"] = {"from_": row["cc"].from_user, "note": row["cc"].note, "read": row["cc"].read_at is not None}
    return out


@inbox_bp.route("")
class Inbox(MethodView):
    @inbox_bp.arguments(InboxArgs, location="query")
    @inbox_bp.response(200, InboxOut)
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
    return out


def _op(name, schema, call, doc, out=TaskResultOut, semantic=False):
    """Register POST /api/tasks/<task_id>/<name>, answering ``out``; ``semantic``: it checks form data."""
    @ops_bp.route(f"/<task_id>/{name}", endpoint=f"op_{name.replace('-', '_')}")
    class _View(MethodView):
        @ops_bp.arguments(schema)
        @ops_bp.response(200, out)
        @ops_bp.doc(**(SEMANTIC if semantic else {}))
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
    "办理/同意 with a mandatory opinion", StepOut, semantic=True)
_op("reject", CompleteIn, lambda a, t, b: ops.complete(a, t, b["data"], revision=b["revision"], opinion=b["opinion"],
                                                       outcome="reject", require_opinion=True),
    "不予受理/不予许可 with a mandatory reason", StepOut, semantic=True)
_op("return", ReturnIn, lambda a, t, b: ops.return_to(a, t, b["target"], b["reason"]),
    "退回 to an earlier step the case passed (reason mandatory)")
_op("withdraw", ReasonIn, lambda a, t, b: ops.withdraw(a, t, b["reason"]),
    "撤回 a task the caller completed while the next step has not acted")
_op("transfer", UserIn, lambda a, t, b: handover.transfer(a, t, b["user"], b["reason"]), "转办 for good")
_op("delegate", UserIn, lambda a, t, b: handover.delegate(a, t, b["user"], b["reason"]), "委派")
_op("resolve", ResolveIn, lambda a, t, b: handover.resolve(a, t, b["opinion"], b["data"]), "委派办理完毕，交回",
    semantic=True)
_op("reclaim", Empty, lambda a, t, b: handover.reclaim(a, t), "收回委派")
_op("signers", SignersIn, lambda a, t, b: signer_svc.add_signers(a, t, b["users"], b["mode"], b["opinion"], b["data"]),
    "加签 before / after", SignersOut, semantic=True)
_op("remove-signer", ReasonIn, lambda a, t, b: signer_svc.remove_signer(a, t, b["reason"]), "减签 (on the 加签 task)")
_op("cc", CcIn, lambda a, t, b: handover.cc(a, t, b["users"], b["note"]), "抄送", CcItemsOut)
_op("urge", ReasonIn, lambda a, t, b: handover.urge(a, t, b["reason"]), "催办")
_op("draft", DraftIn, lambda a, t, b: ops.save_draft(a, t, b["data"]), "暂存", semantic=True)


@ops_bp.route("/<task_id>/return-targets")
class ReturnTargets(MethodView):
    @ops_bp.response(200, ReturnTargetsOut)
    def get(self, task_id):
        """The earlier steps this task may be returned to."""
        who = actor()
        task, case, form, revision = task_svc.get_task(who, task_id)
        if not perms.may_act(who, task):
            from ...domain.errors import NotAuthorized
            raise NotAuthorized("无权办理该任务")
        return {"targets": ops.return_targets(task)}


class CaseReasonIn(Strict):
    reason = text_field(OPINION)


class CaseReasonRequiredIn(Strict):
    reason = text_field(OPINION, required=True)


def _case_op(name, call, doc, schema=CaseReasonRequiredIn):
    @admin_cases_bp.route(f"/<int:case_id>/{name}", endpoint=f"case_{name}")
    class _View(MethodView):
        @admin_cases_bp.arguments(schema)
        @admin_cases_bp.response(200, CaseStatusOut)
        def post(self, body, case_id):
            case = call(actor(), case_id, body["reason"])
            return {"id": case.id, "case_no": case.case_no, "status": case.status}
    _View.post.__doc__ = doc
    return _View


_case_op("suspend", admin_ops.suspend, "挂起 (administrators)")
_case_op("resume", admin_ops.resume, "激活 (administrators)", CaseReasonIn)
_case_op("terminate", admin_ops.terminate, "终止 (administrators)")


class RecallIn(Strict):
    reason = text_field(withdrawals.REASON_MAX, required=True, description="撤回转报的理由 (sent to the upper platform)")


_case_op("recall-forward", withdrawals.recall_forward, "撤回转报: take back a forward the upper platform has not "
         "accepted yet (staff who handle the case, administrators); 409 unless the case waits for the upper's "
         "result", RecallIn)


UPLOAD_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary", "description": "PDF, JPG, PNG or OFD (checked by content)"},
        "kind": {"type": "string", "enum": list(file_svc.KINDS), "description": "default other"},
        "note": {"type": "string", "maxLength": 500},
        "task_id": {"type": "string", "description": "the task the file belongs to (optional)"}}}}}}}
DOWNLOAD_DOC = {"responses": {"200": {"description": "the file, as an attachment", "content": {
    ctype: {"schema": {"type": "string", "format": "binary"}} for ctype in blobs.TYPES}}}}


@admin_cases_bp.route("/<int:case_id>/files")
class CaseFiles(MethodView):
    @admin_cases_bp.response(200, FilesOut)
    def get(self, case_id):
        """Files attached to the case."""
        return {"files": [file_svc.file_out(f) for f in file_svc.list_files(actor(), case_id)]}

    @admin_cases_bp.doc(**UPLOAD_DOC, **SEMANTIC)
    @admin_cases_bp.response(201, FileOut)
    def post(self, case_id):
        """Attach a scan (multipart field ``file``; ``kind``, ``note``, ``task_id`` optional)."""
        blobs.allow_upload_size()
        upload = request.files.get("file")
        f = file_svc.attach(actor(), case_id, upload, kind=request.form.get("kind") or "other",
                            note=request.form.get("note"), task_id=request.form.get("task_id"))
        return file_svc.file_out(f)


@admin_cases_bp.route("/<int:case_id>/files/<int:file_id>")
class CaseFileDownload(MethodView):
    @admin_cases_bp.doc(**DOWNLOAD_DOC)
    def get(self, case_id, file_id):
        """Download an attached file (same rights as reading the case)."""
        return file_svc.send(actor(), case_id, file_id)
