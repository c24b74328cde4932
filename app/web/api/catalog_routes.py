"""事项目录 export for the 一张网 (issue 15 point 2): GET /api/catalog, public like the guides it
carries; incremental by ``since``, paged by ``cursor`` (docs/integration.md)."""
from __future__ import annotations

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ...services.docking import catalog_export as svc
from .routes import PUBLIC, SEMANTIC
from .schemas import Strict

catalog_bp = Blueprint("catalog_export", __name__, url_prefix="/api/catalog",
                       description="事项目录 (the matter catalog, GB/T 39046 guide fields, for the 一张网)")


class CatalogArgs(Strict):
    since = fields.String(load_default=None, validate=validate.Regexp(svc.SINCE_PATTERN), metadata={
        "description": "ISO-8601 date-time: only entries changed after it (a time without an offset is Beijing "
                       "time), e.g. 2026-03-02T09:00:00+08:00; use the previous answer's watermark"})
    limit = fields.Integer(load_default=svc.DEFAULT_LIMIT, validate=validate.Range(min=1, max=svc.MAX_LIMIT),
                           metadata={"description": "entries per page"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=200), metadata={
        "description": "the next_cursor of the previous page (the same since and limit)"})


class CatalogCodeOut(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True, metadata={"description": "the code's name (GB/T 39046 appendix A)"})


class CatalogLimitOut(Schema):
    value = fields.Integer(required=True)
    unit = fields.String(required=True, metadata={"description": "working_day, natural_day or month"})
    unit_label = fields.String(required=True)
    note = fields.String(required=True)


class CatalogBodyOut(Schema):
    name = fields.String(required=True)
    credit_code = fields.String(required=True, metadata={"description": "统一社会信用代码"})


class CatalogResultOut(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True)


class CatalogFaqOut(Schema):
    q = fields.String(required=True)
    a = fields.String(required=True)


class CatalogMaterialOut(Schema):
    name = fields.String(required=True)
    issuer = fields.String(required=True)
    originals = fields.Integer(required=True)
    copies = fields.Integer(required=True)
    required = fields.Boolean(required=True)
    paper_required = fields.Boolean(required=True)
    notes = fields.String(required=True)


class CatalogEntryOut(Schema):
    process_id = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["active", "withdrawn"]))
    region_code = fields.String(required=True, metadata={"description": "GB/T 2260 code of this platform"})
    changed_at = fields.DateTime(required=True, metadata={"description": "when the entry last changed here"})
    version = fields.Integer(required=True, metadata={"description": "the deployed version's number"})
    deployed_at = fields.DateTime(required=True, metadata={"description": "when that version was deployed"})
    name = fields.String(required=True)
    basic_code = fields.String(required=True, metadata={"description": "基本编码"})
    implementation_code = fields.String(required=True, metadata={"description": "实施编码"})
    matter_type = fields.Nested(CatalogCodeOut, required=True, metadata={"description": "A.1 事项类型"})
    exercise_level = fields.Nested(CatalogCodeOut, required=True, metadata={"description": "A.2 行使层级"})
    case_type = fields.Nested(CatalogCodeOut, required=True, metadata={"description": "A.6 办件类型"})
    implementing_body = fields.Nested(CatalogBodyOut, required=True)
    legal_basis = fields.List(fields.String(), required=True)
    statutory_limit = fields.Nested(CatalogLimitOut, required=True, allow_none=True, metadata={"description": "法定办结时限"})
    promised_limit = fields.Nested(CatalogLimitOut, required=True, allow_none=True, metadata={"description": "承诺办结时限"})
    service_object = fields.List(fields.Nested(CatalogCodeOut), required=True, metadata={"description": "A.4 服务对象"})
    handling_forms = fields.List(fields.Nested(CatalogCodeOut), required=True, metadata={"description": "A.5 办理形式"})
    joint_departments = fields.List(fields.String(), required=True)
    acceptance_conditions = fields.List(fields.String(), required=True)
    process_description = fields.String(required=True)
    result = fields.Nested(CatalogResultOut, required=True)
    fees = fields.String(required=True)
    special_procedures = fields.List(fields.String(), required=True)
    place = fields.String(required=True)
    hours = fields.String(required=True)
    consult_phone = fields.String(required=True)
    supervise_phone = fields.String(required=True)
    faq = fields.List(fields.Nested(CatalogFaqOut), required=True)
    materials = fields.List(fields.Nested(CatalogMaterialOut), required=True, metadata={"description": "材料清单"})


class CatalogPageOut(Schema):
    entries = fields.List(fields.Nested(CatalogEntryOut), required=True)
    count = fields.Integer(required=True)
    next_cursor = fields.String(required=True, allow_none=True, metadata={
        "description": "null on the last page; else pass it as cursor for the next one"})
    next = fields.String(required=True, allow_none=True, metadata={"description": "the next page's URL, or null"})
    watermark = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "the changed_at of the last entry (the since given when there is none): the next pull's since"})


@catalog_bp.route("")
class Catalog(MethodView):
    @catalog_bp.doc(security=PUBLIC, **SEMANTIC)
    @catalog_bp.arguments(CatalogArgs, location="query")
    @catalog_bp.response(200, CatalogPageOut)
    def get(self, args):
        """Every deployed matter's service guide (public); ``since`` for the changes only, ``cursor`` to page.
        422: a ``since`` that is not a real time, or a ``cursor`` that is not one of ours."""
        page = svc.export(args["since"], args["limit"], args["cursor"])
        page["next"] = None
        if page["next_cursor"]:
            query = {k: v for k, v in (("since", args["since"]), ("limit", args["limit"])) if v is not None}
            page["next"] = url_for("catalog_export.Catalog", cursor=page["next_cursor"], _external=True, **query)
        return page
