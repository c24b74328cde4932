"""好差评 both ways with the 一张网: a rating made here is pushed after its case's stages (on the national
scale, 5 非常满意); a rating made there arrives once, is linked to the case, and a 差评 opens a
rectification exactly as one made here does."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Case, User
from app.models.docking_ywtb import YwtbRating
from app.models.feedback import Evaluation, Rectification
from app.services.feedback import evaluations
from app.services.identity.actors import actor_from_user
from tests.services.docking.ywtb_support import api, counts, deliver, drive, gateway, messages, scenario, submit  # noqa: F401

PATH = "/api/ywtb/ratings"
INDICATORS = {"efficiency": 1, "guide_accuracy": 2, "convenience": 1, "usability": 2}


def decided(api) -> dict:
    return drive(api, "xmgl_beian", scenario("xmgl_beian", "予以备案（含一次补正"))


def rate_here(api, case: dict, level: int, comment: str = "办理很快") -> int:
    with api.app.app_context():
        user = db.session.execute(select(User).where(User.username == "applicant_1")).scalar_one()
        ev = evaluations.evaluate(actor_from_user(user), case["id"], level=level, indicators=INDICATORS,
                                  comment=comment, channel="2")
        return ev.id


def rate_there(api, gateway, **body):
    payload = {"rating_id": "HCP-0001", "level": 5, "comment": "", "channel": "2", "named": True, **body}
    raw, headers = gateway.signed(PATH, payload)
    return api.client.post(PATH, data=raw, headers=headers)


def test_a_rating_made_here_is_pushed_after_the_stages_of_its_case(api, gateway):
    case = decided(api)
    ev_id = rate_here(api, case, level=2)
    (m,) = messages(api, "rating")
    assert m.key == f"ywtb:rating:{ev_id}" and m.order_key == case["case_no"]
    assert m.id > max(x.id for x in messages(api, "case_stage"))
    gateway.fail_next(500, path="/exchange/cases")  # the case's first stage fails once: the rating waits
    deliver(api)
    rating = gateway.ratings[str(ev_id)]
    assert rating["case_no"] == case["case_no"] and rating["level"] == 4 and rating["level_label"] == "满意"
    assert rating["indicators"] == {"efficiency": 5, "guide_accuracy": 4, "convenience": 5, "usability": 4}
    assert rating["bad"] is False and rating["channel"] == "2" and rating["matter_code"] == "11320000014000378400016"
    ratings_at = next(i for i, r in enumerate(gateway.requests) if r["path"] == "/exchange/ratings")
    assert all(r["path"] == "/exchange/cases" for r in gateway.requests[:ratings_at])


def test_a_bad_rating_made_here_is_pushed_as_bad_and_rectified_here(api, gateway):
    case = decided(api)
    ev_id = rate_here(api, case, level=5, comment="材料被反复要求补充")
    deliver(api)
    assert gateway.ratings[str(ev_id)]["level"] == 1 and gateway.ratings[str(ev_id)]["bad"] is True
    assert counts(api)["rectifications"] == 1


def test_a_rating_made_there_is_linked_to_its_case_once_and_not_pushed_back(api, gateway):
    case = decided(api)
    r = rate_there(api, gateway, case_no=case["case_no"], level=5, indicators={"efficiency": 5}, comment="很好")
    assert r.status_code == 200, r.json
    assert r.json["case_no"] == case["case_no"] and r.json["level"] == 1 and r.json["rectification_id"] is None
    again = rate_there(api, gateway, case_no=case["case_no"], level=5, indicators={"efficiency": 5}, comment="很好")
    assert again.status_code == 200 and again.json == {**r.json, "duplicate": True}
    with api.app.app_context():
        (ev,) = db.session.execute(select(Evaluation)).scalars().all()
        assert (ev.level, ev.channel, ev.indicators, ev.comment) == (1, "2", {"efficiency": 1}, "很好")
        assert db.session.execute(select(YwtbRating.rating_id, YwtbRating.level_sent)).one() == ("HCP-0001", 5)
        assert evaluations.evaluated(case["id"])
    assert messages(api, "rating") == []
    assert counts(api)["rectifications"] == 0


def test_a_bad_rating_made_there_opens_a_rectification_as_one_made_here(api, gateway):
    case = decided(api)
    r = rate_there(api, gateway, case_no=case["case_no"], level=1, comment="窗口态度差")
    assert r.status_code == 200, r.json
    with api.app.app_context():
        item = db.session.get(Rectification, r.json["rectification_id"])
        ev = db.session.get(Evaluation, r.json["evaluation_id"])
        assert ev.level == 5 and item.status == "verifying" and item.case_id == case["id"]
        assert item.department == evaluations.handling_department(db.session.get(Case, case["id"]))
        assert item.due_date is not None


def refused(api, gateway, status, code, **body):
    before = counts(api)
    r = rate_there(api, gateway, **body)
    assert r.status_code == status and r.json["error"] == code, r.json
    assert counts(api) == dict(before, refusals=before["refusals"] + 1)


def test_ratings_that_cannot_be_linked_are_refused_and_nothing_is_written(api, gateway):
    refused(api, gateway, 404, "unknown_case", case_no="320000-20260302-999999")
    open_case = submit(api, "xmgl_beian", scenario("xmgl_beian", "予以备案")["start"])
    refused(api, gateway, 409, "not_decided", case_no=open_case["case_no"])
    case = decided(api)
    refused(api, gateway, 422, "bad_payload", case_no=case["case_no"], level=6)
    refused(api, gateway, 422, "bad_payload", case_no=case["case_no"], level=4, indicators={"speed": 5})
    refused(api, gateway, 422, "bad_payload", case_no=case["case_no"], rating_id="bad id!")
    for channel in (["2"], {"2": 1}, 2):  # not a channel code (a list or an object once answered 500)
        refused(api, gateway, 422, "bad_payload", case_no=case["case_no"], channel=channel)
    rate_here(api, case, level=1)
    refused(api, gateway, 409, "already_evaluated", case_no=case["case_no"])
    raw, _ = gateway.signed(PATH, {"rating_id": "x"})
    assert api.client.post(PATH, data=raw, headers={"Content-Type": "application/json"}).status_code == 401
