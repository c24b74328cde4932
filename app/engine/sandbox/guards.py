"""The run-time guards: the checked versions of ``*``, ``+``, ``%``, ``**``, ``<<`` and their in-place
forms, of f-strings, ``format``/``str``/``repr``/``int``/``round``/``sum``/``range`` and ``print``, and
the attribute guard that wraps the text methods whose result can be far larger than their object.
Each refuses a result larger than the :mod:`limits <app.engine.sandbox.limits>` *before* it is made."""
from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from RestrictedPython.Guards import safer_getattr
from RestrictedPython.PrintCollector import PrintCollector

from .limits import MAX_INT_BITS, MAX_RANGE, MAX_SEQUENCE, MAX_STRFTIME, MAX_TEXT, ScriptError


def _too_big(msg):
    raise ScriptError(f"运算结果过大 (result too large: {msg})", kind="limit")


_TEXT = (str, bytes, bytearray)


def _check_text(size, what):
    if size > MAX_TEXT:
        _too_big(f"{what} would make {size} characters, more than {MAX_TEXT}")


def _text_size(obj, limit: int = MAX_TEXT) -> int:
    """An upper estimate of ``len(str(obj))`` / ``len(repr(obj))``, stopping once past ``limit``.
    Nested containers are walked (shared items count every time, as repr writes them every time)."""
    total, stack = 0, [obj]
    while stack and total <= limit:
        o = stack.pop()
        if isinstance(o, str):
            total += len(o) + 2 if len(o) < 64 or o.isprintable() else 10 * len(o) + 2
        elif isinstance(o, (bytes, bytearray)):
            total += 4 * len(o) + 14
        elif isinstance(o, bool) or o is None:
            total += 5
        elif isinstance(o, int):
            total += o.bit_length() + 2
        elif isinstance(o, float):
            total += 25
        elif isinstance(o, Decimal):
            total += len(o.as_tuple().digits) + 24
        elif isinstance(o, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(o)
            stack.extend(o)
        elif isinstance(o, dict):
            total += 2 + 4 * len(o)
            stack.extend(o.keys())
            stack.extend(o.values())
        else:
            total += 100
    return total


def _seq_len(x):
    if isinstance(x, _TEXT):
        return len(x), MAX_TEXT
    if isinstance(x, (list, tuple)):
        return len(x), MAX_SEQUENCE
    return None, None


def _guard_mul(a, b):
    for seq, n in ((a, b), (b, a)):
        size, limit = _seq_len(seq)
        if size is not None and isinstance(n, int) and size * n > limit:
            _too_big("*")
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        _too_big("*")
    return a * b


def _check_add(a, b, what):
    size_a, limit = _seq_len(a)
    size_b, _ = _seq_len(b)
    if size_a is not None and size_b is not None and size_a + size_b > limit:
        _too_big(what)


def _guard_add(a, b):
    _check_add(a, b, "+")
    return a + b


def _guard_iadd(a, b):
    _check_add(a, b, "+=")
    return operator.iadd(a, b)


_PERCENT_RE = re.compile(rb"%(?:\(([^)]*)\))?([#0\- +]*)(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


def _guard_mod(a, b):
    """``fmt % args`` on text: widths, precisions and the arguments' sizes are added up first."""
    if not isinstance(a, _TEXT):
        return a % b
    fmt = a.encode("utf-8", "surrogatepass") if isinstance(a, str) else bytes(a)
    args = b if isinstance(b, tuple) else (b,)
    size, index = len(fmt), 0
    for m in _PERCENT_RE.finditer(fmt):
        key, _flags, width, precision, conv = m.groups()
        if conv == b"%":
            continue
        if width == b"*" or precision == b"*":
            raise ScriptError("格式中不能使用 * 宽度 ('%*d' widths are not allowed in process scripts)",
                              kind="limit")
        size += int(width or 0) + int(precision or 0)
        if key is not None and isinstance(b, Mapping):
            arg = b.get(key.decode("utf-8", "replace"))
        else:
            arg = args[index] if index < len(args) else None
            index += 1
        if conv in b"diouxX" and isinstance(arg, Decimal):
            _int_call(arg)  # %d converts with int(): the same digit limit
            size += abs(arg.adjusted()) + 2
        elif conv == b"c":
            size += 1
        else:
            size += _text_size(arg, MAX_TEXT - size)
        _check_text(size, "%")
    return a % b


_NUMBERS_RE = re.compile(r"\d+")


def _format_size(value, spec: str) -> int:
    if not isinstance(spec, str):
        return 0  # format() refuses it itself
    if len(spec) > MAX_STRFTIME:
        return MAX_TEXT + 1
    numbers = sum(int(n) if len(n) < 10 else MAX_TEXT + 1 for n in _NUMBERS_RE.findall(spec))
    if isinstance(value, Decimal) and value.is_finite():
        base = abs(value.adjusted()) + len(value.as_tuple().digits) + 4
    elif isinstance(value, (date, datetime)):
        base = 256 * len(spec)
    elif isinstance(value, str):
        base = len(value)
    else:
        base = _text_size(value)
    if "," in spec or "_" in spec:
        base *= 2
    return base + numbers


def _safe_format(value, spec=""):
    _check_text(_format_size(value, spec), "format()")
    return format(value, spec)


def _fvalue(value, conversion, spec):
    if conversion == 115:
        value = _safe_str(value)
    elif conversion == 114:
        value = _safe_repr(value)
    elif conversion == 97:
        _check_text(_text_size(value) * 10, "ascii()")
        value = ascii(value)
    return _safe_format(value, spec)


def _fstring(*parts):
    _check_text(sum(len(p) for p in parts), "f-string")
    return "".join(parts)


def _safe_repr(obj):
    _check_text(_text_size(obj), "repr()")
    return repr(obj)


class _GuardedType(type):
    """A builtin type (``str``, ``int``) that scripts may still use in ``isinstance`` but whose
    call is checked first."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls._wrapped)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls._wrapped)

    def __call__(cls, *args, **kwargs):
        return cls._check(*args, **kwargs)


def _str_call(obj="", *args, **kwargs):
    if not args and not kwargs and not isinstance(obj, str):
        _check_text(_text_size(obj), "str()")
    return str(obj, *args, **kwargs)


def _int_call(x=0, *args, **kwargs):
    if isinstance(x, Decimal) and x.is_finite() and x.adjusted() > MAX_INT_BITS * 0.30:
        _too_big(f"int() of a number with {x.adjusted() + 1} digits")
    return int(x, *args, **kwargs)


class _safe_str(metaclass=_GuardedType):
    _wrapped = str
    _check = staticmethod(_str_call)


class _safe_int(metaclass=_GuardedType):
    _wrapped = int
    _check = staticmethod(_int_call)


def _safe_round(number, *ndigits):
    if not ndigits or ndigits[0] is None:
        _int_call(number)
    return round(number, *ndigits)


def _safe_sum(iterable, start=0):
    items = list(iterable)
    size, limit = _seq_len(start)
    if size is not None:
        total = size + sum(_seq_len(i)[0] or 0 for i in items)
        if total > limit:
            _too_big("sum()")
    return sum(items, start)


def _guard_pow(a, b):
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if b * math.log2(abs(a)) > MAX_INT_BITS:
            _too_big("**")
    return a ** b


def _guard_lshift(a, b):
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b > MAX_INT_BITS:
        _too_big("<<")
    return a << b


_INPLACE = {"+=": _guard_iadd, "-=": operator.isub, "*=": _guard_mul, "/=": operator.itruediv,
            "//=": operator.ifloordiv, "%=": _guard_mod, "**=": _guard_pow, "<<=": _guard_lshift,
            ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor}


def _inplacevar(op, x, y):
    fn = _INPLACE.get(op)
    if fn is None:
        raise ScriptError(f"operator {op} not allowed")
    return fn(x, y)


# text methods whose result can be far larger than their object: checked before the call
def _m_pad(s, name):
    method = getattr(s, name)

    def pad(width, *rest):
        if isinstance(width, int):
            _check_text(width, f".{name}()")
        return method(width, *rest)
    return pad


def _m_expandtabs(s, name):
    def expandtabs(tabsize=8):
        if isinstance(tabsize, int):
            _check_text(len(s) + s.count("\t" if isinstance(s, str) else b"\t") * max(tabsize, 0), ".expandtabs()")
        return s.expandtabs(tabsize)
    return expandtabs


def _m_replace(s, name):
    def replace(old, new, count=-1):
        if isinstance(old, _TEXT) and isinstance(new, _TEXT):
            n = s.count(old) if len(old) else len(s) + 1
            if isinstance(count, int) and count >= 0:
                n = min(n, count)
            _check_text(len(s) + n * max(len(new) - len(old), 0), ".replace()")
        return s.replace(old, new, count)
    return replace


def _m_join(s, name):
    def join(iterable):
        items = list(iterable)
        _check_text(len(s) * max(len(items) - 1, 0) + sum(len(i) for i in items if isinstance(i, _TEXT)),
                    ".join()")
        return s.join(items)
    return join


def _m_translate(s, name):
    def translate(table, *rest):
        if isinstance(s, str):
            if isinstance(table, Mapping):
                values = table.values()
            elif isinstance(table, (list, tuple)):
                values = table
            else:
                raise ScriptError("translate() 只接受字典或列表 (translate() needs a dict or list table)")
            longest = max((len(v) for v in values if isinstance(v, str)), default=1)
            _check_text(len(s) * max(longest, 1), ".translate()")
        return s.translate(table, *rest)
    return translate


def _m_strftime(obj, name):
    def strftime(fmt):
        if isinstance(fmt, str):
            _check_text(_format_size(obj, fmt), ".strftime()")
        return obj.strftime(fmt)
    return strftime


def _m_to_bytes(obj, name):
    def to_bytes(length=1, *rest, **kw):
        if isinstance(length, int):
            _check_text(length, ".to_bytes()")
        return obj.to_bytes(length, *rest, **kw)
    return to_bytes


_TEXT_METHODS = {"ljust": _m_pad, "rjust": _m_pad, "center": _m_pad, "zfill": _m_pad,
                 "expandtabs": _m_expandtabs, "replace": _m_replace, "join": _m_join, "translate": _m_translate}


def _guarded_getattr(obj, name, *default):
    value = safer_getattr(obj, name, *default)
    if isinstance(obj, _TEXT):
        wrap = _TEXT_METHODS.get(name)
        if wrap is not None:
            return wrap(obj, name)
    elif isinstance(obj, (date, datetime)) and name == "strftime":
        return _m_strftime(obj, name)
    elif isinstance(obj, int) and name == "to_bytes":
        return _m_to_bytes(obj, name)
    return value


class _Printed(PrintCollector):
    """``print`` / ``printed`` with the collected text capped like any other text."""

    def __init__(self, _getattr_=None):
        super().__init__(_getattr_)
        self.size = 0

    def _call_print(self, *objects, **kwargs):
        extra = sum(_text_size(o) for o in objects) + sum(_text_size(v) for v in kwargs.values()) * \
            (len(objects) + 1)
        self.size += extra
        _check_text(self.size, "print()")
        return super()._call_print(*objects, **kwargs)


def _range(*args):
    r = range(*args)
    if len(r) > MAX_RANGE:
        _too_big(f"range of {len(r)} items")
    return r
