"""Administration pages for users and departments: admin only, CSRF, validation re-renders."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Department, User
from app.services.identity import org
from app.services.identity.actors import SYSTEM
from app.services.common.clock import clock_now
from tests.conftest import make_app

PASSWORD = "correct horse battery"


@pytest.fixture
def app(db_url):
    app = make_app(db_url)
    with app.app_context():
        org.seed_departments()
        db.session.commit()
        boss = org.create_user(SYSTEM, "boss", "管理员", "320000", PASSWORD)
        org.assign_role(SYSTEM, boss, "admin")
        clerk = org.create_user(SYSTEM, "clerk", "窗口 小王", "320000", PASSWORD, phone="13900000000")
        org.assign_role(SYSTEM, clerk, "window_clerk")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def signed_in(app, username):
    c = app.test_client()
    token = csrf(c.get("/login").get_data(as_text=True))
    assert c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}).status_code == 302
    return c


def user(app, username) -> User:
    with app.app_context():
        u = db.session.execute(select(User).where(User.username == username)).scalar_one()
        db.session.expunge(u)
        return u


def test_non_admins_get_403_and_anonymous_a_redirect(app):
    anon = app.test_client()
    assert anon.get("/admin/users").status_code == 302
    c = signed_in(app, "clerk")
    token = csrf(c.get("/account/security").get_data(as_text=True))
    uid = user(app, "clerk").id
    assert c.get("/admin/users").status_code == 403
    assert c.get("/admin/departments").status_code == 403
    assert c.get(f"/admin/users/{uid}").status_code == 403
    for url in ("/admin/users/new", f"/admin/users/{uid}/roles", f"/admin/users/{uid}/unlock", "/admin/departments"):
        assert c.post(url, data={"csrf_token": token, "role": "admin"}).status_code == 403
    assert user(app, "clerk").groups == ["window"]
    assert "用户管理" not in c.get("/account/security").get_data(as_text=True)


def test_list_search_and_filters(app):
    c = signed_in(app, "boss")
    page = c.get("/admin/users").get_data(as_text=True)
    assert "boss" in page and "clerk" in page and "用户管理" in page
    page = c.get("/admin/users?q=小王").get_data(as_text=True)
    assert "clerk" in page and ">boss<" not in page
    page = c.get("/admin/users?role=admin").get_data(as_text=True)
    assert ">boss<" in page and ">clerk<" not in page
    assert ">clerk<" not in c.get("/admin/users?region=320100").get_data(as_text=True)
    with app.app_context():
        u = db.session.execute(select(User).where(User.username == "clerk")).scalar_one()
        u.locked_until = clock_now() + timedelta(minutes=10)
        db.session.commit()
    page = c.get("/admin/users?locked=1").get_data(as_text=True)
    assert ">clerk<" in page and "已锁定" in page and ">boss<" not in page
    assert "Users" in c.get("/admin/users?lang=en").get_data(as_text=True)


def test_create_user_then_edit_roles_password_unlock(app):
    c = signed_in(app, "boss")
    token = csrf(c.get("/admin/users/new").get_data(as_text=True))
    r = c.post("/admin/users/new", data={"csrf_token": token, "username": "1bad", "display_name": "",
                                         "region_code": "320000", "password": "short"})
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert "username" in body and "password" in body and 'value="1bad"' in body
    assert c.post("/admin/users/new", data={"username": "x2", "display_name": "x", "region_code": "320000",
                                            "password": PASSWORD}).status_code == 400  # no CSRF token
    r = c.post("/admin/users/new", data={"csrf_token": token, "username": "nj1", "display_name": "南京 经办",
                                         "region_code": "320100", "phone": "025-8888888", "password": PASSWORD})
    assert r.status_code == 302
    uid = user(app, "nj1").id
    with app.app_context():
        nj_dept = org.create_department(SYSTEM, "investment", "南京投资处", "320100")
        prov = org.find_department("investment", "320000").id
        nj_id = nj_dept.id
    page = c.get(f"/admin/users/{uid}").get_data(as_text=True)
    assert "南京投资处" in page and "固定资产投资处" not in page  # only the user's region's departments
    r = c.post(f"/admin/users/{uid}/roles", data={"csrf_token": token, "role": "handler", "department": str(prov)})
    assert r.status_code == 422 and "region" in r.get_data(as_text=True)
    r = c.post(f"/admin/users/{uid}/roles", data={"csrf_token": token, "role": "handler"})
    assert r.status_code == 422
    r = c.post(f"/admin/users/{uid}/roles", data={"csrf_token": token, "role": "handler", "department": str(nj_id)})
    assert r.status_code == 302
    r = c.post(f"/admin/users/{uid}/roles", data={"csrf_token": token, "role": "handler", "department": str(nj_id)})
    assert r.status_code == 409
    assert user(app, "nj1").groups == ["investment"]
    with app.app_context():
        (ur, _, _), = org.user_roles(uid)
    assert c.post(f"/admin/users/{uid}/roles/{ur.id}/delete", data={"csrf_token": token}).status_code == 302
    assert user(app, "nj1").groups == []
    assert c.post(f"/admin/users/{uid}/roles/99999/delete", data={"csrf_token": token}).status_code == 404
    # edit
    r = c.post(f"/admin/users/{uid}", data={"csrf_token": token, "display_name": "", "region_code": "320100"})
    assert r.status_code == 422
    r = c.post(f"/admin/users/{uid}", data={"csrf_token": token, "display_name": "南京 新名", "phone": "",
                                            "region_code": "320100"})
    assert r.status_code == 302
    u = user(app, "nj1")
    assert u.display_name == "南京 新名" and not u.active and u.phone is None
    c.post(f"/admin/users/{uid}", data={"csrf_token": token, "display_name": "南京 新名", "region_code": "320100",
                                        "active": "1"})
    # password, unlock
    r = c.post(f"/admin/users/{uid}/password", data={"csrf_token": token, "password": "short"})
    assert r.status_code == 422
    assert c.post(f"/admin/users/{uid}/password", data={"csrf_token": token,
                                                         "password": "new password 123"}).status_code == 302
    with app.app_context():
        x = db.session.get(User, uid)
        x.failed_logins, x.locked_until = 0, clock_now() + timedelta(minutes=10)
        db.session.commit()
    assert "已锁定" in c.get(f"/admin/users/{uid}").get_data(as_text=True)
    assert c.post(f"/admin/users/{uid}/unlock", data={"csrf_token": token}).status_code == 302
    assert user(app, "nj1").locked_until is None
    nc = app.test_client()
    t = csrf(nc.get("/login").get_data(as_text=True))
    assert nc.post("/login", data={"username": "nj1", "password": "new password 123",
                                   "csrf_token": t}).status_code == 302
    assert c.get("/admin/users/99999").status_code == 404


def test_admin_disables_someones_totp(app):
    with app.app_context():
        u = db.session.execute(select(User).where(User.username == "clerk")).scalar_one()
        u.totp_secret, u.totp_enabled = "JBSWY3DPEHPK3PXP", True
        db.session.commit()
        uid = u.id
    c = signed_in(app, "boss")
    page = c.get(f"/admin/users/{uid}").get_data(as_text=True)
    assert "已开启" in page
    assert c.post(f"/admin/users/{uid}/totp/disable", data={"csrf_token": csrf(page)}).status_code == 302
    assert not user(app, "clerk").totp_enabled


def test_departments_pages(app):
    c = signed_in(app, "boss")
    page = c.get("/admin/departments").get_data(as_text=True)
    assert "investment" in page and "cs_ecology" in page
    token = csrf(page)
    r = c.post("/admin/departments", data={"csrf_token": token, "code": "Bad Code", "name": "",
                                           "region_code": "320000", "kind": "division"})
    assert r.status_code == 422 and "code" in r.get_data(as_text=True)
    r = c.post("/admin/departments", data={"csrf_token": token, "code": "investment", "name": "重复",
                                           "region_code": "320000", "kind": "division"})
    assert r.status_code == 422
    r = c.post("/admin/departments", data={"csrf_token": token, "code": "investment", "name": "苏州投资科",
                                           "region_code": "320500", "kind": "division"})
    assert r.status_code == 302
    page = c.get("/admin/departments?region=320500").get_data(as_text=True)
    assert "苏州投资科" in page and "cs_ecology" not in page
    with app.app_context():
        dept_id = org.find_department("investment", "320500").id
    assert c.get(f"/admin/departments/{dept_id}").status_code == 200
    r = c.post(f"/admin/departments/{dept_id}", data={"csrf_token": token, "name": "", "kind": "division"})
    assert r.status_code == 422
    r = c.post(f"/admin/departments/{dept_id}", data={"csrf_token": token, "name": "苏州市发改委投资科",
                                                      "kind": "division"})
    assert r.status_code == 302
    with app.app_context():
        d = db.session.get(Department, dept_id)
        assert d.name == "苏州市发改委投资科" and not d.active
    assert c.get("/admin/departments/99999").status_code == 404
