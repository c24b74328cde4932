"""Scenario (path) tests run in memory: every shipped scenario passes without a database, and a
broken scenario fails with a message naming the element ids."""
import copy
import json

import pytest

from app.domain.errors import InvalidModel
from app.engine.parser import check_model
from app.engine.scenarios import DEFAULT_NOW, ScenarioClock, run_scenario, run_scenarios
from app.engine.runtime import Engine
from app.services.cases.registry import load_forms, process_library
from tests.conftest import ROOT

FORMS, _ = load_forms(ROOT / "forms")
LIBRARY = process_library(ROOT / "processes")
DOCS = {p.name.split(".")[0]: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(ROOT.glob("processes/*.scenarios.json"))}
CASES = [(pid, i) for pid, doc in DOCS.items() for i in range(len(doc["scenarios"]))]


def bpmn(pid):
    return (ROOT / "processes" / f"{pid}.bpmn").read_bytes()


def scenario(pid, index):
    return copy.deepcopy(DOCS[pid]["scenarios"][index])


@pytest.fixture(scope="module")
def hezhun():
    return check_model(bpmn("xmgl_hezhun"), "xmgl_hezhun.bpmn", FORMS)


def test_every_matter_has_scenarios():
    assert {p.stem for p in ROOT.glob("processes/*.bpmn")} == set(DOCS)
    assert len(CASES) >= 100


@pytest.mark.parametrize("pid,index", CASES, ids=[f"{p}:{i}" for p, i in CASES])
def test_shipped_scenario_passes_in_memory(pid, index):
    sc = scenario(pid, index)
    [result] = run_scenarios(bpmn(pid), FORMS, {"scenarios": [sc]}, filename=f"{pid}.bpmn", library=LIBRARY)
    assert result.passed, result.message
    assert result.message is None
    assert result.end_event == result.expected_end == sc["end"]
    assert result.status == result.expected_status == sc["status"]
    assert result.path[0] == "start" and result.path[-1] == sc["end"]
    # the user tasks of the path are the steps, in order (one per 会签 instance)
    steps = [s["task"] for s in sc["steps"] if "task" in s]
    assert [e for e in result.path if e in set(steps)] == steps
    assert result.ready == []


def test_a_message_step_delivers_what_another_platform_sends():
    """The county's 中央预算内投资资金申请 waits for the upper level's result after its 转报; a message
    step delivers it. Nothing waiting for the message, or a bad step, fails with the reason."""
    county = next(sc for sc in DOCS["zjsq_zhongyang"]["scenarios"] if sc.get("platform_level") == "county")
    [ok] = run_scenarios(bpmn("zjsq_zhongyang"), FORMS, {"scenarios": [county]})
    assert ok.passed and "forward_up" in ok.path and "wait_result" in ok.path, ok.message
    early = copy.deepcopy(county)
    early["steps"].insert(0, {"message": "result", "data": {"decision": "approved"}})
    [r] = run_scenarios(bpmn("zjsq_zhongyang"), FORMS, {"scenarios": [early]})
    assert not r.passed and r.message.startswith("step 1 (message result): nothing waits for message 'result'")
    province = dict(copy.deepcopy(county), platform_level="province")  # the province sends to the nation by hand
    [r] = run_scenarios(bpmn("zjsq_zhongyang"), FORMS, {"scenarios": [province]})
    assert not r.passed and "forward_upward" in r.message
    [r] = run_scenarios(bpmn("zjsq_zhongyang"), FORMS, {"scenarios": [dict(county, platform_level="town")]})
    assert not r.passed and "platform_level" in r.message


def test_wrong_expected_end_names_both_ends(hezhun):
    sc = scenario("xmgl_hezhun", 0)
    sc["end"] = "end_rejected"
    r = run_scenario(hezhun, sc, forms=FORMS)
    assert not r.passed
    assert r.message == "expected end 'end_rejected', reached 'end_approved'"
    assert r.end_event == "end_approved" and r.expected_end == "end_rejected"
    assert r.path[-2:] == ["leader_decision", "end_approved"]


def test_step_for_a_task_that_is_not_ready(hezhun):
    sc = scenario("xmgl_hezhun", 1)
    del sc["steps"][4]  # one 会签 opinion too few: the third department still has to sign
    r = run_scenario(hezhun, sc, forms=FORMS)
    assert not r.passed
    assert r.message == "step 5 (coordinate): expected task 'coordinate' to be ready, ready were: [countersign]"
    assert r.ready == ["countersign"]
    assert r.path[-3:] == ["set_countersign", "countersign", "countersign"]
    assert r.end_event is None


def test_step_after_the_end(hezhun):
    sc = scenario("xmgl_hezhun", 3)
    sc["steps"].append(copy.deepcopy(sc["steps"][0]))
    r = run_scenario(hezhun, sc, forms=FORMS)
    assert r.message == ("step 2 (window_review): expected task 'window_review' to be ready, but the process "
                         "had already ended at 'end_rejected_not_accepted'")


def test_too_few_steps_reports_what_is_still_ready(hezhun):
    sc = scenario("xmgl_hezhun", 0)
    del sc["steps"][-1]
    r = run_scenario(hezhun, sc, forms=FORMS)
    assert not r.passed
    assert r.message == ("expected end 'end_approved', but the process did not end after 7 steps; "
                         "ready: [leader_decision]")


def test_form_data_failing_validation_is_a_failure_not_an_exception(hezhun):
    sc = scenario("xmgl_hezhun", 0)
    del sc["steps"][3]["data"]["review_opinion"]
    sc["steps"][3]["data"]["bogus"] = 1
    r = run_scenario(hezhun, sc, forms=FORMS)
    assert not r.passed
    assert r.message == ("step 4 (division_review): data failed form 'xmgl_hezhun_division_review': "
                         "bogus: 表单中没有该字段 (unknown field); review_opinion: 必填 (required)")
    assert r.ready == ["division_review"]


def test_countersign_data_is_validated_against_the_group(hezhun):
    sc = scenario("xmgl_hezhun", 0)
    sc["steps"][4]["data"]["cs"]["agree"] = "maybe"
    r = run_scenario(hezhun, sc, forms=FORMS)
    assert not r.passed
    assert r.message.startswith("step 5 (countersign): data failed form 'xmgl_hezhun_countersign': cs.agree: ")


def test_start_data_failing_the_start_form(hezhun):
    sc = scenario("xmgl_hezhun", 3)
    sc["start"]["contact_phone"] = "12"
    r = run_scenario(hezhun, sc, forms=FORMS)
    assert not r.passed and r.path == []
    assert r.message.startswith("start: data failed start form 'xmgl_hezhun_apply': contact_phone: ")


def test_wrong_expected_status(hezhun):
    sc = scenario("xmgl_hezhun", 3)
    sc["status"] = "approved"
    r = run_scenario(hezhun, sc, forms=FORMS)
    assert r.message == "expected case status 'approved', reached 'rejected'"


def test_now_and_a_given_engine(hezhun):
    sc = scenario("xmgl_hezhun", 0)
    sc["now"] = "2026-09-30T16:00:00"  # before the National Day holidays: the 催办 timer lands after them
    assert run_scenario(hezhun, sc, forms=FORMS).passed
    sc["now"] = "yesterday"
    r = run_scenario(hezhun, sc, forms=FORMS)
    assert not r.passed and r.message == "now 'yesterday' is not an ISO 8601 date or datetime"
    # a caller's engine without the working-day helpers: the timer expression fails, reported as an incident
    bare = Engine(1000, clock=ScenarioClock(DEFAULT_NOW))
    r = run_scenario((hezhun.spec, hezhun.subprocess_specs), scenario("xmgl_hezhun", 0), forms=FORMS,
                     start_form=hezhun.start_form, engine=bare)
    assert not r.passed
    assert r.message.startswith("step 3 (window_review): incident at 'division_review_remind': ")
    assert "working_days_after" in r.message


def test_a_missing_form_fails(hezhun):
    forms = {k: v for k, v in FORMS.items() if k != "xmgl_hezhun_window_review"}
    r = run_scenario(hezhun, scenario("xmgl_hezhun", 0), forms=forms)
    assert r.message == "step 1 (window_review): form 'xmgl_hezhun_window_review' is missing"


def test_run_scenarios_checks_the_model_first():
    broken = bpmn("xmgl_hezhun").replace(b'camunda:candidateGroups="window"', b'camunda:candidateGroups="nobody"', 1)
    assert broken != bpmn("xmgl_hezhun")
    with pytest.raises(InvalidModel) as exc:
        run_scenarios(broken, FORMS, DOCS["xmgl_hezhun"], filename="xmgl_hezhun.bpmn")
    assert any(e["element"] == "window_review" and "nobody" in e["message"] for e in exc.value.errors)
