"""The entry points: the SpiffWorkflow script environment and script engine that evaluate every
expression and run every script of a workflow under the policy, the guards and the tracer."""
from __future__ import annotations

from datetime import datetime, timezone

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from .limits import MAX_INSTANCES, ScriptError
from .policy import _GUARDS, HELPERS, SAFE_BUILTINS, compile_code
from .tracer import _run


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
