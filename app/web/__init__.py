"""HTTP layer: thin views that parse, call one service and serialize."""


def init_web(app):
    from .errors import init_errors
    from .api import init_api
    from .home import bp as home_bp
    init_api(app)
    init_errors(app)  # after flask-smorest, whose HTTPException handler ours replaces
    app.register_blueprint(home_bp)
