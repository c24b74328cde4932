"""The base of the stand-ins of outside systems: a real threaded HTTP server on 127.0.0.1 with routes
and fault injection. Stand-ins never import the app: they speak the protocol as the outside system
would, so a test passes only when the app's adapter does.

    class MyStandIn(StandIn):
        @route("GET", r"/api/thing/(?P<code>[\\w-]+)")
        def thing(self, req, code): return 200, {"code": code}     # dict/list → JSON

Faults, for the next requests (optionally only those whose path starts with ``path``):
``fail_next(500, "close", "hang", "malformed", 404, path="/api/x")`` — an HTTP status (an empty JSON
error body), ``"close"`` (drop the connection without answering), ``"hang"`` (answer nothing for
``hang_seconds``, then drop), ``"malformed"`` (200 with a body that is not what the protocol says);
``"badsig"`` is handed to the route (``req.fault == "badsig"``) for stand-ins that sign answers.
``latency`` (seconds before every answer), ``down`` (every request answers 503 until cleared).
Everything received is kept in ``requests`` (method, path, query, headers, body, answer status).

Run one alone: ``python -m tests.fakes.<module> --port 8901`` (see ``main``)."""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import re
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit


def route(method: str, pattern: str):
    def mark(fn):
        fn._route = (method.upper(), re.compile(pattern + r"\Z"))
        return fn
    return mark


class Request:
    def __init__(self, method, path, query, headers, body, fault=None):
        self.method, self.path, self.query, self.headers, self.body, self.fault = \
            method, path, query, headers, body, fault

    @property
    def args(self) -> dict:
        return {k: v[-1] for k, v in parse_qs(self.query, keep_blank_values=True).items()}

    @property
    def form(self) -> dict:
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True).items()}

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def gateway_signature_ok(req: Request, keys: dict[str, str], max_skew: int = 300) -> str | None:
    """The gateway signature (HMAC-SHA256 over method, path, sorted query, key, date, body hash),
    implemented here from the protocol's description, not from the app. Returns None when it holds,
    else the error code (missing, unknown_key, stale, bad_signature)."""
    key, date, sig = (req.headers.get(h, "") for h in ("X-Access-Key", "X-Date", "X-Signature"))
    if not (key and date and sig):
        return "missing"
    if key not in keys:
        return "unknown_key"
    try:
        at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return "missing"
    if abs((datetime.now(timezone.utc) - at).total_seconds()) > max_skew:
        return "stale"
    pairs = sorted(parse_qsl(req.query, keep_blank_values=True))
    query = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs)
    text = "\n".join((req.method, req.path, query, key, date, hashlib.sha256(req.body).hexdigest()))
    want = hmac.new(keys[key].encode(), text.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(want, sig.lower()) else "bad_signature"


def gateway_headers(key: str, secret: str, method: str, path: str, query: str = "", body: bytes = b"") -> dict:
    """Headers that sign a request the stand-in makes to the app (the same scheme, the other way)."""
    date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    q = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs)
    text = "\n".join((method, path, q, key, date, hashlib.sha256(body).hexdigest()))
    return {"X-Access-Key": key, "X-Date": date,
            "X-Signature": hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()}


class StandIn:
    hang_seconds = 30.0

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.latency = 0.0
        self.down = False
        self._script: list[tuple[object, str]] = []
        self.lock = threading.RLock()
        self._routes = [getattr(self, n) for n in dir(type(self)) if hasattr(getattr(type(self), n), "_route")]
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- control --------------------------------------------------------------------------------
    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def fail_next(self, *faults, path: str = "") -> None:
        with self.lock:
            self._script.extend((f, path) for f in faults)

    def clear_faults(self) -> None:
        with self.lock:
            self._script.clear()
            self.down = False
            self.latency = 0.0

    def _take_fault(self, path: str):
        with self.lock:
            for i, (fault, prefix) in enumerate(self._script):
                if path.startswith(prefix):
                    del self._script[i]
                    return fault
        return None

    # -- serving --------------------------------------------------------------------------------
    def dispatch(self, req: Request):
        for fn in self._routes:
            method, pattern = fn._route
            m = pattern.match(req.path)
            if m and method == req.method:
                return fn(req, **m.groupdict())
        return 404, {"error": "not_found", "message": f"no route {req.method} {req.path}"}

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                record = {"method": self.command, "path": parts.path, "query": parts.query,
                          "headers": dict(self.headers), "body": body, "at": time.time()}
                with standin.lock:
                    standin.requests.append(record)
                fault = standin._take_fault(parts.path)
                if standin.latency:
                    time.sleep(standin.latency)
                if fault == "close":
                    record["status"] = "closed"
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "hang":
                    record["status"] = "hung"
                    time.sleep(standin.hang_seconds)
                    self.close_connection = True
                    return
                if standin.down:
                    return self._answer(record, 503, {"error": "unavailable"})
                if isinstance(fault, int):
                    return self._answer(record, fault, {"error": f"http_{fault}", "message": "injected"})
                if fault == "malformed":
                    return self._answer(record, 200, b"<html>\x00 not the protocol", "text/html")
                req = Request(self.command, parts.path, parts.query, self.headers, body, fault)
                try:
                    out = standin.dispatch(req)
                except Exception as exc:  # a stand-in bug shows as a 500 with the reason
                    out = 500, {"error": "standin_error", "message": repr(exc)}
                status, payload, *rest = out
                self._answer(record, status, payload, *(rest or []))

            def _answer(self, record, status, payload, content_type=None, headers=None):
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload, ensure_ascii=False).encode()
                    content_type = content_type or "application/json; charset=utf-8"
                elif isinstance(payload, str):
                    data = payload.encode()
                    content_type = content_type or "text/plain; charset=utf-8"
                else:
                    data = payload or b""
                record["status"] = status
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler


def main(factory, description: str) -> None:
    """``python -m tests.fakes.<module> --port N``: serve one stand-in until interrupted."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    standin = factory(args.port).start()
    print(f"{type(standin).__name__} on {standin.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        standin.stop()
