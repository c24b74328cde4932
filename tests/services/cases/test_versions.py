"""Deploying a changed matter records who, when and the diff; versions are listed with the
instances still running on each (designers and administrators only)."""
import json
import shutil

from app.extensions import db
from app.models import ProcessVersion
from app.services.identity.actors import Actor
from app.services.cases.registry import deploy_directory
from tests.web.api.helpers import START, Api
from tests.conftest import FIXTURES, deploy_all, make_app

DESIGNER = Actor(id=None, username="dora", kind="staff", groups=frozenset({"designer"}))


def _app(db_url, tmp_path):
    shutil.copytree(FIXTURES / "processes", tmp_path / "processes")
    shutil.copytree(FIXTURES / "forms", tmp_path / "forms")
    return make_app(db_url, PROCESSES_DIR=str(tmp_path / "processes"), FORMS_DIR=str(tmp_path / "forms"))


def _change(tmp_path):
    """v2 of t_simple: the window step renamed and offered to one more group, a changed condition, a
    new optional field in the review form, and a new service-guide name."""
    bpmn = tmp_path / "processes" / "t_simple.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8")
                    .replace('name="窗口审查"', 'name="窗口受理审查"')
                    .replace('camunda:candidateGroups="window"', 'camunda:candidateGroups="window,investment"')
                    .replace("decision == 'reject'</", "decision in ('reject', 'refuse')</"), encoding="utf-8")
    form_path = tmp_path / "forms" / "t_review.form.json"
    form = json.loads(form_path.read_text(encoding="utf-8"))
    form["components"].append({"type": "textfield", "key": "doc_no", "label": "文号"})
    form_path.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    meta_path = tmp_path / "processes" / "t_simple.matter.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["name"] += "（新）"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def test_deploying_a_changed_matter_records_the_diff_who_and_when(db_url, tmp_path):
    app = _app(db_url, tmp_path)
    deploy_all(app)
    _change(tmp_path)
    with app.app_context():
        deploy_directory(app.config["PROCESSES_DIR"], app.config["FORMS_DIR"], actor=DESIGNER)
        v1, v2 = db.session.query(ProcessVersion).filter_by(process_id="t_simple").order_by(ProcessVersion.number)
        assert (v1.deployed_by, v2.deployed_by) == ("system", "dora")
        assert v1.deployed_at is not None and v2.deployed_at >= v1.deployed_at
        first = v1.summary["diff"]
        assert first["base"] is None and first["elements"]["removed"] == first["elements"]["changed"] == []
        assert {"review", "decide", "f_review_reject"} <= {e["id"] for e in first["elements"]["added"]}
        assert "t_review" in first["forms"]["added"]
        diff = v2.summary["diff"]
        assert diff["base"] == 1
        assert diff["elements"]["added"] == diff["elements"]["removed"] == []
        assert {c["id"]: c["fields"] for c in diff["elements"]["changed"]} == {
            "review": ["camunda:candidateGroups", "name"], "f_review_reject": ["condition"]}
        assert diff["forms"] == {"added": [], "removed": [], "changed": [
            {"id": "t_review", "fields_added": ["doc_no"], "fields_removed": [], "fields_changed": []}]}
        assert diff["matter"] == {"changed": ["name"]}
        assert v2.summary["start_form"] == v1.summary["start_form"]  # the summary keeps its other keys
        # redeploying the same files records nothing new
        assert not any(r.created for r in deploy_directory(app.config["PROCESSES_DIR"], app.config["FORMS_DIR"]))


def test_versions_api_and_cli(db_url, tmp_path):
    app = _app(db_url, tmp_path)
    deploy_all(app)
    api = Api(app)
    api.user("alice", "applicant")
    api.user("w1", groups=["window"])
    api.user("dora", groups=["designer"])
    api.user("root", groups=["admin"])
    for _ in range(2):
        assert api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START}).status_code == 201
    _change(tmp_path)
    with app.app_context():
        deploy_directory(app.config["PROCESSES_DIR"], app.config["FORMS_DIR"], actor=DESIGNER)
    assert api.post("alice", "/api/cases", json={"process_id": "t_simple", "data": START}).status_code == 201

    for who in ("dora", "root"):
        r = api.get(who, "/api/matters/t_simple/versions")
        assert r.status_code == 200, r.json
        assert [(v["number"], v["running_instances"], v["latest"], v["deployed_by"]) for v in r.json] == [
            (2, 1, True, "dora"), (1, 2, False, "system")]
        assert r.json[0]["diff_counts"] == {"elements": {"added": 0, "removed": 0, "changed": 2},
                                            "forms": {"added": 0, "removed": 0, "changed": 1}, "matter": 1}
        assert r.json[0]["base"] == 1 and r.json[0]["deployed_at"] and len(r.json[0]["content_hash"]) == 64
    r = api.get("dora", "/api/matters/t_simple/versions/2")
    assert r.status_code == 200, r.json
    review = next(c for c in r.json["diff"]["elements"]["changed"] if c["id"] == "review")
    assert review["changes"]["name"] == ["窗口审查", "窗口受理审查"]
    assert api.get("dora", "/api/matters/t_simple/versions/1").json["diff"]["base"] is None

    for who in ("w1", "alice"):
        assert api.get(who, "/api/matters/t_simple/versions").status_code == 403
        assert api.get(who, "/api/matters/t_simple/versions/2").status_code == 403
    assert api.get("nobody", "/api/matters/t_simple/versions").status_code == 401
    assert api.get("dora", "/api/matters/no_such/versions").status_code == 404
    assert api.get("dora", "/api/matters/no_such/versions/1").status_code == 404
    assert api.get("dora", "/api/matters/t_simple/versions/3").status_code == 404

    out = app.test_cli_runner().invoke(args=["processes", "versions", "t_simple"])
    assert out.exit_code == 0, out.output
    assert "v2" in out.output and "dora" in out.output and "running=1" in out.output
    assert "~ userTask review 窗口受理审查 [camunda:candidateGroups, name]" in out.output
    assert "~ form t_review [+doc_no]" in out.output and "~ matter [name]" in out.output
    assert "first version" in out.output
    bad = app.test_cli_runner().invoke(args=["processes", "versions", "no_such"])
    assert bad.exit_code == 1
