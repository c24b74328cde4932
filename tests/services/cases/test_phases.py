"""Excluded phases driven from the model (不计入办理时限的特别程序环节, 行政许可法 art. 45, 国务院令673):
a user task marked ``phase``/``phaseMaxDays`` suspends the statutory clock while it is open, and the
deadlines move by the working days it lasted, at most its maximum.

- the issue's case: a 核准 (a copy of the shipped xmgl_hezhun with a 技术评估 step after the 处室审查)
  whose evaluation takes 20 working days ends 20 + 20 working days after acceptance; one that takes 35
  gets only the 30 the law excludes;
- a multi-instance 征求意见 (tests/fixtures/phases/processes/t_phase.bpmn) starts with its first
  instance and ends with its last;
- a manual special procedure already running: no second one;
- the deploy check of the markers."""
import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from sqlalchemy import select

from app.engine.parser import _err
from app.engine.phases import PHASE_KINDS, check_phases
from app.extensions import db
from app.models import Case, CaseEvent, HumanTask, Notification, SpecialProcedure, Timer
from app.services.cases.special_procedures import SUSPENDING_KINDS
from app.services.clocks.calendar import current_calendar
from app.services.common.clock import FakeClock
from tests.conftest import FIXTURES, ROOT, deploy_all, make_app
from tests.services.portal.h3_helpers import START
from tests.web.api.helpers import START as T_START, Api

BJ = ZoneInfo("Asia/Shanghai")
ACCEPT_DAY = date(2026, 3, 2)  # a Monday with calendar data ahead
ACCEPT = {"window_decision": "accept", "paper_received": True, "window_opinion": "材料齐全，予以受理。"}
REVIEW = {"review_points": ["security", "planning"], "entrust_assessment": "yes", "cs_depts": ["cs_ecology"],
          "review_opinion": "拟委托评估并征求有关部门意见。"}
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
EVALUATION = f"""<bpmn:userTask xmlns:bpmn="{BPMN}" xmlns:camunda="{CAMUNDA}" id="evaluation" name="技术评估"
    camunda:formKey="xmgl_hezhun_evaluation" camunda:candidateGroups="investment">
  <bpmn:extensionElements><camunda:properties>
    <camunda:property name="phase" value="assessment"/>
    <camunda:property name="phaseMaxDays" value="30"/>
  </camunda:properties></bpmn:extensionElements>
  <bpmn:incoming>flow_division_review_to_evaluation</bpmn:incoming>
  <bpmn:outgoing>flow_evaluation_to_set_countersign</bpmn:outgoing>
</bpmn:userTask>"""


def hezhun_with_evaluation(target: Path) -> Path:
    """The shipped 核准 model with a 技术评估 (委托评估, ≤ 30 working days not counted) after the 处室审查,
    and its matter; the forms are the shipped ones plus the evaluation's."""
    processes, forms = target / "processes", target / "forms"
    processes.mkdir()
    shutil.copytree(ROOT / "forms", forms)  # the shipped forms, with their fragments
    root = etree.fromstring((ROOT / "processes" / "xmgl_hezhun.bpmn").read_bytes())
    ns = {"bpmn": BPMN}
    proc = root.find("bpmn:process", ns)
    flow = proc.find("bpmn:sequenceFlow[@id='flow_division_review_to_set_countersign']", ns)
    flow.set("id", "flow_division_review_to_evaluation")
    flow.set("targetRef", "evaluation")
    proc.find("bpmn:userTask[@id='division_review']/bpmn:outgoing", ns).text = "flow_division_review_to_evaluation"
    proc.find("bpmn:scriptTask[@id='set_countersign']/bpmn:incoming", ns).text = "flow_evaluation_to_set_countersign"
    proc.append(etree.fromstring(EVALUATION))
    etree.SubElement(proc, f"{{{BPMN}}}sequenceFlow", id="flow_evaluation_to_set_countersign",
                     sourceRef="evaluation", targetRef="set_countersign")
    for shape in root.iter(f"{{{BPMN[:-5]}DI}}BPMNEdge"):  # drop the diagram of the replaced flow
        if shape.get("bpmnElement") == "flow_division_review_to_set_countersign":
            shape.getparent().remove(shape)
    (processes / "xmgl_hezhun.bpmn").write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    (processes / "xmgl_hezhun.matter.json").write_bytes((ROOT / "processes" / "xmgl_hezhun.matter.json").read_bytes())
    extra = FIXTURES / "phases" / "forms" / "xmgl_hezhun_evaluation.form.json"
    (forms / extra.name).write_bytes(extra.read_bytes())
    return target


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))


def _api(app, users: dict) -> Api:
    deploy_all(app)
    api = Api(app)
    for name, groups in users.items():
        api.user(name, "applicant") if groups == "applicant" else api.user(name, groups=groups)
    return api


@pytest.fixture
def hezhun(db_url, clock, tmp_path):
    base = hezhun_with_evaluation(tmp_path)
    app = make_app(db_url, CLOCK=clock, PROCESSES_DIR=str(base / "processes"), FORMS_DIR=str(base / "forms"))
    yield _api(app, {"alice": "applicant", "w1": ["window"], "inv": ["investment"], "eco": ["cs_ecology"],
                     "boss": ["investment_chief"]})
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def consult(db_url, clock):
    app = make_app(db_url, CLOCK=clock, PROCESSES_DIR=str(FIXTURES / "phases" / "processes"),
                   FORMS_DIR=str(FIXTURES / "forms"))
    yield _api(app, {"alice": "applicant", "eco": ["cs_ecology"], "fin": ["cs_finance"], "inv": ["investment"]})
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def wd(app, start: date, days: int) -> date:
    with app.app_context():
        return current_calendar().add_working_days(start, days)


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=BJ)


def procedures(app, case_id):
    with app.app_context():
        return [(p.kind, p.status, p.handler, p.planned_duration, p.counted_days, p.reason, p.basis)
                for p in db.session.execute(select(SpecialProcedure).where(
                    SpecialProcedure.case_id == case_id).order_by(SpecialProcedure.id)).scalars()]


def case_row(app, case_id):
    with app.app_context():
        c = db.session.get(Case, case_id)
        return {"status": c.status, "clock": c.clock_state, "statutory": c.statutory_due,
                "promised": c.promised_due, "suspended": c.suspended_days}


def events(app, case_id, *actions):
    with app.app_context():
        return [(e.actor, e.action, e.element_id, e.opinion, e.data_change) for e in db.session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action.in_(actions))
            .order_by(CaseEvent.id)).scalars()]


def to_evaluation(api) -> int:
    r = api.post("alice", "/api/cases", json={"process_id": "xmgl_hezhun", "data": START})
    assert r.status_code == 201, r.json
    case_id = r.json["id"]
    api.complete_first("w1", ACCEPT, element="window_review")  # 受理 on Monday 2 March
    api.complete_first("inv", REVIEW, element="division_review")
    return case_id


def test_hezhun_with_a_20_day_technical_evaluation_ends_on_the_right_date(hezhun, clock):
    api, app = hezhun, hezhun.app
    case_id = to_evaluation(api)
    row = case_row(app, case_id)
    assert row["statutory"] == wd(app, ACCEPT_DAY, 20) and row["clock"] == "suspended"
    assert row["status"] == "special_procedure"
    reason = "技术评估（不计入办理时限，最长30个工作日）"
    assert procedures(app, case_id) == [("assessment", "running", "system", 30, 0, reason, "BPMN 环节 技术评估")]
    with app.app_context():
        task = db.session.execute(select(HumanTask).where(HumanTask.case_id == case_id,
                                                          HumanTask.element_id == "evaluation")).scalar_one()
        assert task.due_date == wd(app, ACCEPT_DAY, 30)  # the phase's maximum: inbox and supervision see overruns
    suspend = events(app, case_id, "suspend")
    assert [(a, act, el, op) for a, act, el, op, _ in suspend] == [("system", "suspend", "evaluation", reason)]
    with app.app_context():  # the applicant is told, as of a procedure started by hand
        sent = db.session.execute(select(Notification).where(Notification.case_id == case_id,
                                                             Notification.template == "special_procedure")).scalars()
        assert {n.channel for n in sent} >= {"internal"}
    done_day = wd(app, ACCEPT_DAY, 20)
    clock.set(at(done_day))
    api.complete_first("inv", {"evaluation_report": "评估认为项目可行。"}, element="evaluation")
    row = case_row(app, case_id)
    assert row["statutory"] == wd(app, wd(app, ACCEPT_DAY, 20), 20)  # accept day + 20 + 20 working days
    assert row["promised"] == wd(app, wd(app, ACCEPT_DAY, 10), 20)
    assert row["clock"] == "running" and row["status"] == "accepted" and row["suspended"] == 20
    assert procedures(app, case_id)[0][:5] == ("assessment", "ended", "system", 30, 20)
    assert events(app, case_id, "phase_overrun") == []
    # the countersign opened in the step that ended the phase: its limit and timer count from today
    with app.app_context():
        cs = db.session.execute(select(HumanTask).where(HumanTask.case_id == case_id,
                                                        HumanTask.element_id == "countersign")).scalar_one()
        assert cs.due_date == wd(app, done_day, 5)
        timer = db.session.execute(select(Timer).where(Timer.element_id == "countersign_deemed")).scalar_one()
        assert timer.due_at.astimezone(BJ).date() == wd(app, done_day, 7)


def test_hezhun_evaluation_of_35_days_excludes_only_30(hezhun, clock):
    api, app = hezhun, hezhun.app
    case_id = to_evaluation(api)
    clock.set(at(wd(app, ACCEPT_DAY, 35)))
    api.complete_first("inv", {"evaluation_report": "评估报告延迟提交。"}, element="evaluation")
    row = case_row(app, case_id)
    assert row["statutory"] == wd(app, ACCEPT_DAY, 20 + 30) and row["suspended"] == 30
    assert procedures(app, case_id)[0][:5] == ("assessment", "ended", "system", 30, 30)
    overrun = events(app, case_id, "phase_overrun")
    assert len(overrun) == 1 and overrun[0][4] == {"lasted_days": 35, "max_days": 30, "overrun_days": 5}
    resume = events(app, case_id, "resume")
    assert resume[0][4]["suspended_days"] == 30 and "超出的5个工作日计入办理时限" in resume[0][3]


def test_a_phase_procedure_is_not_ended_by_hand(hezhun, clock):
    api, app = hezhun, hezhun.app
    case_id = to_evaluation(api)
    with app.app_context():
        proc_id = db.session.execute(select(SpecialProcedure.id).where(SpecialProcedure.case_id == case_id)).scalar()
    r = api.post("inv", f"/api/cases/special-procedures/{proc_id}/end", json={"result": "手工结束"})
    assert r.status_code == 409 and "随流程环节办结自动结束" in r.json["message"], r.json
    assert procedures(app, case_id)[0][1] == "running"


def test_multi_instance_consultation_starts_with_the_first_and_ends_with_the_last(consult, clock):
    api, app = consult, consult.app
    r = api.post("alice", "/api/cases", json={"process_id": "t_phase", "data": T_START})
    assert r.status_code == 201, r.json
    case_id = r.json["id"]  # accepted and both departments asked in the same step
    assert case_row(app, case_id)["clock"] == "suspended"
    assert [p[:4] for p in procedures(app, case_id)] == [("consultation", "running", "system", 15)]
    clock.set(at(wd(app, ACCEPT_DAY, 4)))
    api.complete_first("eco", {"cs": {"agree": "yes", "opinion": "同意"}}, element="consult")
    assert case_row(app, case_id)["clock"] == "suspended"  # one department still to answer
    assert len(procedures(app, case_id)) == 1
    clock.set(at(wd(app, ACCEPT_DAY, 6)))
    api.complete_first("fin", {"cs": {"agree": "yes", "opinion": "同意"}}, element="consult")
    row = case_row(app, case_id)
    assert row["clock"] == "running" and row["statutory"] == wd(app, ACCEPT_DAY, 26)
    assert procedures(app, case_id)[0][:5] == ("consultation", "ended", "system", 15, 6)
    with app.app_context():  # the review opened after the phase: its 3-day limit from today, not moved
        review = db.session.execute(select(HumanTask).where(HumanTask.case_id == case_id,
                                                            HumanTask.element_id == "review")).scalar_one()
        assert review.due_date == wd(app, wd(app, ACCEPT_DAY, 6), 3)
    assert len(events(app, case_id, "suspend")) == len(events(app, case_id, "resume")) == 1


def test_a_running_manual_procedure_is_not_doubled(hezhun, clock):
    """The clock is already stopped by a staff member's procedure when the phase's step opens: no
    second procedure (the days are excluded already); the trail says so. Once the manual one ends,
    the rest of the evaluation counts."""
    api, app = hezhun, hezhun.app
    r = api.post("alice", "/api/cases", json={"process_id": "xmgl_hezhun", "data": START})
    case_id = r.json["id"]
    api.complete_first("w1", ACCEPT, element="window_review")
    r = api.post("inv", f"/api/cases/{case_id}/special-procedures",
                 json={"kind": "expert_review", "reason": "组织专家评审", "planned_duration": 10})
    assert r.status_code == 201, r.json
    api.complete_first("inv", REVIEW, element="division_review")
    assert [p[:3] for p in procedures(app, case_id)] == [("expert_review", "running", "inv")]
    skipped = events(app, case_id, "phase_skipped")
    assert [(a, el) for a, _, el, _, _ in skipped] == [("system", "evaluation")]
    with app.app_context():
        proc_id = db.session.execute(select(SpecialProcedure.id).where(SpecialProcedure.case_id == case_id)).scalar()
    clock.set(at(wd(app, ACCEPT_DAY, 3)))
    r = api.post("inv", f"/api/cases/special-procedures/{proc_id}/end", json={"result": "专家评审完成"})
    assert r.status_code == 200, r.json
    clock.set(at(wd(app, ACCEPT_DAY, 8)))
    api.complete_first("inv", {"evaluation_report": "评估认为项目可行。"}, element="evaluation")
    row = case_row(app, case_id)
    assert row["clock"] == "running" and row["suspended"] == 3 and row["statutory"] == wd(app, ACCEPT_DAY, 23)
    assert len(procedures(app, case_id)) == 1


def test_phase_kinds_are_special_procedure_kinds():
    assert PHASE_KINDS.keys() <= SUSPENDING_KINDS.keys() - {"correction", "other"}


def _check(xml: str) -> list[dict]:
    root = etree.fromstring(f'<bpmn:definitions xmlns:bpmn="{BPMN}" xmlns:camunda="{CAMUNDA}">'
                            f'<bpmn:process id="p" isExecutable="true">{xml}</bpmn:process></bpmn:definitions>')
    errors: list[dict] = []
    check_phases(errors, "p.bpmn", root.find(f"{{{BPMN}}}process"), _err)
    return errors


def _props(**props) -> str:
    inner = "".join(f'<camunda:property name="{k}" value="{v}"/>' for k, v in props.items())
    return f"<bpmn:extensionElements><camunda:properties>{inner}</camunda:properties></bpmn:extensionElements>"


@pytest.mark.parametrize("xml, fragment", [
    (f'<bpmn:userTask id="t">{_props(phase="assessment", phaseMaxDays="30")}</bpmn:userTask>', None),
    (f'<bpmn:userTask id="t">{_props(phase="consultation", phaseMaxDays="365")}</bpmn:userTask>', None),
    (f'<bpmn:userTask id="t">{_props(phase="correction", phaseMaxDays="5")}</bpmn:userTask>', "phase 'correction'"),
    (f'<bpmn:userTask id="t">{_props(phase="other", phaseMaxDays="5")}</bpmn:userTask>', "phase 'other'"),
    (f'<bpmn:userTask id="t">{_props(phase="nap", phaseMaxDays="5")}</bpmn:userTask>', "phase 'nap'"),
    (f'<bpmn:userTask id="t">{_props(phase="hearing", phaseMaxDays="0")}</bpmn:userTask>', "phaseMaxDays '0'"),
    (f'<bpmn:userTask id="t">{_props(phase="hearing", phaseMaxDays="366")}</bpmn:userTask>', "phaseMaxDays '366'"),
    (f'<bpmn:userTask id="t">{_props(phase="hearing", phaseMaxDays="2.5")}</bpmn:userTask>', "phaseMaxDays '2.5'"),
    (f'<bpmn:userTask id="t">{_props(phase="hearing")}</bpmn:userTask>', "phaseMaxDays None"),
    (f'<bpmn:userTask id="t">{_props(phaseMaxDays="5")}</bpmn:userTask>', "须与 phase 一起使用"),
    (f'<bpmn:scriptTask id="t">{_props(phase="testing", phaseMaxDays="5")}</bpmn:scriptTask>', "只能用于用户任务"),
])
def test_deploy_check_of_the_markers(xml, fragment):
    errors = _check(xml)
    if fragment is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0]["element"] == "t" and fragment in errors[0]["message"], errors
