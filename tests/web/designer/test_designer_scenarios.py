"""Path tests from the designer page: the editor carries the matter's <id>.scenarios.json, POST
/designer/scenarios runs posted scenarios against the posted (unsaved) model, deploy writes the file
and refuses a matter whose own scenarios fail."""
from __future__ import annotations

import json
import re

from tests.conftest import ROOT
from tests.web.designer.test_designer import PID, VALID, app, dirs, payload, post, signed_in, snapshot, versions

START = json.loads((ROOT / "processes" / "xmgl_beian.scenarios.json").read_text("utf-8"))["scenarios"][0]["start"]
ACCEPT = {"window_decision": "accept", "paper_received": True, "window_opinion": "材料齐全，予以受理。"}


def scenario(**kw) -> dict:
    return dict({"name": "受理办结", "start": START, "steps": [{"task": "review", "data": ACCEPT}], "end": "end"}, **kw)


def test_editor_shows_the_matters_scenarios(app, dirs):
    (dirs[0] / "xmgl_beian.scenarios.json").write_text(
        (ROOT / "processes" / "xmgl_beian.scenarios.json").read_text("utf-8"), "utf-8")
    c = signed_in(app, "d1")
    html = c.get("/designer/xmgl_beian").get_data(as_text=True)
    data = json.loads(re.search(r'id="designer-data">(.*?)</script>', html, re.S).group(1))
    assert [s["name"] for s in data["scenarios"]][0] == "予以备案（含一次补正，无需征求意见）"
    assert data["urls"]["scenarios"] == "/designer/scenarios" and 'data-tab="scenarios"' in html
    (dirs[0] / "xmgl_beian.scenarios.json").write_text("{broken", "utf-8")
    data = json.loads(re.search(r'id="designer-data">(.*?)</script>',
                                c.get("/designer/xmgl_beian").get_data(as_text=True), re.S).group(1))
    assert data["scenarios"] == [] and "not valid JSON" in data["scenarios_problem"]


def test_run_against_the_unsaved_model_pass_and_fail_with_the_path(app, dirs):
    c = signed_in(app, "d1")
    before = snapshot(dirs)
    body = dict(payload(), scenarios=[
        scenario(),
        scenario(name="错的结束事件", end="end_rejected"),
        scenario(name="缺少必填", steps=[{"task": "review", "data": {"window_opinion": "x"}}]),
        scenario(name="指定路径", path=["start", "review", "end"]),
        scenario(name="路径不同", path=["start", "end"]),
    ])
    r = post(c, "/designer/scenarios", body)
    assert r.status_code == 200, r.json
    res = {x["name"]: x for x in r.json["results"]}
    assert r.json["ok"] is False and r.json["errors"] == []
    assert res["受理办结"]["passed"] and res["受理办结"]["path"] == ["start", "review", "end"]
    assert res["受理办结"]["end_event"] == "end"
    assert not res["错的结束事件"]["passed"] and "expected end 'end_rejected', reached 'end'" in res["错的结束事件"]["message"]
    assert not res["缺少必填"]["passed"] and "window_decision" in res["缺少必填"]["message"]
    assert res["指定路径"]["passed"]
    assert not res["路径不同"]["passed"] and "expected path start → end" in res["路径不同"]["message"]
    # an unsaved change of the model is what runs: review's outgoing flow now goes nowhere valid
    broken = VALID.replace('targetRef="end"', 'targetRef="nowhere"')
    r = post(c, "/designer/scenarios", dict(payload(broken), scenarios=[scenario()]))
    assert r.status_code == 200 and r.json["ok"] is False and r.json["results"] == [] and r.json["errors"]
    # nothing written or deployed by running
    assert snapshot(dirs) == before and versions(app) == []


def test_bad_scenarios_are_refused_without_a_500(app):
    c = signed_in(app, "d1")
    for bad in ("x", [1], [{"name": ""}], [{"name": "a", "end": "end", "steps": "no"}],
                [{"name": "a", "end": "end", "path": "start"}], [scenario()] * 101):
        r = post(c, "/designer/scenarios", dict(payload(), scenarios=bad))
        assert r.status_code == 422 and "scenarios" in r.json["errors"], (bad, r.json)
    r = post(c, "/designer/scenarios", payload())
    assert r.status_code == 422
    w = signed_in(app, "w1")
    assert post(w, "/designer/scenarios", dict(payload(), scenarios=[scenario()])).status_code == 403


def test_deploy_writes_the_scenarios_and_refuses_failing_ones(app, dirs):
    c = signed_in(app, "d1")
    before = snapshot(dirs)
    r = post(c, "/designer/deploy", dict(payload(), scenarios=[scenario(), scenario(name="坏", end="end_x")]))
    assert r.status_code == 422 and r.json["ok"] is False
    assert r.json["errors"] == [{"element": None, "file": f"{PID}.scenarios.json",
                                 "message": "场景「坏」未通过: expected end 'end_x', reached 'end'"}]
    assert snapshot(dirs) == before and versions(app) == []
    r = post(c, "/designer/deploy", dict(payload(), scenarios=[scenario()]))
    assert r.status_code == 200 and r.json["ok"], r.json
    assert f"{PID}.scenarios.json" in r.json["files"]
    written = json.loads((dirs[0] / f"{PID}.scenarios.json").read_text("utf-8"))
    assert written == {"scenarios": [scenario()]}
    # the written file is what `flask processes test` runs
    out = app.test_cli_runner().invoke(args=["processes", "test", PID])
    assert out.exit_code == 0 and "PASS 受理办结 → end" in out.output, out.output
    # the editor shows them next time
    html = c.get(f"/designer/{PID}").get_data(as_text=True)
    data = json.loads(re.search(r'id="designer-data">(.*?)</script>', html, re.S).group(1))
    assert data["scenarios"] == [scenario()]
