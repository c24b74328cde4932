"""The public home page (办事大厅), the staff's 工作台, the landing after sign-in per role and the
administrators' page with the deployed matters (issue 19 point 2), on the shipped matters."""
import json
import re
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.config import parse_service_phones
from app.extensions import db
from app.models import HumanTask, User
from app.services.common.clock import FakeClock
from app.services.identity import org
from app.services.identity.auth import set_password
from tests.conftest import ROOT, deploy_all, fresh_database, make_app
from tests.web.api.helpers import Api

PASSWORD = "correct horse battery"
STAFF = {"w1": ["window"], "inv": ["investment"], "d1": ["designer"], "i1": ["inspector"], "boss": ["admin"]}
BJ = ZoneInfo("Asia/Shanghai")


CLOCK = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))


@pytest.fixture(scope="module")
def app(database_url, tmp_path_factory):
    """One app on the shipped matters for the module (deploying them is the slow part): the tests
    read pages; the one that starts a case is the only one that counts tasks."""
    url = fresh_database(database_url, tmp_path_factory.mktemp("home"), "home.sqlite3")
    app = make_app(url, CLOCK=CLOCK)
    deploy_all(app)
    api = Api(app)
    for name, groups in STAFF.items():
        api.user(name, groups=groups)
    api.user("alice", "applicant")
    with app.app_context():
        org.seed_departments()
        for user in db.session.execute(select(User)).scalars():
            set_password(user, PASSWORD)
        db.session.commit()
    app.api = api
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def signed_in(app, username, next_=None):
    """(client, the Location the sign-in answered with)."""
    c = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
    url = "/login" + (f"?next={next_}" if next_ else "")
    r = c.post(url, data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return c, urlsplit(r.headers["Location"]).path


def visible(html: str) -> str:
    """The text a reader sees in <main> (tags, scripts and styles removed)."""
    main = html.split("<main>", 1)[1].split("</main>", 1)[0]
    main = re.sub(r"<(script|style)\b.*?</\1>", " ", main, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", main)))


def links(html: str) -> list[str]:
    """Every link and form target of a page, the header's included, as local paths."""
    out = []
    for attr in re.findall(r'<(?:a|form)\b[^>]*?(?:href|action)="([^"]*)"', html):
        url = unescape(attr)
        if url.startswith(("tel:", "#", "mailto:")):
            continue
        if url.startswith("?"):
            url = "/" + url
        out.append(url)
    return out


def start_beian(app) -> int:
    scenario = json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text(encoding="utf-8"))["scenarios"][0]
    r = app.api.post("alice", "/api/cases", json={"process_id": "xmgl_beian", "data": scenario["start"]})
    assert r.status_code == 201, r.json
    return r.json["id"]


# -- the public home ---------------------------------------------------------------------------------
def test_the_public_home_has_the_entries_of_a_service_hall(app):
    html = app.test_client().get("/").get_data(as_text=True)
    text = visible(html)
    for label in ("网上办事大厅", "个人办事", "法人办事", "按部门", "按主题", "进度查询", "结果公示", "咨询投诉",
                  "服务热线", "政务服务便民热线 12345", "申请人登录", "工作人员登录"):
        assert label in text, label
    # 个人 = service object 1 (自然人): the shipped 信用修复 serves individuals; 法人: enterprises and others
    person = html.split('data-audience="person"', 1)[1].split("</section>", 1)[0]
    assert "/portal/?object=1" in person and "信用修复" in person and "企业投资项目核准<" not in person
    org_block = html.split('data-audience="org"', 1)[1].split("</section>", 1)[0]
    assert "/portal/?object=2" in org_block and "企业法人" in org_block and "企业投资项目核准<" in org_block
    # departments by name (a chief's group counts for its division; hall and leadership are no entry)
    assert 'href="/portal/?dept=investment">固定资产投资处（14）' in html
    assert "dept=window" not in html and "dept=leader" not in html and "investment_chief" not in html
    assert 'href="/portal/?category=project">投资项目管理（4）' in html
    assert re.search(r'<form method="get" action="/portal/"[^>]*role="search">\s*<input name="q"', html)
    # the developer table is gone: no process ids, versions or the API document on the public page
    assert "已部署事项" not in text and "xmgl_beian" not in text and "openapi" not in html


def test_the_entries_lead_to_the_catalog_filtered_as_they_say(app):
    c = app.test_client()
    html = c.get("/").get_data(as_text=True)
    for href, number in re.findall(r'href="(/portal/\?(?:object|dept|category)=[^"]+)">[^<（]+（(\d+)）', html):
        page = c.get(unescape(href))
        assert page.status_code == 200, href
        shown = len(re.findall(r'<section class="matter"', page.get_data(as_text=True)))
        assert shown == int(number), (href, shown, number)


@pytest.mark.parametrize("who", [None, "alice", "w1", "d1", "i1", "boss"])
def test_every_link_of_the_home_page_leads_to_a_page(app, who):
    if who is None:
        c = app.test_client()
    elif who == "alice":  # applicants sign in by SMS code at the portal: a session of the same user
        c = app.test_client()
        with app.app_context():
            uid = db.session.execute(select(User.id).where(User.username == "alice")).scalar_one()
        with c.session_transaction() as s:
            from app.services.identity.auth import session_version
            with app.app_context():
                s.update(uid=uid, sv=session_version(uid), amr="sms")
    else:
        c, _ = signed_in(app, who)
    html = c.get("/").get_data(as_text=True)
    if who:
        assert "退出" in html  # signed in
    seen = set()
    for url in links(html):
        if url in seen or url.startswith("/logout"):
            continue
        seen.add(url)
        method = "post" if re.search(rf'<form[^>]*method="post"[^>]*action="{re.escape(url)}"', html) else "get"
        if method == "post":
            continue
        r = c.get(urljoin("http://localhost/", url))
        assert r.status_code in (200, 302), (who, url, r.status_code)
    assert len(seen) >= 20


def test_english_home(app):
    text = visible(app.test_client().get("/?lang=en").get_data(as_text=True))
    for label in ("Online service hall", "For individuals", "For organisations", "By department", "By topic",
                  "Track a case", "Published decisions", "Questions and complaints", "Service hotlines",
                  "Fixed-asset investment division (14)", "Investment projects (4)", "Government service hotline"):
        assert label in text, label
    for zh in ("个人办事", "按部门", "进度查询", "服务热线", "固定资产投资处", "个事项"):
        assert zh not in text, zh
    assert "For individuals (1 matters)" in text


def test_service_phones_setting(app):
    assert parse_service_phones("12345 政务服务便民热线;025-83391234 投资项目咨询; ;96000") == [
        ("12345", "政务服务便民热线"), ("025-83391234", "投资项目咨询"), ("96000", "")]
    with pytest.raises(RuntimeError, match="'热线'"):
        parse_service_phones("热线 12345")
    assert app.config["SERVICE_PHONES"] == [("12345", "政务服务便民热线")]  # the default
    try:
        app.config["SERVICE_PHONES"] = parse_service_phones("025-83391234 投资项目咨询")
        html = app.test_client().get("/").get_data(as_text=True)
        assert 'href="tel:025-83391234"' in html and "投资项目咨询" in html and "12345" not in visible(html)
        app.config["SERVICE_PHONES"] = "96000 发改热线"  # the environment's text form
        assert "发改热线 96000" in visible(app.test_client().get("/").get_data(as_text=True))
    finally:
        app.config["SERVICE_PHONES"] = parse_service_phones("12345 政务服务便民热线")


# -- landing after sign-in -----------------------------------------------------------------------------
def test_each_role_lands_on_its_own_page(app):
    assert signed_in(app, "w1")[1] == "/workbench"
    assert signed_in(app, "inv")[1] == "/workbench"
    assert signed_in(app, "d1")[1] == "/designer"
    assert signed_in(app, "i1")[1] == "/supervision"
    assert signed_in(app, "boss")[1] == "/admin/"
    # a page asked for wins; a foreign or odd target is no landing of its own
    assert signed_in(app, "w1", next_="/inbox?tab=done")[1] == "/inbox"
    assert signed_in(app, "d1", next_="//evil.example/")[1] == "/designer"
    for who in ("w1", "d1", "i1", "boss"):
        c, path = signed_in(app, who)
        assert c.get(path).status_code == 200, (who, path)


# -- the 工作台 --------------------------------------------------------------------------------------
def tile(html: str, key: str) -> str:
    return re.search(rf'data-count="{key}"[^>]*>.*?<span class="num">([^<]+)</span>', html, re.S).group(1)


def test_the_workbench_counts_todo_due_soon_and_overdue(app):
    clock = CLOCK
    try:
        _workbench_counts(app, clock)
    finally:
        clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))


def _workbench_counts(app, clock):
    c, _ = signed_in(app, "w1")
    html = c.get("/workbench").get_data(as_text=True)
    assert (tile(html, "todo"), tile(html, "yellow"), tile(html, "red")) == ("0", "0", "0")
    assert "暂无待办" in html
    case_id = start_beian(app)
    with app.app_context():
        task = db.session.execute(select(HumanTask).where(HumanTask.case_id == case_id,
                                                          HumanTask.state == "ready")).scalar_one()
        due, name = task.due_date, task.name
    assert due is not None
    clock.set(datetime.combine(due - timedelta(days=1), datetime.min.time(), BJ) + timedelta(hours=9))
    html = c.get("/workbench").get_data(as_text=True)
    assert (tile(html, "todo"), tile(html, "yellow"), tile(html, "red")) == ("1", "1", "0")
    text = visible(html)
    assert name in text and "企业投资项目备案" in text and f"{due.year}年{due.month}月{due.day}日" in text
    assert "xmgl_beian" not in text and due.isoformat() not in text
    clock.set(datetime.combine(due + timedelta(days=1), datetime.min.time(), BJ) + timedelta(hours=9))
    html = c.get("/workbench").get_data(as_text=True)
    assert (tile(html, "todo"), tile(html, "yellow"), tile(html, "red")) == ("1", "0", "1")
    # each count opens the inbox list it counts
    assert 'href="/inbox?colour=red"' in html and 'href="/inbox?colour=yellow"' in html
    assert c.get("/inbox?colour=red").status_code == 200
    assert '工作台 <span class="nav-badge"' in html
    assert "Overdue" in visible(c.get("/workbench?lang=en").get_data(as_text=True))


def test_the_workbench_is_for_staff(app):
    r = app.test_client().get("/workbench")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    c, _ = signed_in(app, "d1")
    html = c.get("/workbench").get_data(as_text=True)
    assert 'href="/designer"' in html and 'href="/admin/"' not in html
    c, _ = signed_in(app, "boss")
    html = c.get("/workbench").get_data(as_text=True)
    assert 'href="/admin/"' in html and 'href="/supervision"' in html


# -- the administrators' page ---------------------------------------------------------------------------
def test_the_developer_table_moved_to_the_admin_page(app):
    anonymous = app.test_client()
    assert anonymous.get("/admin/matters").status_code == 302 and anonymous.get("/admin/").status_code == 302
    for who in ("w1", "d1", "i1"):
        c, _ = signed_in(app, who)
        assert c.get("/admin/").status_code == 403 and c.get("/admin/matters").status_code == 403
    c, _ = signed_in(app, "boss")
    home = c.get("/admin/").get_data(as_text=True)
    assert "已部署事项（27）" in home
    for url in set(links(home)):
        if not url.startswith("/logout") and "lang=" not in url:
            assert c.get(url).status_code in (200, 302), url
    html = c.get("/admin/matters").get_data(as_text=True)
    text = visible(html)
    assert "已部署事项（27）" in text and "企业投资项目核准" in text and "20个工作日" in text
    assert html.count('<tr data-process-id="') == 27 and "/designer/xmgl_hezhun" in html
    assert "Deployed matters (27)" in visible(c.get("/admin/matters?lang=en").get_data(as_text=True))
