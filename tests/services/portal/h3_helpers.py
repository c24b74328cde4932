"""Shared setup of the portal tests of H3 (intake, receipt, progress, results, case page): the shipped
matters, an applicant with a phone, window staff, a browser-like client signed in by session."""
from __future__ import annotations

import io
import json
from pathlib import Path

from sqlalchemy import func, select

from app.extensions import db
from app.models import CaseFile, Notification, User
from tests.web.api.helpers import Api
from tests.conftest import ROOT, deploy_all

START = json.loads((ROOT / "processes" / "xmgl_hezhun.scenarios.json").read_text("utf-8"))["scenarios"][0]["start"]
BEIAN = json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text("utf-8"))["scenarios"][0]["start"]
PHONE = "13905171234"  # the scenario's contact_phone, also alice's account phone

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
FORGED = b"MZ\x90\x00 this is an exe named like a pdf"


def setup(app) -> Api:
    deploy_all(app)
    api = Api(app)
    api.user("alice", "applicant")
    api.user("bob", "applicant")
    api.user("w1", groups=["window"])
    api.user("w_nj", groups=["window"], region_code="320100")
    api.user("inv", groups=["investment"])
    api.user("insp", groups=["inspector"])
    with app.app_context():
        db.session.execute(User.__table__.update().where(User.username == "alice").values(phone=PHONE))
        db.session.execute(User.__table__.update().where(User.username == "bob").values(phone="13800000002"))
        db.session.commit()
    return api


def submit(api, process="xmgl_hezhun", who="alice", **data) -> dict:
    r = api.post(who, "/api/cases", json={"process_id": process, "data": {**(START if process == "xmgl_hezhun"
                                                                              else BEIAN), **data}})
    assert r.status_code == 201, r.json
    return r.json


def browser(app, username):
    """A test client signed in as ``username`` by session, with a known CSRF token."""
    client = app.test_client()
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
    with client.session_transaction() as s:
        s["uid"] = uid
        s["csrf"] = "tok"
    return client


def anonymous(app):
    client = app.test_client()
    with client.session_transaction() as s:
        s["csrf"] = "tok"
    return client


def mail_form(slip=PDF, content_list=PNG, commitment=JPG, **fields):
    data = {"csrf_token": "tok", "courier": "顺丰速运", "tracking_no": "SF1402573396841", **fields}
    for name, blob, fname in (("slip", slip, "面单.pdf"), ("content_list", content_list, "清单.png"),
                              ("commitment", commitment, "承诺书.jpg")):
        if blob is not None:
            data[name] = (io.BytesIO(blob), fname)
    return data


def upload_mail(app, case_id, who="alice", **kw):
    return browser(app, who).post(f"/portal/cases/{case_id}/mail", data=mail_form(**kw),
                                  content_type="multipart/form-data")


def confirm(app, case_id, who="w1"):
    return browser(app, who).post(f"/inbox/cases/{case_id}/intake/confirm", data={"csrf_token": "tok"})


def window_task(api, case_id):
    tasks = [t for t in api.tasks("w1") if t["case_id"] == case_id and t["element_id"] == "window_review"]
    assert tasks
    return tasks[0]


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def notifications(app, template) -> list[Notification]:
    with app.app_context():
        return list(db.session.execute(select(Notification).where(Notification.template == template)
                                       .order_by(Notification.id)).scalars())


def stored_files(app) -> list[Path]:
    return [p for p in Path(app.config["FILES_DIR"]).rglob("*") if p.is_file()]


def case_files(app, case_id) -> list[CaseFile]:
    with app.app_context():
        return list(db.session.execute(select(CaseFile).where(CaseFile.case_id == case_id)).scalars())
