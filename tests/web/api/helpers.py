"""Small helpers for driving the API like a client would."""
from tests.conftest import add_user

START = {"amount": 5, "project_name": "示范项目", "project_code": "2603-141124-89-05-346948",
         "depts": ["cs_ecology", "cs_finance"]}


class Api:
    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.headers = {}

    def user(self, username, kind="staff", groups=(), region_code="320000"):
        self.headers[username] = add_user(self.app, username, kind, groups, region_code=region_code)
        return username

    def get(self, who, url, **kw):
        return self.client.get(url, headers=self.headers.get(who, {}), **kw)

    def post(self, who, url, json=None, **kw):
        return self.client.post(url, json=json, headers=self.headers.get(who, {}), **kw)

    def tasks(self, who):
        r = self.get(who, "/api/tasks")
        assert r.status_code == 200, r.json
        return r.json

    def complete_first(self, who, data, element=None, expect=200):
        tasks = [t for t in self.tasks(who) if element is None or t["element_id"] == element]
        assert tasks, f"{who} has no task {element}"
        r = self.post(who, f"/api/tasks/{tasks[0]['id']}/complete", json={"data": data})
        assert r.status_code == expect, r.json
        return r.json
