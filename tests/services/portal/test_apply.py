"""Applying online: a draft of the start form prefilled from the profile, 暂存, one upload slot per
materials-list entry (new file or from the library), submit → a case. Bad input and other people's
drafts: a clear answer, nothing changed."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Case, CaseFile
from app.models.accounts import LibraryItem
from tests.conftest import deploy_all, make_app
from tests.services.portal.helpers import EXE, PDF, PNG, credit_code, make_applicant, signed_in, upload

PID = "xmgl_beian"
DATA = {"project_name": "示范光伏项目", "project_code": "2603-320111-04-01-582316", "region_code": "320111",
        "location_detail": "南京市江北新区某路 1 号", "industry": "energy", "total_investment": 12000.5,
        "construction_content": "建设 20MW 分布式光伏", "planned_start_date": "2026-05-01",
        "construction_period_months": 12, "project_nature": "new", "industry_policy": "encouraged",
        "capacity_replacement": "no", "applicant_name": "江苏示范能源有限公司", "applicant_code": credit_code(),
        "legal_representative": "张三", "contact_person": "李四", "contact_phone": "13900000001",
        "commitment": True}
H = {"X-CSRF-Token": "t", "Accept": "application/json"}


@pytest.fixture
def app(db_url):
    app = make_app(db_url, FILE_MAX_BYTES=64 * 1024)
    deploy_all(app)
    app.uid = make_applicant(app, "13900000001")
    app.other = make_applicant(app, "13900000002", code=credit_code("91320100MA1QQQ77"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def new_draft(app, c) -> int:
    r = c.post(f"/portal/apply/{PID}", data={"csrf_token": "t"})
    assert r.status_code == 302, r.get_data(as_text=True)
    return int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def case_row(app, case_id):
    with app.app_context():
        case = db.session.get(Case, case_id)
        db.session.expunge(case)
        return case


def files_of(app, case_id):
    with app.app_context():
        return [(f.material, f.filename, f.storage_key) for f in db.session.execute(
            select(CaseFile).where(CaseFile.case_id == case_id).order_by(CaseFile.id)).scalars()]


def attach(c, case_id, index, data, name, **extra):
    return c.post(f"/portal/drafts/{case_id}/materials/{index}", content_type="multipart/form-data",
                  data=dict({"csrf_token": "t", "file": upload(data, name)}, **extra))


def test_apply_creates_a_draft_prefilled_from_the_profile(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    case = case_row(app, case_id)
    assert case.status == "draft" and case.case_no is None
    assert case.data["applicant_name"] == "江苏示范能源有限公司" and case.data["applicant_code"] == credit_code()
    assert case.data["contact_phone"] == "13900000001" and case.data["legal_representative"] == "张三"
    page = c.get(f"/portal/drafts/{case_id}").get_data(as_text=True)
    assert "企业投资项目备案信息表" in page and "mountTaskForm" in page and "form-viewer.js" in page
    assert page.count('class="tag req"') == 2
    assert f"#{case_id}" in c.get("/portal/drafts").get_data(as_text=True)


def test_apply_needs_a_signed_in_applicant(app):
    r = app.test_client().get(f"/portal/apply/{PID}")
    assert r.status_code == 302 and "/portal/login" in r.headers["Location"]


def test_save_draft_checks_the_project_code_shape(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    r = c.post(f"/portal/drafts/{case_id}/save", json={"data": {"project_code": "2603-12"}}, headers=H)
    assert r.status_code == 422 and "YYMM-XXXXXX-XX-XX-XXXXXX" in r.json["errors"]["project_code"][0]
    assert case_row(app, case_id).data.get("project_code") is None
    r = c.post(f"/portal/drafts/{case_id}/save", json={"data": {"project_name": "暂存的名称"}}, headers=H)
    assert r.status_code == 200 and case_row(app, case_id).data == {"project_name": "暂存的名称"}
    r = c.post(f"/portal/drafts/{case_id}/save", json={"data": {"no_such_field": 1}}, headers=H)
    assert r.status_code == 422 and case_row(app, case_id).data == {"project_name": "暂存的名称"}


def test_uploads_are_typed_by_content_and_size_limited(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    r = attach(c, case_id, 0, PNG, "备案信息表.pdf")  # a PNG named .pdf is fine: stored as what it is
    assert r.status_code == 302
    assert files_of(app, case_id)[0][:2] == ("企业投资项目备案信息表", "备案信息表.png")
    r = attach(c, case_id, 1, EXE, "声明.pdf")
    assert r.status_code == 422 and "只接受 PDF、JPG、PNG、OFD" in r.get_data(as_text=True)
    r = attach(c, case_id, 1, PDF + b"0" * (64 * 1024), "声明.pdf")
    assert r.status_code == 422 and "文件超过" in r.get_data(as_text=True)
    r = attach(c, case_id, 1, b"", "空.pdf")
    assert r.status_code == 422
    r = attach(c, case_id, 9, PDF, "x.pdf")
    assert r.status_code == 422 and "材料清单中没有该项" in r.get_data(as_text=True)
    assert len(files_of(app, case_id)) == 1
    # a new upload for the same entry replaces the old one
    assert attach(c, case_id, 0, PDF, "新版.pdf").status_code == 302
    assert [f[1] for f in files_of(app, case_id)] == ["新版.pdf"]


def test_library_item_is_picked_without_uploading_again(app):
    c = signed_in(app, app.uid)
    r = c.post("/portal/library", content_type="multipart/form-data",
               data={"csrf_token": "t", "material": "营业执照", "file": upload(PDF, "执照.pdf")})
    assert r.status_code == 302
    r = c.post("/portal/library", content_type="multipart/form-data",
               data={"csrf_token": "t", "material": "坏文件", "file": upload(EXE, "x.pdf")})
    assert r.status_code == 422
    with app.app_context():
        item = db.session.execute(select(LibraryItem)).scalar_one()
        item_id, key = item.id, item.storage_key
    assert "营业执照" in c.get("/portal/library").get_data(as_text=True)
    assert c.get(f"/portal/library/{item_id}/download").data == PDF
    case_id = new_draft(app, c)
    r = c.post(f"/portal/drafts/{case_id}/materials/1", data={"csrf_token": "t", "library_item": str(item_id)})
    assert r.status_code == 302
    assert files_of(app, case_id) == [("项目符合产业政策的声明", "执照.pdf", key)]
    # an upload made while applying can be kept in the library
    assert attach(c, case_id, 0, PNG, "表.png", save_to_library="1").status_code == 302
    with app.app_context():
        assert db.session.execute(select(LibraryItem.material).order_by(LibraryItem.id)).scalars().all() == \
            ["营业执照", "企业投资项目备案信息表"]
    # someone else cannot see, use or delete the item
    other = signed_in(app, app.other)
    assert other.get(f"/portal/library/{item_id}/download").status_code == 404
    assert other.post(f"/portal/library/{item_id}/delete", data={"csrf_token": "t"}).status_code == 404
    other_case = new_draft(app, other)
    r = other.post(f"/portal/drafts/{other_case}/materials/0", data={"csrf_token": "t", "library_item": str(item_id)})
    assert r.status_code == 404 and files_of(app, other_case) == []


def test_someone_elses_draft_is_a_404_and_unchanged(app):
    owner = signed_in(app, app.uid)
    case_id = new_draft(app, owner)
    attach(owner, case_id, 0, PDF, "a.pdf")
    before = (case_row(app, case_id).data, files_of(app, case_id))
    other = signed_in(app, app.other)
    assert other.get(f"/portal/drafts/{case_id}").status_code == 404
    assert other.post(f"/portal/drafts/{case_id}/save", json={"data": {"project_name": "x"}}, headers=H).status_code == 404
    assert attach(other, case_id, 1, PDF, "b.pdf").status_code == 404
    assert other.post(f"/portal/drafts/{case_id}/submit", json={"data": DATA}, headers=H).status_code == 404
    assert other.post(f"/portal/drafts/{case_id}/delete", data={"csrf_token": "t"}).status_code == 404
    with app.app_context():
        fid = db.session.execute(select(CaseFile.id).where(CaseFile.case_id == case_id)).scalar()
    assert other.get(f"/portal/drafts/{case_id}/files/{fid}").status_code == 404
    assert other.post(f"/portal/drafts/{case_id}/files/{fid}/remove", data={"csrf_token": "t"}).status_code == 404
    assert (case_row(app, case_id).data, files_of(app, case_id)) == before
    assert case_row(app, case_id).status == "draft"


def test_missing_csrf_is_refused(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    assert c.post(f"/portal/drafts/{case_id}/save", json={"data": {"project_name": "x"}}).status_code == 400
    r = c.post(f"/portal/drafts/{case_id}/materials/0", content_type="multipart/form-data",
               data={"file": upload(PDF, "a.pdf")})
    assert r.status_code == 400 and files_of(app, case_id) == []
    assert c.post(f"/portal/apply/{PID}").status_code == 400


def test_submit_with_missing_material_is_refused_with_the_whole_list(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    attach(c, case_id, 0, PDF, "a.pdf")
    r = c.post(f"/portal/drafts/{case_id}/submit", json={"data": dict(DATA, project_code="12-34")}, headers=H)
    assert r.status_code == 422
    assert set(r.json["errors"]) == {"material.1", "project_code"}
    assert "项目符合产业政策的声明" in r.json["errors"]["material.1"][0]
    case = case_row(app, case_id)
    assert case.status == "draft" and case.case_no is None and case.instance_id is None
    # the HTML form path shows the same list
    r = c.post(f"/portal/drafts/{case_id}/submit", data={"csrf_token": "t"})
    assert r.status_code == 422 and "请上传必需材料「项目符合产业政策的声明」" in r.get_data(as_text=True)
    assert "项目名称" in r.get_data(as_text=True)  # missing form fields named by their labels


def test_submit_creates_one_case_even_when_clicked_twice(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    attach(c, case_id, 0, PDF, "a.pdf")
    attach(c, case_id, 1, PNG, "b.png")
    r = c.post(f"/portal/drafts/{case_id}/submit", json={"data": DATA}, headers=H)
    assert r.status_code == 200, r.json
    assert r.json["redirect"] == f"/portal/cases/{case_id}"
    case = case_row(app, case_id)
    assert case.status not in ("draft",) and case.case_no and case.project_code == DATA["project_code"]
    r = c.post(f"/portal/drafts/{case_id}/submit", json={"data": DATA}, headers=H)
    assert r.status_code == 409 and r.json["redirect"] == f"/portal/cases/{case_id}"
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Case).where(Case.case_no.is_not(None))).scalar() == 1
    # a submitted case is no longer a draft
    assert c.get(f"/portal/drafts/{case_id}").status_code == 302
    assert c.post(f"/portal/drafts/{case_id}/delete", data={"csrf_token": "t"}).status_code == 409


def test_delete_a_draft(app):
    c = signed_in(app, app.uid)
    case_id = new_draft(app, c)
    attach(c, case_id, 0, PDF, "a.pdf")
    assert c.post(f"/portal/drafts/{case_id}/delete", data={"csrf_token": "t"}).status_code == 302
    with app.app_context():
        assert db.session.get(Case, case_id) is None
    assert c.get(f"/portal/drafts/{case_id}").status_code == 404
