"""Versions of a matter (designers and administrators): who deployed what when, how many instances
still run on each version, and the diff against the version before."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ...services.cases import registry as registry_svc
from .routes import actor

versions_bp = Blueprint("matter_versions", __name__, url_prefix="/api/matters",
                        description="流程版本 (versions of a matter; designers)")


class CountsOut(Schema):
    added = fields.Integer()
    removed = fields.Integer()
    changed = fields.Integer()


class DiffCountsOut(Schema):
    elements = fields.Nested(CountsOut)
    forms = fields.Nested(CountsOut)
    matter = fields.Integer()


class VersionOut(Schema):
    number = fields.Integer()
    version_id = fields.Integer()
    content_hash = fields.String()
    source_file = fields.String()
    deployed_by = fields.String()
    deployed_at = fields.DateTime()
    latest = fields.Boolean()
    running_instances = fields.Integer()
    base = fields.Integer(allow_none=True, metadata={"description": "the version this one is compared with"})
    diff_counts = fields.Nested(DiffCountsOut, allow_none=True)


class VersionDetailOut(VersionOut):
    diff = fields.Dict(allow_none=True, metadata={
        "description": "elements {added, removed, changed}, forms {added, removed, changed}, matter {changed}"})


@versions_bp.route("/<process_id>/versions")
class Versions(MethodView):
    @versions_bp.response(200, VersionOut(many=True))
    def get(self, process_id):
        """Every version of a matter, newest first, with running instances and diff counts."""
        return registry_svc.list_versions(actor(), process_id)


@versions_bp.route("/<process_id>/versions/<int:number>")
class VersionDetail(MethodView):
    @versions_bp.response(200, VersionDetailOut)
    def get(self, process_id, number):
        """One version with its full diff against the version before."""
        return registry_svc.version_details(actor(), process_id, number)
