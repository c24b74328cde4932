"""双公示 names one party: the published name and 统一社会信用代码 both come from the account that
applied, on the SHIPPED matter 企业投资项目核准 (xmgl_hezhun) driven through the API along its
path tests, while the start form names another company (name and code typed by the applicant).

The record used to print the form's company name next to the signed-in account's credit code."""
import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.models.feedback import Disclosure
from app.services.identity.actors import hash_token
from tests.conftest import ROOT, add_user, deploy_all
from tests.services.portal.helpers import credit_code, make_applicant
from tests.web.api.helpers import Api

SCENARIOS = {s["name"]: s for s in json.loads(
    (ROOT / "processes" / "xmgl_hezhun.scenarios.json").read_text(encoding="utf-8"))["scenarios"]}
FORM_NAME = SCENARIOS["核准通过（含一次补正）"]["start"]["applicant_name"]   # 江苏华宁新材料股份有限公司
FORM_CODE = SCENARIOS["核准通过（含一次补正）"]["start"]["applicant_code"]
ACCOUNT_NAME = "江苏示范能源有限公司"
ACCOUNT_CODE = credit_code("91320100MA1XYW12")


@pytest.fixture
def api(app):
    deploy_all(app)
    return Api(app)


def account(api, kind: str) -> str:
    """An applicant account with its profile (enterprise or individual) and an API token."""
    mobile = "13900000001" if kind == "enterprise" else "13900000002"
    name = ACCOUNT_NAME if kind == "enterprise" else "王小红"
    user_id = make_applicant(api.app, mobile=mobile, kind=kind, name=name,
                             code=ACCOUNT_CODE if kind == "enterprise" else None)
    with api.app.app_context():
        user = db.session.get(User, user_id)
        user.token_hash = hash_token(f"tok-{user.username}")
        username = user.username
        db.session.commit()
    api.headers[username] = {"Authorization": f"Bearer tok-{username}"}
    return username


def handler(api, task, applicant):
    if task["assignee"]:
        return task["assignee"]
    name = f"u_{task['candidate_groups'][0]}"
    if name not in api.headers:
        api.headers[name] = add_user(api.app, name, "staff", [task["candidate_groups"][0]])
    return name


def decide(api, applicant, scenario):
    """Drive the shipped matter along one of its path tests to its decision."""
    r = api.post(applicant, "/api/cases", json={"process_id": "xmgl_hezhun", "data": scenario["start"]})
    assert r.status_code == 201, r.json
    case = r.json
    for step in scenario["steps"]:
        task = next(t for t in case["current_tasks"] if t["element_id"] == step["task"])
        r = api.post(handler(api, task, applicant), f"/api/tasks/{task['id']}/complete", json={"data": step["data"]})
        assert r.status_code == 200, (step["task"], r.json)
        case = r.json
    assert case["status"] == scenario["status"]
    return case


def published(api) -> Disclosure:
    with api.app.app_context():
        (item,) = db.session.execute(select(Disclosure)).scalars().all()
        db.session.expunge(item)
        return item


def test_an_enterprise_is_published_with_its_own_name_and_code_not_the_forms_name(api):
    applicant = account(api, "enterprise")
    case = decide(api, applicant, SCENARIOS["核准通过（含一次补正）"])
    assert case["applicant_name"] == FORM_NAME  # what the form said, kept on the case
    item = published(api)
    assert item.status == "published" and item.document_no
    assert (item.applicant_name, item.applicant_code) == (ACCOUNT_NAME, ACCOUNT_CODE)
    public = api.app.test_client()
    page = public.get("/disclosure", query_string={"code": ACCOUNT_CODE}).get_data(as_text=True)
    assert f'data-id="{item.id}"' in page and ACCOUNT_NAME in page and FORM_NAME not in page
    detail = public.get(f"/disclosure/{item.id}").get_data(as_text=True)
    assert ACCOUNT_NAME in detail and ACCOUNT_CODE in detail and FORM_NAME not in detail
    # the form's code belongs to another company: nothing is published under it
    assert f'data-id="{item.id}"' not in public.get("/disclosure", query_string={"code": FORM_CODE}).get_data(
        as_text=True)


def test_an_individual_account_is_masked_with_no_code_whatever_the_form_says(api):
    applicant = account(api, "individual")
    decide(api, applicant, SCENARIOS["会签有不同意见，协调未果后不予核准"])
    item = published(api)
    assert item.result == "rejected"
    assert (item.applicant_name, item.applicant_code) == ("王**", None)
