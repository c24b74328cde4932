"""One place that maps errors to HTTP answers: JSON under /api (or when asked), HTML elsewhere."""
from __future__ import annotations

import logging

from flask import current_app, jsonify, render_template_string, request
from werkzeug.exceptions import HTTPException

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


def _answer(status: int, name: str, message: str, errors=None, code=None):
    if wants_json():
        body = {"code": status, "status": name, "message": message}
        if code:
            body["error"] = code
        if errors:
            body["errors"] = errors
        return jsonify(body), status
    return render_template_string(_PAGE, status=f"{status} {name}", message=message), status


def init_errors(app):
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        if exc.status == 401 and not wants_json():
            from flask import redirect

            from .auth import login_url
            return redirect(login_url(request.full_path))
        answer = _answer(exc.status, exc.code, exc.message, exc.details or None, exc.code)
        if getattr(exc, "retry_after", None):
            response, status = answer
            response = current_app.make_response((response, status))
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        return answer

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        errors = None
        data = getattr(exc, "data", None)
        if isinstance(data, dict):
            errors = data.get("messages") or data.get("errors")
        messages = {413: "请求体过大 (request body too large)", 404: "资源不存在 (not found)",
                    405: "方法不允许 (method not allowed)"}
        return _answer(exc.code, exc.name, messages.get(exc.code, exc.description), errors)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        current_app.logger.exception("unhandled error")
        return _answer(500, "Internal Server Error", "服务器内部错误，已记录 (internal error, logged)")
