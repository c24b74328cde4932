"""The restricted Python in which every script, condition and expression of a process runs.

Compile-time (also used by the deploy checker): RestrictedPython's policy (no dunder names or
attributes, no ``exec``/``eval`` statements) plus ours: no imports, no ``try`` (a script must not be
able to swallow its own time-out), no classes, no ``global``/``nonlocal``, no generators, and no call
of a dangerous builtin (``open``, ``eval``, ``__import__`` …). ``**``, ``*``, ``<<``, ``+`` and ``%``
go through guards that refuse results too large to compute, and every f-string is rebuilt into a
call of :func:`_fstring` so its format specs and its total length are checked before anything is
allocated.

Memory: the time limit cannot stop one C-level call (``'a'.ljust(10**9)`` allocates a gigabyte
in a single step), so every way we know of to make one big allocation is checked *before* it is
made: the operators above, ``format``/``str``/``repr``/``int``/``round``/``sum``, ``print``, and the
padding / ``replace`` / ``expandtabs`` / ``join`` / ``translate`` / ``strftime`` / ``to_bytes``
methods (wrapped by the attribute guard). Text results are capped at :data:`MAX_TEXT` characters,
lists and tuples at :data:`MAX_SEQUENCE` items. As a backstop against many smaller allocations
inside the time limit, the trace function samples the process's resident memory and stops a
script that grew it by more than :data:`MAX_GROWTH_BYTES`.

Loops: a loopCardinality that is not a literal (literals are checked at deploy by the parser) is
checked when the engine evaluates it, before any instance exists (:data:`MAX_INSTANCES`).

Run-time: only the whitelisted helpers below exist, attribute access goes through
``safer_getattr`` (plus the size checks above), and a trace function stops the script at its
wall-clock limit. Any failure
raises :class:`ScriptError`, never anything broader.
"""
from __future__ import annotations

import ast
import math
import operator
import re
import sys
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence,
                                     safer_getattr)
from RestrictedPython.PrintCollector import PrintCollector
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask

FORBIDDEN_CALLS = frozenset({
    "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "getattr", "setattr",
    "delattr", "input", "breakpoint", "help", "memoryview", "type", "object", "super", "exit", "quit",
    "classmethod", "staticmethod", "property", "dir", "id",
})
MAX_RANGE = 100_000
MAX_SEQUENCE = 1_000_000      # items of a list / tuple built by one operation
MAX_TEXT = 10_000_000         # characters (or bytes) of one text built by one operation
MAX_INT_BITS = 4096
MAX_STRFTIME = 1000           # characters of a date format (strftime may write 256 per character)
MAX_GROWTH_BYTES = 512 * 1024 * 1024  # resident memory a script may add before it is stopped
MAX_INSTANCES = 1000          # instances of one multi-instance activity / iterations of one standard loop


class ScriptError(Exception):
    """A script or expression failed: it could not compile, broke a rule, or ran out of time."""

    def __init__(self, message: str, *, kind: str = "error", line: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.line = line


class ScriptTimeout(ScriptError):
    pass


class _Policy(RestrictingNodeTransformer):
    def _deny(self, node, what):
        self.error(node, f"{what} 不允许在流程脚本中使用 ({what} is not allowed in process scripts)")

    def visit_Import(self, node):
        self._deny(node, "import")

    def visit_ImportFrom(self, node):
        self._deny(node, "import")

    def visit_Try(self, node):
        self._deny(node, "try/except")

    def visit_TryStar(self, node):
        self._deny(node, "try/except*")

    def visit_ClassDef(self, node):
        self._deny(node, "class")

    def visit_Global(self, node):
        self._deny(node, "global")

    def visit_Nonlocal(self, node):
        self._deny(node, "nonlocal")

    def visit_Yield(self, node):
        self._deny(node, "yield")

    def visit_YieldFrom(self, node):
        self._deny(node, "yield")

    def visit_AsyncFunctionDef(self, node):
        self._deny(node, "async")

    def visit_Await(self, node):
        self._deny(node, "await")

    def visit_With(self, node):
        self._deny(node, "with")

    def visit_Name(self, node):
        if node.id in FORBIDDEN_CALLS:
            self._deny(node, node.id)
        return super().visit_Name(node)

    _GUARDED = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_", ast.Add: "_add_",
                ast.Mod: "_mod_"}

    def visit_JoinedStr(self, node):
        """``f"a{x!r:>{w}}"`` becomes ``_fstring_("a", _fvalue_(x, 114, _fstring_(">", _fvalue_(w, -1, ""))))``:
        the conversion, the format spec and the total size are checked before the text is made."""
        node = self.node_contents_visit(node)
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                spec = value.format_spec if value.format_spec is not None else ast.Constant("")
                call = ast.Call(func=ast.Name(id="_fvalue_", ctx=ast.Load()),
                                args=[value.value, ast.Constant(value.conversion), spec], keywords=[])
                parts.append(ast.copy_location(call, value))
            else:
                parts.append(value)
        call = ast.Call(func=ast.Name(id="_fstring_", ctx=ast.Load()), args=parts, keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        guard = self._GUARDED.get(type(node.op))
        if guard is None:
            return node
        name = ast.copy_location(ast.Name(id=guard, ctx=ast.Load()), node)
        call = ast.Call(func=name, args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


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


def _today():
    return date.today().isoformat()


def _now():
    return datetime.now(timezone.utc).isoformat()


import builtins as _PY  # noqa: E402

SAFE_BUILTINS: dict = {}
for _name in ("len", "min", "max", "sum", "sorted", "any", "all", "abs", "round", "int", "float", "str",
              "bool", "list", "dict", "set", "tuple", "enumerate", "zip", "isinstance", "reversed",
              "map", "filter", "divmod", "hash", "frozenset", "chr", "ord",
              "ValueError", "KeyError", "TypeError", "Exception"):
    SAFE_BUILTINS[_name] = getattr(_PY, _name)
SAFE_BUILTINS.update({"range": _range, "format": _safe_format, "repr": _safe_repr, "str": _safe_str,
                      "int": _safe_int, "round": _safe_round, "sum": _safe_sum})

#: names a process may call, besides the builtins above
HELPERS = {
    "Decimal": Decimal, "date": date, "datetime": datetime, "timedelta": timedelta,
    "today": _today, "now": _now,
}

_GUARDS = {
    "_getattr_": _guarded_getattr, "_getitem_": default_guarded_getitem, "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard, "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence, "_inplacevar_": _inplacevar, "_print_": _Printed,
    "_pow_": _guard_pow, "_mul_": _guard_mul, "_lshift_": _guard_lshift, "_add_": _guard_add, "_mod_": _guard_mod,
    "_fvalue_": _fvalue, "_fstring_": _fstring,
}
RESERVED = frozenset(HELPERS) | frozenset(_GUARDS) | {"__builtins__", "working_days_after", "add_working_days",
                                                      "is_working_day"}


@lru_cache(maxsize=4096)
def compile_code(source: str, mode: str = "exec"):
    """Compile ``source`` (``mode`` 'exec' for scripts, 'eval' for expressions) under the policy.
    Raises ScriptError listing every problem found."""
    if not isinstance(source, str) or not source.strip():
        raise ScriptError("空的脚本或表达式 (empty script or expression)", kind="syntax")
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(source.strip() if mode == "eval" else source, filename="<script>", policy=_Policy)
    if result.errors:
        raise ScriptError("; ".join(result.errors), kind="syntax")
    return result.code


def check_source(source: str, mode: str = "exec") -> str | None:
    """Return the compile error of ``source``, or None when it compiles under the policy."""
    try:
        compile_code(source, mode)
    except ScriptError as exc:
        return str(exc)
    return None


def _resident_bytes() -> int | None:
    """This process's resident memory (Linux /proc), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


try:
    import os as _os
    _PAGE = _os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
    _PAGE = 4096
MEMORY_SAMPLE_EVERY = 200  # trace events between two looks at the resident memory


class _Deadline:
    def __init__(self, seconds: float):
        self.deadline = time.perf_counter() + seconds
        self.seconds = seconds
        self.events = 0
        base = _resident_bytes()
        self.memory_cap = None if base is None else base + MAX_GROWTH_BYTES

    def tracer(self, frame, event, arg):
        if time.perf_counter() > self.deadline:
            raise ScriptTimeout(f"脚本运行超过 {self.seconds * 1000:.0f} 毫秒，已中止 (time limit exceeded)",
                                kind="timeout")
        self.events += 1
        if self.memory_cap is not None and self.events % MEMORY_SAMPLE_EVERY == 0:
            used = _resident_bytes()
            if used is not None and used > self.memory_cap:
                raise ScriptError(f"脚本占用内存超过 {MAX_GROWTH_BYTES // 2**20} MB，已中止 "
                                  f"(memory limit exceeded)", kind="limit")
        return self.tracer


def _run(code, glb: dict, seconds: float, mode: str):
    deadline = _Deadline(seconds)
    previous = sys.gettrace()
    sys.settrace(deadline.tracer)
    try:
        if mode == "eval":
            return eval(code, glb)  # noqa: S307 - restricted code object with guarded globals
        exec(code, glb)  # noqa: S102
        return None
    except ScriptError:
        raise
    except Exception as exc:  # the script's own fault: report it, never let it escape as a 500
        line = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<script>":
                line = tb.tb_lineno
            tb = tb.tb_next
        raise ScriptError(f"{type(exc).__name__}: {exc}", line=line) from None
    finally:
        sys.settrace(previous)


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment that runs everything under the sandbox."""

    def __init__(self, time_limit_ms: int = 1000, extra_helpers: dict | None = None):
        super().__init__({**HELPERS, **(extra_helpers or {})})
        self.seconds = time_limit_ms / 1000.0

    def _globals(self, context, external_context):
        glb = {"__builtins__": SAFE_BUILTINS, **_GUARDS, **self.globals}
        if external_context:
            glb.update(external_context)
        glb.update(context)
        return glb

    def evaluate(self, expression, context, external_context=None):
        code = compile_code(expression, "eval")
        return _run(code, self._globals(context, external_context), self.seconds, "eval")

    def execute(self, script, context, external_context=None):
        clash = (set(self.globals) | set(_GUARDS)) & set(context)
        if clash:
            raise ScriptError(f"任务数据中的变量与内置函数重名: {sorted(clash)}")
        code = compile_code(script, "exec")
        glb = self._globals(context, external_context)
        _run(code, glb, self.seconds, "exec")
        skip = set(self.globals) | set(_GUARDS) | {"__builtins__"} | set(external_context or {})
        result = {k: v for k, v in glb.items()
                  if k not in skip and not k.startswith("_") and not callable(v)}
        context.clear()
        context.update(result)
        return True


class SandboxScriptEngine(PythonScriptEngine):
    """The script engine of every workflow. ``clock`` gives the current UTC time (injectable);
    ``extra_helpers`` are added to the sandbox's names (e.g. the working-day helpers)."""

    def __init__(self, time_limit_ms: int = 1000, clock=None, extra_helpers: dict | None = None):
        super().__init__(environment=SandboxEnvironment(time_limit_ms, extra_helpers))
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    def evaluate(self, task, expression, external_context=None):
        """Expressions in a multi-instance child also see the Camunda counters (nrOfInstances,
        nrOfCompletedInstances, nrOfActiveInstances) and ``completed_items``: the item of every
        finished instance, so a completion condition can express a quorum or an early rejection."""
        parent = getattr(task, "parent", None)
        merged = parent.internal_data.get("merged") if parent is not None else None
        if merged is not None:
            spec = parent.task_spec
            item = getattr(spec, "output_item", None) or getattr(spec, "input_item", None)
            name = getattr(item, "bpmn_id", None)
            done_ids = set(merged)
            inner = getattr(spec, "task_spec", None)  # the instances' spec (other children: what follows)
            children = [c for c in parent.children if c.task_spec.name == inner]
            finished = [c for c in children if str(c.id) in done_ids]
            active = [c for c in children if str(c.id) not in done_ids and not c.has_state(TaskState.CANCELLED)]
            remaining = parent.internal_data.get("remaining") or []
            extra = {
                "nrOfCompletedInstances": len(finished),
                "nrOfActiveInstances": len(active),
                "nrOfInstances": len(finished) + len(active) + len(remaining),
                "completed_items": [c.data.get(name) if name else c.data for c in finished],
            }
            external_context = {**extra, **(external_context or {})}
        value = super().evaluate(task, expression, external_context)
        spec = getattr(task, "task_spec", None)
        if isinstance(spec, MultiInstanceTask) and expression is not None and expression == spec.cardinality:
            self._check_cardinality(task, spec, value)
        return value

    @staticmethod
    def _check_cardinality(task, spec, value):
        """A loopCardinality that is not a literal (checked at deploy) is checked when it is
        evaluated, before any instance exists: at most MAX_INSTANCES instances."""
        if isinstance(value, int):
            count = value
        else:
            try:
                count = len(value)
            except TypeError:
                return  # SpiffWorkflow reports what it cannot iterate
        if count > MAX_INSTANCES:
            err = ScriptError(f"多实例 {spec.bpmn_id} 的实例数 {count} 超过上限 {MAX_INSTANCES} "
                              f"(loopCardinality gave {count} instances, more than {MAX_INSTANCES})", kind="limit")
            err.task = task  # the incident names the element
            raise err

    def validate(self, expression):
        compile_code(expression, "eval")
