"""Issue 19: the staff trail (task and case pages) folds consecutive 暂存 of one person on one step into
one row "暂存（N 次）" (first – last time, each time in a fold-out), as the applicant side does; the
trail's rows themselves stay (presentation only)."""
import re
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from sqlalchemy import func, select

from app.extensions import db
from app.models import CaseEvent, User
from app.web.display import FoldedDrafts, fold_drafts
from tests.conftest import add_user
from tests.services.portal.helpers import signed_in
from tests.web.portal.test_applicant_pages_cases import _submitted
from tests.services.portal.test_apply import app  # noqa: F401  (fixture)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def ev(action, actor, task=None, minute=0):
    return SimpleNamespace(action=action, actor=actor, task_id=task, at=T0 + timedelta(minutes=minute),
                           step_name="窗口受理" if task else None, opinion=None, data_change=None, to_status=None)


def test_runs_of_one_persons_saves_on_one_step_fold():
    trail = [ev("create", "a"), ev("draft", "a", minute=1), ev("draft", "a", minute=2), ev("draft", "a", minute=3),
             ev("submit", "a", minute=4), ev("draft", "w", "t1", 5), ev("draft", "w", "t1", 6),
             ev("draft", "x", "t1", 7), ev("draft", "w", "t2", 8), ev("complete", "w", "t1", 9),
             ev("draft", "w", "t1", 10)]
    rows = fold_drafts(trail)
    assert [r.action for r in rows] == ["create", "draft", "submit", "draft", "draft", "draft", "complete", "draft"]
    first = rows[1]
    assert isinstance(first, FoldedDrafts) and first.count == 3 and first.actor == "a"
    assert first.first_at == T0 + timedelta(minutes=1) and first.at == T0 + timedelta(minutes=3)
    assert first.times == [T0 + timedelta(minutes=m) for m in (1, 2, 3)]
    assert isinstance(rows[3], FoldedDrafts) and rows[3].count == 2 and rows[3].step_name == "窗口受理"
    assert rows[4] is trail[7] and rows[5] is trail[8] and rows[7] is trail[10]  # a single save stays itself
    assert fold_drafts([]) == [] and fold_drafts(None) == []


def test_the_staff_case_page_shows_the_applicants_saves_as_one_row(app):  # noqa: F811
    c = signed_in(app, app.uid)
    case_id = _submitted(app, c, 2)  # the new draft + 2 saves: 3 暂存
    add_user(app, "root", groups=["admin"])
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == "root")).scalar_one()
        kept = db.session.execute(select(func.count(CaseEvent.id)).where(
            CaseEvent.case_id == case_id, CaseEvent.action == "draft")).scalar()
    assert kept == 3  # the trail keeps every save
    staff = signed_in(app, uid)
    page = staff.get(f"/inbox/cases/{case_id}?lang=zh").get_data(as_text=True)
    timeline = page.split('id="timeline"', 1)[1].split("</table>", 1)[0]
    assert timeline.count('data-action="draft"') == 1, timeline
    assert 'data-count="3"' in timeline and "暂存（3 次）" in timeline
    assert re.search(r"2026-03-02 09:00 – 2026-03-02 09:00", timeline)
    assert timeline.count('<span class="muted">2026-03-02 09:00</span>') == 3  # each save's time, folded out
    assert timeline.index("暂存（3 次）") < timeline.index('data-action="submit"')
    # the matter's name in the page language (the header of the case)
    en = staff.get(f"/inbox/cases/{case_id}?lang=en").get_data(as_text=True)
    assert re.search(r"<dd>Filing of enterprise investment projects</dd>", en)
    assert "Saved as a draft (3 times)" in en or "暂存（3 次）" in en  # English once the catalog has the msgid
