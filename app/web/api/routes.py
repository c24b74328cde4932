"""API views: parse, call one service, serialize."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from ...observability.logs import bind as bind_log_context
from ...services.cases import incidents as incident_svc
from ...services.cases import lifecycle as case_svc
from ...services.cases import registry as registry_svc
from ...services.cases import special_procedures as clock_svc
from ...services.clocks import supervision as supervision_svc
from ...services.identity.actors import actor_for_token
from ...services.inbox import tasks as task_svc
from .schemas import (
    CaseCreateIn,
    CaseDetailOut,
    CaseOut,
    CaseStateOut,
    CaseSubmitIn,
    IncidentOut,
    MatterDetailOut,
    MatterOut,
    PageArgs,
    RatesOut,
    RetryIn,
    SpecialProcedureEndIn,
    SpecialProcedureIn,
    SpecialProcedureOut,
    SupervisionArgs,
    SupervisionEventOut,
    TaskCompleteIn,
    TaskDetailOut,
    TaskOut,
    WithdrawIn,
)

matters_bp = Blueprint("matters", __name__, url_prefix="/api/matters", description="事项 (matters)")
cases_bp = Blueprint("cases", __name__, url_prefix="/api/cases", description="办件 (cases)")
tasks_bp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="待办 (user tasks)")
incidents_bp = Blueprint("incidents", __name__, url_prefix="/api/incidents", description="异常 (incidents)")
supervision_bp = Blueprint("supervision_api", __name__, url_prefix="/api/supervision",
                           description="电子监察 (supervision, inspectors)")


def actor():
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    who = actor_for_token(token)
    bind_log_context(user=who.username)  # the access log line names the token's user
    return who


def _matter_out(m, detail=False):
    v = m.latest_version
    out = {"process_id": m.process_id, "name": m.name, "basic_code": m.basic_code,
           "implementation_code": m.implementation_code, "matter_type": m.matter_type, "case_type": m.case_type,
           "version": v.number, "version_id": v.id, "content_hash": v.content_hash,
           "statutory_limit": v.matter.get("statutory_limit"), "promised_limit": v.matter.get("promised_limit"),
           "start_form": (v.summary or {}).get("start_form")}
    if detail:
        out.update(metadata=v.matter, forms=v.forms, user_tasks=(v.summary or {}).get("user_tasks", []),
                   end_events=(v.summary or {}).get("end_events", []))
    return out


PUBLIC = []  # an operation anyone may call: no credentials (the document's default is the bearer token)
#: the operation checks more than its schema can say (the matter's form, a file's content): valid-looking
#: data may still be refused with 422 (the document marks it for clients and for the contract test)
SEMANTIC = {"x-semantic-422": True}


@matters_bp.route("")
class Matters(MethodView):
    @matters_bp.doc(security=PUBLIC)
    @matters_bp.response(200, MatterOut(many=True))
    def get(self):
        """List deployed matters (public)."""
        return [_matter_out(m) for m in registry_svc.list_matters()]


@matters_bp.route("/<process_id>")
class MatterDetail(MethodView):
    @matters_bp.doc(security=PUBLIC)
    @matters_bp.response(200, MatterDetailOut)
    def get(self, process_id):
        """A matter's metadata, forms and steps (public)."""
        return _matter_out(registry_svc.get_matter(process_id), detail=True)


def _task_out(task, case=None):
    out = {c: getattr(task, c) for c in case_svc.TASK_FIELDS}   # a HumanTask or a row of case_state
    out["case_no"] = case.case_no if case is not None else None
    out["process_id"] = case.process_id if case is not None else None
    return out


_CASE_FIELDS = [name for name in CaseOut().fields if name != "status_label"]


def _case_out(case, d):
    out = {name: getattr(case, name) for name in _CASE_FIELDS}
    inst = d["instance"]
    out.update(revision=inst.revision if inst else None, instance_status=inst.status if inst else None,
               end_event=inst.end_event if inst else None,
               current_tasks=[_task_out(t, case) for t in d["current_tasks"]], incidents=d["incidents"])
    for key in ("history", "special_procedures"):
        if key in d:
            out[key] = d[key]
    return out


def _case_detail(case):
    return _case_out(case, case_svc.case_details(case))


@cases_bp.route("")
class Cases(MethodView):
    @cases_bp.arguments(PageArgs, location="query")
    @cases_bp.response(200, CaseOut(many=True))
    def get(self, args):
        """The applicant's own cases (all cases for administrators and inspectors)."""
        return case_svc.list_cases(actor(), status=args["status"], limit=args["limit"], offset=args["offset"])

    @cases_bp.arguments(CaseCreateIn)
    @cases_bp.response(201, CaseDetailOut)
    @cases_bp.doc(**SEMANTIC)
    def post(self, body):
        """Apply: create a case from the start form; ``submit: false`` keeps it as a draft (暂存)."""
        case, details = case_svc.create_case(actor(), body["process_id"], body["data"], submit=body["submit"],
                                             with_details=True)
        return _case_out(case, details)


@cases_bp.route("/<key>")
class CaseDetail(MethodView):
    @cases_bp.response(200, CaseDetailOut)
    def get(self, key):
        """A case by id or case number: status, history, current tasks, incidents."""
        return _case_detail(case_svc.get_case(actor(), key))


@cases_bp.route("/<int:case_id>/submit")
class CaseSubmit(MethodView):
    @cases_bp.arguments(CaseSubmitIn)
    @cases_bp.response(200, CaseDetailOut)
    @cases_bp.doc(**SEMANTIC)
    def post(self, body, case_id):
        """Submit a draft."""
        return _case_detail(case_svc.submit_case(actor(), case_id, body.get("data")))


@cases_bp.route("/<int:case_id>/withdraw")
class CaseWithdraw(MethodView):
    @cases_bp.arguments(WithdrawIn)
    @cases_bp.response(200, CaseDetailOut)
    def post(self, body, case_id):
        """撤回: the applicant withdraws the application before a decision."""
        return _case_detail(case_svc.withdraw_case(actor(), case_id, body["reason"]))


@cases_bp.route("/<int:case_id>/special-procedures")
class CaseSpecialProcedures(MethodView):
    @cases_bp.arguments(SpecialProcedureIn)
    @cases_bp.response(201, SpecialProcedureOut)
    def post(self, body, case_id):
        """挂起/延长: start a special procedure (the clock stops) or the one extension (10 working days, or the
        matter's own rule: 企业投资项目核准 up to 40, approved by the head of the commission)."""
        return clock_svc.start_special_procedure(actor(), case_id, **body)


@cases_bp.route("/special-procedures/<int:procedure_id>/end")
class SpecialProcedureEnd(MethodView):
    @cases_bp.arguments(SpecialProcedureEndIn)
    @cases_bp.response(200, SpecialProcedureOut)
    def post(self, body, procedure_id):
        """激活: end a special procedure; deadlines and waiting timers move by the days it lasted."""
        return clock_svc.end_special_procedure(actor(), procedure_id, body["result"])


@tasks_bp.route("")
class Tasks(MethodView):
    @tasks_bp.arguments(PageArgs, location="query")
    @tasks_bp.response(200, TaskOut(many=True))
    def get(self, args):
        """Open tasks the caller may act on."""
        rows = task_svc.list_tasks(actor(), limit=args["limit"], offset=args["offset"],
                                   process_id=args["process_id"])
        return [_task_out(t, c) for t, c in rows]


@tasks_bp.route("/<task_id>")
class TaskDetail(MethodView):
    @tasks_bp.response(200, TaskDetailOut)
    def get(self, task_id):
        """A task with its form and the case data."""
        task, case, form, revision = task_svc.get_task(actor(), task_id)
        out = _task_out(task, case)
        out.update(form=form, revision=revision, case_data=case.data if case else {}, draft=task.draft)
        return out


@tasks_bp.route("/<task_id>/complete")
class TaskComplete(MethodView):
    # an instance, not the class: webargs would build (and deep-copy the fields of) a schema per request
    @tasks_bp.arguments(TaskCompleteIn())
    @tasks_bp.response(200, CaseStateOut)
    @tasks_bp.doc(**SEMANTIC)
    def post(self, body, task_id):
        """办理: complete the task with form data (validated against the form). Answers where the case
        stands now. 409 when the task is no longer open or ``revision`` is stale."""
        task, case, inst, state = task_svc.complete_task(actor(), task_id, body["data"], revision=body["revision"],
                                                         opinion=body["opinion"], with_state=True)
        return _case_out(case, state) if case is not None else {}


@incidents_bp.route("")
class Incidents(MethodView):
    @incidents_bp.arguments(PageArgs, location="query")
    @incidents_bp.response(200, IncidentOut(many=True))
    def get(self, args):
        """Incidents (open by default; ``status=resolved`` or ``status=`` for others)."""
        status = args["status"] if "status" in request.args else "open"
        return incident_svc.list_incidents(actor(), status=status or None, limit=args["limit"])


@incidents_bp.route("/<int:incident_id>/retry")
class IncidentRetry(MethodView):
    @incidents_bp.arguments(RetryIn)
    @incidents_bp.response(200, IncidentOut)
    @incidents_bp.doc(**SEMANTIC)
    def post(self, body, incident_id):
        """Retry the failed part after fixing the cause (optionally patching data)."""
        return incident_svc.retry_incident(actor(), incident_id, body.get("data"))


def _supervision_filters(args):
    from datetime import datetime, time

    from ...services.common.clock import BEIJING
    day = lambda d: datetime.combine(d, time(0), BEIJING) if d else None  # noqa: E731
    return {"department": args["department"], "process_id": args["process_id"], "colour": args["colour"],
            "since": day(args["since"]), "until": day(args["until"])}


@supervision_bp.route("/events")
class SupervisionEvents(MethodView):
    @supervision_bp.arguments(SupervisionArgs, location="query")
    @supervision_bp.response(200, SupervisionEventOut(many=True))
    def get(self, args):
        """Warnings (yellow/red) and system alerts, newest first, with filters."""
        return supervision_svc.list_events(actor(), limit=args["limit"], offset=args["offset"],
                                           **_supervision_filters(args))


@supervision_bp.route("/rates")
class SupervisionRates(MethodView):
    @supervision_bp.arguments(SupervisionArgs, location="query")
    @supervision_bp.response(200, RatesOut)
    def get(self, args):
        """On-time rate of finished steps, per department and per matter."""
        f = _supervision_filters(args)
        return supervision_svc.on_time_rates(actor(), since=f["since"], until=f["until"])


@supervision_bp.route("/overdue")
class SupervisionOverdue(MethodView):
    @supervision_bp.response(200, CaseOut(many=True))
    def get(self):
        """Cases past their promised or statutory deadline whose clock still runs."""
        return supervision_svc.overdue_cases(actor())
