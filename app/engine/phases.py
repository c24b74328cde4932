"""Excluded phases in the BPMN dialect (不计入办理时限的特别程序环节): a user task whose time the law
does not count against the statutory limit, each with its own maximum — 行政许可法 art. 45 (听证、
招标、拍卖、检验、检测、检疫、鉴定和专家评审), 国务院令673 §9-10 for 核准 (委托评估 ≤ 30 working days,
征求有关部门意见).

The model marks the user task with two ``camunda:property`` entries:

```xml
<bpmn:userTask id="evaluation" name="技术评估" camunda:formKey="…" camunda:candidateGroups="investment">
  <bpmn:extensionElements><camunda:properties>
    <camunda:property name="phase" value="assessment"/>      <!-- one of PHASE_KINDS -->
    <camunda:property name="phaseMaxDays" value="30"/>       <!-- working days, 1..365 -->
  </camunda:properties></bpmn:extensionElements>
</bpmn:userTask>
```

While the step is open the case's clock is suspended by a special procedure of that kind; when no
instance of the step is open any more, the clock resumes and the deadlines move by the working days
it lasted, at most ``phaseMaxDays`` (the days beyond count against the limit). This module holds the
deploy check and the two names; starting and ending the procedure is the service layer's
(app/services/cases/phases.py)."""
from __future__ import annotations

from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": CAMUNDA_MODEL_NS}

PHASE = "phase"
PHASE_MAX = "phaseMaxDays"
#: the kinds a phase may be: the suspending special procedures the law excludes by a model's step
#: (not 补正, which waits for the applicant and has its own bookkeeping, nor the catch-all 其他)
PHASE_KINDS = {
    "assessment": "技术评估/委托评估", "expert_review": "专家评审", "hearing": "听证", "testing": "检验检测",
    "inspection": "现场核查", "consultation": "征求有关部门书面意见",
}
MAX_DAYS = 365


def _props(el) -> dict:
    return {p.get("name"): p.get("value")
            for p in el.findall("bpmn:extensionElements/camunda:properties/camunda:property", NS)}


def phase_max(value) -> int | None:
    """``phaseMaxDays`` as a whole number of working days in 1..MAX_DAYS, else None."""
    text = str(value or "").strip()
    if not text.isascii() or not text.isdigit():
        return None
    days = int(text)
    return days if 1 <= days <= MAX_DAYS else None


def check_phases(errors: list, filename: str, proc, err) -> None:
    """``phase`` only on a user task, of a known kind, with a ``phaseMaxDays`` in 1..365; and
    ``phaseMaxDays`` only with ``phase``. ``err(errors, element, message, filename)`` records."""
    kinds = "、".join(f"{code}（{label}）" for code, label in PHASE_KINDS.items())
    for el in proc.iter():
        if not isinstance(el.tag, str):
            continue
        props = _props(el)
        if PHASE not in props and PHASE_MAX not in props:
            continue
        eid = el.get("id")
        if el.tag != full_tag("userTask"):
            err(errors, eid, "phase/phaseMaxDays（不计入办理时限的环节）只能用于用户任务 "
                             "(an excluded phase goes on a bpmn:userTask)", filename)
            continue
        kind = props.get(PHASE)
        if kind is None:
            err(errors, eid, "phaseMaxDays 须与 phase 一起使用 (phaseMaxDays goes with phase)", filename)
            continue
        if kind not in PHASE_KINDS:
            err(errors, eid, f"phase {kind!r} 不是可用的特别程序环节，应为：{kinds} "
                             f"(phase must be one of {sorted(PHASE_KINDS)})", filename)
        if phase_max(props.get(PHASE_MAX)) is None:
            err(errors, eid, f"phaseMaxDays {props.get(PHASE_MAX)!r} 应为 1 到 {MAX_DAYS} 之间的整数（工作日），"
                             f"即法定不计入办理时限的最长期限 (phaseMaxDays: a whole number of working days, "
                             f"1..{MAX_DAYS})", filename)
