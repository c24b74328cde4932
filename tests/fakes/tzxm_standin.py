"""A local stand-in of the national investment project online platform (全国投资项目在线审批监管平台),
as this platform's adapter (app/services/docking/tzxm.py, projects.py) speaks to it — over real HTTP.

Every request must carry the gateway signature (X-Access-Key / X-Date / X-Signature, HMAC-SHA256;
checked with ``standin.gateway_signature_ok``): otherwise 401 with the reason (``missing``,
``unknown_key``, ``stale``, ``bad_signature``).

- ``GET /api/projects/<项目代码>`` → 200 ``{"code": "0", "data": {project}}`` for a project it knows
  (project_code, project_name, owner {credit_code, name}, location {region_code, text},
  total_investment (万元), industry {code, name} (GB/T 4754), construction_content), else 404
  ``{"error": "project_not_found"}``.
- ``POST /api/results`` (JSON: project_code, case_no, matter {basic_code, name}, result, decided_at,
  doc_no, department, region, message_id) → 200 ``{"status": "accepted", "receipt_id"}``; the same
  case and result again → 200 ``{"status": "duplicate"}``, stored once. Kept per project in arrival
  order (``results[code]``). A field missing → 400 ``missing_field``; an unknown project → 404.
- Faults from the base (``fail_next(500, "close", "hang", "malformed", 404, path=...)``, ``down``,
  ``latency``).

Seeded projects (``seed_demo``): the projects of the shipped matters' path tests (processes/
*.scenarios.json) and two more, owned by the demo enterprise of ``flask demo seed``
(江苏示范能源科技有限公司, 91320000MA1XY0000C); one owned by another enterprise (2603-320100-04-01-900009).

    python -m tests.fakes.tzxm_standin --port 8903     # app id tzxm-demo, secret tzxm-demo-secret
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path

from .standin import Request, StandIn, gateway_signature_ok, main, route

ROOT = Path(__file__).resolve().parents[2]
CODE = r"(?P<code>[0-9A-Za-z-]{1,40})"
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: the start forms' industry values → a GB/T 4754 class as the platform gives it
GBT4754 = {"chemical": ("C2651", "初级形态塑料及合成树脂制造"), "machinery": ("C3670", "汽车零部件及配件制造"),
           "energy": ("D4411", "火力发电"), "building_materials": ("C3011", "水泥制造"),
           "electronics": ("I6540", "数据处理和存储支持服务"), "agriculture": ("A0511", "农业机械活动"),
           "water_conservancy": ("N7620", "水资源管理"), "urban": ("N7810", "市政设施管理"),
           "services": ("M7350", "工程和技术研究和试验发展"), "steel": ("C3120", "炼钢"),
           "nonferrous": ("C3216", "铝冶炼"), "light_textile": ("C1711", "棉纺纱加工"),
           "transport": ("G5411", "城市公共交通运输"), "other": ("T9700", "国际组织")}
REQUIRED = ("project_code", "case_no", "matter", "result", "decided_at", "department", "region")


def credit_code(first17: str) -> str:
    """A 统一社会信用代码 with its GB 32100 check character."""
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS))
    return first17 + _CREDIT_CHARS[(31 - total % 31) % 31]


DEMO_OWNER = (credit_code("91320000MA1XY0000"), "江苏示范能源科技有限公司")
OTHER_OWNER = (credit_code("91320100MA1QT7777"), "南京他方实业有限公司")


class TzxmStandIn(StandIn):
    def __init__(self, port: int = 0, app_id: str | None = None, secret: str | None = None):
        super().__init__(port)
        self.app_id = app_id or "tzxm-" + secrets.token_hex(4)
        self.secret = secret or secrets.token_hex(16)
        self.projects: dict[str, dict] = {}
        #: results received, per project code, in arrival order (duplicates not repeated)
        self.results: dict[str, list[dict]] = {}
        self.duplicates = 0

    # -- control --------------------------------------------------------------------------------
    def config(self, **overrides) -> dict:
        """App settings that point the adapter here: ``make_app(db_url, **standin.config())``."""
        cfg = {"TZXM_BASE_URL": self.url, "TZXM_APP_ID": self.app_id, "TZXM_SECRET": self.secret}
        cfg.update(overrides)
        return cfg

    def add_project(self, code: str, name: str, owner: tuple[str, str], *, region_code: str = "320000",
                    location: str = "", total_investment: float | None = 10000.0, industry: str = "other",
                    construction_content: str = "") -> dict:
        ind_code, ind_name = GBT4754.get(industry, GBT4754["other"])
        project = {"project_code": code, "project_name": name, "owner": {"credit_code": owner[0], "name": owner[1]},
                   "location": {"region_code": region_code, "text": location}, "total_investment": total_investment,
                   "industry": {"code": ind_code, "name": ind_name}, "construction_content": construction_content,
                   "status": "已赋码"}
        with self.lock:
            self.projects[code] = project
        return project

    def seed_demo(self) -> "TzxmStandIn":
        for path in sorted((ROOT / "processes").glob("*.scenarios.json")):
            for sc in json.loads(path.read_text(encoding="utf-8")).get("scenarios") or []:
                s = sc.get("start") or {}
                if s.get("project_code") and s["project_code"] not in self.projects:
                    self.add_project(s["project_code"], s.get("project_name") or "示范项目", DEMO_OWNER,
                                     region_code=s.get("region_code") or "320000", location=s.get("location_detail") or "",
                                     total_investment=s.get("total_investment"), industry=s.get("industry") or "other",
                                     construction_content=s.get("construction_content") or "")
        self.add_project("2603-320111-04-01-900001", "江苏示范能源 20MW 分布式光伏发电项目", DEMO_OWNER,
                         region_code="320111", location="南京市江北新区示范路 8 号", total_investment=9600.0,
                         industry="energy", construction_content="利用厂房屋顶建设 20MW 分布式光伏电站及配套升压设施。")
        self.add_project("2603-320111-04-01-900002", "江苏示范能源储能电站项目", DEMO_OWNER,
                         region_code="320111", location="南京市江北新区示范路 10 号", total_investment=32000.0,
                         industry="energy", construction_content="建设 100MW/200MWh 电化学储能电站。")
        self.add_project("2603-320100-04-01-900009", "南京他方实业新材料项目", OTHER_OWNER,
                         region_code="320100", location="南京市栖霞区他方路 1 号", total_investment=55000.0,
                         industry="chemical", construction_content="年产 5 万吨改性塑料。")
        return self

    def received(self, code: str | None = None) -> list[dict]:
        with self.lock:
            if code is not None:
                return list(self.results.get(code, []))
            return [r for rs in self.results.values() for r in rs]

    # -- the protocol ---------------------------------------------------------------------------
    def _refused_signature(self, req: Request):
        reason = gateway_signature_ok(req, {self.app_id: self.secret})
        if reason:
            return 401, {"error": reason, "message": f"签名校验失败：{reason}"}
        return None

    @route("GET", r"/api/projects/" + CODE)
    def get_project(self, req: Request, code: str):
        refused = self._refused_signature(req)
        if refused:
            return refused
        with self.lock:
            project = self.projects.get(code)
        if project is None:
            return 404, {"error": "project_not_found", "message": f"项目代码 {code} 不存在"}
        return 200, {"code": "0", "message": "成功", "data": project}

    @route("POST", r"/api/results")
    def post_result(self, req: Request):
        refused = self._refused_signature(req)
        if refused:
            return refused
        try:
            body = req.json()
        except ValueError:
            return 400, {"error": "bad_request", "message": "请求体不是 JSON"}
        if not isinstance(body, dict):
            return 400, {"error": "bad_request", "message": "请求体应为对象"}
        missing = [k for k in REQUIRED if not body.get(k)]
        if missing:
            return 400, {"error": "missing_field", "message": f"缺少字段：{', '.join(missing)}"}
        code = body["project_code"]
        with self.lock:
            if code not in self.projects:
                return 404, {"error": "project_not_found", "message": f"项目代码 {code} 不存在"}
            kept = self.results.setdefault(code, [])
            if any(r["case_no"] == body["case_no"] and r["result"] == body["result"] for r in kept):
                self.duplicates += 1
                return 200, {"status": "duplicate", "message": "该结果已接收"}
            receipt = f"R{len(kept) + 1:04d}-{secrets.token_hex(3)}"
            kept.append(dict(body, receipt_id=receipt))
        return 200, {"status": "accepted", "receipt_id": receipt}


def _serve(port: int) -> TzxmStandIn:
    return TzxmStandIn(port, app_id="tzxm-demo", secret="tzxm-demo-secret").seed_demo()


if __name__ == "__main__":
    main(_serve, "Stand-in of the national investment project online platform (项目代码, results)")

