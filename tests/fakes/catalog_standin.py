"""A stand-in of the 一张网's matter catalog: the incremental pull by time stamp, over real HTTP.

``GET /catalog/entries?areaCode=&matterCode=&updateTime=&state=&pageNo=&pageSize=`` (signed with the
gateway headers: HMAC-SHA256, checked with standin.gateway_signature_ok; refused 401 with
``{"code": "401", "error": <why>}``) answers ``{"code": "200", "msg": "成功", "data": {"total",
"pageNo", "pageSize", "list": [...]}}``: the entries of the area and matter code (basic or
implementation code) whose ``updateTime`` is at or after ``updateTime`` (``YYYY-MM-DD HH:MM:SS``,
Beijing time), in the state asked, oldest first, paged.

Seeded from the shipped matters (processes/*.matter.json, read as files) with three deliberate
differences: 企业投资项目核准's promised limit 10 → 8 working days, a renamed material of
节能审查 (…能效指标 → …能效指标表), an extra material of 中央预算内投资资金申请. ``change(code, **fields)``
edits an entry (and moves its updateTime), ``add_malformed(code)`` serves a broken entry next to the
good one. Faults from the base (``fail_next(500, "hang", "close", "malformed", "badsig")``: ``badsig``
refuses the next request's signature).

Run alone: ``python -m tests.fakes.catalog_standin --port 8905`` (keys from YWTB_ACCESS_KEY /
YWTB_SECRET, else ywtb-demo-key / ywtb-demo-secret)."""
from __future__ import annotations

import copy
import json
import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.fakes.standin import StandIn, gateway_signature_ok, main, route

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
BEIJING = timezone(timedelta(hours=8))
TIME = "%Y-%m-%d %H:%M:%S"
UNITS = {"working_day": "1", "natural_day": "2", "month": "3"}


def _entry(meta: dict, area: str, at: datetime) -> dict:
    """A matter's entry as the 一张网 names its fields (see app/services/docking/catalog_mapping.json)."""
    return {
        "taskGuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "ywtb:" + meta["implementation_code"])),
        "taskName": meta["name"], "catalogCode": meta["basic_code"], "taskCode": meta["implementation_code"],
        "areaCode": area, "deptName": meta["implementing_body"]["name"],
        "deptCode": meta["implementing_body"]["credit_code"], "taskType": meta["matter_type"], "state": "1",
        "anticipateDay": meta["statutory_limit"]["value"], "anticipateType": UNITS[meta["statutory_limit"]["unit"]],
        "promiseDay": meta["promised_limit"]["value"], "promiseType": UNITS[meta["promised_limit"]["unit"]],
        "updateTime": at.strftime(TIME),
        "materials": [{"materialName": m["name"], "necessity": "1" if m.get("required") else "0",
                       "originalNum": m.get("originals", 0), "copyNum": m.get("copies", 0),
                       "sourceExplain": m.get("issuer", ""), "remark": m.get("notes", "")}
                      for m in meta["materials"]],
    }


class CatalogStandIn(StandIn):
    def __init__(self, port: int = 0, access_key: str = "ywtb-test-key", secret: str = "ywtb-test-secret",
                 area: str = "320000", processes: Path = PROCESSES, differences: bool = True):
        super().__init__(port)
        self.keys = {access_key: secret}
        self.access_key, self.secret, self.area = access_key, secret, area
        self.entries: list[dict] = []
        seeded = (datetime.now(BEIJING) - timedelta(days=1)).replace(microsecond=0)
        for path in sorted(processes.glob("*.matter.json")):
            self.entries.append(_entry(json.loads(path.read_text("utf-8")), area, seeded))
        if differences:
            self.seed_differences()

    def config(self, **overrides) -> dict:
        """App settings pointing the catalog pull here."""
        return dict({"YWTB_CATALOG_URL": self.url, "YWTB_BASE_URL": self.url, "YWTB_ACCESS_KEY": self.access_key,
                     "YWTB_SECRET": self.secret}, **overrides)

    # -- the catalog's contents -----------------------------------------------------------------
    def entry(self, code: str) -> dict:
        with self.lock:
            return next(e for e in self.entries if code in (e["catalogCode"], e["taskCode"]) and "broken" not in e)

    def _touch(self, e: dict) -> None:
        e["updateTime"] = datetime.now(BEIJING).strftime(TIME)

    def change(self, code: str, **fields) -> dict:
        """Edit the entry of ``code`` (their field names) and move its update time to now."""
        with self.lock:
            e = self.entry(code)
            e.update(copy.deepcopy(fields))
            self._touch(e)
            return e

    def seed_differences(self) -> None:
        """The three deliberate differences to the shipped matters."""
        with self.lock:
            self.entry("0001720150")["promiseDay"] = 8
            for m in self.entry("0001720080")["materials"]:
                if m["materialName"] == "主要用能设备清单及能效指标":
                    m["materialName"] = "主要用能设备清单及能效指标表"
            self.entry("0001720300")["materials"].append(
                {"materialName": "项目绩效目标表", "necessity": "1", "originalNum": 1, "copyNum": 0,
                 "sourceExplain": "项目单位", "remark": "按中央预算内投资绩效管理要求填报"})

    def add_malformed(self, code: str, **broken) -> dict:
        """Serve a malformed entry for ``code`` next to its good one (default: a promised limit in words)."""
        with self.lock:
            bad = copy.deepcopy(self.entry(code))
            bad.update({"taskGuid": "broken-" + bad["taskGuid"][:8], "promiseDay": "十个工作日", "broken": True})
            bad.update(broken)
            self._touch(bad)
            self.entries.append(bad)
            return bad

    # -- the protocol ---------------------------------------------------------------------------
    @route("GET", r"/catalog/entries")
    def entries_route(self, req):
        why = "bad_signature" if req.fault == "badsig" else gateway_signature_ok(req, self.keys)
        if why:
            return 401, {"code": "401", "error": why, "msg": f"签名校验失败：{why}"}
        a = req.args
        try:
            page, size = int(a.get("pageNo", "1")), int(a.get("pageSize", "50"))
            since = datetime.strptime(a["updateTime"], TIME).replace(tzinfo=BEIJING) if a.get("updateTime") else None
        except ValueError:
            return 400, {"code": "400", "error": "bad_request", "msg": "参数格式错误"}
        if page < 1 or not 1 <= size <= 1000:
            return 400, {"code": "400", "error": "bad_request", "msg": "分页参数错误"}
        with self.lock:
            rows = [e for e in self.entries
                    if e["areaCode"] == a.get("areaCode", self.area)
                    and (not a.get("matterCode") or a["matterCode"] in (e["catalogCode"], e["taskCode"]))
                    and (not a.get("state") or e["state"] == a["state"])
                    and (since is None or datetime.strptime(e["updateTime"], TIME).replace(tzinfo=BEIJING) >= since)]
            rows = sorted(rows, key=lambda e: e["updateTime"])
            chunk = [{k: v for k, v in e.items() if k != "broken"} for e in rows[(page - 1) * size: page * size]]
        return 200, {"code": "200", "msg": "成功", "data": {"total": len(rows), "pageNo": page, "pageSize": size,
                                                          "list": chunk}}


def _factory(port: int) -> CatalogStandIn:
    return CatalogStandIn(port, os.environ.get("YWTB_ACCESS_KEY", "ywtb-demo-key"),
                          os.environ.get("YWTB_SECRET", "ywtb-demo-secret"), os.environ.get("REGION_CODE", "320000"))


if __name__ == "__main__":
    main(_factory, "一张网事项目录 stand-in (incremental pull by time stamp)")
