"""前置事项 (matter.json ``requires``): a submission is refused unless the same applicant organisation
has a case of the required matter with the required result (approved) for the same 项目代码 — on every
path (the service, the portal's draft submit over HTTP), with the matter's own message at the
project_code field, nothing written. The metadata's shape is checked at deploy; the guide lists the
prerequisites."""
import itertools
import json
import shutil

import pytest
from sqlalchemy import func, select

from app.domain.errors import ValidationError
from app.engine.matter import check_matter
from app.extensions import db
from app.models import Case, CaseEvent, CaseFile, ProcessVersion, User
from app.services.cases.lifecycle import create_case
from app.services.cases.requirements import check_requirements
from app.services.identity.actors import actor_from_user
from tests.conftest import ROOT, deploy_all, make_app
from tests.services.portal.helpers import PDF, PNG, credit_code, make_applicant, signed_in, upload
from tests.services.portal.test_apply import DATA

PID = "xmgl_beian"
PRE = "zftz_jianyishu"  # the 项目建议书 matter: not deployed here (a requirement may name a matter deployed later)
MESSAGE = "请先取得本项目的项目建议书批复：未查询到同一项目代码、同一申请单位已批复的项目建议书审批办件"
REQUIRES = [{"matter": PRE, "status": "approved", "name": "政府投资项目建议书审批", "message": MESSAGE,
             "basis": "《政府投资条例》第九条、第十一条"}]
MINE, OTHER = credit_code(), credit_code("91320100MA1QQQ77")
H = {"X-CSRF-Token": "t", "Accept": "application/json"}
SERIAL = itertools.count(900000)


def meta(**extra) -> dict:
    return {**json.loads((ROOT / "processes" / f"{PID}.matter.json").read_text("utf-8")), **extra}


@pytest.fixture
def app(db_url, tmp_path):
    """The shipped 备案 matter, deployed with a ``requires`` added (a copy in a temporary directory)."""
    procs = tmp_path / "processes"
    procs.mkdir()
    shutil.copy(ROOT / "processes" / f"{PID}.bpmn", procs)
    (procs / f"{PID}.matter.json").write_text(json.dumps(meta(requires=REQUIRES), ensure_ascii=False), "utf-8")
    app = make_app(db_url, PROCESSES_DIR=str(procs))
    results = deploy_all(app)
    assert [r.process_id for r in results] == [PID]
    app.uid = make_applicant(app, "13900000001", code=MINE)
    app.other = make_applicant(app, "13900000002", name="另一家能源有限公司", code=OTHER)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def earlier_case(app, user_id, status, *, code=DATA["project_code"], applicant_code=None, archived=False) -> int:
    """A case of the prerequisite matter straight in the database (its own process is not the subject)."""
    with app.app_context():
        version_id = db.session.execute(select(ProcessVersion.id)).scalars().first()
        case = Case(process_id=PRE, version_id=version_id, applicant_id=user_id, applicant_name="x",
                    applicant_code=applicant_code, project_code=code, status="closed" if archived else status,
                    case_no=f"3200002026030{next(SERIAL):06d}", data={})
        db.session.add(case)
        db.session.flush()
        if archived:
            db.session.add(CaseEvent(case_id=case.id, actor="system", action="status", from_status="accepted",
                                     to_status=status))
        db.session.commit()
        return case.id


def submit(app, user_id, data=None):
    with app.app_context():
        actor = actor_from_user(db.session.get(User, user_id))
        try:
            return create_case(actor, PID, dict(data or DATA)).case_no
        finally:
            db.session.rollback()


def counts(app) -> tuple[int, int]:
    """(cases of the matter, case files)"""
    with app.app_context():
        n = db.session.execute(select(func.count()).select_from(Case).where(Case.process_id == PID)).scalar()
        f = db.session.execute(select(func.count()).select_from(CaseFile)).scalar()
        db.session.rollback()
        return n, f


def test_refused_without_the_approved_prerequisite_and_nothing_is_written(app):
    with pytest.raises(ValidationError) as refused:
        submit(app, app.uid)
    assert refused.value.message == MESSAGE and refused.value.details == {"project_code": [MESSAGE]}
    assert counts(app) == (0, 0)


def test_accepted_with_the_approved_prerequisite_of_the_same_project(app):
    earlier_case(app, app.uid, "approved", code="2603-320111-04-01-000001")  # another project: does not count
    with pytest.raises(ValidationError):
        submit(app, app.uid)
    earlier_case(app, app.uid, "approved")
    assert submit(app, app.uid)
    assert counts(app)[0] == 1


def test_an_archived_approval_counts_too(app):
    earlier_case(app, app.uid, "approved", archived=True)
    assert submit(app, app.uid)


def test_refused_when_the_prerequisite_belongs_to_another_applicant(app):
    earlier_case(app, app.other, "approved")
    with pytest.raises(ValidationError) as refused:
        submit(app, app.uid)
    assert refused.value.details == {"project_code": [MESSAGE]}
    # claiming the other enterprise's code in one's own start form does not borrow its approval
    with pytest.raises(ValidationError):
        submit(app, app.uid, dict(DATA, applicant_code=OTHER))
    assert counts(app) == (0, 0)


def test_the_same_enterprise_under_another_account_counts(app):
    """An earlier case the staff approved for this enterprise's code (e.g. filed by a former account)."""
    third = make_applicant(app, "13900000003", kind="individual", name="王五")
    earlier_case(app, third, "approved", applicant_code=MINE)
    assert submit(app, app.uid)


def test_refused_when_the_prerequisite_is_only_accepted(app):
    earlier_case(app, app.uid, "accepted")
    earlier_case(app, app.uid, "rejected")
    with pytest.raises(ValidationError) as refused:
        submit(app, app.uid)
    assert refused.value.details == {"project_code": [MESSAGE]}
    assert counts(app) == (0, 0)


def test_a_submission_without_project_code_is_refused_with_a_clear_message(app):
    earlier_case(app, app.uid, "approved")
    data = {k: v for k, v in DATA.items() if k != "project_code"}
    with pytest.raises(ValidationError) as refused:  # the shipped start form requires the code itself
        submit(app, app.uid, data)
    assert "project_code" in refused.value.details
    assert counts(app) == (0, 0)
    # a start form that does not ask for it (any other path, another matter): the hook says why
    with app.app_context():
        version_id = db.session.execute(select(ProcessVersion.id).where(ProcessVersion.process_id == PID)).scalar()
        case = Case(process_id=PID, version_id=version_id, applicant_id=app.uid, applicant_name="x", data={})
        with pytest.raises(ValidationError) as refused:
            check_requirements(case, {})
        assert "本事项须填写项目代码" in refused.value.message and "政府投资项目建议书审批" in refused.value.message
        assert refused.value.details["project_code"] == [refused.value.message]
        db.session.rollback()


def test_the_portal_shows_the_refusal_at_the_field_and_accepts_once_the_prerequisite_is_approved(app):
    c = signed_in(app, app.uid)
    r = c.post(f"/portal/apply/{PID}", data={"csrf_token": "t"})
    case_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    for index, (blob, name) in enumerate(((PDF, "a.pdf"), (PNG, "b.png"))):
        r = c.post(f"/portal/drafts/{case_id}/materials/{index}", content_type="multipart/form-data",
                   data={"csrf_token": "t", "file": upload(blob, name)})
        assert r.status_code in (200, 302), r.get_data(as_text=True)
    files = counts(app)[1]
    r = c.post(f"/portal/drafts/{case_id}/submit", json={"data": DATA}, headers=H)
    assert r.status_code == 422, r.json
    assert r.json["errors"]["project_code"] == [MESSAGE]
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert case.status == "draft" and case.case_no is None and case.instance_id is None
    assert counts(app) == (1, files)
    assert c.post(f"/portal/drafts/{case_id}/save", json={"data": DATA}, headers=H).status_code == 200
    r = c.post(f"/portal/drafts/{case_id}/submit", data={"csrf_token": "t"})  # the HTML form path
    assert r.status_code == 422 and MESSAGE in r.get_data(as_text=True)
    earlier_case(app, app.uid, "approved")
    r = c.post(f"/portal/drafts/{case_id}/submit", json={"data": DATA}, headers=H)
    assert r.status_code == 200, r.json
    with app.app_context():
        assert db.session.get(Case, case_id).case_no


def test_the_guide_lists_the_prerequisites(app):
    page = app.test_client().get(f"/portal/matters/{PID}").get_data(as_text=True)
    assert 'id="prerequisites"' in page and "前置事项" in page and "政府投资项目建议书审批" in page


@pytest.mark.parametrize("requires,problem", [
    ([{"matter": "bad id!", "name": "x", "message": "x"}], "requires.0.matter"),
    ([{"matter": PRE, "name": "x"}], "requires.0.message"),
    ([{"matter": PRE, "name": "x", "message": ""}], "requires.0.message"),
    ([{"matter": PRE, "message": "x"}], "requires.0.name"),
    ([{"matter": PRE, "name": "x", "message": "x", "status": "accepted"}], "requires.0.status"),
    ([{"matter": PID, "name": "x", "message": "x"}], "requires.0.matter"),
    ([{"matter": PRE, "name": "x", "message": "x"}, {"matter": PRE, "name": "y", "message": "y"}], "requires.1.matter"),
    ("xmgl_hezhun", "requires"),
])
def test_a_bad_requirement_is_refused_at_deploy(requires, problem):
    clean, problems = check_matter(meta(requires=requires), PID)
    assert clean is None and any(p.startswith(problem) for p in problems), problems


def test_a_good_requirement_is_kept_and_a_matter_without_one_is_unchanged():
    clean, problems = check_matter(meta(requires=REQUIRES), PID)
    assert problems == [] and clean["requires"] == REQUIRES
    clean, problems = check_matter(meta(), PID)
    assert problems == [] and "requires" not in clean  # no new version of every shipped matter on redeploy
