"""The entry points: the SpiffWorkflow script environment and script engine that evaluate every
expression and run every script of a workflow under the policy, in a worker process (the guards and
the tracer run there, under the operating system's limits)."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from . import codec
from .limits import MAX_INSTANCES, ScriptError, ScriptTimeout
from .policy import _GUARDS, HELPERS, SAFE_BUILTINS, compile_code, script_variables
from .pool import pool
from .tracer import _run


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment that runs everything under the sandbox: compiled here under
    the policy (a script the policy refuses never leaves the engine), then run in a worker process
    (:mod:`.pool`) — or, with ``isolation="inline"``, in this process (benchmarks only: one C-level
    call there can hold the server past every limit).

    A step has a wall-clock budget (``step_budget_ms``) on top of each call's limit: the engine calls
    :meth:`begin_step` before it runs a step, and a script or expression that starts after the budget
    is spent fails with a ScriptError (an incident on the element), as does one that would run past
    it."""

    def __init__(self, time_limit_ms: int = 1000, extra_helpers: dict | None = None, *,
                 isolation: str = "process", workers: int = 2, step_budget_ms: int | None = None):
        super().__init__({**HELPERS, **(extra_helpers or {})})
        if isolation not in ("process", "inline"):
            raise ValueError(f"isolation must be 'process' or 'inline', not {isolation!r}")
        self.seconds = time_limit_ms / 1000.0
        self.isolation = isolation
        self.workers = workers
        self.step_budget = step_budget_ms / 1000.0 if step_budget_ms else None
        #: helpers that need the app (clock, calendar): run here when a worker asks for them
        self.remote = {name: fn for name, fn in (extra_helpers or {}).items()
                       if callable(fn) and not isinstance(fn, type)}
        self._step = threading.local()

    # -- the step budget -------------------------------------------------------------------------
    def begin_step(self) -> None:
        self._step.deadline = time.monotonic() + self.step_budget if self.step_budget else None

    def end_step(self) -> None:
        self._step.deadline = None

    def _budget_error(self) -> ScriptError:
        return ScriptError(f"本步骤运行超过 {self.step_budget:g} 秒，已中止 (step budget exceeded)", kind="budget")

    def _limit(self) -> tuple[float, bool]:
        """This call's wall-clock limit, and whether it is the step's remaining budget."""
        deadline = getattr(self._step, "deadline", None)
        if deadline is None:
            return self.seconds, False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._budget_error()
        return (remaining, True) if remaining < self.seconds else (self.seconds, False)

    def _call(self, op: str, code, source: str, context, external_context):
        seconds, by_budget = self._limit()
        try:
            if self.isolation == "inline":
                glb = self._globals(context, external_context)
                value = _run(code, glb, seconds, op)
                return value, glb
            reply = self._remote(op, source, context, external_context, seconds)
            return reply, None
        except ScriptTimeout:
            if by_budget:
                raise self._budget_error() from None
            raise

    def _globals(self, context, external_context):
        glb = {"__builtins__": SAFE_BUILTINS, **_GUARDS, **self.globals}
        if external_context:
            glb.update(external_context)
        glb.update(context)
        return glb

    def _remote(self, op: str, source: str, context, external_context, seconds: float) -> dict:
        request = {"op": op, "src": source, "ctx": codec.to_wire(dict(context), "任务数据"),
                   "ext": codec.to_wire(dict(external_context or {}), "上下文"), "rpc": sorted(self.remote),
                   "limit": seconds}
        reply = pool(self.workers).call(request, seconds, self.remote)
        if not reply.get("ok"):
            kind = str(reply.get("kind") or "error")
            raise (ScriptTimeout if kind == "timeout" else ScriptError)(
                str(reply.get("msg") or "脚本执行失败"), kind=kind,
                line=reply.get("line") if isinstance(reply.get("line"), int) else None)
        return reply

    def evaluate(self, expression, context, external_context=None):
        code = compile_code(expression, "eval")
        value, glb = self._call("eval", code, expression, context, external_context)
        if glb is not None:  # inline
            return value
        return codec.check(value.get("value"), "表达式的值")

    def execute(self, script, context, external_context=None):
        clash = (set(self.globals) | set(_GUARDS)) & set(context)
        if clash:
            raise ScriptError(f"任务数据中的变量与内置函数重名: {sorted(clash)}")
        code = compile_code(script, "exec")
        reply, glb = self._call("exec", code, script, context, external_context)
        if glb is not None:  # inline
            result = script_variables(glb, set(self.globals) | set(_GUARDS) | set(external_context or {}))
        else:
            result = reply.get("ctx")
            if not isinstance(result, dict):
                raise ScriptError("脚本结果格式错误 (bad reply)")
            codec.check(result, "脚本结果")
        context.clear()
        context.update(result)
        return True


class SandboxScriptEngine(PythonScriptEngine):
    """The script engine of every workflow. ``clock`` gives the current UTC time (injectable);
    ``extra_helpers`` are added to the sandbox's names (e.g. the working-day helpers)."""

    def __init__(self, time_limit_ms: int = 1000, clock=None, extra_helpers: dict | None = None, *,
                 isolation: str = "process", workers: int = 2, step_budget_ms: int | None = None):
        super().__init__(environment=SandboxEnvironment(time_limit_ms, extra_helpers, isolation=isolation,
                                                        workers=workers, step_budget_ms=step_budget_ms))
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
