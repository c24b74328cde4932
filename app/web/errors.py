"""One place that maps errors to HTTP answers: JSON under /api (or when asked), HTML elsewhere.

The JSON body is the ``Error`` schema of the OpenAPI document (app/web/api/schemas.py ErrorSchema):
``code`` (the HTTP status), ``status`` (the domain error's code, or the HTTP reason phrase for an
error raised by the HTTP layer), ``message`` (for people, Chinese first), ``error`` (a stable,
machine-readable code: always present) and ``errors`` (what was wrong, by field) when known."""
from __future__ import annotations

import logging

from flask import current_app, jsonify, render_template_string, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as NoRoute

from ..domain.errors import CONCURRENT_CHANGE, DomainError
from ..extensions import db
from ..services.common.db_support import lost_to_another
from .i18n import N_, current_lang, gettext

log = logging.getLogger(__name__)

_PAGE = """<!doctype html><html lang="{{ lang }}"><meta charset="utf-8"><meta name="viewport"
content="width=device-width, initial-scale=1"><title>{{ status }}</title>
<body style="font-family:sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem"><h1>{{ status }}</h1>
<p>{{ message }}</p><p><a href="/">{{ home }}</a></p></body></html>"""

#: the heading of the HTML error page by status, in the page language (the JSON body keeps ``status``)
PAGE_TITLES = {400: N_("请求有误"), 401: N_("请先登录"), 403: N_("无权访问"), 404: N_("页面不存在"),
               405: N_("方法不允许"), 409: N_("操作冲突"), 413: N_("请求体过大"), 422: N_("请求内容不正确"),
               429: N_("操作过于频繁"), 500: N_("服务器内部错误")}


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


#: the text of the HTML error page where the JSON message is bilingual or the HTTP layer's English
PAGE_MESSAGES = {404: N_("您访问的页面或资源不存在。"), 405: N_("该页面不支持这种访问方式。"),
                 413: N_("提交的内容过大，请减小附件后重试。"), 422: N_("提交的内容不正确，请检查后重试。"),
                 400: N_("请求有误，请返回后重试。"), 429: N_("操作过于频繁，请稍后再试。"),
                 409: N_("办件同时有其他操作，本次操作未生效，请刷新后重试。"), 500: N_("服务器内部错误，已记录。")}


def _answer(status: int, name: str, message: str, errors=None, code=None, page_message=None):
    if wants_json():
        body = {"code": status, "status": name, "message": message, "error": code or error_code(status)}
        if errors:
            body["errors"] = errors
        return jsonify(body), status
    try:
        lang = current_lang()
    except RuntimeError:  # no session (yet): the default language
        lang = "zh"
    title = PAGE_TITLES.get(status)
    heading = f"{status} {gettext(title)}" if title else str(status)
    return render_template_string(_PAGE, status=heading, message=gettext(page_message or message) if (page_message or message) else "",
                                  home=gettext("返回首页"), lang="en" if lang == "en" else "zh-CN"), status


def _concurrent_change():
    """The request's transaction lost to another one on the same case and rolled back whole."""
    db.session.rollback()
    return _answer(409, "Conflict", CONCURRENT_CHANGE, page_message=PAGE_MESSAGES[409])


def _internal_error():
    current_app.logger.exception("unhandled error")
    return _answer(500, "Internal Server Error", "服务器内部错误，已记录 (internal error, logged)",
                   page_message=PAGE_MESSAGES[500])


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
                                                 errors, page_message=PAGE_MESSAGES.get(exc.code, N_("请求未能完成。"))))
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

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError):
        """Two transactions wrote the next entry of one case's trail at once (UNIQUE case_id, seq of the
        hash chain, app/domain/trail_chain.py): the later one rolled back whole — say so, don't 500."""
        return _concurrent_change() if lost_to_another(exc) else _internal_error()

    @app.errorhandler(OperationalError)
    def lock_conflict(exc: OperationalError):
        """PostgreSQL ended a transaction that waited on another one's row locks (deadlock 40P01,
        serialization failure 40001, lock not available 55P03): it rolled back whole, a concurrent change —
        say so, don't 500. Whatever locks a case's rows takes them in one order (app/services/cases/
        locks.py); this is the net under that rule."""
        if lost_to_another(exc):
            log.warning("concurrent change: the database ended the transaction (%s) of %s %s",
                        getattr(exc.orig, "sqlstate", None), request.method, request.path)
            return _concurrent_change()
        return _internal_error()

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        return _internal_error()
