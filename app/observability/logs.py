"""Structured logs: one JSON object per line (``LOG_FORMAT=json``, the default) or a readable line
(``text``), from the web and the scheduler processes alike.

Every line has ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, ``pid`` and the context of what
the process is doing — ``request_id``, ``user``, ``case_no`` (null when unknown) — plus the fields a
caller gives as ``extra=`` (an access line: method, endpoint, path, status, duration_ms; a case
action: action, actor, element_id …), and ``exc`` with the traceback of an exception.

The context lives in context variables: the request hooks (hooks.py) set ``request_id`` and clear
everything when the request ends; ``services.cases.steps.record_event`` sets ``case_no`` (and
``user``, when nothing else did); ``scope`` sets values for a block and restores them after.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone

CONTEXT = ("request_id", "user", "case_no")
_vars: dict[str, ContextVar] = {name: ContextVar(f"yg_log_{name}", default=None) for name in CONTEXT}
_UNSET = object()

#: an incoming X-Request-Id is kept when it looks like an id (a proxy's or a client's): at most 128
#: characters of letters, digits and ``._:-+=/``; anything else (too long, control characters, spaces,
#: quotes) is replaced by a new id, never echoed
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")

#: libraries that log every task or job at INFO: kept at WARNING unless LOG_LEVEL is DEBUG. SpiffWorkflow's
#: own loggers are named too: it reads ``logger.level`` (not the effective level) to decide whether to
#: collect every task's id and data for a record, and a logger left NOTSET (0) made it walk the whole task
#: tree at each state change and at the end of a process, whatever was logged
NOISY = ("SpiffWorkflow", "spiff", "spiff.workflow", "spiff.task", "spiff.data", "spiff.dmn", "apscheduler")

# the attributes every LogRecord has: whatever else a record carries came from ``extra=``
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "taskName", *CONTEXT}


def valid_request_id(value: str | None) -> bool:
    return bool(value) and REQUEST_ID_RE.fullmatch(value) is not None


def new_request_id() -> str:
    return uuid.uuid4().hex


def bind(*, request_id=_UNSET, user=_UNSET, case_no=_UNSET) -> None:
    """Set context values (those given) for the rest of this request or task."""
    for name, value in (("request_id", request_id), ("user", user), ("case_no", case_no)):
        if value is not _UNSET:
            _vars[name].set(value)


def clear() -> None:
    for var in _vars.values():
        var.set(None)


def current() -> dict:
    return {name: var.get() for name, var in _vars.items()}


@contextmanager
def scope(**values):
    """Context values for a block (``case_no=None`` clears one), restored afterwards."""
    tokens = [(_vars[name], _vars[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Puts the context on every record (a value given as ``extra=`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _vars.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


def extra_fields(record: logging.LogRecord) -> dict:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line (non-ASCII as is: UTF-8)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        for name in CONTEXT:
            out[name] = getattr(record, name, None)
        for key, value in extra_fields(record).items():
            out.setdefault(key, value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time pid LEVEL logger [request_id user case_no] message key=value …``."""

    def __init__(self):
        super().__init__("%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        # a message or a value from outside (a request path) must not start a line of its own: the
        # line breaks in them are written \n; only a traceback goes below the line
        message = _one_line(record.getMessage())
        saved = record.msg, record.args
        record.msg, record.args = message, None
        try:
            line = super().format(record)
        finally:
            record.msg, record.args = saved
        context = " ".join(f"{name}={_one_line(getattr(record, name))}" for name in CONTEXT
                           if getattr(record, name, None))
        extras = " ".join(f"{k}={_one_line(v)}" for k, v in extra_fields(record).items())
        head, _, rest = line.partition("\n")
        head = " ".join(part for part in (head, context, extras) if part)
        return f"{head}\n{rest}" if rest else head


def _one_line(value) -> str:
    return str(value).replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


class _DevServerAccess(logging.Filter):
    """Drops the development server's own access line (werkzeug's ``log_request``): hooks.py writes one
    per request already, with its request id. Its other lines (the address it serves, errors) stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.rstrip().endswith('"%s" %s %s'))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (pytest swaps it per test)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


_applied_level: int | None = None


def configure_logging(app=None, *, fmt: str | None = None, level: str | int | None = None) -> logging.Handler:
    """Log every process's lines in LOG_FORMAT at LOG_LEVEL (the app's settings, or ``fmt``/``level``).

    Idempotent: one handler of ours on the root logger, whose formatter is replaced on a second call;
    the other handlers (pytest's caplog, a test's own) are left alone, and a root level someone else
    set since our last call (``caplog.set_level``) is kept — unless our handler was removed meanwhile
    (``logging.config.fileConfig``, which alembic's env.py runs, replaces the root's handlers and level)."""
    global _applied_level
    config = app.config if app is not None else {}
    fmt = fmt or config.get("LOG_FORMAT") or "json"
    level = level or config.get("LOG_LEVEL") or "INFO"
    number = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    if not isinstance(number, int):
        raise RuntimeError(f"LOG_LEVEL {level!r} is not a logging level")
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_yg_handler", False)), None)
    fresh = handler is None  # first call, or someone replaced the root's handlers (alembic's fileConfig)
    if fresh:
        handler = _StderrHandler()
        handler._yg_handler = True
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if fresh or root.level == _applied_level:
        root.setLevel(number)
        _applied_level = number
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if number <= logging.DEBUG else logging.WARNING)
    dev_server = logging.getLogger("werkzeug")
    if not any(isinstance(f, _DevServerAccess) for f in dev_server.filters):
        dev_server.addFilter(_DevServerAccess())
    if app is not None:
        from flask.logging import default_handler
        app.logger.removeHandler(default_handler)  # ours on the root logger writes its lines
    return handler
