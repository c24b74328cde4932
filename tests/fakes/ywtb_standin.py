"""A stand-in of the provincial 政务服务"一张网"'s exchange gateway (办件信息, 统一申办受理, 好差评): a real
HTTP server on 127.0.0.1 speaking the protocol of docs/integration.md, written from that
description, never importing the app.

Received from the platform (every call must carry the gateway signature of our key pair, else
``<RESULT><STATUS>401``):
- ``POST /exchange/cases`` — a form with the 办件 XML in ``xml`` (root ``APPROVEDATAINFO``, one stage):
  parsed, kept per case in arrival order (``cases``); the same stage again (case number, 办件环节,
  环节序号) is answered "已接收（重复推送）" (STATUS 201) and stored once; like the real platform it flags
  (``flags``) a stage arriving before the case's 申请 (``before_apply``) and a 办结 later than the
  promised date — acceptance + promised days, or the promised date the platform sent (``late``);
- ``POST /exchange/ratings`` — a 好差评 rating (JSON), kept once per rating id;
- ``GET /exchange/files/<name>`` — a material an application names (``add_file``), signed GET.

Sent to the platform (``send_application``, ``send_rating``; ``signed`` for a test client): signed
with ``gateway_headers`` and our key pair. Fault injection from the base (500, "close", "hang",
"malformed", latency, down). For people: ``GET /`` lists what arrived, ``GET /cases/<case no>`` as JSON.

``python -m tests.fakes.ywtb_standin --port N`` (key pair from YWTB_ACCESS_KEY / YWTB_SECRET, else
the demo's; the platform's URL from YWTB_STANDIN_APP_URL)."""
from __future__ import annotations

import hashlib
import html
import json
import os
import secrets
import threading
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import requests

from tests.fakes.standin import Request, StandIn, gateway_headers, gateway_signature_ok, main, route

DEMO_KEY, DEMO_SECRET = "ywtb-demo-key", "ywtb-demo-secret-change-me"
STAGE_CODES = {"SQ": "申请", "SL": "受理", "BYSL": "不予受理", "BZ": "补正", "TBCX": "特别程序",
               "TBCXJS": "特别程序结束", "BJ": "办结", "SD": "送达"}
RESULT_CODES = {"6": "准予许可", "7": "不予许可", "2": "异常终止", "3": "撤销申请"}
APPLICATIONS_PATH, RATINGS_PATH = "/api/ywtb/applications", "/api/ywtb/ratings"


def result(status: int, desc: str, http: int = 200):
    body = f'<?xml version="1.0" encoding="UTF-8"?><RESULT><STATUS>{status}</STATUS><DESC>{html.escape(desc)}</DESC></RESULT>'
    return http, body, "application/xml; charset=utf-8"


def _flatten(el: ET.Element) -> dict:
    """An element's children as a dict: text for a leaf, a list of dicts for a list (CLXX …)."""
    out = {}
    for child in el:
        if len(child):
            out[child.tag] = [{g.tag: g.text or "" for g in item} for item in child]
        else:
            out[child.tag] = child.text or ""
    return out


def add_working_days(start: date, n: int) -> date:
    """Monday to Friday only (the stand-in has no holiday calendar: it is lenient by the holidays)."""
    day = start
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


class YwtbStandIn(StandIn):
    def __init__(self, port: int = 0, access_key: str | None = None, secret: str | None = None,
                 app_url: str | None = None):
        super().__init__(port)
        self.access_key = access_key or secrets.token_hex(8)
        self.secret = secret or secrets.token_hex(16)
        self.app_url = app_url
        self.cases: dict[str, list[dict]] = {}     # case no → stages in arrival order
        self.repeats: list[tuple[str, str, str]] = []  # (case no, stage, round) pushed again
        self.flags: list[dict] = []                # {case_no, stage, flag, detail}
        self.ratings: dict[str, dict] = {}         # rating id → rating, in arrival order
        self.files: dict[str, bytes] = {}
        self._store = threading.Lock()

    # -- for the app's configuration and the tests ----------------------------------------------
    def config(self, **overrides) -> dict:
        cfg = {"YWTB_BASE_URL": self.url, "YWTB_ACCESS_KEY": self.access_key, "YWTB_SECRET": self.secret}
        cfg.update(overrides)
        return cfg

    def stages(self, case_no: str) -> list[str]:
        """The 办件环节 codes received for a case, in arrival order."""
        return [s["BJHJ"] for s in self.cases.get(case_no, [])]

    def stage(self, case_no: str, code: str, n: int = 1) -> dict | None:
        return next((s for s in self.cases.get(case_no, []) if s["BJHJ"] == code and s["HJXH"] == str(n)), None)

    def add_file(self, data: bytes, name: str | None = None) -> tuple[str, str]:
        """Serve ``data`` at a gateway URL: (url, sha256)."""
        name = name or secrets.token_hex(8) + ".bin"
        self.files[name] = data
        return f"{self.url}/exchange/files/{name}", hashlib.sha256(data).hexdigest()

    # -- receiving the platform's pushes --------------------------------------------------------
    def _signed(self, req: Request) -> str | None:
        return gateway_signature_ok(req, {self.access_key: self.secret})

    @route("POST", r"/exchange/cases")
    def receive_case(self, req: Request):
        problem = self._signed(req)
        if problem:
            return result(401, f"签名错误：{problem}", 401)
        text = req.form.get("xml", "")
        try:
            root = ET.fromstring(text.encode("utf-8"))
        except ET.ParseError as exc:
            return result(400, f"XML 格式错误：{exc}", 400)
        if root.tag != "APPROVEDATAINFO":
            return result(400, f"根元素应为 APPROVEDATAINFO，收到 {root.tag}", 400)
        header = {c.tag: c.text or "" for c in root if not len(c)}
        segments = [c for c in root if len(c)]
        case_no, code, n = header.get("BJBH", ""), header.get("BJHJ", ""), header.get("HJXH", "1")
        if not case_no or code not in STAGE_CODES or not segments:
            return result(400, "缺少 BJBH、BJHJ 或环节数据段", 400)
        stage = dict(header, segment=segments[-1].tag, fields=_flatten(segments[-1]), xml=text)
        with self._store:
            seen = self.cases.setdefault(case_no, [])
            if any(s["BJHJ"] == code and s["HJXH"] == n for s in seen):
                self.repeats.append((case_no, code, n))
                return result(201, "已接收（重复推送）")
            if code != "SQ" and not any(s["BJHJ"] == "SQ" for s in seen):
                self.flags.append({"case_no": case_no, "stage": code, "flag": "before_apply",
                                   "detail": f"{STAGE_CODES[code]}先于申请到达"})
            if code == "BJ":
                self._check_deadline(case_no, seen, stage["fields"])
            seen.append(stage)
        return result(200, "接收成功")

    def _check_deadline(self, case_no: str, seen: list[dict], fields: dict) -> None:
        accept = next((s["fields"] for s in seen if s["BJHJ"] == "SL"), None)
        finished = fields.get("BJSJ", "")[:10]
        if accept is None or not finished:
            return
        due = fields.get("CNBJRQ") or accept.get("CNBJRQ")
        if not due and accept.get("SLSJ") and str(accept.get("CNBJSX", "")).isdigit():
            start = datetime.strptime(accept["SLSJ"][:10], "%Y-%m-%d").date()
            due = add_working_days(start, int(accept["CNBJSX"]) + int(fields.get("TBCXTS") or 0)).isoformat()
        if due and finished > due:
            self.flags.append({"case_no": case_no, "stage": "BJ", "flag": "late",
                               "detail": f"办结 {finished} 晚于承诺办结日期 {due}"})

    @route("POST", r"/exchange/ratings")
    def receive_rating(self, req: Request):
        problem = self._signed(req)
        if problem:
            return result(401, f"签名错误：{problem}", 401)
        try:
            rating = req.json()
        except ValueError:
            return result(400, "应为 JSON", 400)
        rid = rating.get("rating_id") if isinstance(rating, dict) else None
        if not isinstance(rid, str) or not isinstance(rating.get("level"), int) or not 1 <= rating["level"] <= 5:
            return result(400, "缺少 rating_id 或 level（1–5）", 400)
        with self._store:
            if rid in self.ratings:
                return result(201, "已接收（重复推送）")
            self.ratings[rid] = rating
        return result(200, "接收成功")

    @route("GET", r"/exchange/files/(?P<name>[\w.\-]+)")
    def serve_file(self, req: Request, name: str):
        if self._signed(req):
            return 401, {"error": "bad_signature"}
        if name not in self.files:
            return 404, {"error": "not_found"}
        return 200, self.files[name], "application/octet-stream"

    # -- for people -----------------------------------------------------------------------------
    @route("GET", r"/cases/(?P<case_no>[\w\-]+)")
    def show_case(self, req: Request, case_no: str):
        stages = [{k: v for k, v in s.items() if k != "xml"} for s in self.cases.get(case_no, [])]
        return 200, {"case_no": case_no, "stages": stages,
                     "flags": [f for f in self.flags if f["case_no"] == case_no]}

    @route("GET", r"/")
    def index(self, req: Request):
        rows = "".join(
            f"<tr><td>{html.escape(no)}</td><td>{html.escape(s[0].get('SXMC', '') if s else '')}</td><td>"
            + " → ".join(html.escape(STAGE_CODES.get(x["BJHJ"], x["BJHJ"]) + (
                f"（{RESULT_CODES.get(x['fields'].get('BJJGDM', ''), '')}）" if x["BJHJ"] == "BJ" else "")) for x in s)
            + "</td></tr>" for no, s in self.cases.items())
        flags = "".join(f"<li>{html.escape(f['case_no'])}：{html.escape(f['detail'])}</li>" for f in self.flags)
        page = (f"<!doctype html><meta charset=utf-8><title>一张网（模拟）</title><h1>一张网 · 办件信息（模拟）</h1>"
                f"<table border=1><tr><th>办件编号</th><th>事项</th><th>环节</th></tr>{rows}</table>"
                f"<h2>预警</h2><ul>{flags}</ul><h2>好差评</h2><p>{len(self.ratings)} 条</p>")
        return 200, page, "text/html; charset=utf-8"

    # -- sending to the platform ----------------------------------------------------------------
    def signed(self, path: str, payload, *, key: str | None = None, secret: str | None = None) -> tuple[bytes, dict]:
        """(body, headers) of a signed JSON call to the platform's ``path`` (for a test client too)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        headers = gateway_headers(key or self.access_key, secret or self.secret, "POST", path, "", body)
        headers["Content-Type"] = "application/json"
        return body, headers

    def _post(self, path: str, payload, app_url: str | None, timeout: float) -> requests.Response:
        base = (app_url or self.app_url or "").rstrip("/")
        if not urlsplit(base).scheme:
            raise ValueError("the platform's URL is not known: give app_url")
        body, headers = self.signed(path, payload)
        return requests.post(base + path, data=body, headers=headers, timeout=timeout)

    def send_application(self, payload: dict, app_url: str | None = None, timeout: float = 30) -> requests.Response:
        """Forward an application of the unified entry to the platform."""
        return self._post(APPLICATIONS_PATH, payload, app_url, timeout)

    def send_rating(self, payload: dict, app_url: str | None = None, timeout: float = 30) -> requests.Response:
        """Send a rating made on the 一张网 (national scale: 5 非常满意 … 1 非常不满意)."""
        return self._post(RATINGS_PATH, payload, app_url, timeout)


def _demo(port: int) -> YwtbStandIn:
    return YwtbStandIn(port, os.environ.get("YWTB_ACCESS_KEY") or DEMO_KEY, os.environ.get("YWTB_SECRET") or DEMO_SECRET,
                       os.environ.get("YWTB_STANDIN_APP_URL") or "http://127.0.0.1:5000")


if __name__ == "__main__":
    main(_demo, "政务服务一张网 stand-in (办件信息, 统一申办受理, 好差评)")
