"""Organisation service: departments, staff users, role assignments and the groups they give, TOTP."""
import pytest
from sqlalchemy import func, select

from app.domain import totp
from app.domain.errors import Conflict, NotAuthorized, NotFound, ValidationError
from app.extensions import db
from app.models import Department, User, UserRole
from app.services.identity import org
from app.services.identity.actors import SYSTEM, actor_from_user
from app.services.common.clock import clock_now

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def reference(app):
    """Regions and roles (seeded by migration 0004; the PostgreSQL fixture empties every table)."""
    with app.app_context():
        org.seed_reference_data()
        db.session.commit()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def _user(username="u1", region="320000"):
    return org.create_user(SYSTEM, username, "用户 " + username, region, PASSWORD, phone="13800000000")


def _count(model):
    return db.session.execute(select(func.count()).select_from(model)).scalar()


def test_only_admins_manage(ctx):
    u = _user("plain")
    someone = actor_from_user(u)
    for call in (lambda: org.create_department(someone, "abc", "x"),
                 lambda: org.create_user(someone, "x1", "x", "320000", PASSWORD),
                 lambda: org.list_users(someone),
                 lambda: org.unlock(someone, u.id),
                 lambda: org.assign_role(someone, u.id, "leader"),
                 lambda: org.reset_password(someone, u.id, "another password")):
        with pytest.raises(NotAuthorized):
            call()


def test_departments_validate_and_are_unique_per_region(ctx):
    d = org.create_department(SYSTEM, "planning", "规划处", "320000", "division")
    assert d.id and d.active
    with pytest.raises(ValidationError) as e:
        org.create_department(SYSTEM, "planning", "又一个", "320000", "division")
    assert "code" in e.value.details
    org.create_department(SYSTEM, "planning", "南京规划处", "320100", "division")  # another region is fine
    with pytest.raises(ValidationError) as e:
        org.create_department(SYSTEM, "Bad-Code", "", "999999", "weird")
    assert set(e.value.details) == {"code", "name", "region_code", "kind"}
    assert _count(Department) == 2
    org.update_department(SYSTEM, d.id, name="发展规划处", kind="division", active=False)
    assert db.session.get(Department, d.id).name == "发展规划处" and not d.active
    with pytest.raises(ValidationError):
        org.update_department(SYSTEM, d.id, name="", kind="division")
    assert db.session.get(Department, d.id).name == "发展规划处"
    with pytest.raises(NotFound):
        org.update_department(SYSTEM, 9999, name="x")


def test_seed_departments_is_idempotent_and_follows_groups(ctx):
    created = org.seed_departments()
    db.session.commit()
    kinds = {d.code: d.kind for d in org.list_departments("320000")}
    assert kinds["investment"] == "division" and kinds["power"] == "division"
    assert kinds["cs_ecology"] == "external" and kinds["window"] == "hall" and kinds["leader"] == "leadership"
    assert "investment_chief" not in kinds and "admin" not in kinds
    assert len(created) == len(kinds)
    assert org.seed_departments() == []
    assert org.list_departments("320100") == []


def test_create_user_validates_everything_and_changes_nothing(ctx):
    with pytest.raises(ValidationError) as e:
        org.create_user(SYSTEM, "9bad name", "", "123", "short", phone="call me")
    assert set(e.value.details) == {"username", "display_name", "region_code", "password", "phone"}
    assert _count(User) == 0
    u = _user("li")
    assert u.kind == "staff" and u.groups == [] and u.password_hash and u.region_code == "320000"
    with pytest.raises(ValidationError) as e:
        _user("li")
    assert "username" in e.value.details


def test_roles_give_groups_and_respect_regions(ctx):
    org.seed_departments()
    org.create_department(SYSTEM, "investment", "南京投资处", "320100")
    u = _user("h1")
    inv = org.find_department("investment", "320000")
    org.assign_role(SYSTEM, u.id, "handler", inv.id)
    org.assign_role(SYSTEM, "h1", "chief", "energy_saving")
    org.assign_role(SYSTEM, u, "liaison", "cs_water")
    org.assign_role(SYSTEM, u, "window_clerk")
    assert db.session.get(User, u.id).groups == ["cs_water_liaison", "energy_saving_chief", "investment", "window"]
    with pytest.raises(Conflict):
        org.assign_role(SYSTEM, u, "window_clerk")
    with pytest.raises(ValidationError) as e:
        org.assign_role(SYSTEM, u, "handler")
    assert "department" in e.value.details
    with pytest.raises(ValidationError):
        org.assign_role(SYSTEM, u, "leader", inv.id)
    with pytest.raises(ValidationError):
        org.assign_role(SYSTEM, u, "no_such_role")
    nj = org.find_department("investment", "320100")
    with pytest.raises(ValidationError) as e:
        org.assign_role(SYSTEM, u, "handler", nj.id)  # a Nanjing department for a province user
    assert "region" in e.value.message
    with pytest.raises(ValidationError):  # moving region while holding province departments
        org.update_user(SYSTEM, u, display_name="x", phone=None, region_code="320100", active=True)
    assert _count(UserRole) == 4
    org.remove_role(SYSTEM, u, "chief", "energy_saving")
    org.remove_role(SYSTEM, u, "window_clerk")
    assert db.session.get(User, u.id).groups == ["cs_water_liaison", "investment"]
    with pytest.raises(NotFound):
        org.remove_role(SYSTEM, u, "chief", "energy_saving")
    for ur, _, _ in org.user_roles(u):
        org.remove_assignment(SYSTEM, u, ur.id)
    assert db.session.get(User, u.id).groups == []
    org.update_user(SYSTEM, u, display_name="南京 李", phone="025-1234567", region_code="320100", active=True)
    org.assign_role(SYSTEM, u, "handler", "investment")
    assert [d.region_code for _, _, d in org.user_roles(u)] == ["320100"]


def test_list_users_filters(ctx):
    org.seed_departments()
    a = _user("alpha")
    _user("beta", region="320100")
    org.assign_role(SYSTEM, a, "leader")
    assert [u.username for u in org.list_users(SYSTEM)] == ["alpha", "beta"]
    assert [u.username for u in org.list_users(SYSTEM, q="bet")] == ["beta"]
    assert [u.username for u in org.list_users(SYSTEM, region_code="320100")] == ["beta"]
    assert [u.username for u in org.list_users(SYSTEM, role_code="leader")] == ["alpha"]
    assert org.list_users(SYSTEM, locked=True) == []
    a.locked_until = clock_now().replace(year=2099)
    db.session.commit()
    assert [u.username for u in org.list_users(SYSTEM, locked=True)] == ["alpha"]
    assert [u.username for u in org.list_users(SYSTEM, locked=False)] == ["beta"]


def test_unlock_deactivate_reset_password(ctx):
    org.seed_departments()
    admin = _user("boss")
    org.assign_role(SYSTEM, admin, "admin")
    me = actor_from_user(admin)
    u = _user("locked1")
    u.failed_logins, u.locked_until = 3, clock_now().replace(year=2099)
    db.session.commit()
    assert org.is_locked(u)
    org.unlock(me, u.id)
    assert not org.is_locked(u) and u.failed_logins == 0
    org.set_active(me, u.id, False)
    assert not u.active
    with pytest.raises(ValidationError):
        org.set_active(me, admin.id, False)
    with pytest.raises(ValidationError):
        org.update_user(me, admin.id, display_name="boss", phone=None, region_code="320000", active=False)
    with pytest.raises(ValidationError):
        org.remove_role(me, admin.id, "admin")
    old = u.password_hash
    with pytest.raises(ValidationError):
        org.reset_password(me, u.id, "short")
    assert db.session.get(User, u.id).password_hash == old
    org.reset_password(me, u.id, "a brand new password")
    assert db.session.get(User, u.id).password_hash != old


def test_totp_enrollment(ctx):
    u = _user("t1")
    me = actor_from_user(u)
    other = actor_from_user(_user("t2"))
    with pytest.raises(NotAuthorized):
        org.begin_enrollment(other, u.id)
    secret, uri = org.begin_enrollment(me)
    assert uri.startswith("otpauth://totp/") and secret in uri
    assert not u.totp_enabled
    now = clock_now().timestamp()
    with pytest.raises(ValidationError):
        org.confirm_enrollment(me, "000000" if totp.code_at(secret, now) != "000000" else "111111")
    org.confirm_enrollment(me, totp.code_at(secret, now))
    assert u.totp_enabled and u.totp_last_step == int(now // 30)
    with pytest.raises(Conflict):
        org.begin_enrollment(me)
    with pytest.raises(NotAuthorized):
        org.disable_totp(other, u.id)
    org.disable_totp(SYSTEM, u.id)
    assert not u.totp_enabled and u.totp_secret is None


def test_role_for_group_inverts_group_for(ctx):
    from app.domain.org import group_for
    for g in ("window", "investment", "investment_chief", "cs_ecology", "cs_ecology_liaison", "leader", "admin",
              "inspector", "designer"):
        role, dept = org.role_for_group(g)
        assert group_for(role, dept) == g


# ---------------------------------------------------------------- command line

def test_org_cli(app):
    run = app.test_cli_runner().invoke
    with app.app_context():
        org.seed_departments()
        db.session.commit()
    r = run(args=["org", "department-add", "planning", "规划处", "--region", "320100", "--kind", "division"])
    assert r.exit_code == 0, r.output
    r = run(args=["org", "department-add", "planning", "又一个", "--region", "320100"])
    assert r.exit_code == 1 and "code" in r.output
    r = run(args=["org", "departments", "--region", "320100"])
    assert "planning" in r.output and "investment" not in r.output
    r = run(args=["org", "user-add", "wang", "--name", "王", "--region", "320100", "--password", PASSWORD])
    assert r.exit_code == 0, r.output
    r = run(args=["org", "user-add", "zhao", "--name", "赵", "--password", "short"])
    assert r.exit_code == 1 and "password" in r.output
    r = run(args=["org", "assign", "wang", "chief", "--dept", "planning"])
    assert r.exit_code == 0 and "planning_chief" in r.output
    r = run(args=["org", "assign", "wang", "handler", "--dept", "investment"])  # none in Nanjing
    assert r.exit_code == 1
    r = run(args=["org", "assign", "wang", "leader"])
    assert r.exit_code == 0
    r = run(args=["org", "users", "--region", "320100"])
    assert "wang" in r.output and "leader,planning_chief" in r.output
    r = run(args=["org", "unassign", "wang", "chief", "--dept", "planning"])
    assert r.exit_code == 0
    with app.app_context():
        u = org.get_user("wang")
        assert u.groups == ["leader"]
        u.locked_until, u.failed_logins = clock_now().replace(year=2099), 2
        db.session.commit()
    assert run(args=["org", "unlock", "wang"]).exit_code == 0
    r = run(args=["org", "passwd", "wang"], input="another password\nanother password\n")
    assert r.exit_code == 0, r.output
    assert run(args=["org", "passwd", "nobody", "--password", PASSWORD]).exit_code == 1
    with app.app_context():
        u = org.get_user("wang")
        assert u.locked_until is None
        from app.services.identity.auth import authenticate
        assert authenticate("wang", "another password").username == "wang"


def test_demo_seed_gives_roles_that_keep_the_groups(app):
    from app.cli import DEMO_USERS
    r = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert r.exit_code == 0, r.output
    r = app.test_cli_runner().invoke(args=["demo", "seed"])  # twice is fine
    assert r.exit_code == 0, r.output
    with app.app_context():
        for username, _, kind, groups, _ in DEMO_USERS:
            u = org.get_user(username)
            assert u.groups == sorted(groups), username
            assert (len(org.user_roles(u)) == len(groups)) if kind == "staff" else not org.user_roles(u)
        roles = {(ur.role_code, d.code if d else None) for ur, _, d in org.user_roles(org.get_user("admin"))}
        assert roles == {("admin", None), ("designer", None), ("inspector", None)}
        (ur, _, dept), = org.user_roles(org.get_user("invest_chief"))
        assert ur.role_code == "chief" and dept.code == "investment" and dept.region_code == "320000"
        (ur, _, _), = org.user_roles(org.get_user("window1"))
        assert ur.role_code == "window_clerk"
        nj = org.get_user("nj_invest1")
        assert nj.region_code == "320100" and nj.groups == ["investment"]
        (ur, _, dept), = org.user_roles(nj)
        assert ur.role_code == "handler" and dept.region_code == "320100"
        from app.services.identity.auth import authenticate
        assert authenticate("nj_invest1", "demo-nj_invest1-pass").region_code == "320100"
