"""Absolute URLs printed into documents (QR codes of receipts and sealed decisions): PUBLIC_BASE_URL when it
is configured — a sealed document outlives the request, and the Host header is the client's to choose —
else this request's host (development, tests)."""
from __future__ import annotations

from flask import current_app, has_request_context, request


def public_url(path: str) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or (request.host_url if has_request_context() else "")
    return f"{base.rstrip('/')}/{path.lstrip('/')}"
