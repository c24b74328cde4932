"""marshmallow schemas of the JSON API."""
from marshmallow import RAISE, Schema, fields, validate

from ...domain.case_status import CaseStatus
from ...services.inbox.task_base import OPINION_MAX

# what str.strip() removes; a text that must not be blank has one other character (the services strip
# reasons and opinions before they check them). Anchored, so it reads the same in marshmallow (match)
# and in JSON Schema (search).
BLANK = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"^[{BLANK}]*[^{BLANK}]"


def text_field(max_length: int, *, required: bool = False, description: str | None = None) -> fields.String:
    """A text field of at most ``max_length`` characters; ``required`` ones must not be blank either."""
    checks = [validate.Length(max=max_length)]
    if required:
        checks.append(validate.Regexp(NOT_BLANK, error="必填，不能为空白 (required, not blank)"))
        return fields.String(required=True, validate=checks, metadata={"description": description} if description
                             else {}, error_messages={"required": "必填 (required)"})
    return fields.String(load_default=None, allow_none=True, validate=checks,
                         metadata={"description": description} if description else {})


class Strict(Schema):
    """A request body or query that refuses keys it does not know (422, ``additionalProperties: false``)."""
    class Meta:
        unknown = RAISE


class ErrorSchema(Schema):
    """The body of every error answer of the API and of the JSON answers of the pages' global error
    handler (app/web/errors.py), exactly as sent."""
    code = fields.Integer(required=True, metadata={"description": "the HTTP status"})
    status = fields.String(required=True, metadata={
        "description": "the domain error's code (as ``error``), or the HTTP reason phrase when the HTTP layer "
                       "refused the request (\"Not Found\", \"Bad Request\" …)"})
    message = fields.String(required=True, metadata={"description": "for people, Chinese first"})
    error = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_]+$"), metadata={
        "description": "machine-readable and stable: bad_request, unauthenticated, forbidden, not_found, "
                       "method_not_allowed, conflict, request_too_large, unsupported_media_type, validation_error, "
                       "invalid_model, rate_limited, internal_error (``http_<status>`` for other statuses)"})
    errors = fields.Dict(metadata={
        "description": "what was wrong, by field: usually ``{field: [message, …]}``; a refused request body or query "
                       "is under its location (``{\"json\": {field: [message]}}``); a model that cannot deploy "
                       "lists ``{\"errors\": [{element, file, message}]}``"})


class LimitOut(Schema):
    value = fields.Integer()
    unit = fields.String()
    note = fields.String()


class MatterOut(Schema):
    process_id = fields.String()
    name = fields.String()
    basic_code = fields.String()
    implementation_code = fields.String()
    matter_type = fields.String()
    case_type = fields.String()
    version = fields.Integer()
    version_id = fields.Integer()
    content_hash = fields.String()
    statutory_limit = fields.Nested(LimitOut)
    promised_limit = fields.Nested(LimitOut)
    start_form = fields.String(allow_none=True)


class MatterDetailOut(MatterOut):
    metadata = fields.Dict()
    forms = fields.Dict()
    user_tasks = fields.List(fields.Dict())
    end_events = fields.List(fields.Dict())


class CaseCreateIn(Strict):
    process_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    data = fields.Dict(required=True)
    submit = fields.Boolean(load_default=True)


class CaseSubmitIn(Strict):
    data = fields.Dict(load_default=None)


class WithdrawIn(Strict):
    reason = text_field(2000, required=True)


class TaskOut(Schema):
    id = fields.String()
    case_id = fields.Integer(allow_none=True)
    case_no = fields.String(allow_none=True)
    process_id = fields.String(allow_none=True)
    element_id = fields.String()
    name = fields.String()
    lane = fields.String(allow_none=True)
    form_key = fields.String(allow_none=True)
    action = fields.String(allow_none=True)
    candidate_groups = fields.List(fields.String())
    candidate_users = fields.List(fields.String())
    assignee = fields.String(allow_none=True)
    mi_index = fields.Integer(allow_none=True)
    state = fields.String()
    limit_days = fields.Integer(allow_none=True)
    due_date = fields.Date(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)
    kind = fields.String()
    region_code = fields.String()
    owner = fields.String(allow_none=True)
    delegation = fields.String(allow_none=True)
    blocked = fields.Integer()
    urge_count = fields.Integer()
    outcome = fields.String(allow_none=True)
    opinion = fields.String(allow_none=True)


class TaskDetailOut(TaskOut):
    draft = fields.Dict(allow_none=True)
    form = fields.Dict(allow_none=True)
    revision = fields.Integer()
    case_data = fields.Dict()


class TaskCompleteIn(Strict):
    data = fields.Dict(required=True)
    revision = fields.Integer(load_default=None)
    opinion = text_field(OPINION_MAX, description="办理意见 (the form's opinion field may hold it instead)")


class EventOut(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String()
    #: the task row the event concerns (GET /api/tasks/<id>): for a step reopened by 退回 / 撤回, the
    #: finished round's history row; the id as recorded in the hash chain is ``recorded_task_id``
    task_id = fields.String(allow_none=True, attribute="task_row_id")
    recorded_task_id = fields.String(allow_none=True, attribute="task_id")
    element_id = fields.String(allow_none=True)
    step_name = fields.String(allow_none=True)
    opinion = fields.String(allow_none=True)
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    data_change = fields.Dict()


class IncidentOut(Schema):
    id = fields.Integer()
    instance_id = fields.Integer()
    case_id = fields.Integer(allow_none=True)
    task_id = fields.String(allow_none=True)
    element_id = fields.String(allow_none=True)
    error_type = fields.String()
    message = fields.String()
    details = fields.Dict()
    status = fields.String()
    retries = fields.Integer()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)


class RetryIn(Strict):
    data = fields.Dict(load_default=None)


class CaseOut(Schema):
    id = fields.Integer()
    case_no = fields.String(allow_none=True)
    process_id = fields.String()
    version_id = fields.Integer()
    status = fields.String(validate=validate.OneOf([s.value for s in CaseStatus]))
    status_label = fields.Method("_label")
    applicant_name = fields.String()
    applicant_code = fields.String(allow_none=True)
    project_code = fields.String(allow_none=True)
    project_name = fields.String(allow_none=True)
    current_step = fields.String(allow_none=True)
    data = fields.Dict()
    created_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    clock_state = fields.String()
    statutory_due = fields.Date(allow_none=True)
    promised_due = fields.Date(allow_none=True)
    suspended_days = fields.Integer()
    extended_days = fields.Integer()
    clock_error = fields.String(allow_none=True)

    def _label(self, obj):
        status = obj["status"] if isinstance(obj, dict) else obj.status
        return CaseStatus(status).label


class SpecialProcedureIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(
        ["extension", "correction", "expert_review", "assessment", "hearing", "testing", "inspection", "consultation",
         "other"]))
    reason = text_field(2000, required=True)
    basis = fields.String(load_default="", validate=validate.Length(max=2000))
    planned_duration = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=365))
    planned_unit = fields.String(load_default="working_day", validate=validate.OneOf(["working_day", "natural_day"]))
    approver = fields.String(load_default=None, validate=validate.Length(max=64))


class SpecialProcedureEndIn(Strict):
    result = text_field(2000, required=True)


class SpecialProcedureOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    kind_code = fields.String()
    kind = fields.String()
    reason = fields.String()
    basis = fields.String()
    planned_duration = fields.Integer()
    planned_unit = fields.String()
    started_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    handler = fields.String()
    approver = fields.String(allow_none=True)
    result = fields.String(allow_none=True)
    status = fields.String()
    counted_days = fields.Integer()


class CaseStateOut(CaseOut):
    """A case with where it stands now: what a task completion answers (size independent of history)."""
    revision = fields.Integer(allow_none=True)
    instance_status = fields.String(allow_none=True)
    end_event = fields.String(allow_none=True)
    current_tasks = fields.List(fields.Nested(TaskOut))
    incidents = fields.List(fields.Nested(IncidentOut))


class CaseDetailOut(CaseStateOut):
    history = fields.List(fields.Nested(EventOut))
    special_procedures = fields.List(fields.Nested(SpecialProcedureOut))


class PageArgs(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))
    process_id = fields.String(load_default=None)
    status = fields.String(load_default=None)


class SupervisionArgs(Strict):
    department = fields.String(load_default=None)
    process_id = fields.String(load_default=None)
    colour = fields.String(load_default=None, validate=validate.OneOf(["", "yellow", "red"]))
    since = fields.Date(load_default=None)
    until = fields.Date(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class SupervisionEventOut(Schema):
    id = fields.Integer()
    case_id = fields.Integer(allow_none=True)
    case_no = fields.String(allow_none=True)
    process_id = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    scope = fields.String()
    limit_kind = fields.String()
    colour = fields.String()
    rule_id = fields.String()
    content = fields.String()
    department = fields.String(allow_none=True)
    responsible_department = fields.String(allow_none=True)
    due_date = fields.Date(allow_none=True)
    at = fields.DateTime()
    status = fields.String()
    result = fields.String(allow_none=True)


class RateRow(Schema):
    key = fields.String()
    name = fields.String()
    total = fields.Integer()
    on_time = fields.Integer()
    rate = fields.Float(allow_none=True)


class RatesOut(Schema):
    departments = fields.List(fields.Nested(RateRow))
    matters = fields.List(fields.Nested(RateRow))
