"""The request hooks of the web app: a request id for every request, the request histogram, and one
access line per request.

- The request id is the incoming ``X-Request-Id`` when it is a valid id (logs.REQUEST_ID_RE: a proxy's
  or a client's, so one id follows the request through every tier), a new one otherwise; it is in
  every log line of the request and in the response's ``X-Request-Id``.
- ``yg_http_request_duration_seconds`` is labelled by the Flask endpoint (``unmatched`` when no route
  matched), never by the raw path. /metrics, /healthz, /readyz and static files are kept, each under
  its own endpoint, so they can be told apart from the rest.
- The access line (logger ``yg.access``, INFO): method, endpoint, path (no query string: it may carry
  tokens), status, duration_ms, user (the signed-in user, or the one a case action was done by),
  remote address.
"""
from __future__ import annotations

import logging
import time

from flask import g, request

from . import logs, metrics

access_log = logging.getLogger("yg.access")


def _before() -> None:
    g._yg_started = time.perf_counter()
    incoming = request.headers.get("X-Request-Id")
    request_id = incoming if logs.valid_request_id(incoming) else logs.new_request_id()
    g._yg_request_id = request_id
    logs.bind(request_id=request_id, user=None, case_no=None)
    metrics.request_started()
    g._yg_in_progress = True


def _user() -> str | None:
    user = logs.current()["user"]
    if user:
        return user
    actor = g.get("actor")
    return getattr(actor, "username", None)


def _after(response):
    request_id = g.get("_yg_request_id")
    if request_id:
        response.headers["X-Request-Id"] = request_id
    started = g.get("_yg_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    metrics.observe_request(request.endpoint, request.method, response.status_code, seconds)
    if access_log.isEnabledFor(logging.INFO):
        try:
            access_log.info("%s %s %s %.1fms", request.method, request.path, response.status_code, seconds * 1000,
                            extra={"method": request.method, "endpoint": request.endpoint, "path": request.path,
                                   "status": response.status_code, "duration_ms": round(seconds * 1000, 2),
                                   "user": _user(), "remote": request.remote_addr})
        except Exception:  # noqa: BLE001 - a log line is never worth the response
            pass
    return response


def _teardown(_exc) -> None:
    if g.pop("_yg_in_progress", False):
        metrics.request_finished()
    logs.clear()


def install_request_hooks(app) -> None:
    """Register the hooks on ``app`` (once): first before every other before-request hook, so every
    line they log has the request id, and last after the others, so the response is final."""
    if app.extensions.get("yg_request_hooks"):
        return
    app.extensions["yg_request_hooks"] = True
    app.before_request_funcs.setdefault(None, []).insert(0, _before)
    app.after_request_funcs.setdefault(None, []).insert(0, _after)  # after_request runs in reverse order
    app.teardown_request_funcs.setdefault(None, []).append(_teardown)
