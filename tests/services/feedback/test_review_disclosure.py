"""Review (H8): what 双公示 publishes, and what may be rated. A refusal at the window before acceptance (不予受理) decides
nothing on the merits and has no 决定书: it is not disclosed (it used to be published as 不予许可);
a 不予许可 after acceptance still is."""
from app.models import Case, Notification
from app.models.feedback import Disclosure
from tests.services.feedback.feedback_support import api, count, decided_case, op, rows, start  # noqa: F401


def test_a_refusal_at_the_window_is_not_published_but_a_decision_is(api):
    app = api.app
    case = start(api)
    out = op(api, "w1", "reject", opinion="申请材料不齐全且逾期未补正，不予受理")
    assert out["case_status"] == "rejected"
    [row] = rows(app, Case, Case.id == case["id"])
    assert row.accepted_at is None
    assert count(app, Disclosure) == 0
    assert app.test_client().get("/disclosure").status_code == 200
    sms = [n.text for n in rows(app, Notification, Notification.case_id == case["id"], Notification.channel == "sms",
                                Notification.template == "decided")]
    assert all("不予受理" in t for t in sms)
    decided = decided_case(api, decision="reject")
    [d] = rows(app, Disclosure)
    assert d.case_id == decided["id"] and d.result == "rejected" and d.content.startswith("不予许可")


def test_a_case_archived_after_withdrawal_was_never_decided_and_cannot_be_rated(api):
    """closed (归档) follows a decision or a withdrawal: only the first is rated (好差评 of a decided case)."""
    from app.extensions import db
    from app.models.feedback import Evaluation
    from app.services.cases.steps import set_case_status
    from tests.services.feedback.feedback_support import browser, post
    app = api.app
    case = start(api)
    assert api.post("alice", f"/api/cases/{case['id']}/withdraw", json={"reason": "不再需要"}).status_code == 200
    with app.app_context():
        set_case_status(db.session.get(Case, case["id"]), "closed", "system", reason="归档")
        db.session.commit()
    alice = browser(app, "alice")
    assert alice.get(f"/portal/cases/{case['id']}/evaluate").status_code == 409
    r = post(alice, f"/portal/cases/{case['id']}/evaluate", {"level": "5", "comment": "差", "efficiency": "5",
                                                          "guide_accuracy": "5", "convenience": "5", "usability": "5"})
    assert r.status_code == 409 and count(app, Evaluation) == 0
