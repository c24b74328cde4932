"""JSON API under /api, documented by OpenAPI 3 at /api/openapi.json (flask-smorest)."""
from flask_smorest import Api

api = Api()


def init_api(app):
    api.init_app(app, spec_kwargs={
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    })
    from .inbox_routes import admin_cases_bp, inbox_bp, ops_bp
    from .routes import cases_bp, incidents_bp, matters_bp, supervision_bp, tasks_bp
    from .versions_routes import versions_bp
    for bp in (matters_bp, cases_bp, tasks_bp, incidents_bp, supervision_bp, inbox_bp, ops_bp, admin_cases_bp,
               versions_bp):
        api.register_blueprint(bp)
