"""Supervision across levels (inspectors and administrators, as the rest of /api/supervision): what
the city and county platforms below report of their cases, per region and per case — the JSON twin
of the section 下级平台办件监督 of /supervision and of /supervision/regions/<code>."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ...services.federation import report_views
from .routes import actor

supervision_reports_bp = Blueprint("supervision_reports_api", __name__, url_prefix="/api/supervision/regions",
                                   description="下级平台办件监督 (cases reported by the cities and counties; inspectors)")


class RegionReportOut(Schema):
    region = fields.String(metadata={"description": "GB/T 2260 code of the reporting region"})
    name = fields.String()
    level = fields.String(metadata={"description": "province | city | county"})
    reported = fields.Integer(metadata={"description": "cases reported"})
    decided = fields.Integer(metadata={"description": "cases decided (approved or rejected)"})
    timed = fields.Integer(metadata={"description": "decided cases that had a statutory limit"})
    on_time = fields.Integer(metadata={"description": "decided by their statutory last day"})
    rate = fields.Float(allow_none=True, metadata={"description": "on_time / timed; null without any"})
    open_overdue = fields.Integer(metadata={"description": "open cases past their statutory last day (today here)"})
    last_report_at = fields.DateTime(allow_none=True)


class OriginOut(Schema):
    region = fields.String()
    case_no = fields.String()


class ReportedCaseOut(Schema):
    case_no = fields.String()
    process_id = fields.String()
    basic_code = fields.String()
    matter = fields.String()
    status = fields.String()
    label = fields.String()
    seq = fields.Integer()
    submitted_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    statutory_due = fields.String(allow_none=True, metadata={"description": "YYYY-MM-DD: that level's own clock"})
    promised_due = fields.String(allow_none=True)
    clock_state = fields.String()
    overdue = fields.Boolean(metadata={"description": "decided late, or open past its statutory last day"})
    open_overdue = fields.Boolean()
    origin = fields.Nested(OriginOut, allow_none=True,
                           metadata={"description": "a case forwarded in at that level: its origin case"})
    via = fields.String(metadata={"description": "the platform the newest report came from"})
    received_at = fields.DateTime()


class RegionCasesOut(Schema):
    region = fields.String()
    name = fields.String()
    level = fields.String()
    total = fields.Integer()
    overdue = fields.Integer()
    limited = fields.Boolean(metadata={"description": "more cases than listed (the first 500)"})
    cases = fields.List(fields.Nested(ReportedCaseOut))


@supervision_reports_bp.route("")
class RegionReports(MethodView):
    @supervision_reports_bp.response(200, RegionReportOut(many=True))
    def get(self):
        """Per reporting region: cases reported, decided, decided on time, rate, open overdue."""
        return report_views.region_summaries(actor())


@supervision_reports_bp.route("/<region>")
class RegionCases(MethodView):
    @supervision_reports_bp.response(200, RegionCasesOut)
    def get(self, region):
        """A region's reported cases, the overdue ones first (404 when it reported none)."""
        return report_views.region_cases(actor(), region)
