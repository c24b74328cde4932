"""The face of 电子监察 and of 公示 (issue 19), on shipped matters driven through the API to a decision:
rules, matters, departments and case statuses by name (the rule's code in a title attribute), times
in Beijing time, the on-time rate per department responsible for each step (never one row named
``applicant``), each table row a card of "label: value" lines below 600 px, and a decision of a 备案
matter published as 予以备案 / 不予备案, of a licence as 准予许可."""
import csv
import io
import json
import re
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Department, SupervisionEvent, User
from app.models.feedback import Disclosure
from app.services.clocks import supervision as svc
from app.services.clocks.supervision import run_supervision
from app.services.common.clock import FakeClock
from app.services.identity.org import seed_departments
from tests.conftest import ROOT, deploy_all, make_app
from tests.web.api.helpers import Api

BJ = ZoneInfo("Asia/Shanghai")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
RENAMED = "固定资产投资处（监察更名）"  # the Department row's name, not the group's label


@pytest.fixture
def face(db_url):
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=BJ))  # a Monday
    app = make_app(db_url, CLOCK=clock)
    deploy_all(app)
    api = Api(app)
    api.user("applicant_1", "applicant")
    api.user("insp", groups=["inspector"])
    with app.app_context():
        seed_departments()
        db.session.execute(select(Department).where(Department.code == "investment")).scalar_one().name = RENAMED
        db.session.commit()
    app.api, app.clock = api, clock
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def scenario(process_id: str, name: str) -> dict:
    found = json.loads((ROOT / "processes" / f"{process_id}.scenarios.json").read_text(encoding="utf-8"))
    return next(s for s in found["scenarios"] if s["name"] == name)


def staff_for(api, task) -> str:
    """The task's assignee, else a staff member of its first candidate group (created once)."""
    if task["assignee"]:
        return task["assignee"]
    group = task["candidate_groups"][0]
    name = f"u_{group}"
    if name not in api.headers:
        api.user(name, groups=[group])
    return name


def drive(app, process_id: str, name: str, *, steps: int | None = None, late: dict | None = None) -> dict:
    """Start the scenario's case and do its steps (the first ``steps`` of them), every staff step
    claimed first as the 工作台 does; before the steps named in ``late`` (element id: working-day
    jump) the clock moves on and a supervision pass runs, so that step finishes past its limit."""
    api, sc = app.api, scenario(process_id, name)
    r = api.post("applicant_1", "/api/cases", json={"process_id": process_id, "data": sc["start"]})
    assert r.status_code == 201, r.json
    case = r.json
    for step in sc["steps"][:steps]:
        task = next(t for t in case["current_tasks"] if t["element_id"] == step["task"])
        if step["task"] in (late or {}):
            app.clock.advance(days=late.pop(step["task"]))
            with app.app_context():
                run_supervision()
        who = staff_for(api, task)
        if who != "applicant_1":
            assert api.post(who, f"/api/tasks/{task['id']}/claim", json={}).status_code == 200
        r = api.post(who, f"/api/tasks/{task['id']}/complete", json={"data": step["data"]})
        assert r.status_code == 200, (step["task"], r.json)
        case = r.json
    return case


def inspector_page(app, url: str) -> str:
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == "insp")).scalar_one()
    c = app.test_client()
    with c.session_transaction() as s:
        s["uid"], s["sv"], s["csrf"] = uid, 0, "t"
    r = c.get(url)
    assert r.status_code == 200
    return r.get_data(as_text=True)


def table(page: str, css_class: str) -> str:
    start = page.index(f'class="cards {css_class}"')
    return page[start:page.index("</table>", start)]


def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def rows(html: str) -> list[list[str]]:
    return [[visible(td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", html, re.S) if "<td" in tr]


def test_the_supervision_page_names_rules_matters_departments_and_statuses(face):
    # a licence decided after its division review and its decision finished late (red warnings on the
    # steps and on the case first), with the applicant's own 补正 step on the way; a second case
    # accepted and left open past its limits
    decided = drive(face, "xmgl_hezhun", "核准通过（含一次补正）", late={"division_review": 9, "leader_decision": 6})
    assert decided["status"] == "approved"
    open_case = drive(face, "xmgl_hezhun", "处长退回重审后核准", steps=1)
    face.clock.advance(days=40)
    with face.app_context():
        run_supervision()
        events = db.session.execute(select(SupervisionEvent)).scalars().all()
    assert {"RED-STEP"} <= {e.rule_id for e in events}
    assert any(e.result and e.result.startswith("办件状态：") for e in events)  # what the service now writes
    page = inspector_page(face, "/supervision")
    text = visible(page)

    # rules by name, the code kept in a title attribute; results by label and in Beijing time
    assert 'title="RED-STEP">环节超期（红牌）</span>' in page
    assert "办件状态：准予许可/办结" in text and re.search(r"超期办结于 2026-\d\d-\d\d \d\d:\d\d", text)
    assert "办件已" not in text and not ISO_TIME.search(text) and "approved" not in text
    # the overdue case by its matter's name and its status's label
    overdue = rows(table(page, "sv-overdue"))
    assert [(r[0], r[1], r[4]) for r in overdue] == [(open_case["case_no"], "企业投资项目核准", "已受理")]

    # on-time rate per department responsible for the step, named by its Department row
    departments = {r[0]: r[1:] for r in rows(table(page, "sv-rates"))}
    # (a claimed step used to count as "applicant"; the division's review and its chief's are one
    # department; the window reviewed twice on the first case and once on the second)
    assert departments == {"生态环境厅": ["1", "1", "100.0%"], "自然资源厅": ["1", "1", "100.0%"],
                           RENAMED: ["2", "1", "50.0%"], "委领导": ["1", "0", "0.0%"],
                           "政务服务大厅窗口": ["3", "3", "100.0%"]}
    matters = {r[0]: r[1:] for r in rows(table(page, 'sv-rates" id="rates-matters'))}
    assert list(matters) == ["企业投资项目核准"]
    # the applicant's 补正 is not the agency's time: every counted step is a department's
    assert sum(int(v[0]) for v in departments.values()) == int(matters["企业投资项目核准"][0])

    english = visible(inspector_page(face, "/supervision?lang=en"))
    assert "Step overdue (red)" in english and "Case status: Approved" in english
    assert re.search(r"Done late, 2026-\d\d-\d\d \d\d:\d\d", english)


def test_each_row_is_a_card_of_label_value_lines_below_600px(face):
    drive(face, "xmgl_hezhun", "核准通过（含一次补正）", late={"division_review": 9})
    page = inspector_page(face, "/supervision")
    assert re.search(r"@media \(max-width:600px\)\{[^<]*table\.cards thead\{display:none\}", page)
    assert "table.cards td[data-label]::before{content:attr(data-label)" in page
    for css_class in ("sv-events", "sv-overdue", "sv-rates", "fed-reports"):
        html = table(page, css_class)
        heads = re.findall(r"<th>(.*?)</th>", html)
        for cells in re.findall(r"<tr>(.*?)</tr>", html, re.S):
            labels = re.findall(r'<td data-label="([^"]*)"', cells)
            if labels:  # every cell of a data row names its column (the "暂无" row spans them all)
                assert labels == heads, (css_class, labels, heads)


def test_rows_stored_before_show_labels_and_beijing_time(face):
    with face.app_context():
        for key, result in (("a", "办件已approved"), ("b", "按期办结于 2026-03-03T01:30:00.123456+00:00"),
                            ("c", "办件已rejected")):
            db.session.add(SupervisionEvent(dedup_key=f"old:{key}", scope="case", limit_kind="promised",
                                            colour="red", rule_id="RED-CASE-PROMISED", content="旧记录",
                                            status="resolved", result=result, process_id="xmgl_hezhun"))
        db.session.commit()
    text = visible(inspector_page(face, "/supervision"))
    assert "办件状态：准予许可/办结" in text and "办件状态：不予受理/不予许可" in text
    assert "按期办结于 2026-03-03 09:30" in text and not ISO_TIME.search(text)
    assert "超承诺办结期限（红牌）" in text and "RED-CASE-PROMISED" not in text
    with face.app_context():  # the CSV says the same, and keeps the code in a column of its own
        got = list(csv.reader(io.StringIO(svc.export_csv(SimpleNamespace(is_inspector=True, is_admin=False))
                                          .lstrip("\ufeff"))))
    head, body = got[0], got[1:]
    assert head[-1] == "规则编码" and {r[-1] for r in body} == {"RED-CASE-PROMISED"}
    assert {r[1] for r in body} == {"企业投资项目核准"} and {r[4] for r in body} == {"超承诺办结期限（红牌）"}
    assert "按期办结于 2026-03-03 09:30" in {r[9] for r in body} and not any(ISO_TIME.search(c) for r in body for c in r)


def test_the_department_of_a_step():
    applicant = SimpleNamespace(kind="applicant", groups=[])
    handler = SimpleNamespace(kind="staff", groups=["power_chief"])
    people = {"alice": applicant, "bob": handler}

    def step(groups=(), assignee=None, users=()):
        return SimpleNamespace(candidate_groups=list(groups), assignee=assignee, completed_by=assignee,
                               candidate_users=list(users))
    assert svc.step_department(step(["investment_chief"], assignee="bob"), people) == "investment"  # claimed
    assert svc.step_department(step(["${cs['dept']}", "cs_ecology"]), people) == "cs_ecology"
    assert svc.step_department(step(assignee="alice"), people) is None  # the applicant's 补正
    assert svc.step_department(step(assignee="bob"), people) == "power"  # 加签: the signer's department
    assert svc.step_department(step(users=["bob"]), people) == "power"
    assert svc.step_department(step(assignee="ghost"), people) == svc.NO_DEPARTMENT


def staff_client(app, username: str):
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
    c = app.test_client()
    with c.session_transaction() as s:
        s["uid"], s["sv"], s["csrf"] = uid, 0, "t"
    return c


def test_disclosure_names_the_decision_by_the_matters_kind(face):
    filed = drive(face, "xmgl_beian", "予以备案（含一次补正，无需征求意见）")
    refused = drive(face, "xmgl_beian", "限制类项目征求意见后不予备案")
    licensed = drive(face, "xmgl_hezhun", "核准通过（含一次补正）")
    with face.app_context():
        items = {d.case_id: (d.id, d.status) for d in db.session.execute(select(Disclosure)).scalars()}
    public = face.test_client()

    # a 备案 with its 备案号 is published at once: 予以备案, never 准予许可
    item_id, status = items[filed["id"]]
    assert status == "published"
    detail = visible(public.get(f"/disclosure/{item_id}").get_data(as_text=True))
    assert "予以备案" in detail and "准予许可" not in detail
    listing = public.get("/disclosure").get_data(as_text=True)
    entry = listing[listing.index(f'data-id="{item_id}"'):]
    assert visible(entry[:entry.index("</li>")]).count("予以备案") == 1

    # a refused 备案 waits for its 文号: staff see 不予备案, and publishing keeps it
    item_id, status = items[refused["id"]]
    assert status == "pending"
    window = staff_client(face, "u_window")
    page = window.get(f"/feedback/disclosures/{item_id}").get_data(as_text=True)
    content = re.search(r'<textarea name="content"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert content.startswith("不予备案。理由：") and "不予许可" not in visible(page)
    project = re.search(r'<input name="project_name"[^>]*value="([^"]*)"', page).group(1)
    r = window.post(f"/feedback/disclosures/{item_id}/publish", data={
        "csrf_token": "t", "document_no": "苏发改备〔2026〕1号", "project_name": project, "content": content})
    assert r.status_code == 302, r.get_data(as_text=True)
    detail = visible(public.get(f"/disclosure/{item_id}").get_data(as_text=True))
    assert "不予备案。理由：" in detail and "不予许可" not in detail

    # a licence is 准予许可
    item_id, status = items[licensed["id"]]
    detail = visible(window.get(f"/feedback/disclosures/{item_id}").get_data(as_text=True))
    assert "准予许可" in detail and "备案" not in detail.split("决定内容")[1][:40]
