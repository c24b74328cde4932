"""Deploy checks of deemed steps (``action=deemed`` boundary timers, app/engine/deemed.py) on the
shipped 企业投资项目核准: the shipped declarations pass, a bad one is refused naming the element."""
import pytest

from app.domain.errors import InvalidModel
from app.engine.parser import check_model
from app.services.cases.registry import load_forms
from tests.conftest import ROOT

BPMN = (ROOT / "processes" / "xmgl_hezhun.bpmn").read_text("utf-8")
FORMS = load_forms(ROOT / "forms")[0]
WINDOW_TIMER = 'working_days_after(5, "17:00")'
CS_VALUES = """value='{"cs": {"agree": "yes", "opinion": "逾期未回复，视为同意"}}'"""


def check(text: str):
    return check_model(text.encode("utf-8"), "xmgl_hezhun.bpmn", FORMS, expected_id="xmgl_hezhun")


def refused(text: str) -> list[tuple]:
    with pytest.raises(InvalidModel) as info:
        check(text)
    return [(e["element"], e["message"]) for e in info.value.errors]


def test_shipped_declarations_pass():
    model = check(BPMN)
    assert model.summary["deemed"] == {"window_review": 5, "countersign": 7}


@pytest.mark.parametrize("timer,needle", [
    ('working_days_after(0, "17:00")', "N=0"),
    ('working_days_after(99)', "N=99"),
    ('"P5D"', "working_days_after"),
    ('working_days_after(cs_days)', "working_days_after"),
])
def test_bad_n_is_refused(timer, needle):
    errors = refused(BPMN.replace(WINDOW_TIMER, timer))
    assert any(el == "window_deemed" and needle in msg for el, msg in errors), errors


@pytest.mark.parametrize("values,needle", [
    ("""value='{"agree": "yes"}'""", "不符合任务 countersign 的表单"),            # not in the form
    ("""value='{"cs": {"agree": "maybe", "opinion": "x"}}'""", "cs.agree"),
    ("""value='{"cs": {"agree": "yes"}}'""", "cs.opinion"),                     # required missing
    ("value='not json'", "JSON 对象"),
    ("value='[1, 2]'", "JSON 对象"),
])
def test_values_not_valid_for_the_form_are_refused(values, needle):
    errors = refused(BPMN.replace(CS_VALUES, values))
    assert any(el == "countersign_deemed" and needle in msg for el, msg in errors), errors


def test_missing_reason_interrupting_timer_and_wrong_element_are_refused():
    text = BPMN.replace('name="deemedReason" value="逾期未回复，视为同意"', 'name="deemedReason" value=" "')
    assert any(el == "countersign_deemed" and "理由" in msg for el, msg in refused(text))
    text = BPMN.replace('attachedToRef="window_review" cancelActivity="false"', 'attachedToRef="window_review"')
    assert any(el == "window_deemed" and "cancelActivity" in msg for el, msg in refused(text))
    # on a user task itself (not a boundary timer): refused
    text = BPMN.replace('<camunda:property name="action" value="receive" />',
                        '<camunda:property name="action" value="deemed" />', 1)
    assert any(el == "window_review" and "边界定时器" in msg for el, msg in refused(text))
    # attached to something that is not a user task
    text = BPMN.replace('attachedToRef="window_review" cancelActivity="false"',
                        'attachedToRef="set_countersign" cancelActivity="false"')
    assert any(el == "window_deemed" and "userTask" in msg for el, msg in refused(text))


def test_deemed_properties_without_the_marker_are_refused():
    text = BPMN.replace('<camunda:property name="notify" value="urge" />',
                        '<camunda:property name="notify" value="urge" />'
                        '<camunda:property name="deemedReason" value="x" />')
    assert any(el == "division_review_remind" and "action=deemed" in msg for el, msg in refused(text))
