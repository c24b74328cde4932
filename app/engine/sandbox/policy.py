"""The RestrictedPython policy: what a script may write (the compile-time rules of :class:`_Policy`,
which also rewrites the guarded operators and f-strings into calls of the guards), which names exist
when it runs (:data:`SAFE_BUILTINS`, :data:`HELPERS` and the guard table), the names task data may not
use (:data:`RESERVED`), and the cached compile step."""
from __future__ import annotations

import ast
import builtins as _PY
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, guarded_unpack_sequence

from .guards import (_fstring, _fvalue, _guard_add, _guard_lshift, _guard_mod, _guard_mul, _guard_pow,
                     _guarded_getattr, _inplacevar, _Printed, _range, _safe_format, _safe_int, _safe_repr,
                     _safe_round, _safe_str, _safe_sum)
from .limits import ScriptError

FORBIDDEN_CALLS = frozenset({
    "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "getattr", "setattr",
    "delattr", "input", "breakpoint", "help", "memoryview", "type", "object", "super", "exit", "quit",
    "classmethod", "staticmethod", "property", "dir", "id",
})


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


def _today():
    return date.today().isoformat()


def _now():
    return datetime.now(timezone.utc).isoformat()


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


def script_variables(glb: dict, provided) -> dict:
    """What a script left behind as task data: its globals minus what the sandbox provided
    (``provided``: builtins, guards, helpers, the external context), private names and callables."""
    skip = set(provided) | {"__builtins__"}
    return {k: v for k, v in glb.items() if k not in skip and not k.startswith("_") and not callable(v)}
