"""Shared by the seal tests: drive a shipped matter (xmgl_beian / xmgl_hezhun) through one of its
scenarios to its end, and actors / browser clients at a chosen level of assurance."""
from __future__ import annotations

import dataclasses
import io
import json

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.identity.actors import actor_from_user
from tests.conftest import ROOT
from tests.services.portal.h3_helpers import setup


def drive(app, process="xmgl_beian", index=0):
    """The applicant alice applies with the scenario's start data and staff complete its steps.
    Returns (api, case json, the username of the staff user who completed the last step)."""
    api = setup(app)
    scenario = json.loads((ROOT / "processes" / f"{process}.scenarios.json").read_text("utf-8"))["scenarios"][index]
    r = api.post("alice", "/api/cases", json={"process_id": process, "data": scenario["start"]})
    assert r.status_code == 201, r.json
    case, last = r.json, None
    for step in scenario["steps"]:
        task = [t for t in case["current_tasks"] if t["element_id"] == step["task"]][0]
        who = task["assignee"] or f"u_{task['candidate_groups'][0]}"
        if who not in api.headers:
            api.user(who, groups=[task["candidate_groups"][0]])
        action = step.get("action", "complete")
        r = api.post(who, f"/api/tasks/{task['id']}/{action}", json={"data": step["data"]})
        assert r.status_code == 200, (step, r.json)
        case, last = r.json, who
    return api, case, last


def actor(app, username, level=3):
    """The service actor of ``username`` signed in at ``level`` (3: a CA certificate)."""
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        a = actor_from_user(user)
    method = {1: "password", 2: "password+totp", 3: "certificate"}[level]
    return dataclasses.replace(a, auth_method=method, assurance=level)


def browser(app, username, level=1):
    client = app.test_client()
    with app.app_context():
        uid = db.session.execute(select(User.id).where(User.username == username)).scalar_one()
    with client.session_transaction() as s:
        s["uid"] = uid
        s["csrf"] = "tok"
        s["amr"] = {1: "password", 2: "password+totp", 3: "certificate"}[level]
        s["loa"] = level
    return client


def pdf_upload(blob: bytes, name="决定书.pdf"):
    return {"csrf_token": "tok", "file": (io.BytesIO(blob), name)}
