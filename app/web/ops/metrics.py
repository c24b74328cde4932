"""``GET /metrics``: every metric in Prometheus' text exposition format — this process's, or all
processes' of the deployment when PROMETHEUS_MULTIPROC_DIR is set (app/observability/metrics.py) —
and the ones read from the database at scrape time (app/services/ops/metrics.py).

Who may scrape:

- a client sending ``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time), when a
  token is set;
- otherwise a peer on the loopback interface (127.0.0.0/8, ::1), **only when PROXY_HOPS is 0**. The
  peer address is ``request.remote_addr``; behind a reverse proxy (PROXY_HOPS > 0) it is the address
  ProxyFix takes from X-Forwarded-For, and a proxy on the same machine would otherwise make every
  client look local (with PROXY_HOPS left at 0 behind such a proxy, every client *is* loopback to the
  app: set PROXY_HOPS, or have the proxy refuse /metrics). So behind a proxy only the token counts.

Anyone else gets 403 with the platform's JSON error body (app/web/errors.py), and no hint of what
the metrics hold.
"""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request

from ...observability.metrics import exposition
from ...services.ops.metrics import DatabaseCollector
from ..errors import error_code

bp = Blueprint("ops_metrics", __name__)


def _loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _token_ok() -> bool:
    token = current_app.config.get("METRICS_TOKEN") or ""
    header = request.headers.get("Authorization", "")
    if not token or header[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(header[7:].strip().encode("utf-8", "surrogatepass"), token.encode("utf-8"))


def allowed() -> bool:
    if _token_ok():
        return True
    if int(current_app.config.get("PROXY_HOPS") or 0) > 0:
        return False
    return _loopback(request.remote_addr)


@bp.get("/metrics")
def metrics():
    if not allowed():
        body = {"code": 403, "status": "Forbidden", "error": error_code(403),
                "message": "指标仅对本机或持有指标令牌的采集端开放 (metrics: loopback or bearer token only)"}
        return jsonify(body), 403
    payload, content_type = exposition(DatabaseCollector())
    return Response(payload, content_type=content_type, headers={"Cache-Control": "no-store"})
