"""HTTP layer: thin views that parse, call one service and serialize."""


INT_MAX = 2 ** 31 - 1  # ids are 32-bit integers in the database


def refuse_unstorable_input():
    """Input no database can take answers 422/404 here, before any view: a NUL character (PostgreSQL
    text refuses it) in the path, the query, a form or a JSON body; an id beyond the integer range."""
    from flask import request

    from ..domain.errors import NotFound, ValidationError
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not -INT_MAX <= value <= INT_MAX:
            raise NotFound("不存在 (id out of range)")
    bad = "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True))
    ctype = request.mimetype or ""
    if not bad and ctype == "multipart/form-data":  # uploads: as large as a file may be
        from flask import current_app
        request.max_content_length = current_app.config["FILE_MAX_BYTES"] + 64 * 1024
    if not bad and ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        bad = any("\x00" in k or "\x00" in v for k, v in request.form.items(multi=True))
    if not bad and ctype.endswith("json"):
        raw = request.get_data(cache=True)
        bad = b"\\u0000" in raw or b"\x00" in raw
    if bad:
        raise ValidationError("输入中含有不允许的空字符 (NUL)", details={"input": ["NUL character"]})


def init_web(app):
    """The app-wide parts (home, sign-in, assets, errors, i18n) and one blueprint package per wing:
    api, admin, inbox, portal, feedback, designer."""
    from . import admin, designer, feedback, inbox, portal
    from .api import init_api
    from .assets import bp as assets_bp
    from .auth import bp as auth_bp
    from .auth import check_csrf, csrf_token, current_actor
    from .errors import init_errors
    from .home import bp as home_bp
    from .i18n import current_lang, gettext
    init_api(app)
    init_errors(app)  # after flask-smorest, whose HTTPException handler ours replaces
    for bp in (home_bp, auth_bp, assets_bp):
        app.register_blueprint(bp)
    for wing in (admin, inbox, portal, feedback, designer):
        for bp in wing.BLUEPRINTS:
            app.register_blueprint(bp)
    app.before_request(refuse_unstorable_input)
    app.before_request(check_csrf)

    @app.context_processor
    def template_globals():
        return {"_": gettext, "lang": current_lang(), "csrf_token": csrf_token, "actor": current_actor()}
