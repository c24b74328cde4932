"""The stages of a 政府投资项目 on the shipped matters: a 可研 application (zftz_kyb) for a project
code without an approved 项目建议书 (zftz_jys) and 节能审查 (jnsc_jieneng) is refused at the project
code with the matter's message, nothing stored; once both are approved for that code it is taken."""
import json

from sqlalchemy import func, select

from app.extensions import db
from app.models import Case
from tests.conftest import ROOT
from tests.web.api.test_shipped_processes import CASES, api, drive, satisfy_requirements  # noqa: F401 (fixture)


def start_of(pid: str) -> dict:
    return next(sc for p, sc in CASES if p == pid)["start"]


def count_cases(api, pid) -> int:
    with api.app.app_context():
        return db.session.execute(select(func.count()).select_from(Case).where(Case.process_id == pid)).scalar()


def test_a_feasibility_study_without_its_approved_proposal_is_refused_with_the_reason(api):
    data = start_of("zftz_kyb")
    meta = json.loads((ROOT / "processes" / "zftz_kyb.matter.json").read_text("utf-8"))
    proposal = next(r for r in meta["requires"] if r["matter"] == "zftz_jys")
    r = api.post("applicant_1", "/api/cases", json={"process_id": "zftz_kyb", "data": data})
    assert r.status_code == 422, r.json
    assert proposal["message"] in json.dumps(r.json, ensure_ascii=False)
    assert "project_code" in json.dumps(r.json)
    assert count_cases(api, "zftz_kyb") == 0
    # the proposal alone is not enough: the 节能审查 opinion is required too
    granted = next(sc for p, sc in CASES if p == "zftz_jys" and sc["status"] == "approved")
    drive(api, "zftz_jys", dict(granted, start=dict(granted["start"], project_code=data["project_code"])))
    r = api.post("applicant_1", "/api/cases", json={"process_id": "zftz_kyb", "data": data})
    assert r.status_code == 422 and "节能审查" in json.dumps(r.json, ensure_ascii=False)
    satisfy_requirements(api, "zftz_kyb", data["project_code"])
    r = api.post("applicant_1", "/api/cases", json={"process_id": "zftz_kyb", "data": data})
    assert r.status_code == 201, r.json
    # another project code has no approvals of its own
    other = dict(data, project_code=data["project_code"][:-6] + "999999")
    r = api.post("applicant_1", "/api/cases", json={"process_id": "zftz_kyb", "data": other})
    assert r.status_code == 422 and proposal["message"] in json.dumps(r.json, ensure_ascii=False)
