"""Moving a waiting instance onto a newer version of its process (SpiffWorkflow has no migration).

The method, and why it is safe: an instance's state is stored without its spec (app.engine.serializer)
and every task names its task spec by name, which for BPMN elements is the element id. An instance
moves only when everything it has actually reached maps 1:1 onto the new spec:

1. every task it reached (completed, cancelled, ready, waiting, started) names a task spec that
   exists in the new version with the same class (a user task stays a user task …);
2. every parent → child step it took is still an outgoing step of the parent in the new version (the
   path it walked exists there);
3. nothing is in flight that a changed spec could not take over: no errored task (incident), no
   multi-instance (会签) running, no sub-process, and a waiting event (timer, message) has the very
   same event definition in the new version.

Then the tasks it has not reached yet (FUTURE / LIKELY / MAYBE: SpiffWorkflow's prediction of the
old diagram) are dropped, the state is loaded with the NEW spec (the task ids, data and internal
data are kept), the future is predicted again from the new diagram, and the result is verified:
the reached tasks (id, element id, state) are exactly those of before, the ready user tasks have the
same element ids, and the state survives a dump/load round trip. Anything else is refused with the
reasons, element by element. Nothing here touches the database.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from .runtime import Engine, Snapshot, StepResult
from .serializer import PLATFORM_FORMAT, SPIFF_VERSION, load_state

#: states of tasks the instance has reached (kept as they are); the rest is SpiffWorkflow's prediction
REACHED = TaskState.FINISHED_MASK | TaskState.WAITING | TaskState.READY | TaskState.STARTED
PREDICTED = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE
OPEN = TaskState.WAITING | TaskState.READY | TaskState.STARTED


@dataclass
class MigrationPlan:
    movable: bool
    reasons: list[str] = field(default_factory=list)   # why not (Chinese, naming elements)
    waiting: list[str] = field(default_factory=list)   # element ids ready / waiting now


class MigrationRefused(Exception):
    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _label(spec) -> str:
    bid = getattr(spec, "bpmn_id", None)
    name = getattr(spec, "bpmn_name", None)
    if bid:
        return f"{bid}（{name}）" if name and name != bid else bid
    return spec.name


def _kind(spec) -> str:
    return type(spec).__name__


def _event_definition(spec):
    return getattr(spec, "event_definition", None)


def _same_event(a, b) -> bool:
    """SpiffWorkflow's equality of event definitions compares names only: also the class and the
    timer expression (a waiting timer keeps the due time computed from the old one)."""
    return type(a) is type(b) and a == b and getattr(a, "expression", None) == getattr(b, "expression", None)


def _reached(wf) -> dict[str, tuple[str, int]]:
    """id -> (task spec name, state) of every reached task of the top workflow."""
    return {str(t.id): (t.task_spec.name, t.state) for t in wf.get_tasks(state=REACHED) if t.workflow is wf}


def plan(old_pair, new_pair, state: str, engine: Engine) -> MigrationPlan:
    """Whether the instance whose state is ``state`` (on ``old_pair``) can move to ``new_pair``."""
    reasons: list[str] = []
    try:
        dct = json.loads(state)
    except ValueError:
        return MigrationPlan(False, ["实例状态无法读取"])
    if dct.get("serializer_version") != SPIFF_VERSION or dct.get("platform_format") != PLATFORM_FORMAT:
        return MigrationPlan(False, [f"实例状态格式为旧版本 ({dct.get('serializer_version')})，请先办理一步再迁移"])
    if dct.get("subprocesses"):
        return MigrationPlan(False, ["实例正在子流程（调用活动）中，不能迁移"])
    wf = engine.load(old_pair, state)
    new_spec = new_pair[0]
    if new_spec.name != old_pair[0].name:
        return MigrationPlan(False, [f"新版本的流程标识 {new_spec.name} 与实例的 {old_pair[0].name} 不同"])
    waiting = sorted({t.task_spec.bpmn_id or t.task_spec.name for t in wf.get_tasks(state=OPEN)
                      if t.workflow is wf and getattr(t.task_spec, "bpmn_id", None)})
    for task in wf.get_tasks(state=REACHED):
        if task.workflow is not wf:
            continue
        old = task.task_spec
        new = new_spec.task_specs.get(old.name)
        is_open = task.has_state(OPEN)
        where = "当前所在的环节" if is_open else "已经过的环节"
        if task.state == TaskState.ERROR:
            reasons.append(f"环节 {_label(old)} 出错（有未处理的故障），请先处理故障")
            continue
        if new is None:
            reasons.append(f"{where} {_label(old)} 在新版本中不存在")
            continue
        if _kind(new) != _kind(old):
            reasons.append(f"{where} {_label(old)} 在新版本中类型已改变（{_kind(old)} → {_kind(new)}）")
            continue
        if is_open and (isinstance(old, MultiInstanceTask) or "key_or_index" in task.internal_data):
            reasons.append(f"多实例环节 {_label(old)}（会签）正在进行，不能迁移")
            continue
        if is_open and isinstance(old, CatchingEvent) and not _same_event(_event_definition(old), _event_definition(new)):
            what = "定时器" if isinstance(_event_definition(old), TimerEventDefinition) else "事件"
            reasons.append(f"正在等待的{what} {_label(old)} 在新版本中的定义已改变")
            continue
        parent = task.parent
        if parent is not None and parent.workflow is wf and parent.has_state(REACHED):
            new_parent = new_spec.task_specs.get(parent.task_spec.name)
            if new_parent is not None and new not in new_parent.outputs:
                reasons.append(f"从 {_label(parent.task_spec)} 到 {_label(old)} 的连线在新版本中不存在")
    if not reasons:
        try:
            _moved(old_pair, new_pair, state, engine, wf)
        except MigrationRefused as exc:
            reasons += exc.reasons
    return MigrationPlan(not reasons, list(dict.fromkeys(reasons)), waiting)


def _moved(old_pair, new_pair, state: str, engine: Engine, old_wf=None):
    """The workflow loaded on the new spec, its future predicted again, and verified."""
    old_wf = old_wf or engine.load(old_pair, state)
    before = _reached(old_wf)
    ready_before = sorted(t.task_spec.bpmn_id for t in old_wf.get_tasks(state=TaskState.READY, manual=True)
                          if isinstance(t.task_spec, UserTask))
    dct = json.loads(state)
    tasks = dct["tasks"]
    drop = {tid for tid, t in tasks.items() if t["state"] & PREDICTED}
    for tid, t in tasks.items():
        if tid not in drop and t["state"] & TaskState.FINISHED_MASK and any(c in drop for c in t["children"]) \
                and not (t["state"] & TaskState.CANCELLED):
            raise MigrationRefused([f"已完成的环节 {t['task_spec']} 还有未到达的后续任务，状态无法映射"])
    for tid in drop:
        del tasks[tid]
    for t in tasks.values():
        t["children"] = [c for c in t["children"] if c not in drop]
    wf = load_state(json.dumps(dct, ensure_ascii=False), new_pair[0], new_pair[1], engine.script_engine)
    if any(t.task_spec is None for t in wf.get_tasks()):
        raise MigrationRefused(["实例中有任务在新版本中找不到对应的环节"])
    for task in list(wf.get_tasks(state=OPEN)):
        if task.workflow is wf:
            task.task_spec._predict(task, mask=TaskState.NOT_FINISHED_MASK)
    after = _reached(wf)
    ready_after = sorted(t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY, manual=True)
                         if isinstance(t.task_spec, UserTask))
    if after != before or ready_after != ready_before:
        raise MigrationRefused(["迁移后的实例与原实例所处的环节不一致，已拒绝"])
    return wf


def migrate(old_pair, new_pair, state: str, engine: Engine) -> StepResult:
    """Move the instance: a StepResult whose ``state`` is the instance on the new spec (the same task
    ids, so the projections keep their rows). Raises MigrationRefused with the reasons."""
    checked = plan(old_pair, new_pair, state, engine)
    if not checked.movable:
        raise MigrationRefused(checked.reasons)
    wf = _moved(old_pair, new_pair, state, engine)
    ready = {str(t.id) for t in wf.get_tasks(state=TaskState.READY, manual=True) if isinstance(t.task_spec, UserTask)}
    timers = {tv.id for tv in engine._finish(wf, Snapshot(set(), set()), [], None).timers}
    result = engine._finish(wf, Snapshot(ready, timers), [], None)
    if result.incident is not None:
        raise MigrationRefused([f"环节 {result.incident.element_id} 在新版本中无法计算办理人: {result.incident.message}"])
    # the stored state must load again on the new spec exactly as it is
    again = load_state(result.state, new_pair[0], new_pair[1], engine.script_engine)
    if _reached(again) != _reached(wf):
        raise MigrationRefused(["迁移后的状态无法完整保存，已拒绝"])
    return result
