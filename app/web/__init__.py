"""HTTP layer: thin views that parse, call one service and serialize."""


def init_web(app):
    from .admin import bp as admin_bp
    from .api import init_api
    from .assets import bp as assets_bp
    from .auth import bp as auth_bp, check_csrf, csrf_token, current_actor
    from .errors import init_errors
    from .home import bp as home_bp
    from .i18n import current_lang, gettext
    from .supervision import bp as supervision_bp
    init_api(app)
    init_errors(app)  # after flask-smorest, whose HTTPException handler ours replaces
    for bp in (home_bp, auth_bp, supervision_bp, admin_bp, assets_bp):
        app.register_blueprint(bp)
    from .admin_users import bp as admin_users_bp; app.register_blueprint(admin_users_bp)  # noqa: E702
    from .inbox import bp as inbox_bp; app.register_blueprint(inbox_bp)  # noqa: E702
    app.before_request(check_csrf)

    @app.context_processor
    def template_globals():
        return {"_": gettext, "lang": current_lang(), "csrf_token": csrf_token, "actor": current_actor()}
