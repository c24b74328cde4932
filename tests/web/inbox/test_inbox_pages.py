"""The 工作台 pages (app/web/inbox/) through the session login: the four lists, the task page and
every operation form, the read-only case page, files; bad input shows the service's message and
changes nothing; the number of SQL statements of each list page is pinned."""
import io
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from app.extensions import db
from app.models import CaseEvent, CaseFile, HumanTask, TaskCc, User
from app.services.identity.auth import set_password
from tests.web.api.helpers import START, Api
from tests.conftest import FIXTURES, deploy_all, make_app

PASSWORD = "correct horse battery"
USERS = {"w1": ["window"], "w2": ["window"], "eco": ["cs_ecology"], "fin": ["cs_finance"],
         "chief": ["investment_chief"], "boss": ["admin"], "leader": ["leader"], "insp": ["inspector"]}


@pytest.fixture
def app(db_url):
    app = make_app(db_url, PROCESSES_DIR=str(FIXTURES / "processes"), FORMS_DIR=str(FIXTURES / "forms"))
    deploy_all(app)
    api = Api(app)
    for name, groups in USERS.items():
        api.user(name, groups=groups)
    api.user("alice", "applicant")
    with app.app_context():
        for user in db.session.execute(select(User)).scalars():
            set_password(user, PASSWORD)
        db.session.commit()
    app.api = api
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Browser:
    """A test client signed in through /login, that keeps the page's CSRF token."""

    def __init__(self, app, username):
        self.app, self.c = app, app.test_client()
        page = self.c.get("/login").get_data(as_text=True)
        r = self.c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token(page)})
        assert r.status_code == 302, r.get_data(as_text=True)
        self.csrf = None

    def get(self, url, expect=200):
        r = self.c.get(url)
        assert r.status_code == expect, (url, r.status_code, r.get_data(as_text=True)[:400])
        text = r.get_data(as_text=True)
        if "csrf_token" in text:
            self.csrf = token(text)
        return text

    def post(self, url, data=None, expect=302, **kw):
        if self.csrf is None:
            self.get("/inbox")
        r = self.c.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kw)
        assert r.status_code == expect, (url, r.status_code, r.get_data(as_text=True)[:400])
        return r

    def post_json(self, url, body, expect=200):
        if self.csrf is None:
            self.get("/inbox")
        r = self.c.post(url, json=body, headers={"X-CSRF-Token": self.csrf, "Accept": "application/json"})
        assert r.status_code == expect, (url, r.status_code, r.get_data(as_text=True)[:400])
        return r.get_json()

    def follow(self, r):
        """The page a redirect goes to, with its flash message."""
        return self.get(r.headers["Location"])


def token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def start(app, **data):
    r = app.api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": {**START, **data}})
    assert r.status_code == 201, r.json
    return r.json


def open_task(app, who, element=None):
    r = app.api.get(who, "/api/inbox", query_string={"tab": "todo"})
    rows = [row["task"] for row in r.json["rows"] if element is None or row["task"]["element_id"] == element]
    assert rows, f"{who} has no {element}"
    return rows[0]


def snapshot(app):
    with app.app_context():
        tasks = db.session.execute(select(HumanTask.id, HumanTask.state, HumanTask.assignee, HumanTask.draft)
                                   .order_by(HumanTask.id)).all()
        return [tuple(t) for t in tasks], db.session.execute(select(func.count()).select_from(CaseEvent)).scalar()


@contextmanager
def count_queries(app):
    seen = []

    def listener(conn, cursor, statement, params, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            seen.append(statement)  # SQLite's BEGIN IMMEDIATE is a statement, PostgreSQL's BEGIN is not
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def approve_via_api(app, who, element=None, **body):
    t = open_task(app, who, element)
    r = app.api.post(who, f"/api/tasks/{t['id']}/approve", json=body)
    assert r.status_code == 200, r.json
    return t


def to_countersign(app):
    case = start(app)
    approve_via_api(app, "w1", opinion="材料齐全，予以受理")
    return case


# -- the lists ---------------------------------------------------------------------------------------

def test_the_list_needs_a_staff_sign_in(app):
    c = app.test_client()
    assert c.get("/inbox").status_code == 302
    applicant = Browser(app, "alice")
    applicant.get("/inbox", expect=403)


def test_todo_lists_the_case_with_its_deadline_colour_and_counts(app):
    case = start(app)
    b = Browser(app, "w1")
    page = b.get("/inbox")
    assert case["case_no"] in page and "示范项目" in page and "测试事项" in page and "窗口审查" in page
    assert 'data-colour="yellow"' in page and "dot-yellow" in page and "待签收" in page
    assert re.search(r'data-tab="todo">待办\s*<span class="badge hot">1</span>', page)
    assert '工作台 <span class="nav-badge"' in page  # the nav link shows the todo count
    for tab in ("done", "handled", "cc"):
        assert "暂无" in b.get(f"/inbox?tab={tab}")
    # other lists: after approving, the case is in 已办 and 我经手的
    approve_via_api(app, "w1", opinion="受理")
    assert case["case_no"] in b.get("/inbox?tab=done") and case["case_no"] in b.get("/inbox?tab=handled")
    assert "暂无" in b.get("/inbox")
    # English
    assert "To do" in b.get("/inbox?lang=en")


def test_filters_and_bad_filters(app):
    case = start(app)
    b = Browser(app, "w1")
    assert case["case_no"] in b.get(f"/inbox?case_no={case['case_no']}")
    assert "暂无" in b.get("/inbox?case_no=nope")
    assert "暂无" in b.get("/inbox?colour=red")
    assert case["case_no"] in b.get("/inbox?colour=yellow&process_id=t_simple&applicant=alice")
    page = b.get("/inbox?colour=purple", expect=422)
    assert "筛选条件不正确" in page
    assert "页码不正确" in b.get("/inbox?page=abc", expect=422)
    assert "未知的列表" in b.get("/inbox?tab=nope", expect=422)


def test_pagination_with_has_next(app):
    for _ in range(21):
        start(app)
    b = Browser(app, "w1")
    first = b.get("/inbox")
    assert first.count('class="inbox-row"') == 20 and 'rel="next"' in first and 'rel="prev"' not in first
    second = b.get("/inbox?tab=todo&page=2")
    assert second.count('class="inbox-row"') == 1 and 'rel="prev"' in second and 'rel="next"' not in second


def _rows(app, n):
    """n cases that w1 completed (done, handled), that w1 was sent a copy of (cc), and n open for w2."""
    for _ in range(n):
        start(app)
    for _ in range(n):
        t = approve_via_api(app, "w1", "review", opinion="受理")
        r = app.api.post("w1", f"/api/tasks/{t['id']}/cc", json={"users": ["w2"], "note": "请阅"})
        assert r.status_code == 200, r.json
    for _ in range(n):
        start(app)


# sign-in user, matters of the filter, the page of ids, the rows (todo) or one joined query, the counts
PINNED = {"todo": 5, "done": 4, "handled": 4, "cc": 4}


@pytest.mark.parametrize("tab", ["todo", "done", "handled", "cc"])
def test_query_count_of_each_list_is_pinned_and_does_not_grow_with_the_rows(app, tab):
    _rows(app, 3)
    who = "w2" if tab == "cc" else "w1"
    b = Browser(app, who)
    b.get(f"/inbox?tab={tab}")  # warm: forms / versions caches
    with count_queries(app) as seen:
        page = b.get(f"/inbox?tab={tab}")
    assert page.count('class="inbox-row"') == 3
    assert len(seen) == PINNED[tab], seen
    _rows(app, 27)
    with count_queries(app) as seen:
        page = b.get(f"/inbox?tab={tab}")
    assert page.count('class="inbox-row"') == 20
    assert len(seen) == PINNED[tab], seen


# -- the task page -----------------------------------------------------------------------------------

def test_task_page_renders_for_candidates_and_refuses_others(app):
    case = start(app)
    t = open_task(app, "w1")
    b = Browser(app, "w1")
    page = b.get(f"/inbox/tasks/{t['id']}")
    for text in (case["case_no"], "窗口审查", "测试事项", "环节时限", "法定期限", "承诺期限", "签收", "不予受理",
                 "暂存", "流程图", "办理过程", "提交申请", "材料与附件", "申请信息", 'id="taskform"', "转办", "委派",
                 "加签", "抄送"):
        assert text in page, text
    assert '"current": ["review"]' in page  # the diagram's highlight
    assert 'id="op-return"' not in page  # the first step has nothing to return to
    # the colleagues a task can be handed to: staff of the task's region, not oneself
    names = re.findall(r'<option value="([^"]+)">', page.split('<datalist id="colleagues">')[1].split("</datalist>")[0])
    assert "w2" in names and "chief" in names and "w1" not in names and "alice" not in names
    Browser(app, "eco").get(f"/inbox/tasks/{t['id']}", expect=403)
    Browser(app, "w1").get("/inbox/tasks/no-such-task", expect=404)


def test_claim_unclaim_and_approve_through_the_page(app):
    case = start(app)
    t = open_task(app, "w1")
    b = Browser(app, "w1")
    b.get(f"/inbox/tasks/{t['id']}")
    r = b.post(f"/inbox/tasks/{t['id']}/claim")
    page = b.follow(r)
    assert "已签收" in page and "取消签收" in page
    # w2 no longer sees it and claiming shows who holds it
    w2 = Browser(app, "w2")
    assert "暂无" in w2.get("/inbox")
    w2.get(f"/inbox/tasks/{t['id']}")
    r = w2.post(f"/inbox/tasks/{t['id']}/claim")
    assert "已被 w1 签收" in w2.follow(r)
    r = b.post(f"/inbox/tasks/{t['id']}/unclaim")
    assert "已取消签收" in b.follow(r)
    # approve as JSON (what the page's script sends): empty opinion, stale revision, then right
    before = snapshot(app)
    out = b.post_json(f"/inbox/tasks/{t['id']}/approve", {"data": {}, "opinion": " "}, expect=422)
    assert "请填写办理意见" in out["message"]
    out = b.post_json(f"/inbox/tasks/{t['id']}/approve", {"data": {}, "opinion": "受理", "revision": 99}, expect=409)
    assert "刷新" in out["message"]
    assert snapshot(app) == before
    page = b.get(f"/inbox/tasks/{t['id']}")
    rev = int(re.search(r'name="revision" value="(\d+)"', page).group(1))
    out = b.post_json(f"/inbox/tasks/{t['id']}/approve",
                      {"data": {"decision": "approve", "opinion": ""}, "opinion": "材料齐全", "revision": rev})
    assert out["redirect"] == "/inbox"
    # completed: approving again is a conflict, shown as a message
    out = b.post_json(f"/inbox/tasks/{t['id']}/approve", {"data": {}, "opinion": "again"}, expect=409)
    assert "已被办理" in out["message"]
    assert open_task(app, "eco")["element_id"] == "countersign"
    # the 已办 row links to the task page, read-only, with 撤回
    done = b.get("/inbox?tab=done")
    assert f"/inbox/tasks/{t['id']}" in done and case["case_no"] in done
    page = b.get(f"/inbox/tasks/{t['id']}")
    assert "撤回" in page and "材料齐全" in page and 'id="btn-approve"' not in page


def test_approve_with_a_plain_form_and_a_bad_opinion_flashes(app):
    start(app)
    t = open_task(app, "w1")
    b = Browser(app, "w1")
    b.get(f"/inbox/tasks/{t['id']}")
    before = snapshot(app)
    r = b.post(f"/inbox/tasks/{t['id']}/approve", {"opinion": ""}, headers={"Referer": f"/inbox/tasks/{t['id']}"})
    assert r.headers["Location"].endswith(f"/inbox/tasks/{t['id']}")
    assert "请填写办理意见" in b.follow(r)
    assert snapshot(app) == before
    r = b.post(f"/inbox/tasks/{t['id']}/approve", {"opinion": "受理"})
    assert "办理完成" in b.follow(r)


def test_reject_needs_a_reason_and_only_where_the_form_allows_it(app):
    case = start(app)
    t = open_task(app, "w1")
    b = Browser(app, "w1")
    b.get(f"/inbox/tasks/{t['id']}")
    before = snapshot(app)
    out = b.post_json(f"/inbox/tasks/{t['id']}/reject", {"data": {}, "opinion": ""}, expect=422)
    assert "理由" in out["message"]
    assert snapshot(app) == before
    b.post_json(f"/inbox/tasks/{t['id']}/reject", {"data": {}, "opinion": "不属于本机关职权范围"})
    with app.app_context():
        from app.models import Case
        assert db.session.get(Case, case["id"]).status == "rejected"
    # the countersign form has no reject choice: no button, and the POST is refused
    start(app)
    approve_via_api(app, "w1", opinion="受理")
    cs = open_task(app, "eco")
    eco = Browser(app, "eco")
    page = eco.get(f"/inbox/tasks/{cs['id']}")
    assert 'id="btn-reject"' not in page and 'id="btn-approve"' in page
    out = eco.post_json(f"/inbox/tasks/{cs['id']}/reject", {"data": {}, "opinion": "不同意"}, expect=409)
    assert "不能作出" in out["message"]


def test_countersign_opinions_are_shown_together(app):
    case = to_countersign(app)
    approve_via_api(app, "eco", data={"cs": {"agree": "yes"}}, opinion="生态环境厅同意")
    fin = Browser(app, "fin")
    t = open_task(app, "fin")
    fin.get(f"/inbox/tasks/{t['id']}")
    r = fin.post(f"/inbox/tasks/{t['id']}/approve", {"opinion": "财政厅无意见"})
    assert "办理完成" in fin.follow(r)
    chief = Browser(app, "chief")
    d = open_task(app, "chief")
    page = chief.get(f"/inbox/tasks/{d['id']}")
    assert "会签意见" in page and "生态环境厅同意" in page and "财政厅无意见" in page and "生态环境厅" in page
    assert case["case_no"] in page


def test_return_with_a_reason_to_a_passed_step(app):
    to_countersign(app)
    approve_via_api(app, "eco", data={"cs": {"agree": "yes"}}, opinion="同意")
    approve_via_api(app, "fin", data={"cs": {"agree": "yes"}}, opinion="同意")
    d = open_task(app, "chief")
    chief = Browser(app, "chief")
    page = chief.get(f"/inbox/tasks/{d['id']}")
    target = re.search(r'<select name="target" required><option value="([^"]+)">窗口审查', page).group(1)
    before = snapshot(app)
    r = chief.post(f"/inbox/tasks/{d['id']}/return", {"target": target, "reason": ""})
    assert "请填写退回理由" in chief.follow(r)
    r = chief.post(f"/inbox/tasks/{d['id']}/return", {"target": d["id"], "reason": "x"})
    assert "只能退回到本办件已经过的环节" in chief.follow(r)
    r = chief.post(f"/inbox/tasks/{d['id']}/return", {"reason": "x"})
    assert "请选择退回的环节" in chief.follow(r)
    assert snapshot(app) == before
    r = chief.post(f"/inbox/tasks/{d['id']}/return", {"target": target, "reason": "受理意见不完整"})
    assert "已退回" in chief.follow(r)
    w1 = Browser(app, "w1")
    page = w1.get("/inbox")
    assert "窗口审查" in page
    t = open_task(app, "w1")
    assert "受理意见不完整" in w1.get(f"/inbox/tasks/{t['id']}")


def test_transfer_delegate_resolve_reclaim(app):
    start(app)
    t = open_task(app, "w1")
    b = Browser(app, "w1")
    b.get(f"/inbox/tasks/{t['id']}")
    before = snapshot(app)
    r = b.post(f"/inbox/tasks/{t['id']}/transfer", {"user": "nobody"})
    assert "不存在或已停用" in b.follow(r)
    r = b.post(f"/inbox/tasks/{t['id']}/delegate", {"user": "w1"})
    assert "不能委派给自己" in b.follow(r)
    assert snapshot(app) == before
    r = b.post(f"/inbox/tasks/{t['id']}/delegate", {"user": "w2", "reason": "请协助审查"})
    page = b.follow(r)
    assert "已委派给 w2" in page and "收回" in page
    w2 = Browser(app, "w2")
    assert "委派 · w1" in w2.get("/inbox")
    page = w2.get(f"/inbox/tasks/{t['id']}")
    assert 'id="btn-resolve"' in page and 'id="btn-approve"' not in page
    out = w2.post_json(f"/inbox/tasks/{t['id']}/resolve", {"opinion": "", "data": {}}, expect=422)
    assert "请填写办理意见" in out["message"]
    w2.post_json(f"/inbox/tasks/{t['id']}/resolve", {"opinion": "材料已核", "data": {"opinion": "材料已核"}})
    page = b.get(f"/inbox/tasks/{t['id']}")
    assert "委派已交回" in b.get("/inbox") and 'id="btn-approve"' in page
    # delegate again, then take it back
    b.post(f"/inbox/tasks/{t['id']}/delegate", {"user": "w2"})
    r = b.post(f"/inbox/tasks/{t['id']}/reclaim")
    assert "已收回委派" in b.follow(r)
    r = b.post(f"/inbox/tasks/{t['id']}/transfer", {"user": "w2", "reason": "轮岗"})
    assert "已转办给 w2" in b.follow(r)
    assert "暂无" in b.get("/inbox") and "窗口审查" in w2.get("/inbox")


def test_add_and_remove_signers(app):
    start(app)
    t = open_task(app, "w1")
    b = Browser(app, "w1")
    b.get(f"/inbox/tasks/{t['id']}")
    before = snapshot(app)
    r = b.post(f"/inbox/tasks/{t['id']}/signers", {"users": "", "mode": "before"})
    assert "请选择 1 至 20 名加签人" in b.follow(r)
    r = b.post(f"/inbox/tasks/{t['id']}/signers", {"users": "w2", "mode": "after"})
    assert "请填写办理意见" in b.follow(r)
    assert snapshot(app) == before
    r = b.post(f"/inbox/tasks/{t['id']}/signers", {"users": "w2, leader", "mode": "before"})
    page = b.follow(r)
    assert "已加签：w2、leader" in page and "减签 w2" in page and "等待加签意见" in page
    sign = [row["task"] for row in app.api.get("w2", "/api/inbox").json["rows"]][0]
    r = b.post(f"/inbox/tasks/{sign['id']}/remove-signer", {"reason": "不需要"})
    assert r.headers["Location"].endswith(f"/inbox/tasks/{t['id']}")
    assert "已减签：w2" in b.follow(r)
    # the remaining signer signs in his inbox
    leader = Browser(app, "leader")
    ls = open_task(app, "leader")
    assert "加签" in leader.get("/inbox")
    page = leader.get(f"/inbox/tasks/{ls['id']}")
    assert 'id="btn-approve"' in page and "加签意见" in page
    leader.post_json(f"/inbox/tasks/{ls['id']}/approve", {"data": {}, "opinion": "同意受理"})
    assert 'id="btn-approve"' in b.get(f"/inbox/tasks/{t['id']}")


def test_cc_and_the_read_only_case_page(app):
    case = start(app)
    t = open_task(app, "w1")
    b = Browser(app, "w1")
    b.get(f"/inbox/tasks/{t['id']}")
    r = b.post(f"/inbox/tasks/{t['id']}/cc", {"users": "ghost"})
    assert "不存在或已停用" in b.follow(r)
    r = b.post(f"/inbox/tasks/{t['id']}/cc", {"users": "eco", "note": "请阅"})
    assert "已抄送：eco" in b.follow(r)
    eco = Browser(app, "eco")
    page = eco.get("/inbox?tab=cc")
    assert case["case_no"] in page and "未读" in page and f"/inbox/cases/{case['id']}" in page
    page = eco.get(f"/inbox/cases/{case['id']}")
    assert "只读" in page and "窗口审查" in page and "抄送" in page and "申请信息" in page
    assert "已读" in eco.get("/inbox?tab=cc")
    with app.app_context():
        assert db.session.execute(select(TaskCc.read_at)).scalar() is not None
    Browser(app, "fin").get(f"/inbox/cases/{case['id']}", expect=404)


def test_urge_by_a_leader_once_an_hour(app):
    start(app)
    t = open_task(app, "w1")
    leader = Browser(app, "leader")
    page = leader.get(f"/inbox/tasks/{t['id']}")
    assert 'id="op-urge"' in page
    r = leader.post(f"/inbox/tasks/{t['id']}/urge", {"note": "请加快"})
    assert "已催办" in leader.follow(r)
    r = leader.post(f"/inbox/tasks/{t['id']}/urge", {"note": "再催"})
    assert "一小时内已催办过" in leader.follow(r)
    assert "催办 1" in Browser(app, "w1").get("/inbox")
    # who may not urge gets a 403 page
    Browser(app, "eco").post(f"/inbox/tasks/{t['id']}/urge", expect=403)


def test_draft_then_withdraw(app):
    start(app)
    t = open_task(app, "w1")
    b = Browser(app, "w1")
    b.get(f"/inbox/tasks/{t['id']}")
    out = b.post_json(f"/inbox/tasks/{t['id']}/draft", {"data": {"opinion": "x" * 501}}, expect=422)
    assert out["message"]
    b.post_json(f"/inbox/tasks/{t['id']}/draft", {"data": {"decision": "approve", "opinion": "初审通过"}})
    page = b.get(f"/inbox/tasks/{t['id']}")
    assert "初审通过" in page and "有暂存" in b.get("/inbox")
    b.post(f"/inbox/tasks/{t['id']}/approve", {"opinion": "受理"})
    r = Browser(app, "w2").post(f"/inbox/tasks/{t['id']}/withdraw", expect=403)
    r = b.post(f"/inbox/tasks/{t['id']}/withdraw", {"reason": "意见写错"})
    assert "已撤回" in b.follow(r)
    assert "窗口审查" in b.get("/inbox")


def test_admin_suspends_resumes_and_terminates(app):
    case = start(app)
    t = open_task(app, "w1")
    boss = Browser(app, "boss")
    page = boss.get(f"/inbox/cases/{case['id']}")
    assert "挂起" in page and "终止" in page
    r = boss.post(f"/inbox/cases/{case['id']}/suspend", {"reason": ""})
    assert "请填写挂起理由" in boss.follow(r)
    r = boss.post(f"/inbox/cases/{case['id']}/suspend", {"reason": "司法程序"})
    assert "办件已挂起" in boss.follow(r)
    w1 = Browser(app, "w1")
    assert "暂无" in w1.get("/inbox")
    w1.get(f"/inbox/tasks/{t['id']}")
    r = w1.post(f"/inbox/tasks/{t['id']}/claim")
    assert "办件已挂起" in w1.follow(r)
    r = boss.post(f"/inbox/cases/{case['id']}/resume", {"reason": "程序结束"})
    assert "办件已激活" in boss.follow(r)
    r = boss.post(f"/inbox/cases/{case['id']}/terminate", {"reason": "申请人注销"})
    assert "办件已终止" in boss.follow(r)
    w1.post(f"/inbox/cases/{case['id']}/suspend", {"reason": "x"}, expect=403)


def test_upload_and_download_a_file(app):
    case = start(app)
    t = open_task(app, "w1")
    b = Browser(app, "w1")
    b.get(f"/inbox/tasks/{t['id']}")
    r = b.post(f"/inbox/cases/{case['id']}/files", {"file": (io.BytesIO(b"hello"), "a.pdf"), "kind": "scan"},
               content_type="multipart/form-data", headers={"Referer": f"/inbox/tasks/{t['id']}"})
    assert "只接受 PDF、JPG、PNG、OFD" in b.follow(r)
    pdf = b"%PDF-1.4\n%test\n"
    r = b.post(f"/inbox/cases/{case['id']}/files",
               {"file": (io.BytesIO(pdf), "会议纪要.pdf"), "kind": "meeting", "note": "第一次会议", "back": f"/inbox/tasks/{t['id']}"},
               content_type="multipart/form-data")
    page = b.follow(r)
    assert "已上传附件" in page and "会议纪要.pdf" in page
    with app.app_context():
        fid = db.session.execute(select(CaseFile.id)).scalar()
    r = b.c.get(f"/inbox/cases/{case['id']}/files/{fid}")
    assert r.status_code == 200 and r.data == pdf
    assert Browser(app, "fin").c.get(f"/inbox/cases/{case['id']}/files/{fid}").status_code in (403, 404)


def test_a_post_without_csrf_is_refused(app):
    start(app)
    t = open_task(app, "w1")
    b = Browser(app, "w1")
    r = b.c.post(f"/inbox/tasks/{t['id']}/claim")
    assert r.status_code == 400
    assert snapshot(app)[0][0][2] is None
