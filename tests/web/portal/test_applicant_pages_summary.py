"""Issue 19, applicant pages: the validation summary of a refused submission lists every invalid
field in the order the page asks them (the form top to bottom, then the materials), and an unticked
承诺 (a required checkbox) is one of them — it used to be left out and the application went in."""
import re

from sqlalchemy import select

from app.extensions import db
from app.models import Case, ProcessVersion
from app.services.portal import start_checks
from tests.services.portal.helpers import PDF, PNG, signed_in
from tests.services.portal.test_apply import DATA, H, PID, app, attach, case_row, new_draft  # noqa: F401

MUST_TICK = start_checks.MUST_TICK


def _start_form(app):
    from app.services.portal.applications import start_form
    with app.app_context():
        version = db.session.execute(select(ProcessVersion).where(ProcessVersion.process_id == PID)
                                     .order_by(ProcessVersion.id.desc())).scalars().first()
        return start_form(version)


def test_an_unticked_commitment_is_refused_with_the_rest_of_the_list(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    attach(c, case_id, 0, PDF, "a.pdf")
    r = c.post(f"/portal/drafts/{case_id}/submit", headers=H,
               json={"data": dict(DATA, commitment=False, project_code="12-34")})
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"commitment", "project_code", "material.1"}, r.json
    assert r.json["errors"]["commitment"] == [MUST_TICK]
    case = case_row(app, case_id)
    assert case.status == "draft" and case.case_no is None and case.instance_id is None


def test_only_the_unticked_commitment_still_stops_the_submission(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    attach(c, case_id, 0, PDF, "a.pdf")
    attach(c, case_id, 1, PNG, "b.png")
    r = c.post(f"/portal/drafts/{case_id}/submit", json={"data": dict(DATA, commitment=False)}, headers=H)
    assert r.status_code == 422 and r.json["errors"] == {"commitment": [MUST_TICK]}
    assert case_row(app, case_id).status == "draft"
    r = c.post(f"/portal/drafts/{case_id}/submit", json={"data": DATA}, headers=H)  # ticked: it goes in
    assert r.status_code == 200, r.json
    assert case_row(app, case_id).case_no


def test_the_saved_draft_is_checked_the_same_way(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    attach(c, case_id, 0, PDF, "a.pdf")
    attach(c, case_id, 1, PNG, "b.png")
    assert c.post(f"/portal/drafts/{case_id}/save", json={"data": dict(DATA, commitment=False)},
                  headers=H).status_code == 200
    r = c.post(f"/portal/drafts/{case_id}/submit", data={"csrf_token": "t"})  # the HTML path, no data: the saved one
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert re.findall(r'<li data-field="([^"]+)">', page) == ["commitment"]
    assert "本单位承诺：所填信息及所附材料真实、准确、完整、有效" in page and "请勾选确认" in page


def test_the_summary_follows_the_page_order(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    assert c.post(f"/portal/drafts/{case_id}/save", json={"data": {"commitment": False}}, headers=H).status_code == 200
    r = c.post(f"/portal/drafts/{case_id}/submit", data={"csrf_token": "t"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    shown = re.findall(r'<li data-field="([^"]+)">', page)
    order = start_checks.field_order(_start_form(app), [0, 1])
    assert shown == [k for k in order if k in shown], shown  # the form's order, materials last
    assert shown[0] == "project_name" and shown[-3:] == ["commitment", "material.0", "material.1"], shown
    assert len(shown) > 10
    # every item is named by its label, never by its key
    items = re.findall(r'<li data-field="[^"]+">([^<]*)</li>', page)
    assert all("：" in t and not re.match(r"[a-z_]+：", t) for t in items), items
    # the page hands the script the same order (JSON answers come with sorted keys)
    listed = re.search(r'<script type="application/json" id="field-order">(.*?)</script>', page).group(1)
    import json
    listed = json.loads(listed)
    assert listed[:len(order)] == order and all(k.startswith("material.") for k in listed[len(order):])
    # the script sorts by it and shows no key where a label is missing
    assert "sort(function (a, b) { return rank(a) - rank(b); })" in page and "k + '：'" not in page


def test_start_checks_rules():
    form = {"components": [
        {"type": "textfield", "key": "b"},
        {"type": "group", "path": "g", "components": [{"type": "checkbox", "key": "ok", "validate": {"required": True}}]},
        {"type": "group", "components": [{"type": "textfield", "key": "a"}]},
        {"type": "checkbox", "key": "shown_if", "validate": {"required": True}, "conditional": {"hide": "=x"}},
        {"type": "checkbox", "key": "locked", "validate": {"required": True}, "readonly": True},
        {"type": "checkbox", "key": "optional"},
        {"type": "checkbox", "key": "must", "validate": {"required": True}},
    ]}
    assert start_checks.field_order(form, [0]) == ["b", "g.ok", "a", "shown_if", "locked", "optional", "must",
                                                   "material.0"]
    assert start_checks.unticked_required(form, {"g": {"ok": True}, "must": True}) == {}
    assert start_checks.unticked_required(form, {"g": {"ok": False}}) == {"g.ok": [MUST_TICK], "must": [MUST_TICK]}
    assert start_checks.unticked_required(form, {"g": "x", "must": "true"}) == {"g.ok": [MUST_TICK],
                                                                               "must": [MUST_TICK]}
    assert start_checks.unticked_required(form, None) == {} and start_checks.unticked_required(None, {}) == {}
    ordered = start_checks.ordered({"z": [1], "must": [2], "b": [3], "y": [4]}, ["b", "must"])
    assert list(ordered) == ["b", "must", "z", "y"]


def test_other_people_cannot_probe_a_draft_through_the_check(app):
    owner = signed_in(app, app.uid)
    case_id = new_draft(app, owner)
    other = signed_in(app, app.other)
    r = other.post(f"/portal/drafts/{case_id}/submit", json={"data": dict(DATA, commitment=False)}, headers=H)
    assert r.status_code == 404
    with app.app_context():
        assert db.session.get(Case, case_id).status == "draft"
