"""Issue 19, applicant pages: a draft on 我的办件 says 草稿 once (it said "暂存 暂存") (its matter is its title, the link
goes to the draft); the applicant's timeline shows the saves of the draft as one row "暂存（N 次）"
at the last save's time, before 提交申请, while the staff trail keeps one row per save."""
import re

from tests.services.portal.helpers import PDF, PNG, signed_in
from tests.services.portal.test_apply import DATA, H, app, attach, new_draft  # noqa: F401  (fixture)
from tests.conftest import add_user


def _rows(page: str, list_id: str) -> str:
    return page.split(f'id="{list_id}"', 1)[1].split("</ul>", 1)[0]


def _submitted(app, c, saves: int) -> int:
    case_id = new_draft(app, c)
    for i in range(saves):
        r = c.post(f"/portal/drafts/{case_id}/save", json={"data": {"project_name": f"第{i}稿"}}, headers=H)
        assert r.status_code == 200, r.json
    attach(c, case_id, 0, PDF, "a.pdf")
    attach(c, case_id, 1, PNG, "b.png")
    r = c.post(f"/portal/drafts/{case_id}/submit", json={"data": DATA}, headers=H)
    assert r.status_code == 200, r.json
    return case_id


def test_a_draft_on_my_cases_says_draft_once_and_opens_the_draft(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    c.post(f"/portal/drafts/{case_id}/save", json={"data": {"project_name": "示范光伏项目"}}, headers=H)
    rows = _rows(c.get("/portal/cases").get_data(as_text=True), "my-cases")
    text = re.sub(r"<[^>]+>", " ", rows)
    assert text.count("草稿") == 1 and "暂存" not in text, text
    assert "企业投资项目备案" in text and "示范光伏项目" in text and "继续填写" in text
    assert f'href="/portal/drafts/{case_id}"' in rows and f'href="/portal/cases/{case_id}"' not in rows
    # in English the label is said once too
    en = re.sub(r"<[^>]+>", " ", _rows(c.get("/portal/cases?lang=en").get_data(as_text=True), "my-cases"))
    assert en.count("Draft") == 1 and "Continue" in en, en
    # 进度查询 lists only submitted cases (a draft has no number to follow)
    page = c.get("/progress?lang=zh").get_data(as_text=True)
    assert "暂存" not in page and f"/portal/cases/{case_id}" not in page


def test_a_submitted_case_keeps_its_number_as_the_title(app):
    c = signed_in(app, app.uid)
    case_id = _submitted(app, c, 1)
    rows = _rows(c.get("/portal/cases").get_data(as_text=True), "my-cases")
    assert re.search(rf'href="/portal/cases/{case_id}">320000-\d{{8}}-\d{{6}}</a>', rows), rows
    assert "暂存" not in rows and "继续填写" not in rows
    progress = c.get("/progress").get_data(as_text=True)  # 进度查询 lists it under 我的办件
    assert f'href="/portal/cases/{case_id}">320000-' in progress


def test_seven_saves_are_one_row_on_the_applicants_timeline(app):
    c = signed_in(app, app.uid)
    case_id = _submitted(app, c, 6)  # the new draft is the first of its 7 saves
    page = c.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    timeline = page.split('id="timeline"', 1)[1].split("</ol>", 1)[0]
    actions = re.findall(r'data-action="([a-z_]+)"', timeline)
    assert actions.count("draft") == 1, actions
    assert actions[0] == "draft" and "submit" in actions
    assert "暂存（7 次）" in timeline and "2026-03-02 09:00 · 申请人" in timeline
    assert timeline.index("暂存（7 次）") < timeline.index("提交申请")
    en = c.get(f"/portal/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "Saved as a draft (7 times)" in en
    # the applicant's JSON view says the same, in the documented row shape
    rows = c.get(f"/api/portal/cases/{case_id}?lang=zh").json["timeline"]
    assert rows[0] == {"at": "2026-03-02 09:00", "action": "draft", "label": "暂存（7 次）", "step": None,
                       "detail": None, "by": "申请人"}
    assert sum(r["action"] == "draft" for r in rows) == 1


def test_the_staff_trail_folds_the_saves_into_one_row(app):
    c = signed_in(app, app.uid)
    case_id = _submitted(app, c, 2)
    add_user(app, "root", groups=["admin"])
    from sqlalchemy import select
    from app.extensions import db
    from app.models import User
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == "root")).scalar_one()
    staff = signed_in(app, uid)
    page = staff.get(f"/inbox/cases/{case_id}").get_data(as_text=True)
    # one row for the three saves (app/web/display.fold_drafts), each save's time kept in its fold-out
    assert page.count('data-action="draft"') == 1 and 'data-count="3"' in page, page.count('data-action="draft"')


def test_a_case_never_saved_as_a_draft_has_no_draft_row(app):
    from app.extensions import db
    from app.models import CaseEvent
    from sqlalchemy import delete
    c = signed_in(app, app.uid)
    case_id = _submitted(app, c, 0)
    with app.app_context():
        db.session.execute(delete(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "draft"))
        db.session.commit()
    page = c.get(f"/portal/cases/{case_id}").get_data(as_text=True)
    assert 'data-action="draft"' not in page and "暂存（" not in page
