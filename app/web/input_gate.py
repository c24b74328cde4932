"""The one gate every request passes before its view (after the CSRF check: a forged request is
refused as such): input no part of the platform can store or parse safely is refused here with a 422
(in Chinese), before anything is read by a view or stored.

Refused, wherever they come in — the path, query strings, form fields (text, and the fields that carry
JSON such as the portal's and the inbox's ``data``), JSON bodies (keys and values), the names of
uploaded files:

* NUL characters (PostgreSQL text refuses them; SQLite would keep a truncated surprise);
* lone UTF-16 surrogates (``"\\ud800"`` in JSON decodes to a Python string no database driver can
  encode: the request, or every later one reading the stored value, would fail);
* JSON nested deeper than MAX_DEPTH levels (Python's decoder gives up with a RecursionError near
  1,000, and nothing legitimate nests past a few dozen);
* numbers with more than MAX_DIGITS digits in a row — a JSON number, or a text that is nothing but a
  number (``int()`` refuses more than 4,300 digits, and such a number is never a real value).

Plus the one id check of the URL: an integer path parameter outside the 32-bit id range is 404.
The error is app.domain.errors.ValidationError, which app/web/errors.py turns into the 422 page or
JSON body."""
from __future__ import annotations

import json
import re
from itertools import chain

from flask import current_app, request

from ..domain.errors import NotFound, ValidationError

INT_MAX = 2 ** 31 - 1  # ids are 32-bit integers in the database
MAX_DEPTH = 64
MAX_DIGITS = 100
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
_DIGIT_RUN = re.compile(r"\d{%d,}" % (MAX_DIGITS + 1))

MESSAGES = {
    "nul": "输入中含有不允许的空字符 (NUL character)",
    "surrogate": "输入中含有无效的 Unicode 字符（孤立代理项） (lone surrogate: not valid Unicode text)",
    "depth": f"JSON 嵌套过深，最多 {MAX_DEPTH} 层 (JSON nested deeper than {MAX_DEPTH} levels)",
    "digits": f"数字过长，最多 {MAX_DIGITS} 位 (number longer than {MAX_DIGITS} digits)",
}


class _Refused(Exception):
    """One problem found; ``kind`` is a key of MESSAGES."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def _check_text(text: str) -> None:
    """A text value: no NUL, no lone surrogate, and not a number of more than MAX_DIGITS digits.
    A multipart part without a name arrives with the name None: nothing to check there."""
    if not isinstance(text, str):
        return
    bad = _BAD_CHARS.search(text)
    if bad:
        raise _Refused("nul" if bad.group() == "\x00" else "surrogate")
    if len(text) > MAX_DIGITS and _is_number(text) and _DIGIT_RUN.search(text):
        raise _Refused("digits")


def _is_number(text: str) -> bool:
    """Whether the text is nothing but a decimal number (sign, digits, at most one point); linear,
    no regular expression that could backtrack on a long run of digits."""
    body = text.strip().lstrip("+-").replace(".", "", 1)
    return body.isdigit()


def _int_token(token: str) -> int:
    """parse_int of the JSON decoder: the digit limit applies before the conversion (so Python's own
    4,300-digit limit, a ValueError deep in a view, is never reached)."""
    if len(token) > MAX_DIGITS and _DIGIT_RUN.search(token):
        raise _Refused("digits")
    return int(token)


def _float_token(token: str) -> float:
    """parse_float of the JSON decoder: the same digit limit for every number."""
    if len(token) > MAX_DIGITS and _DIGIT_RUN.search(token):
        raise _Refused("digits")
    return float(token)


def _walk(value) -> None:
    """Every key and string of a decoded JSON document, and its depth (iteratively: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise _Refused("depth")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)


def check_json(raw: bytes | str) -> None:
    """A JSON document (a body, or a field holding one). Text that is not JSON is left to the view
    (which answers its own 400/422); what the decoder cannot even get through is refused."""
    try:
        doc = json.loads(raw, parse_int=_int_token, parse_float=_float_token)
    except RecursionError:
        raise _Refused("depth") from None
    except ValueError:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        if "\x00" in raw:
            raise _Refused("nul") from None
        return
    _walk(doc)


def _check_field(value: str) -> None:
    """A query or form value; one that looks like a JSON object or array is checked as JSON too."""
    _check_text(value)
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        check_json(value)


def _multidict_values(md):
    return chain.from_iterable((key, *values) for key, values in md.lists())


def _inspect() -> None:
    """Everything the request brings, in the order a view would read it."""
    _check_text(request.path)
    for value in _multidict_values(request.args):
        _check_field(value)
    ctype = request.mimetype or ""
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for value in _multidict_values(request.form):
            _check_field(value)
        for key, upload in request.files.items(multi=True):
            _check_text(key)
            _check_text(upload.filename or "")
    if request.is_json:
        check_json(request.get_data(cache=True))


def allow_upload_bodies() -> None:
    """First before_request of the app (before the CSRF check reads the form): a multipart body may
    be as large as a file may be (FILE_MAX_BYTES), every other body MAX_CONTENT_LENGTH."""
    if request.mimetype == "multipart/form-data":
        request.max_content_length = current_app.config["FILE_MAX_BYTES"] + 64 * 1024


def refuse_unstorable_input() -> None:
    """before_request of the whole app (app/web/__init__.py): raises NotFound for an id beyond the
    integer range, ValidationError (422) for input the module docstring lists."""
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not -INT_MAX <= value <= INT_MAX:
            raise NotFound("不存在 (id out of range)")
    try:
        _inspect()
    except _Refused as exc:
        message = MESSAGES[exc.kind]
        raise ValidationError(message, details={"input": [message]}) from None
