"""Public disclosure (双公示): a record on every decision, published at once with a document number
or completed by staff; publicly searchable (never an individual's ID number); retracted with a
recorded reason and corrected."""
import json
from datetime import date

from app.models.feedback import Disclosure, FeedbackEvent
from tests.web.api.helpers import Api
from tests.conftest import ROOT, add_user
from app.extensions import db
from app.models import Case
from tests.services.feedback.feedback_support import CREDIT, api, browser, decided_case, op, post, rows, to_decision

ID_NUMBER = "32010219900101123X"


def pub(app, **args):
    return app.test_client().get("/disclosure", query_string=args)


def test_a_decision_without_document_number_waits_for_staff_then_is_public(api):
    case = decided_case(api)
    (d,) = rows(api.app, Disclosure)
    assert (d.status, d.document_no, d.result, d.project_name) == ("pending", None, "approved", "示范项目")
    assert (d.applicant_code, d.agency, d.department) == (CREDIT, "江苏省发展和改革委员会", "investment")
    assert d.decision_date == date(2026, 3, 2) and d.due_date == date(2026, 3, 11)  # 7 working days
    assert d.category == "测试事项（行政许可）" and d.content == "准予许可（批复）"
    assert "示范项目" not in pub(api.app).get_data(as_text=True)  # pending: not public
    assert api.app.test_client().get(f"/disclosure/{d.id}").status_code == 404
    lst = browser(api.app, "w1").get("/feedback/disclosures").get_data(as_text=True)
    assert f'data-id="{d.id}"' in lst and "2026-03-11" in lst
    url = f"/feedback/disclosures/{d.id}/publish"
    assert post(browser(api.app, "chief"), url, {"document_no": " "}).status_code == 422
    assert post(browser(api.app, "energy"), url, {"document_no": "苏发改〔2026〕1号"}).status_code == 403
    assert post(browser(api.app, "w_nj"), url, {"document_no": "苏发改〔2026〕1号"}).status_code == 403
    assert post(browser(api.app, "chief"), url, {"document_no": "苏发改〔2026〕1号"}, csrf=False).status_code == 400
    assert rows(api.app, Disclosure)[0].status == "pending"
    assert post(browser(api.app, "chief"), url, {"document_no": "苏发改〔2026〕1号"}).status_code == 302
    assert post(browser(api.app, "chief"), url, {"document_no": "苏发改〔2026〕2号"}).status_code == 409
    d = rows(api.app, Disclosure)[0]
    assert (d.status, d.document_no, d.published_by) == ("published", "苏发改〔2026〕1号", "chief")
    for args in ({"q": "示范"}, {"code": CREDIT}, {"document_no": "〔2026〕1"}, {"from": "2026-03-01", "to": "2026-03-02"}):
        page = pub(api.app, **args).get_data(as_text=True)
        assert f'data-id="{d.id}"' in page, args
    for args in ({"q": "别的项目"}, {"from": "2026-03-03"}, {"document_no": "%"}):
        assert f'data-id="{d.id}"' not in pub(api.app, **args).get_data(as_text=True), args
    assert pub(api.app, **{"from": "2026-13-01"}).status_code == 422
    assert pub(api.app, page="abc").status_code == 200
    detail = api.app.test_client().get(f"/disclosure/{d.id}").get_data(as_text=True)
    assert "苏发改〔2026〕1号" in detail and CREDIT in detail and case["case_no"] not in detail


def test_an_individual_is_masked_and_never_shows_a_code(api):
    with api.app.app_context():
        from app.models import User
        db.session.execute(User.__table__.update().where(User.username == "bob").values(display_name="张小明"))
        db.session.commit()
    case = to_decision(api, "bob")
    with api.app.app_context():  # an individual's ID number on the case (as an account module may store it)
        db.session.execute(Case.__table__.update().where(Case.id == case["id"]).values(
            applicant_code=ID_NUMBER, applicant_name="张小明"))
        db.session.commit()
    op(api, "chief", "reject", opinion="项目不符合产业政策")
    (d,) = rows(api.app, Disclosure)
    assert (d.applicant_name, d.applicant_code, d.result) == ("张**", None, "rejected")
    assert d.content.startswith("不予许可") and "项目不符合产业政策" in d.content
    post(browser(api.app, "w1"), f"/feedback/disclosures/{d.id}/publish", {"document_no": "苏发改〔2026〕9号"})
    page = pub(api.app).get_data(as_text=True)
    assert "张**" in page and "张小明" not in page and ID_NUMBER not in page


def test_retraction_is_recorded_shown_and_corrected(api):
    decided_case(api)
    (d,) = rows(api.app, Disclosure)
    url = f"/feedback/disclosures/{d.id}/retract"
    assert post(browser(api.app, "w1"), url, {"reason": "x"}).status_code == 409  # not published yet
    post(browser(api.app, "w1"), f"/feedback/disclosures/{d.id}/publish", {"document_no": "苏发改〔2026〕3号"})
    assert post(browser(api.app, "w1"), url, {"reason": "  "}).status_code == 422
    assert post(browser(api.app, "energy"), url, {"reason": "文号错误"}).status_code == 403
    r = post(browser(api.app, "w1"), url, {"reason": "文号录入错误", "correct": "1"})
    assert r.status_code == 302
    old, new = rows(api.app, Disclosure)
    assert (old.status, old.retract_reason, old.retracted_by) == ("retracted", "文号录入错误", "w1")
    assert (new.status, new.replaces_id, new.document_no) == ("pending", old.id, "苏发改〔2026〕3号")
    assert r.headers["Location"].endswith(f"/feedback/disclosures/{new.id}")
    page = pub(api.app).get_data(as_text=True)
    assert "已撤销" in page and "文号录入错误" in page and "2026-03-02" in page
    post(browser(api.app, "w1"), f"/feedback/disclosures/{new.id}/publish", {"document_no": "苏发改〔2026〕4号"})
    detail = api.app.test_client().get(f"/disclosure/{old.id}").get_data(as_text=True)
    assert "已撤销" in detail and "苏发改〔2026〕4号" in detail  # links to its correction
    assert f'data-id="{new.id}"' in pub(api.app, document_no="4号").get_data(as_text=True)
    trail = [(e.item_id, e.action) for e in rows(api.app, FeedbackEvent, FeedbackEvent.item_kind == "disclosure")]
    assert trail == [(old.id, "create"), (old.id, "publish"), (old.id, "retract"), (new.id, "correct"),
                     (new.id, "publish")]


def test_a_shipped_decision_with_its_document_number_is_published_at_once(app):
    from tests.conftest import deploy_all
    deploy_all(app)
    api = Api(app)
    api.headers["ent"] = add_user(app, "ent", "applicant", org_code="91320111MA1Y7K3N27")
    scenario = json.loads((ROOT / "processes/xmgl_hezhun.scenarios.json").read_text(encoding="utf-8"))["scenarios"][0]
    r = api.post("ent", "/api/cases", json={"process_id": "xmgl_hezhun", "data": scenario["start"]})
    assert r.status_code == 201, r.json
    case = r.json
    for step in scenario["steps"]:
        task = [t for t in case["current_tasks"] if t["element_id"] == step["task"]][0]
        who = task["assignee"] or f"u_{task['candidate_groups'][0]}"
        if who not in api.headers:
            api.headers[who] = add_user(app, who, "staff", [task["candidate_groups"][0]])
        r = api.post(who, f"/api/tasks/{task['id']}/complete", json={"data": step["data"]})
        assert r.status_code == 200, r.json
        case = r.json
    assert case["status"] == "approved"
    (d,) = rows(app, Disclosure)
    assert (d.status, d.document_no, d.department) == ("published", "苏发改许发〔2025〕1021号", "investment")
    assert d.category == "企业投资项目核准（行政许可）" or d.category.endswith("（行政许可）")
    assert f'data-id="{d.id}"' in app.test_client().get("/disclosure?document_no=1021").get_data(as_text=True)
