"""Deemed steps in the BPMN dialect (视为): a user task that nobody completes within N working days is
completed by the system with given values and a reason — the window's 一次性告知 (行政许可法 art. 32:
no 补正 notice within 5 working days of receipt, the application is accepted from the day the
materials came in) and the countersign's silence as consent (逾期未回复，视为同意).

The model says it with a NON-interrupting boundary timer on the user task, marked
``camunda:property action=deemed``, like a 催办 (``notify=urge``) but completing instead of reminding:

```xml
<bpmn:boundaryEvent id="window_deemed" name="逾期视为受理" attachedToRef="window_review"
                    cancelActivity="false">
  <bpmn:extensionElements><camunda:properties>
    <camunda:property name="action" value="deemed"/>
    <camunda:property name="deemedValues" value='{"window_decision": "accept", "window_opinion": "…"}'/>
    <camunda:property name="deemedReason" value="收到申请材料之日起5个工作日内未一次性告知补正，…"/>
  </camunda:properties></bpmn:extensionElements>
  <bpmn:outgoing>flow_window_deemed</bpmn:outgoing>   <!-- to an end event, e.g. "视为受理" -->
  <bpmn:timerEventDefinition><bpmn:timeDate>working_days_after(5, "17:00")</bpmn:timeDate>
  </bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
```

The timer is an ordinary timer: fired once by the scheduler, moved when a suspended clock resumes,
cancelled when a person completes the step first, counted again when the step's days start later (the
mailed paper: ``restart``). This module holds the deploy check and reads a
firing's values; completing the open instances of the step is the service layer's
(app/services/cases/deemed.py). On a multi-instance step (会签) the timer belongs to the whole step:
only the instances still open are completed, the departments that answered keep their answers."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS
from SpiffWorkflow.util.task import TaskState

from ..domain.errors import ValidationError
from .forms import validate_submission

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": CAMUNDA_MODEL_NS}
C = "{%s}" % CAMUNDA_MODEL_NS

DEEMED = "deemed"
VALUES = "deemedValues"
REASON = "deemedReason"
MAX_DAYS = 60
REASON_MAX = 2000
#: the timer of a deemed step counts working days: ``working_days_after(N)`` or ``(N, "HH:MM")``
TIMER_RE = re.compile(r"""^working_days_after\(\s*([0-9]+)\s*(?:,\s*(["'])([0-9]{2}:[0-9]{2})\2\s*)?\)$""")


@dataclass
class DeemedFiring:
    """A deemed timer that fired in a step: the boundary event, the user task it is attached to, the
    values to complete its open instances with, and the reason for the trail."""
    event_id: str
    element_id: str
    values: dict
    reason: str


def _props(el) -> dict:
    return {p.get("name"): p.get("value")
            for p in el.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)}


def firing(event_id: str, props: dict) -> DeemedFiring | None:
    """The firing of a boundary event whose properties mark it ``action=deemed`` (None otherwise).
    The values were checked at deploy."""
    if props.get("action") != DEEMED or not props.get("_attached_to"):
        return None
    try:
        values = json.loads(props.get(VALUES) or "{}")
    except ValueError:
        values = {}
    return DeemedFiring(event_id, props["_attached_to"], values if isinstance(values, dict) else {},
                        (props.get(REASON) or "").strip())


def _timer_days(el) -> tuple[int | None, str | None]:
    """N of the boundary event's ``working_days_after(N)`` timer, or the problem."""
    definition = el.find("bpmn:timerEventDefinition", NS)
    if definition is None:
        return None, "视为办结必须是定时边界事件 (action=deemed goes on a boundary TIMER event)"
    date = definition.find("bpmn:timeDate", NS)
    m = TIMER_RE.match((date.text or "").strip()) if date is not None else None
    if m is None:
        return None, ('视为办结的定时器必须写作 working_days_after(N) 或 working_days_after(N, "HH:MM")，'
                      "按工作日计算 (a deemed timer is a timeDate counting working days)")
    days = int(m.group(1))
    if not 1 <= days <= MAX_DAYS:
        return None, f"视为办结的工作日数 N={days} 必须在 1 到 {MAX_DAYS} 之间 (N must be 1..{MAX_DAYS})"
    return days, None


def check_deemed(errors: list, filename: str, proc, forms: dict, err) -> dict[str, int]:
    """``action=deemed`` only on a non-interrupting boundary timer of a user task (one per task),
    counting working days, with values valid for the task's form and a reason; ``deemedValues`` /
    ``deemedReason`` only with it. ``err(errors, element, message, filename)`` records. Returns
    {user task id: N} of the deemed steps (for the summary)."""
    tasks = {el.get("id"): el for el in proc.iter(full_tag("userTask"))}
    found: dict[str, int] = {}
    for el in proc.iter():
        if not isinstance(el.tag, str):
            continue
        props = _props(el)
        eid = el.get("id")
        if props.get("action") != DEEMED:
            if (VALUES in props or REASON in props) and el.tag == full_tag("boundaryEvent"):
                err(errors, eid, f"{VALUES} / {REASON} 只用于 action=deemed 的边界定时器", filename)
            continue
        host = tasks.get(el.get("attachedToRef") or "")
        if el.tag != full_tag("boundaryEvent") or host is None:
            err(errors, eid, "action=deemed (视为办结) 只能用于用户任务上的边界定时器 (a boundary timer "
                             "event attached to a bpmn:userTask)", filename)
            continue
        if el.get("cancelActivity", "true") != "false":
            err(errors, eid, '视为办结的边界定时器必须是非中断的 cancelActivity="false" (the step stays open '
                             "until the system completes it)", filename)
        days, problem = _timer_days(el)
        if problem:
            err(errors, eid, problem, filename)
        host_id = host.get("id")
        if host_id in found:
            err(errors, eid, f"用户任务 {host_id} 已有一个视为办结定时器 (one deemed timer per user task)", filename)
        found[host_id] = days or 0
        reason = (props.get(REASON) or "").strip()
        if not reason or len(reason) > REASON_MAX:
            err(errors, eid, f"{REASON} 必须填写视为办结的理由（最多 {REASON_MAX} 字）(the reason is required)",
                filename)
        try:
            values = json.loads(props.get(VALUES) or "")
        except ValueError:
            values = None
        if not isinstance(values, dict) or not values:
            err(errors, eid, f'{VALUES} 必须是 JSON 对象，如 {{"agree": "yes"}} (a JSON object of form values)',
                filename)
            continue
        form = forms.get(host.get(C + "formKey") or host.get(C + "formRef") or "")
        if form is None:
            continue  # reported by the user task's own check
        try:
            validate_submission(form, values)
        except ValidationError as exc:
            shown = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted((exc.details or {}).items()))
            err(errors, eid, f"{VALUES} 不符合任务 {host_id} 的表单 (values do not fit the form): {shown}",
                filename)
    return found


def _extensions(spec) -> dict:
    return getattr(spec, "extensions", None) or {}


def restart(task) -> list[str]:
    """The deemed timers of the ready user ``task`` count again from now: a waiting one gets its due time
    computed again, one that fired without completing the task (its completion was refused: the paper
    was not in) waits again, as if the step had just opened — its branch (the deemed end) dropped, by
    SpiffWorkflow's ``reset_branch``. Used when what the step's days count from arrives late (the mailed
    paper). The ids of the timers restarted (none: the task has no such timer)."""
    restarted = []
    for event in list(task.parent.children) if task.parent is not None else ():
        props = _extensions(event.task_spec)
        if event is task or props.get("action") != DEEMED or props.get("_attached_to") != task.task_spec.bpmn_id:
            continue
        if not event.has_state(TaskState.WAITING | TaskState.COMPLETED):
            continue
        event.reset_branch(None)   # waits again, its due time computed from now at its update
        sub = event.workflow
        if sub.last_task is not None and sub.last_task.id not in sub.tasks:
            sub.last_task = None   # it was the dropped branch's end (as SpiffWorkflow's own resets do)
        restarted.append(str(event.id))
    return restarted
