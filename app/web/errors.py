"""One place that maps errors to HTTP answers: JSON under /api (or when asked), HTML elsewhere.

The JSON body is the ``Error`` schema of the OpenAPI document (app/web/api/schemas.py ErrorSchema):
``code`` (the HTTP status), ``status`` (the domain error's code, or the HTTP reason phrase for an
error raised by the HTTP layer), ``message`` (for people, Chinese first), ``error`` (a stable,
machine-readable code: always present) and ``errors`` (what was wrong, by field) when known."""
from __future__ import annotations

import logging

from flask import current_app, jsonify, render_template_string, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as NoRoute

from ..domain.errors import DomainError

log = logging.getLogger(__name__)

_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><meta name="viewport"
content="width=device-width, initial-scale=1"><title>{{ status }}</title>
<body style="font-family:sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem"><h1>{{ status }}</h1>
<p>{{ message }}</p><p><a href="/">返回首页</a></p></body></html>"""


def wants_json() -> bool:
    if request.path.startswith("/api"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


# the ``error`` code of an error the HTTP layer raised (routing, CSRF, body size, argument parsing)
HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "request_too_large",
              415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
              500: "internal_error"}


def error_code(status: int) -> str:
    """The machine-readable code of an HTTP status (``http_<status>`` for the rare ones)."""
    return HTTP_CODES.get(status, f"http_{status}")


def _answer(status: int, name: str, message: str, errors=None, code=None):
    if wants_json():
        body = {"code": status, "status": name, "message": message, "error": code or error_code(status)}
        if errors:
            body["errors"] = errors
        return jsonify(body), status
    return render_template_string(_PAGE, status=f"{status} {name}", message=message), status


def _unrouted() -> HTTPException | None:
    """The routing's own answer (404, or 405 with its Allow) when the request matched no route or no
    method of one: what a check before the view (the input gate, the CSRF token) refused on the way
    is beside the point then — no view would have run."""
    exc = getattr(request, "routing_exception", None)
    return exc if isinstance(exc, (NoRoute, MethodNotAllowed)) else None


def _http_answer(exc: HTTPException):
    errors = None
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        errors = data.get("messages") or data.get("errors")
    messages = {413: "请求体过大 (request body too large)", 404: "资源不存在 (not found)",
                405: "方法不允许 (method not allowed)", 422: "请求内容不正确 (invalid request, see errors)"}
    response = current_app.make_response(_answer(exc.code, exc.name, messages.get(exc.code, exc.description),
                                                 errors))
    for name, value in exc.get_headers():  # e.g. the Allow of a 405 (RFC 9110), not the HTML content type
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def domain_answer(exc: DomainError):
    """A DomainError's answer: the ``Error`` body (JSON) or the error page, with Retry-After for a 429.
    Views that answer a refusal themselves for a JSON client use this too, so the body is the same."""
    response = current_app.make_response(_answer(exc.status, exc.code, exc.message, exc.details or None, exc.code))
    if getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def init_errors(app):
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        unrouted = _unrouted()
        if unrouted is not None:
            return _http_answer(unrouted)
        if exc.status == 401 and not wants_json():
            from flask import redirect

            from .auth import login_url
            return redirect(login_url(request.full_path))
        return domain_answer(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _http_answer(_unrouted() or exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        current_app.logger.exception("unhandled error")
        return _answer(500, "Internal Server Error", "服务器内部错误，已记录 (internal error, logged)")
