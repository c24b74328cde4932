"""JSON API under /api, documented by OpenAPI 3 at /api/openapi.json (flask-smorest).

The document describes every JSON endpoint: the API's blueprints (bearer token unless an operation
says ``security: []``) and, added from app/web/api/page_endpoints.py, the JSON endpoints of the pages
(session cookie + ``X-CSRF-Token``). Every error answer is the ``Error`` schema (app/web/errors.py)."""
from apispec import APISpec
from flask_smorest import Api as SmorestApi

from .schemas import ErrorSchema


class DocumentSpec(APISpec):
    """The API's spec, completed on first use by what could not be added at init: the page endpoints,
    whose blueprints the app registers after the API's (app/web/__init__.py)."""
    late: list

    def to_dict(self):
        while getattr(self, "late", None):
            self.late.pop(0)(self)
        return super().to_dict()


class Api(SmorestApi):
    """flask-smorest's Api with our error body (the one app/web/errors.py sends) as ``Error``."""
    ERROR_SCHEMA = ErrorSchema

    def _init_spec(self, **kwargs):
        super()._init_spec(**kwargs)
        self.spec.__class__ = DocumentSpec
        self.spec.late = []


api = Api()


def security_schemes(app) -> dict:
    return {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an API token (Authorization: Bearer …)"},
        "session": {"type": "apiKey", "in": "cookie", "name": app.config.get("SESSION_COOKIE_NAME", "session"),
                    "description": "the browser's signed-in session (the pages' endpoints)"},
        "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                 "description": "the session's CSRF token (the page's csrf meta tag or csrf_token field); every POST "
                                "of a page endpoint carries it with the session cookie"},
    }


DESCRIPTION = """The JSON API (bearer token) and the JSON endpoints of the pages (session cookie and CSRF
token). Every error is the ``Error`` body; ``error`` is the machine-readable code.

Every request passes one input gate first (422, ``errors.input``): no NUL character and no lone UTF-16
surrogate in any text (path, query, form, JSON keys and values, file names), JSON nested at most 64
levels, and no number of more than 100 digits — a JSON number, or a text that is nothing but one. An
integer id in a path beyond 2³¹−1 is a 404. The schemas below do not repeat these rules.

``x-semantic-422: true`` marks an operation that checks more than its schema says (the matter's form,
a file's content, a BPMN model): a request valid by the schema may still be refused with 422."""


def init_api(app):
    api.init_app(app, spec_kwargs={"components": {"securitySchemes": security_schemes(app)},
                                   "security": [{"bearer": []}], "info": {"description": DESCRIPTION}})
    from .federation_routes import federation_bp
    from .inbox_routes import admin_cases_bp, document_rules, inbox_bp, ops_bp
    from .page_endpoints import document_page_endpoints
    from .report_routes import supervision_reports_bp
    from .routes import cases_bp, incidents_bp, matters_bp, supervision_bp, tasks_bp
    from .versions_routes import versions_bp
    for bp in (matters_bp, cases_bp, tasks_bp, incidents_bp, supervision_bp, inbox_bp, ops_bp, admin_cases_bp,
               versions_bp, federation_bp, supervision_reports_bp):
        api.register_blueprint(bp)
    from .federation_files import federation_files_bp
    api.register_blueprint(federation_files_bp)
    from .ywtb_routes import ywtb_bp
    api.register_blueprint(ywtb_bp)
    from .catalog_routes import catalog_bp
    api.register_blueprint(catalog_bp)
    document_rules(api.spec)
    api.spec.late.append(lambda spec: document_page_endpoints(spec, app.url_map))
