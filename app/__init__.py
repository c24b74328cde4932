"""阳光发改 · 不见面审批: application factory."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from flask import Flask
from sqlalchemy import event

from .config import Settings
from .extensions import db, migrate


#: every SQLite connection's settings (the bench's replay opens its plain connections with them too)
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000")


def _sqlite_pragmas(engine) -> None:
    """SQLite: WAL, foreign keys, and BEGIN IMMEDIATE so a transaction holds the write lock from its
    start (the instance lock of the engine; PostgreSQL uses SELECT … FOR UPDATE instead)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_app(test_config: dict | None = None) -> Flask:
    settings = Settings()
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(settings.as_flask_config())
    if test_config:
        app.config.update(test_config)
        if "DATABASE_URL" in test_config and "SQLALCHEMY_DATABASE_URI" not in test_config:
            s = Settings(DATABASE_URL=test_config["DATABASE_URL"])
            app.config["SQLALCHEMY_DATABASE_URI"] = s.as_flask_config()["SQLALCHEMY_DATABASE_URI"]
    settings.validate(app.config)  # the final configuration: a test's TESTING or SECRET_KEY counts
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.json.ensure_ascii = False  # Chinese text as UTF-8, not \u escapes
    from .observability.logs import configure_logging
    configure_logging(app)  # LOG_FORMAT / LOG_LEVEL, for the web and the scheduler processes alike

    if app.config.get("PROXY_HOPS"):
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = int(app.config["PROXY_HOPS"])
        # X-Forwarded-For is appended to by each proxy (n values); -Proto and -Host are set by the
        # proxy nearest to the app (one value): trust that one
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=1, x_host=1)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _sqlite_pragmas(db.engine)
        elif db.engine.dialect.driver == "psycopg":
            from .pg_cursor import use_lazy_description
            if not event.contains(db.engine, "connect", use_lazy_description):
                event.listen(db.engine, "connect", use_lazy_description)
            from .pg_prepared import keep_prepared
            keep_prepared(db.engine)
        from .observability.metrics import instrument_sqlalchemy
        instrument_sqlalchemy(db.engine)  # SQL statements and duration of each engine step

    from .engine.helpers import make_time_helpers
    from .engine.runtime import Engine
    from .services.clocks.calendar import current_calendar
    from .services.common.clock import clock_now
    app.extensions["clock"] = test_config.get("CLOCK") if test_config and test_config.get("CLOCK") else \
        (lambda: datetime.now(timezone.utc))
    helpers = make_time_helpers(clock_now, current_calendar)
    app.extensions["engine"] = Engine(app.config["SCRIPT_TIME_LIMIT_MS"], app.config["WORKFLOW_CACHE_SIZE"],
                                      clock=clock_now, helpers=helpers, isolation=app.config["SCRIPT_ISOLATION"],
                                      workers=app.config["SCRIPT_WORKERS"],
                                      step_budget_ms=app.config["STEP_TIME_BUDGET_MS"])
    if app.config["SCRIPT_ISOLATION"] == "process" and not app.config.get("TESTING"):
        from .engine.sandbox.pool import pool
        pool(app.config["SCRIPT_WORKERS"])  # pre-start the script workers (in a thread)

    from . import models  # noqa: F401  (register tables)
    from .services.federation.transport import register as register_federation_channel
    # the outbox channel to the other platforms of the 省市县 network
    register_federation_channel(app.config["FEDERATION_RETRY_SECONDS"], app.config["FEDERATION_TIMEOUT_SECONDS"])
    from .services.docking.channels import register as register_docking_channels

    register_docking_channels(app)
    from .web import init_web
    init_web(app)
    from .observability.hooks import install_request_hooks
    install_request_hooks(app)  # request id, request histogram, access log (after init_web: runs first/last)
    from .cli import init_cli
    init_cli(app)
    from .cli_federation import init_federation_cli
    init_federation_cli(app)
    from .cli_docking import init_docking_cli
    init_docking_cli(app)
    from .cli_trail import init_trail_cli
    init_trail_cli(app)

    if app.config.get("DEPLOY_ON_START"):
        from .services.cases.bootstrap import deploy_on_start
        deploy_on_start(app)
    return app
