"""What crosses the pipe between the engine and a script worker: task data and results as JSON with
tags for the few non-JSON types a script may build (datetime, date, time, timedelta, Decimal, UUID,
tuple), and the check that a value can be stored at all.

A value is refused (:class:`Unstorable`) when the workflow state could not hold it or PostgreSQL
would refuse it: a NUL character or a lone surrogate in a text, a float that is not finite, an
integer over :data:`MAX_INT_BITS` bits, nesting deeper than :data:`MAX_DEPTH`, a mapping key that is
not a text. A set travels as a set, a range as its list; any other object as its text (what the
state serializer would store). The same check runs on the
engine's side on everything a worker sends back, so a worker that misbehaves cannot hand the engine
anything else. Only the standard library is used: the worker imports this module too."""
from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from .limits import MAX_INT_BITS, ScriptError

MAX_DEPTH = 100
TAG = "$t"


class Unstorable(ScriptError):
    """A script produced data the case cannot store."""

    def __init__(self, message: str):
        super().__init__(f"脚本结果无法保存：{message} (unstorable result)", kind="unstorable")


def _text(value: str, where: str) -> str:
    if "\x00" in value:
        raise Unstorable(f"{where} 含空字符 (NUL)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Unstorable(f"{where} 含无效的 Unicode 代理字符 (lone surrogate)") from None
    return value


def to_wire(value, where: str = "data", depth: int = 0):
    """``value`` as plain JSON-able data with tags; raises Unstorable."""
    if depth > MAX_DEPTH:
        raise Unstorable(f"{where} 嵌套超过 {MAX_DEPTH} 层")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise Unstorable(f"{where} 的整数超过 {MAX_INT_BITS} 位")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unstorable(f"{where} 的数值不是有限数 ({value})")
        return value
    if isinstance(value, str):
        return _text(value, where)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Unstorable(f"{where} 的键 {key!r} 不是文本")
            _text(key, where)
            if key == TAG:
                raise Unstorable(f"{where} 的键 {TAG!r} 是保留名")
            out[key] = to_wire(item, f"{where}.{key}", depth + 1)
        return out
    if isinstance(value, list):
        return [to_wire(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [to_wire(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]}
    if isinstance(value, datetime):  # before date: a datetime is a date
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {TAG: "time", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise Unstorable(f"{where} 的数值不是有限数 ({value})")
        text = str(value)
        if len(text) > 1000:
            raise Unstorable(f"{where} 的数值过长")
        return {TAG: "decimal", "v": text}
    if isinstance(value, UUID):
        return {TAG: "uuid", "v": str(value)}
    if isinstance(value, (set, frozenset)):
        return {TAG: "set", "v": [to_wire(item, f"{where}[]", depth + 1) for item in value]}
    if isinstance(value, range):  # stored as the list it stands for, as the state serializer does
        return [to_wire(item, f"{where}[]", depth + 1) for item in value]
    # anything else (an iterator, bytes …) is kept as its text, as the state serializer would keep it
    return _text(repr(value)[:10_000], where)


_DECODE = {
    "tuple": tuple,
    "set": set,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "timedelta": lambda v: timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "decimal": Decimal,
    "uuid": UUID,
}


def _hook(obj: dict):
    tag = obj.get(TAG)
    if tag is None:
        return obj
    try:
        return _DECODE[tag](obj["v"])
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise Unstorable(f"无法识别的值 {tag!r}: {exc}") from None


def dumps(message: dict) -> bytes:
    """A message (already made of wire values) as UTF-8 JSON."""
    return json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def loads(raw: bytes) -> dict:
    """A message from the other side; tagged values become Python values again. Raises Unstorable
    for anything that is not a well-formed message (the caller treats it as a broken worker)."""
    try:
        message = json.loads(raw.decode("utf-8"), object_hook=_hook,
                             parse_constant=lambda c: (_ for _ in ()).throw(Unstorable(f"数值 {c}")))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Unstorable(f"消息格式错误 ({type(exc).__name__})") from None
    if not isinstance(message, dict):
        raise Unstorable("消息格式错误")
    return message


def check(value, where: str = "data"):
    """Raise Unstorable unless ``value`` could be stored (the engine's check on what it receives)."""
    to_wire(value, where)
    return value
