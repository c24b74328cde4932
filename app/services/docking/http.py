"""HTTP calls to the outside systems, the same way for every adapter: one deadline for the whole
exchange (``timeout`` per read, three times that in all), an answer of at most ``max_bytes``, no
redirect followed (a signed request goes only to the configured URL), the gateway signature
(signing.py) when credentials are given.

Failures are sorted once, for the outbox and for the synchronous lookups alike:
- ``Unavailable`` (code ``network``, ``timeout``, ``too_big``, ``http_5xx``, ``http_429``, ``redirect``,
  ``bad_answer``): the system did not answer usefully — try again later;
- ``Rejected`` (code ``http_4xx`` or the system's own error code): the system refused the request
  itself — sending it again as it is cannot help.
``outbox_error`` turns either into the outbox's ``Retry`` / ``Refused``."""
from __future__ import annotations

import json as jsonlib
import time
from datetime import datetime
from urllib.parse import urlencode, urlsplit

import requests

from ..messaging.outbox import Refused, Retry
from .signing import sign_headers

ANSWER_MAX_BYTES = 4 * 1024 * 1024
USER_AGENT = "yangguang-fagai-docking/1"


class Unavailable(Exception):
    def __init__(self, message: str, code: str = "network"):
        super().__init__(message)
        self.code = code


class Rejected(Exception):
    def __init__(self, message: str, code: str = "rejected", status: int = 400):
        super().__init__(message)
        self.code, self.status = code, status


class Answer:
    def __init__(self, status_code: int, content: bytes, content_type: str):
        self.status_code, self.content, self.content_type = status_code, content, content_type

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        """The body as JSON; ``Unavailable('bad_answer')`` when it is not."""
        try:
            return jsonlib.loads(self.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Unavailable(f"HTTP {self.status_code}: 应答不是 JSON：{self.text[:120]!r}", "bad_answer") from None


def request(method: str, url: str, *, params: dict | None = None, body: bytes | None = None,
            content_type: str | None = None, json=None, form: dict | None = None, timeout: float = 10.0,
            credentials: tuple[str, str] | None = None, now: datetime | None = None,
            max_bytes: int = ANSWER_MAX_BYTES, headers: dict | None = None) -> Answer:
    """One call. ``json`` / ``form`` / ``body`` (with ``content_type``) give the body;
    ``credentials`` = (access key, secret) signs it. Raises Unavailable for what a retry may mend;
    returns the Answer otherwise (the caller judges 4xx: see ``check``)."""
    if json is not None:
        body, content_type = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode(), "application/json"
    elif form is not None:
        body, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
    hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
    if content_type:
        hdrs["Content-Type"] = content_type + ("; charset=utf-8" if "charset" not in content_type else "")
    query = urlencode(params or {})
    if credentials is not None:
        hdrs.update(sign_headers(credentials[1], credentials[0], method, urlsplit(url).path, query, body or b"", now))
    full = url + (("&" if "?" in url else "?") + query if query else "")
    deadline = time.monotonic() + 3 * timeout
    try:
        with requests.request(method, full, data=body, headers=hdrs, timeout=timeout, allow_redirects=False,
                              stream=True) as r:
            content = b""
            for chunk in r.iter_content(8192):
                content += chunk
                if len(content) > max_bytes:
                    raise Unavailable(f"应答超过 {max_bytes} 字节", "too_big")
                if time.monotonic() > deadline:
                    raise Unavailable(f"应答未在 {3 * timeout:.0f} 秒内完成", "timeout")
            answer = Answer(r.status_code, content, r.headers.get("Content-Type", ""))
    except requests.Timeout as exc:
        raise Unavailable(f"超时：{exc}"[:300], "timeout") from exc
    except requests.RequestException as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}"[:300], "network") from exc
    if 300 <= answer.status_code < 400:
        raise Unavailable(f"HTTP {answer.status_code}: 重定向未跟随（地址配置有误？）", "redirect")
    if answer.status_code >= 500 or answer.status_code in (408, 425, 429):
        raise Unavailable(f"HTTP {answer.status_code}: {answer.text[:200]}", f"http_{answer.status_code}")
    return answer


def check(answer: Answer) -> Answer:
    """A 4xx as ``Rejected`` (with the system's error code when its JSON body names one)."""
    if answer.status_code >= 400:
        code, message = f"http_{answer.status_code}", answer.text[:300]
        try:
            body = jsonlib.loads(answer.content.decode("utf-8"))
            if isinstance(body, dict):
                code = str(body.get("error") or body.get("code") or code)[:48]
                message = str(body.get("message") or message)[:300]
        except (UnicodeDecodeError, ValueError):
            pass
        raise Rejected(f"HTTP {answer.status_code}: {message}", code, answer.status_code)
    return answer


def outbox_error(exc: Exception) -> Exception:
    """The outbox's view of a failed call: ``Retry`` for Unavailable (and anything unexpected),
    ``Refused`` for Rejected."""
    if isinstance(exc, Rejected):
        return Refused(str(exc), exc.code)
    return Retry(str(exc), getattr(exc, "code", type(exc).__name__))
