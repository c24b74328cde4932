"""The 一张网's calls to this platform (docs/integration.md): applications forwarded by its unified
entry, ratings made in its evaluation system. No token: a call is authenticated by the gateway
signature (X-Access-Key, X-Date, X-Signature: HMAC-SHA256 with the secret issued with YWTB_ACCESS_KEY)."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ...domain.errors import DomainError
from ...services.docking.ywtb_intake import receive_application
from ...services.docking.ywtb_ratings import receive_rating
from ...services.messaging.inbox import Refusal
from ..errors import domain_answer
from .routes import PUBLIC, SEMANTIC

ywtb_bp = Blueprint("ywtb", __name__, url_prefix="/api/ywtb",
                    description="政务服务一张网 (the provincial gateway's calls: applications, 好差评)")


class ApplicantIn(Schema):
    type = fields.String(required=True, metadata={"description": "1 自然人 / 2 法人 (or individual / enterprise)"})
    name = fields.String(required=True)
    credit_code = fields.String(metadata={"description": "统一社会信用代码 (法人)"})
    id_number = fields.String(metadata={"description": "公民身份号码 (自然人)"})
    mobile = fields.String(required=True)
    contact_person = fields.String()
    legal_representative = fields.String()


class MaterialIn(Schema):
    name = fields.String(required=True, metadata={"description": "the entry of the matter's materials list"})
    filename = fields.String()
    sha256 = fields.String(required=True, metadata={"description": "hex SHA-256 of the file: checked"})
    url = fields.String(metadata={"description": "where to fetch it, on the gateway's host (signed GET); or content"})
    content = fields.String(metadata={"description": "the file in Base64; or url"})


class ApplicationIn(Schema):
    serial_no = fields.String(required=True, metadata={"description": "the 一张网's 申办流水号: applied once"})
    matter_code = fields.String(required=True, metadata={"description": "implementation code or basic code"})
    channel = fields.String(metadata={"description": "申报渠道 (GB/T 39046 A.5), kept"})
    applicant = fields.Nested(ApplicantIn, required=True)
    form = fields.Dict(required=True, metadata={"description": "the matter's start form, checked as on the portal"})
    materials = fields.List(fields.Nested(MaterialIn))


class ApplicationOut(Schema):
    case_no = fields.String(required=True, metadata={"description": "our 办件编号"})
    serial_no = fields.String(required=True)
    duplicate = fields.Boolean(required=True, metadata={
        "description": "true: this 申办流水号 was received before; the first answer is repeated, nothing changed"})


class RatingIn(Schema):
    rating_id = fields.String(required=True, metadata={"description": "the evaluation system's id: applied once"})
    case_no = fields.String(required=True, metadata={"description": "our case number (or the 申办流水号)"})
    level = fields.Integer(required=True, metadata={"description": "national scale: 5 非常满意 … 1 非常不满意"})
    indicators = fields.Dict(metadata={"description": "efficiency, guide_accuracy, convenience, usability: 1–5"})
    comment = fields.String()
    channel = fields.String(metadata={"description": "评价渠道 1 PC … 5 窗口评价器"})
    named = fields.Boolean()


class RatingOut(Schema):
    case_no = fields.String(required=True)
    evaluation_id = fields.Integer(required=True)
    level = fields.Integer(required=True, metadata={"description": "as stored here (GB/T 39046: 1 非常满意 … 5)"})
    rectification_id = fields.Integer(allow_none=True, metadata={"description": "the work item a 差评 opened"})
    duplicate = fields.Boolean(required=True)


SIGNATURE = [{"in": "header", "name": name, "required": True, "schema": {"type": "string"}, "description": text}
             for name, text in (("X-Access-Key", "the access key the gateway was issued"),
                                ("X-Date", "UTC YYYYMMDDTHHMMSSZ, within YWTB_MAX_SKEW_SECONDS"),
                                ("X-Signature", "hex HMAC-SHA256 of the canonical request (docs/integration.md)"))]


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


REFUSALS = {
    "401": _error("missing, unknown_key, stale or bad_signature: the gateway signature does not hold"),
    "404": _error("unknown_case (ratings)"),
    "409": _error("mobile_in_use (applications); not_decided, already_evaluated (ratings)"),
    "422": _error("bad_payload, unknown_matter, unknown_material, material_hash_mismatch, bad_material, bad_form, "
                  "missing_material, applicant_mismatch, refused: nothing written"),
    "503": _error("not_configured: YWTB_BASE_URL / credentials not set here; material_unavailable: a material could "
                  "not be fetched now"),
}


def refusal_answer(exc: Refusal):
    error = DomainError(exc.message, details=getattr(exc, "details", None))
    error.status, error.code = exc.status, exc.code
    return domain_answer(error)


def _call(receive):
    return receive(request.headers, request.method, request.path, request.query_string.decode("latin-1"),
                   request.get_data(cache=True), request.remote_addr or "")


@ywtb_bp.route("/applications")
class Applications(MethodView):
    @ywtb_bp.doc(security=PUBLIC, parameters=SIGNATURE, responses=REFUSALS, **SEMANTIC,
                 requestBody={"required": True, "content": {"application/json": {"schema": ApplicationIn}}})
    @ywtb_bp.response(200, ApplicationOut)
    def post(self):
        """An application from the unified entry: becomes a case here (once per 申办流水号)."""
        try:
            answer, duplicate = _call(receive_application)
        except Refusal as exc:
            return refusal_answer(exc)
        return {**answer, "duplicate": duplicate}


@ywtb_bp.route("/ratings")
class Ratings(MethodView):
    @ywtb_bp.doc(security=PUBLIC, parameters=SIGNATURE, responses=REFUSALS, **SEMANTIC,
                 requestBody={"required": True, "content": {"application/json": {"schema": RatingIn}}})
    @ywtb_bp.response(200, RatingOut)
    def post(self):
        """A 好差评 rating made on the 一张网: linked to its case (once per rating id); a 差评 opens a rectification."""
        try:
            answer, duplicate = _call(receive_rating)
        except Refusal as exc:
            return refusal_answer(exc)
        return {**answer, "duplicate": duplicate}
