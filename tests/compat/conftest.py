"""The compatibility corpus (issue 18): BPMN files shaped like what designers bring from Camunda
Modeler 7, bpmn.io, Flowable and SpiffArena (``files/``), and what each is expected to do
(``manifest.json``). Helpers drive a file as a designer does (import, the assistant's defaults,
deploy) and a case of it as an applicant and the staff do (start, claim, complete) over HTTP."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.extensions import db
from app.models import Case
from app.services.cases.messages import deliver_message
from tests.conftest import add_user
from tests.web.api.helpers import Api
from tests.web.designer.test_designer import designer_app, dirs, post, signed_in  # noqa: F401  (dirs: fixture)

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
MANIFEST = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
BY_FILE = {entry["file"]: entry for entry in MANIFEST}
#: the group the assistant's defaults give every task and lane without people
DEFAULT_GROUP = "window"
#: a request that has not answered after this many seconds hangs (an endless loop, a timer firing
#: without end): not a timing test — a normal request takes well under a second, but CI runs both
#: databases side by side on two shared cores, where 10 s was exceeded by an ordinary deploy
REQUEST_LIMIT_S = 60.0


def source(name: str) -> str:
    return (FILES / name).read_text(encoding="utf-8")


@pytest.fixture
def compat_app(db_url, dirs):
    """The designer fixture's app (temporary PROCESSES_DIR / FORMS_DIR, a signed-in designer d1)."""
    app = designer_app(db_url, dirs[0], dirs[1])
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Timed:
    """A designer's session client whose every request is timed (``slow`` collects the ones over
    REQUEST_LIMIT_S) and answered below 500 (``server_errors``)."""

    def __init__(self, client):
        self.client = client
        self.slow: list[tuple[str, float]] = []
        self.server_errors: list[tuple[str, int, str]] = []

    def post(self, url, payload):
        t0 = time.monotonic()
        r = post(self.client, url, payload)
        self._note(url, r, time.monotonic() - t0)
        return r

    def _note(self, url, r, took):
        if took > REQUEST_LIMIT_S:
            self.slow.append((url, round(took, 2)))
        if r.status_code >= 500:
            self.server_errors.append((url, r.status_code, r.get_data(as_text=True)[:500]))


def designer(app) -> Timed:
    return Timed(signed_in(app, "d1"))


def errors_of(r) -> list[dict]:
    body = r.get_json(silent=True) or {}
    return body.get("errors") or []


def elements(errors) -> set:
    return {e.get("element") for e in errors if isinstance(e, dict)}


def brief(errors) -> str:
    return "; ".join(f"[{e.get('element')}] {e.get('message')}" for e in errors[:8])


def import_and_apply(d: Timed, name: str, text: str | None = None) -> dict:
    """打开文件 then the assistant's defaults: ``{stage, status, doc, applied}`` where stage says how far
    it went (import, apply) and status is the last answer's code."""
    text = source(name) if text is None else text
    r = d.post("/designer/import", {"bpmn": text, "filename": name})
    if r.status_code != 200:
        return {"stage": "import", "status": r.status_code, "errors": errors_of(r), "body": r.get_json(silent=True)}
    doc = r.get_json()
    r = d.post("/designer/import/apply", {"bpmn": text, "filename": name, "accept": {}, "defaults": True,
                                          "group": DEFAULT_GROUP})
    if r.status_code != 200:
        return {"stage": "apply", "status": r.status_code, "errors": errors_of(r), "doc": doc,
                "body": r.get_json(silent=True)}
    return {"stage": "apply", "status": 200, "doc": doc, "applied": r.get_json(), "errors": r.get_json()["errors"]}


def deploy_body(applied: dict) -> dict:
    return {"process_id": applied["process_id"], "bpmn": applied["bpmn"], "matter": applied["matter"],
            "forms": applied.get("forms") or {}}


def deploy_file(d: Timed, name: str) -> tuple[int, dict, dict | None]:
    """Import, apply the defaults, deploy: ``(status, answer, applied)``; status is the first
    failing answer's code (200 when deployed)."""
    got = import_and_apply(d, name)
    if got["status"] != 200:
        return got["status"], {"stage": got["stage"], "errors": got["errors"], "body": got.get("body")}, None
    applied = got["applied"]
    # what the designer adds in the form editor: fields of a form the file names but does not hold
    # (a Flowable formKey refers to a form kept outside the BPMN)
    for fields in (BY_FILE.get(name, {}).get("designer_adds_fields") or {}).values():
        start = next((f for fid, f in (applied.get("forms") or {}).items() if fid.endswith("_start") or "start" in fid),
                     None)
        assert start is not None, f"{name}: no created start form to add fields to: {list(applied.get('forms') or {})}"
        start["components"] = list(start.get("components") or []) + fields
    r = d.post("/designer/deploy", deploy_body(applied))
    body = r.get_json(silent=True) or {}
    return r.status_code, dict(body, stage="deploy"), applied


class CaseDriver:
    """An applicant starts a case of a deployed matter through the API; staff of the task's group
    (or the named user) claim and complete each step."""

    def __init__(self, app):
        self.api = Api(app)
        self.api.user("applicant_1", "applicant")
        self.slow: list[tuple[str, float]] = []
        self.server_errors: list[tuple[str, int, str]] = []

    def _timed(self, method, who, url, **kw):
        t0 = time.monotonic()
        r = getattr(self.api, method)(who, url, **kw)
        took = time.monotonic() - t0
        if took > REQUEST_LIMIT_S:
            self.slow.append((url, round(took, 2)))
        if r.status_code >= 500:
            self.server_errors.append((url, r.status_code, r.get_data(as_text=True)[:500]))
        return r

    def start(self, process_id: str, data: dict):
        return self._timed("post", "applicant_1", "/api/cases", json={"process_id": process_id, "data": data})

    def case(self, case_id):
        return self._timed("get", "applicant_1", f"/api/cases/{case_id}")

    def actor_for(self, task: dict) -> str:
        """The user who may act: the assignee, else a candidate user, else a member of the first
        candidate group (made on first use, staff of the case's region)."""
        if task.get("assignee"):
            name = task["assignee"]
            groups = []
        elif task.get("candidate_users"):
            name = task["candidate_users"][0]
            groups = []
        else:
            group = (task.get("candidate_groups") or [DEFAULT_GROUP])[0]
            name, groups = f"u_{group}", [group]
        if name not in self.api.headers:
            self.api.headers[name] = add_user(self.api.app, name, "staff", groups, region_code="320000")
        return name

    def complete(self, task: dict, data: dict):
        who = self.actor_for(task)
        r = self._timed("post", who, f"/api/tasks/{task['id']}/claim", json={})
        if r.status_code not in (200, 409):  # 409: already claimed (an assigned task)
            return r
        return self._timed("post", who, f"/api/tasks/{task['id']}/complete",
                           json={"data": data, "opinion": data.get("opinion") or "同意"})

    def deliver(self, case_id: int, name: str, payload: dict) -> None:
        with self.api.app.app_context():
            deliver_message(db.session.get(Case, case_id).instance_id, name, payload, actor="compat")
            db.session.commit()
