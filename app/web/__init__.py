"""HTTP layer: thin views that parse, call one service and serialize."""


def init_web(app):
    from .errors import init_errors
    from .api import init_api
    from .home import bp as home_bp
    init_errors(app)
    init_api(app)
    app.register_blueprint(home_bp)
