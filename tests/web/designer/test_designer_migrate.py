"""The migration page /designer/<id>/migrate (designers and administrators, CSRF) and
``flask processes migrate ID [--dry-run] [--case CASE_NO]``."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Case, CaseEvent, User
from app.services.identity.auth import set_password
from tests.web.api.helpers import START, Api
from tests.conftest import deploy_all
from tests.services.design.test_migration import PID, _bpmn, deploy_v2
from tests.web.designer.test_designer import PASSWORD, signed_in


@pytest.fixture
def api(fixture_app):
    deploy_all(fixture_app)
    api = Api(fixture_app)
    api.user("alice", "applicant")
    api.user("w1", groups=["window"])
    api.user("d1", groups=["designer"])
    api.user("adm", groups=["admin"])
    with fixture_app.app_context():
        for user in db.session.execute(select(User)).scalars():
            set_password(user, PASSWORD)
        db.session.commit()
    return api


def _cases(api, n):
    out = []
    for _ in range(n):
        r = api.post("alice", "/api/cases", json={"process_id": PID, "data": START})
        assert r.status_code == 201, r.json
        out.append(r.json["case_no"])
    return out


def _versions(app):
    with app.app_context():
        return {c.case_no: c.version_id for c in db.session.execute(select(Case)).scalars()}


def test_page_lists_moves_one_and_all_for_designers_only(api):
    app = api.app
    first, second = _cases(api, 2)
    # before a new version there is nothing to move
    d = signed_in(app, "d1")
    assert "没有需要迁移的办件" in d.get(f"/designer/{PID}/migrate").get_data(as_text=True)
    v2 = deploy_v2(app, _bpmn().replace('name="处长审定"', 'name="处长审定（新）"'))
    html = d.get(f"/designer/{PID}/migrate").get_data(as_text=True)
    assert html.count('class="candidate movable"') == 2 and first in html and second in html
    assert "/designer/t_simple/migrate" in d.get("/designer").get_data(as_text=True)

    # others: 403 on the page and on the post; the sign-in page for strangers
    w = signed_in(app, "w1")
    assert w.get(f"/designer/{PID}/migrate").status_code == 403
    assert w.post(f"/designer/{PID}/migrate", data={"csrf_token": w.csrf}).status_code == 403
    assert app.test_client().get(f"/designer/{PID}/migrate").status_code == 302
    # no CSRF token, a bad id, an id of another matter: refused, nothing moved
    assert d.post(f"/designer/{PID}/migrate", data={}).status_code == 400
    assert d.post(f"/designer/{PID}/migrate", data={"csrf_token": d.csrf, "instance_id": "x1"}).status_code == 422
    assert d.post(f"/designer/{PID}/migrate", data={"csrf_token": d.csrf, "instance_id": "99999"}).status_code == 404
    assert d.post("/designer/t_mi/migrate", data={"csrf_token": d.csrf, "instance_id": "1"}).status_code == 404
    assert d.post("/designer/no_such/migrate", data={"csrf_token": d.csrf}).status_code == 404
    assert set(_versions(app).values()) != {v2}

    # one by one
    iid = re.search(rf'data-instance-id="(\d+)" data-case-no="{first}"', html).group(1)
    r = d.post(f"/designer/{PID}/migrate", data={"csrf_token": d.csrf, "instance_id": iid}, follow_redirects=True)
    assert r.status_code == 200 and f"已迁移 1 件: {first}" in r.get_data(as_text=True)
    versions = _versions(app)
    assert versions[first] == v2 and versions[second] != v2
    # the rest, by an administrator
    a = signed_in(app, "adm")
    r = a.post(f"/designer/{PID}/migrate", data={"csrf_token": a.csrf}, follow_redirects=True)
    assert f"已迁移 1 件: {second}" in r.get_data(as_text=True)
    assert set(_versions(app).values()) == {v2}
    with app.app_context():
        events = db.session.execute(select(CaseEvent).where(CaseEvent.action == "migrate")).scalars().all()
        assert sorted(e.actor for e in events) == ["adm", "d1"]
    # again: nothing to do
    r = a.post(f"/designer/{PID}/migrate", data={"csrf_token": a.csrf}, follow_redirects=True)
    assert "没有需要迁移的办件" in r.get_data(as_text=True)


def test_refused_case_shows_its_reason(api):
    app = api.app
    [case_no] = _cases(api, 1)
    xml = _bpmn().replace('"review"', '"review_new"')
    deploy_v2(app, xml)
    d = signed_in(app, "d1")
    html = d.get(f"/designer/{PID}/migrate").get_data(as_text=True)
    assert 'class="candidate refused"' in html and "review（窗口审查） 在新版本中不存在" in html
    assert 'class="move-one"' not in html
    r = d.post(f"/designer/{PID}/migrate", data={"csrf_token": d.csrf}, follow_redirects=True)
    assert f"{case_no} 未迁移" in r.get_data(as_text=True)


def test_cli_dry_run_case_and_idempotence(api):
    app = api.app
    first, second = _cases(api, 2)
    v2 = deploy_v2(app, _bpmn().replace('name="处长审定"', 'name="处长审定（新）"'))
    runner = app.test_cli_runner()
    r = runner.invoke(args=["processes", "migrate", PID, "--dry-run"])
    assert r.exit_code == 0, r.output
    assert f"can move  {first} v1 → v2  [review]" in r.output and "2 can move, 0 refused" in r.output
    assert set(_versions(app).values()) != {v2}
    r = runner.invoke(args=["processes", "migrate", PID, "--case", second])
    assert r.exit_code == 0 and f"moved     {second} v1 → v2" in r.output, r.output
    versions = _versions(app)
    assert versions[second] == v2 and versions[first] != v2
    r = runner.invoke(args=["processes", "migrate", PID])
    assert r.exit_code == 0 and "1 moved, 0 refused" in r.output, r.output
    r = runner.invoke(args=["processes", "migrate", PID])
    assert r.exit_code == 0 and "0 moved, 0 refused" in r.output, r.output
    r = runner.invoke(args=["processes", "migrate", PID, "--case", "NO-SUCH"])
    assert r.exit_code == 1 and "没有可迁移的办件" in r.output
    r = runner.invoke(args=["processes", "migrate", "no_such"])
    assert r.exit_code == 1 and "事项不存在" in r.output


def test_cli_refusal_exits_1(api):
    app = api.app
    [case_no] = _cases(api, 1)
    deploy_v2(app, _bpmn().replace('"review"', '"review_new"'))
    r = app.test_cli_runner().invoke(args=["processes", "migrate", PID])
    assert r.exit_code == 1 and f"refused   {case_no} v1: 当前所在的环节 review" in r.output, r.output
