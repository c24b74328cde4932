"""办件信息 to the 一张网: a shipped matter's case is pushed at each stage, through the outbox, to the
stand-in gateway over real HTTP — the right XML fields, once per (case, stage), in order."""
from __future__ import annotations

from lxml import etree
from sqlalchemy import select

from app.extensions import db
from app.models import Case
from app.services.cases.steps import set_case_status
from app.services.docking import ywtb
from app.services.messaging import outbox
from tests.conftest import deploy_all, make_app
from tests.services.docking.ywtb_support import (  # noqa: F401  (fixtures)
    api, deliver, drive, gateway, messages, scenario, staff_for, step, submit)
from tests.web.api.helpers import Api


def test_a_filing_is_pushed_at_each_stage_up_to_its_completion(api, gateway):
    sc = scenario("xmgl_beian", "予以备案（含一次补正")
    case = drive(api, "xmgl_beian", sc)
    assert case["status"] == "approved"
    deliver(api)
    no = case["case_no"]
    assert gateway.stages(no) == ["SQ", "BZ", "SL", "BJ"]
    assert gateway.flags == []
    apply = gateway.stage(no, "SQ")
    assert apply["SBLSH"] == no and apply["SXJBBM"] == "0001720160" and apply["SXBM"] == "11320000014000378400016"
    assert apply["SXMC"] == "企业投资项目备案" and apply["segment"] == "APPLY"
    f = apply["fields"]
    assert f["SQRLX"] == "2" and f["SQRMC"] == sc["start"]["applicant_name"]
    assert f["XMDM"] == sc["start"]["project_code"] and f["XMMC"] == sc["start"]["project_name"]
    assert f["LXRSJ"] == sc["start"]["contact_phone"] and f["SBSJ"].startswith("2026-03-02 09:00")
    correction = gateway.stage(no, "BZ")["fields"]
    assert correction["BZCLQD"] and "建设规模" in correction["BZCLQD"][0]["BZYY"]
    accept = gateway.stage(no, "SL")["fields"]
    assert accept["SLZT"] == "1" and accept["SLBMMC"] == "江苏省发展和改革委员会"
    assert accept["SLBMZZJGDM"] == "113200000140003784" and accept["CNBJSX"] == "1" and accept["CNBJSXDW"] == "1"
    assert accept["CNBJRQ"] and accept["FDBJRQ"]
    done = gateway.stage(no, "BJ")["fields"]
    assert done["BJJGDM"] == "6" and done["BJJGMS"].startswith("准予许可")
    assert done["ZZBH"] == "苏发改备〔2025〕3217号" and done["ZZMC"] == "江苏省投资项目备案证"
    assert [m.payload["stage"] for m in messages(api)] == ["apply", "correction", "accept", "complete"]
    assert {m.key for m in messages(api)} == {f"ywtb:{no}:apply", f"ywtb:{no}:correction:1", f"ywtb:{no}:accept",
                                              f"ywtb:{no}:complete"}
    assert all(m.status == "delivered" and m.order_key == no and m.peer == "ywtb" for m in messages(api))


def test_a_refusal_at_the_window_is_pushed_as_not_accepted_with_its_reason(api, gateway):
    case = drive(api, "xmgl_beian", scenario("xmgl_beian", "不予受理"))
    deliver(api)
    assert gateway.stages(case["case_no"]) == ["SQ", "BYSL"]
    refused = gateway.stage(case["case_no"], "BYSL")
    assert refused["segment"] == "ACCEPT" and refused["fields"]["SLZT"] == "2" and refused["fields"]["BSLYY"]


def test_an_approval_with_a_special_procedure_pushes_its_start_and_end_and_the_result(api, gateway):
    sc = scenario("xmgl_hezhun", "核准通过")
    case = drive(api, "xmgl_hezhun", sc, upto=3)  # accepted after a 补正, at the division
    division = [t for t in case["current_tasks"] if t["element_id"] == "division_review"][0]
    who = staff_for(api, division)
    r = api.post(who, f"/api/cases/{case['id']}/special-procedures",
                 json={"kind": "expert_review", "reason": "组织专家评审", "planned_duration": 10})
    assert r.status_code == 201, r.json
    r = api.post(who, f"/api/cases/special-procedures/{r.json['id']}/end", json={"result": "专家评审通过"})
    assert r.status_code == 200, r.json
    case = api.get("applicant_1", f"/api/cases/{case['id']}").json
    for s in sc["steps"][3:]:
        case = step(api, case, s["task"], s["data"])
    assert case["status"] == "approved"
    deliver(api)
    no = case["case_no"]
    assert gateway.stages(no) == ["SQ", "BZ", "SL", "TBCX", "TBCXJS", "BJ"]
    special = gateway.stage(no, "TBCX")["fields"]
    assert special["TBCXLX"] == "2" and special["TBCXMC"] == "专家评审" and special["TBCXSX"] == "10"
    assert gateway.stage(no, "TBCXJS")["fields"]["TBCXJG"] == "专家评审通过"
    assert gateway.stage(no, "BJ")["fields"]["BJJGDM"] == "6"


def test_a_withdrawal_is_completed_as_withdrawn(api, gateway):
    case = submit(api, "xmgl_beian", scenario("xmgl_beian", "予以备案")["start"])
    r = api.post("applicant_1", f"/api/cases/{case['id']}/withdraw", json={"reason": "项目调整，撤回申请"})
    assert r.status_code == 200, r.json
    deliver(api)
    assert gateway.stages(case["case_no"]) == ["SQ", "BJ"]
    assert gateway.stage(case["case_no"], "BJ")["fields"]["BJJGDM"] == "3"
    assert "项目调整" in gateway.stage(case["case_no"], "BJ")["fields"]["BJJGMS"]


def test_a_stage_pushed_again_is_received_once(api, gateway):
    case = drive(api, "xmgl_beian", scenario("xmgl_beian", "不予受理"))
    deliver(api)
    with api.app.app_context():  # the gateway's answer to the second push was lost: it comes again
        sent = messages(api)
        for m in sent:
            reply = ywtb.push_stage(m.payload, m.message_id)
            assert reply["duplicate"] is True
    assert gateway.stages(case["case_no"]) == ["SQ", "BYSL"] and len(gateway.repeats) == 2


def test_the_same_status_again_writes_no_second_stage(api, gateway):
    """受理 after a 补正 during the review is not a second 受理; each 补正 round is its own stage."""
    case = drive(api, "xmgl_beian", scenario("xmgl_beian", "予以备案（含一次补正"), upto=3)
    with api.app.app_context():
        row = db.session.execute(select(Case).where(Case.id == case["id"])).scalar_one()
        set_case_status(row, "correction", "u_window")
        set_case_status(row, "accepted", "u_window")
        db.session.commit()
    deliver(api)
    assert gateway.stages(case["case_no"]) == ["SQ", "BZ", "SL", "BZ"]
    assert [s["HJXH"] for s in gateway.cases[case["case_no"]]] == ["1", "1", "1", "2"]


def test_nothing_is_written_when_the_platform_is_not_docked(db_url, gateway):
    app = make_app(db_url)
    deploy_all(app)
    a = Api(app)
    a.user("applicant_1", "applicant")
    submit(a, "xmgl_beian", scenario("xmgl_beian", "予以备案")["start"])
    assert messages(a) == [] and gateway.requests == []
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_xml_is_well_formed_and_keeps_the_order_of_the_fields(api):
    payload = {"stage": "accept", "round": 1, "at": "2026-03-02 09:00:00",
               "header": {"BJBH": "320000-1", "SBLSH": "320000-1", "SXMC": "事项<&>"},
               "segment": {"SLZT": "1", "SLRXM": "张\x01\ufffe三", "CLXX": [{"CLMC": "a"}]}}
    root = etree.fromstring(ywtb.build_xml(payload))
    assert root.tag == "APPROVEDATAINFO" and root.findtext("SXMC") == "事项<&>" and root.findtext("BJHJ") == "SL"
    assert [c.tag for c in root.find("ACCEPT")] == ["SLZT", "SLRXM", "CLXX"]
    assert root.find("ACCEPT").findtext("SLRXM") == "张三" and root.find("ACCEPT/CLXX/CL").findtext("CLMC") == "a"


def test_the_gateway_flags_a_completion_after_the_promised_date_and_a_stage_before_its_application(api, gateway):
    sc = scenario("xmgl_beian", "予以备案（含一次补正")
    case = drive(api, "xmgl_beian", sc, upto=3)  # accepted: a 即办件, promised within 1 working day
    api.clock.advance(days=7)
    step(api, case, sc["steps"][3]["task"], sc["steps"][3]["data"])
    deliver(api)
    (late,) = gateway.flags
    assert late["case_no"] == case["case_no"] and late["flag"] == "late"
    with api.app.app_context():  # a stage of a case the gateway never saw applied for
        (m,) = [m for m in messages(api) if m.payload["stage"] == "complete"]
        payload = dict(m.payload, header=dict(m.payload["header"], BJBH="320000-20260302-999999"))
        assert ywtb.push_stage(payload)["duplicate"] is False
    assert gateway.flags[-1]["flag"] == "before_apply"


def test_a_push_the_gateway_refuses_goes_dead_and_an_operator_sends_it_again(api, gateway):
    case = submit(api, "xmgl_beian", scenario("xmgl_beian", "予以备案")["start"])
    gateway.fail_next(400, path="/exchange/cases")
    with api.app.app_context():
        assert outbox.deliver_due(channel="ywtb") == {"claimed": 1, "delivered": 0, "retry": 0, "dead": 1, "lost": 0}
    (m,) = messages(api)
    assert m.status == "dead" and m.last_error.startswith("[http_400]")
    with api.app.app_context():
        outbox.resend(m.message_id)
    deliver(api)
    assert gateway.stages(case["case_no"]) == ["SQ"]


def test_a_signature_the_gateway_refuses_is_retried_not_dropped(db_url, gateway):
    from tests.services.docking.ywtb_support import docked
    api = docked(db_url, gateway, YWTB_SECRET="a-wrong-secret")
    try:
        submit(api, "xmgl_beian", scenario("xmgl_beian", "予以备案")["start"])
        with api.app.app_context():
            assert outbox.deliver_due(channel="ywtb")["retry"] == 1
        (m,) = messages(api)
        assert m.status == "pending" and "[unauthorized]" in m.last_error
    finally:
        with api.app.app_context():
            db.session.remove()
            db.engine.dispose()
