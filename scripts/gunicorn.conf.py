"""gunicorn settings of the production web server: ``scripts/run --prod`` (scripts/Procfile.prod runs
``gunicorn --config scripts/gunicorn.conf.py wsgi:app``). See docs/deploy.md.

Read from the environment:
  HOST, PORT        the address served (default 127.0.0.1:5000; a reverse proxy is expected in front)
  WEB_CONCURRENCY   worker processes (default 2 x cores + 1); each has its own database pool and
                    SCRIPT_WORKERS script processes

Not preloaded: every worker builds the app itself (its database pool, its script workers, its
metrics files), so nothing made before the fork is shared between workers.
"""
from __future__ import annotations

import os


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (containers, taskset)
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _workers() -> int:
    raw = os.environ.get("WEB_CONCURRENCY", "")
    if not raw:
        return 2 * _cores() + 1
    try:
        n = int(raw)
    except ValueError:
        raise SystemExit(f"WEB_CONCURRENCY must be an integer, got {raw!r}") from None
    if n < 1:
        raise SystemExit("WEB_CONCURRENCY must be at least 1")
    return n


bind = f"{os.environ.get('HOST') or '127.0.0.1'}:{os.environ.get('PORT') or '5000'}"
workers = _workers()
worker_class = "sync"
#: a worker silent this long is killed and replaced (one engine step is limited to
#: STEP_TIME_BUDGET_MS, 10 s by default; uploads of FILE_MAX_BYTES through a slow proxy take longer)
timeout = 60
#: on SIGTERM, requests in progress get this long to finish before the workers are killed
graceful_timeout = 20
keepalive = 5
#: no access log: the app logs every request itself, one JSON line with its request id
#: (app/observability, LOG_FORMAT)
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
#: X-Forwarded-* are the app's business (werkzeug's ProxyFix, trusted for PROXY_HOPS proxies):
#: gunicorn itself trusts no peer for them, so there is one setting, not two that could disagree
forwarded_allow_ips = ""
proc_name = "yangguang-web"
#: no control socket (gunicorn >= 25.1 makes one at a fixed path per user, which two servers on one
#: host would share); worker count and reloads go through signals (TTIN, TTOU, HUP) as before
control_socket_disable = True


def child_exit(server, worker):
    """A worker has exited (the master runs this): its live Prometheus gauges go with it. Nothing of
    the app is imported into the master, and no error here may stop it (gunicorn does not catch what
    this hook raises: the whole server would stop)."""
    try:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess
            multiprocess.mark_process_dead(worker.pid)
    except Exception:  # noqa: BLE001
        server.log.exception("child_exit: could not mark worker %s dead for the metrics", worker.pid)
