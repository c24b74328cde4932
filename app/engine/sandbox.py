"""The restricted Python in which every script, condition and expression of a process runs.

Compile-time (also used by the deploy checker): RestrictedPython's policy (no dunder names or
attributes, no ``exec``/``eval`` statements) plus ours: no imports, no ``try`` (a script must not be
able to swallow its own time-out), no classes, no ``global``/``nonlocal``, no generators, and no call
of a dangerous builtin (``open``, ``eval``, ``__import__`` …). ``**``, ``*`` and ``<<`` go through
guards that refuse results too large to compute.

Run-time: only the whitelisted helpers below exist, attribute access goes through
``safer_getattr``, and a trace function stops the script at its wall-clock limit. Any failure
raises :class:`ScriptError`, never anything broader.
"""
from __future__ import annotations

import ast
import math
import operator
import sys
import time
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

FORBIDDEN_CALLS = frozenset({
    "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "getattr", "setattr",
    "delattr", "input", "breakpoint", "help", "memoryview", "type", "object", "super", "exit", "quit",
    "classmethod", "staticmethod", "property", "dir", "id",
})
MAX_RANGE = 100_000
MAX_SEQUENCE = 1_000_000
MAX_INT_BITS = 4096


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

    _GUARDED = {ast.Pow: "_pow_", ast.Mult: "_mul_", ast.LShift: "_lshift_"}

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


def _guard_pow(a, b):
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        if b * math.log2(abs(a)) > MAX_INT_BITS:
            _too_big("**")
    return a ** b


def _guard_mul(a, b):
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_SEQUENCE:
            _too_big("*")
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        _too_big("*")
    return a * b


def _guard_lshift(a, b):
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b > MAX_INT_BITS:
        _too_big("<<")
    return a << b


_INPLACE = {"+=": operator.iadd, "-=": operator.isub, "*=": _guard_mul, "/=": operator.itruediv,
            "//=": operator.ifloordiv, "%=": operator.imod, "**=": _guard_pow, "<<=": _guard_lshift,
            ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor}


def _inplacevar(op, x, y):
    fn = _INPLACE.get(op)
    if fn is None:
        raise ScriptError(f"operator {op} not allowed")
    return fn(x, y)


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
              "map", "filter", "divmod", "repr", "hash", "frozenset", "chr", "ord", "format",
              "ValueError", "KeyError", "TypeError", "Exception"):
    SAFE_BUILTINS[_name] = getattr(_PY, _name)
SAFE_BUILTINS["range"] = _range

#: names a process may call, besides the builtins above
HELPERS = {
    "Decimal": Decimal, "date": date, "datetime": datetime, "timedelta": timedelta,
    "today": _today, "now": _now,
}

_GUARDS = {
    "_getattr_": safer_getattr, "_getitem_": default_guarded_getitem, "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard, "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence, "_inplacevar_": _inplacevar, "_print_": PrintCollector,
    "_pow_": _guard_pow, "_mul_": _guard_mul, "_lshift_": _guard_lshift,
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


class _Deadline:
    def __init__(self, seconds: float):
        self.deadline = time.perf_counter() + seconds
        self.seconds = seconds

    def tracer(self, frame, event, arg):
        if time.perf_counter() > self.deadline:
            raise ScriptTimeout(f"脚本运行超过 {self.seconds * 1000:.0f} 毫秒，已中止 (time limit exceeded)",
                                kind="timeout")
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
        return super().evaluate(task, expression, external_context)

    def validate(self, expression):
        compile_code(expression, "eval")
