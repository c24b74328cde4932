"""Issue 19 point 6: /dev/outbox (every SMS code, sign-in codes of any phone included) answers only
administrators, or a request from this machine in development — everyone else 404; and the demo
data where each applicant account's 我的办件 holds only its own cases."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, User
from app.models.accounts import ApplicantProfile
from app.services.identity.sms_codes import request_code
from tests.conftest import add_user, make_app
from tests.services.portal.helpers import signed_in

REMOTE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture
def app(db_url):
    app = make_app(db_url)
    with app.app_context():
        request_code("13812345678", "login", "1.1.1.1")
        db.session.commit()
    add_user(app, "root", groups=["admin"])
    add_user(app, "w1", groups=["window"])
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _uid(app, username):
    with app.app_context():
        return db.session.execute(select(User.id).where(User.username == username)).scalar_one()


@pytest.mark.parametrize("addr", ["127.0.0.1", "::1", "127.0.0.2"])
def test_this_machine_in_development_reads_the_outbox(app, addr):
    page = app.test_client().get("/dev/outbox", environ_base={"REMOTE_ADDR": addr})
    assert page.status_code == 200 and "+8613812345678" in page.get_data(as_text=True)


@pytest.mark.parametrize("user", [None, "w1", "applicant"])
def test_anyone_else_from_another_machine_gets_404(app, user):
    if user == "applicant":
        from tests.services.portal.helpers import make_applicant
        uid = make_applicant(app, "13912345678")
    else:
        uid = _uid(app, user) if user else None
    client = signed_in(app, uid) if uid else app.test_client()
    r = client.get("/dev/outbox", environ_base=REMOTE)
    assert r.status_code == 404 and "+8613812345678" not in r.get_data(as_text=True)


def test_a_proxy_on_this_machine_does_not_make_everyone_local(app):
    r = app.test_client().get("/dev/outbox", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 404


def test_an_administrator_reads_it_from_anywhere(app):
    r = signed_in(app, _uid(app, "root")).get("/dev/outbox", environ_base=REMOTE)
    assert r.status_code == 200 and "+8613812345678" in r.get_data(as_text=True)


def test_outside_development_this_machine_is_nobody_special(db_url):
    app = make_app(db_url, TESTING=False, APP_ENV="production", SECRET_KEY="x" * 64)
    add_user(app, "root", groups=["admin"])
    assert app.test_client().get("/dev/outbox").status_code == 404
    assert signed_in(app, _uid(app, "root")).get("/dev/outbox").status_code == 200


# -- demo data ---------------------------------------------------------------------------------------
def test_each_demo_account_sees_only_its_own_cases(db_url):
    app = make_app(db_url)
    r = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert r.exit_code == 0, (r.output, "".join(__import__("traceback").format_exception(*r.exc_info)[-6:]))
    with app.app_context():
        owners = db.session.execute(select(User.id, User.username, User.display_name, User.org_code)
                                    .where(User.kind == "applicant")).all()
        total = db.session.execute(select(func.count()).select_from(Case)).scalar()
        assert total >= 20 and len(owners) > 10
        for uid, username, name, code in owners:
            for c in db.session.execute(select(Case).where(Case.applicant_id == uid)).scalars():
                # a case filed by an account is in that organisation's name and code
                assert (c.applicant_name, c.applicant_code) == (name, code), (username, c.process_id)
        demo = next(o for o in owners if o.username == "demo_applicant")
        mine = db.session.execute(select(Case).where(Case.applicant_id == demo.id)).scalars().all()
        assert [c.process_id for c in mine] == ["xmgl_beian"]
        assert mine[0].data["contact_phone"] == "13800138000"
        # the other organisations sign in on the portal with their own mobile
        assert db.session.execute(select(func.count()).select_from(ApplicantProfile)).scalar() == len(owners)
    # 我的办件 of the demo enterprise lists its own case only
    client = signed_in(app, demo.id)
    rows = client.get("/portal/cases", headers={"Accept": "application/json"}).json["cases"]
    assert [row["matter"] for row in rows] == ["企业投资项目备案"]
    page = client.get("/portal/cases").get_data(as_text=True)
    assert "江苏华宁新材料" not in page and "南京市江北新区公共工程建设中心" not in page
    # seeding again changes nothing
    r = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert r.exit_code == 0, r.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case)).scalar() == total
