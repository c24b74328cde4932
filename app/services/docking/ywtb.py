"""The 一张网's exchange gateway, on the wire: the 办件 XML of one stage (root ``APPROVEDATAINFO``,
one segment per stage, fields after GB/T 39046), its push, the push of a 好差评 rating, the gateway's
answer, and the download of a material an application names. docs/integration.md has the
format with an example; ywtb_push.py decides what is pushed when, ywtb_intake.py and
ywtb_ratings.py receive.

Transport (every call signed with the gateway headers of signing.py, credentials YWTB_ACCESS_KEY /
YWTB_SECRET, deadline YWTB_TIMEOUT_SECONDS per read):
- a stage: ``POST {YWTB_BASE_URL}/exchange/cases``, a form with the XML string in field ``xml``;
- a rating: ``POST {YWTB_BASE_URL}/exchange/ratings``, JSON;
- the gateway answers ``<RESULT><STATUS>200</STATUS><DESC>…</DESC></RESULT>``.

How an answer is taken (``judge``): STATUS 200 → delivered; "already received" (STATUS 201, or a
DESC saying 已接收 / 重复 / already received, whatever the status) → delivered, it is the same
stage again; STATUS or HTTP 401/403 (key, secret or clock: the operators mend it) and 5xx → Retry;
another 4xx → Refused (the message as it is will never be taken: dead, shown to operators); an
answer that is not this XML (an HTML error page, a truncated body, a proxy's 200) → Retry."""
from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from lxml import etree

from ...extensions import db
from ..messaging import inbox
from ..messaging.outbox import Defer, Outgoing, Refused
from .http import Answer, Rejected, Unavailable, outbox_error, request
from .signing import HEADERS, SignatureError, verify

log = logging.getLogger(__name__)

CHANNEL = PEER = "ywtb"
CASES_PATH = "/exchange/cases"
RATINGS_PATH = "/exchange/ratings"
ROOT = "APPROVEDATAINFO"
BEIJING = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
#: the largest answer read from the gateway (an answer is a few hundred bytes)
ANSWER_MAX_BYTES = 64 * 1024

#: stage → (办件环节 code on the wire, its segment element, label)
STAGES = {
    "apply": ("SQ", "APPLY", "申请"),
    "accept": ("SL", "ACCEPT", "受理"),
    "refuse": ("BYSL", "ACCEPT", "不予受理"),
    "correction": ("BZ", "SUPPLEMENT", "补正"),
    "special": ("TBCX", "SPECIALPROCEDURE", "特别程序"),
    "special_end": ("TBCXJS", "SPECIALPROCEDUREEND", "特别程序结束"),
    "complete": ("BJ", "TRANSACT", "办结"),
    "deliver": ("SD", "DELIVERY", "送达"),
}
#: 办结 result codes (办结结果)
RESULTS = {"6": "准予许可", "7": "不予许可", "2": "异常终止", "3": "撤销申请"}
#: a list field → the element of each of its items
LIST_ITEMS = {"CLXX": "CL", "BZCLQD": "BZX", "JGWJ": "WJ"}
#: the header fields, in the order sent (before the segment)
HEADER_FIELDS = ("BJBH", "SBLSH", "SXBM", "SXJBBM", "SXMC", "XZQHDM", "GLXZQHDM", "GLBJBH")
ALREADY = re.compile(r"已接收|已收到|重复|already received|duplicate", re.I)


def configured() -> bool:
    cfg = current_app.config
    return bool(cfg.get("YWTB_BASE_URL") and cfg.get("YWTB_ACCESS_KEY") and cfg.get("YWTB_SECRET"))


def enabled() -> bool:
    """Whether this platform is docked to the 一张网 (YWTB_BASE_URL set): only then is anything pushed."""
    return bool(current_app.config.get("YWTB_BASE_URL"))


def credentials() -> tuple[str, str]:
    return current_app.config["YWTB_ACCESS_KEY"], current_app.config["YWTB_SECRET"]


def base_url() -> str:
    return current_app.config["YWTB_BASE_URL"].rstrip("/")


def timeout() -> float:
    return float(current_app.config["YWTB_TIMEOUT_SECONDS"])


def wire_time(moment: datetime | None) -> str:
    """A time as the gateway writes it: Beijing, ``YYYY-MM-DD HH:MM:SS``; empty for none."""
    return moment.astimezone(BEIJING).strftime(TIME_FORMAT) if moment is not None else ""


# -- the 办件 XML ----------------------------------------------------------------------------------

def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    # XML 1.0 cannot carry most control characters: they are dropped, never sent half-escaped
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", "", str(value))


def build_xml(payload: dict) -> bytes:
    """The XML of one stage from the outbox payload ``{"stage", "round", "header": {…}, "segment": {…}}``
    (what ywtb_push.stage_payload writes). Fields in the order given; a list field (``CLXX`` …) holds one
    element per item."""
    code, segment_tag, label = STAGES[payload["stage"]]
    root = etree.Element(ROOT)
    header = payload.get("header") or {}
    for name in HEADER_FIELDS:
        etree.SubElement(root, name).text = _text(header.get(name))
    etree.SubElement(root, "BJHJ").text = code
    etree.SubElement(root, "HJMC").text = label
    etree.SubElement(root, "HJXH").text = str(int(payload.get("round") or 1))
    etree.SubElement(root, "TSSJ").text = _text(payload.get("at"))
    segment = etree.SubElement(root, segment_tag)
    for name, value in (payload.get("segment") or {}).items():
        el = etree.SubElement(segment, name)
        if isinstance(value, list):
            for item in value:
                child = etree.SubElement(el, LIST_ITEMS.get(name, "ITEM"))
                for key, v in item.items():
                    etree.SubElement(child, key).text = _text(v)
        else:
            el.text = _text(value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# -- the gateway's answer ------------------------------------------------------------------------

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=True)


def parse_result(content: bytes) -> tuple[str, str]:
    """(STATUS, DESC) of a ``<RESULT>`` answer. Raises Unavailable('bad_answer') for anything else."""
    try:
        root = etree.fromstring(content, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        raise Unavailable(f"应答不是网关的 RESULT XML：{content[:120]!r}", "bad_answer") from None
    if root is None or root.tag != "RESULT":
        raise Unavailable(f"应答的根元素是 {getattr(root, 'tag', None)!r}，不是 RESULT", "bad_answer")
    status, desc = (root.findtext("STATUS") or "").strip(), (root.findtext("DESC") or "").strip()[:500]
    if not re.fullmatch(r"\d{3}", status):
        raise Unavailable(f"应答的 STATUS {status[:20]!r} 不是三位数字", "bad_answer")
    return status, desc


def judge(answer: Answer) -> dict:
    """The outcome of one push (see the module's doc): the reply kept on the outbox row, or raises
    Unavailable (→ Retry) / Rejected (→ Refused)."""
    try:
        status, desc = parse_result(answer.content)
    except Unavailable:
        if 400 <= answer.status_code < 500 and answer.status_code not in (401, 403):
            raise Rejected(f"HTTP {answer.status_code}: {answer.text[:200]}", f"http_{answer.status_code}",
                           answer.status_code) from None
        raise
    if ALREADY.search(desc) or status == "201":
        return {"status": status, "desc": desc, "duplicate": True}
    if status == "200" and answer.status_code == 200:
        return {"status": status, "desc": desc, "duplicate": False}
    worst = max(int(status), answer.status_code)
    if status in ("401", "403") or answer.status_code in (401, 403):
        raise Unavailable(f"网关拒绝了签名（{status}）：{desc}（检查 YWTB_ACCESS_KEY / YWTB_SECRET 和时钟）",
                          "unauthorized")
    if 400 <= int(status) < 500 or 400 <= answer.status_code < 500:
        raise Rejected(f"网关拒收（{status}）：{desc}", f"ywtb_{status}", answer.status_code)
    raise Unavailable(f"网关未接收（STATUS {status}，HTTP {answer.status_code}）：{desc}", f"ywtb_{worst}")


# -- pushing --------------------------------------------------------------------------------------

def push_stage(payload: dict, message_id: str = "") -> dict:
    """POST one stage's XML. Returns the gateway's reply; raises Unavailable / Rejected."""
    xml = build_xml(payload).decode("utf-8")
    answer = request("POST", base_url() + CASES_PATH, form={"xml": xml}, timeout=timeout(),
                     credentials=credentials(), max_bytes=ANSWER_MAX_BYTES, headers={"X-Message-Id": message_id})
    return judge(answer)


def push_rating(payload: dict, message_id: str = "") -> dict:
    """POST one rating (JSON). Returns the gateway's reply; raises Unavailable / Rejected."""
    answer = request("POST", base_url() + RATINGS_PATH, json=payload, timeout=timeout(), credentials=credentials(),
                     max_bytes=ANSWER_MAX_BYTES, headers={"X-Message-Id": message_id})
    return judge(answer)


def send(out: Outgoing) -> dict:
    """The ``ywtb`` channel's send (the outbox's sender calls it with no transaction open)."""
    db.session.rollback()  # no transaction (on SQLite: no write lock) held across the HTTP call
    if not configured():
        raise Defer("一张网未配置（YWTB_BASE_URL）：消息保留，配置后发送", "not_configured")
    try:
        if out.kind == "case_stage":
            return push_stage(out.payload, out.message_id)
        if out.kind == "rating":
            return push_rating(out.payload, out.message_id)
    except (Unavailable, Rejected) as exc:
        raise outbox_error(exc) from exc
    raise Refused(f"一张网通道不发送 {out.kind} 消息", "unknown_kind")


# -- fetching a material an application names ----------------------------------------------------

def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port


def on_gateway(url) -> bool:
    """Whether ``url`` is on the gateway's own scheme, host and port (the only place materials are
    fetched from: an application cannot make this platform fetch from anywhere else)."""
    if not isinstance(url, str) or len(url) > 2000 or not url.isascii() or any(ord(c) <= 0x20 or c == "\\" for c in url):
        return False
    parts = urlsplit(url)
    return "@" not in parts.netloc and not parts.fragment and _origin(url) == _origin(base_url())


def fetch(url: str, max_bytes: int) -> bytes:
    """The bytes behind a material's URL on the gateway (signed GET, no redirect, at most ``max_bytes``).
    Raises Unavailable (try later) or Rejected (the gateway refused: 4xx)."""
    parts = urlsplit(url)
    answer = request("GET", f"{parts.scheme}://{parts.netloc}{parts.path}", params=dict(parse_qsl(parts.query, keep_blank_values=True)),
                     timeout=timeout(), credentials=credentials(), max_bytes=max_bytes)
    if answer.status_code != 200:
        raise Rejected(f"HTTP {answer.status_code}: {answer.text[:200]}", f"http_{answer.status_code}",
                       answer.status_code)
    return answer.content


# -- receiving: the gateway's calls to this platform -------------------------------------------------

class GatewayRefusal(inbox.Refusal):
    """A refused call of the gateway, with ``details`` (per field) for the answer."""

    def __init__(self, code: str, message: str, status: int = 422, details: dict | None = None):
        super().__init__(code, message, status)
        self.details = details or {}


def authenticate(headers, method: str, path: str, query: str, body: bytes, remote_addr: str, *,
                 peer: str, kind: str) -> None:
    """A call of the gateway to this platform: configured here (else 503 ``not_configured``, nothing
    recorded), signed with our key pair within YWTB_MAX_SKEW_SECONDS of the wall clock (else 401
    ``missing`` / ``unknown_key`` / ``stale`` / ``bad_signature``, recorded at most once a minute per
    address and reason). Raises GatewayRefusal."""
    if not configured():
        if not all(headers.get(h) for h in HEADERS):  # an unsigned call is refused as such, docked or not
            raise GatewayRefusal("missing", "请求未签名：缺少 X-Access-Key / X-Date / X-Signature", 401)
        raise GatewayRefusal("not_configured", "本平台未配置一张网对接（YWTB_BASE_URL、YWTB_ACCESS_KEY、YWTB_SECRET）", 503)
    key, secret = credentials()
    try:
        # the gateway signs with its wall clock: checked against ours (not the app's test clock)
        verify(headers, {key: secret}, method, path, query, body, datetime.now(timezone.utc),
               int(current_app.config["YWTB_MAX_SKEW_SECONDS"]))
    except SignatureError as exc:
        refusal = GatewayRefusal(exc.code, str(exc), 401)
        if inbox.first_in_a_while(CHANNEL, remote_addr, exc.code):
            inbox.refuse(CHANNEL, peer, "", kind, exc.code, str(exc), remote_addr, verified=False)
        else:
            log.warning("ywtb: refused a %s call from %s: [%s] %s", kind, remote_addr, exc.code, exc)
        raise refusal from None


def json_object(body: bytes) -> dict:
    """A call's body as a JSON object. Raises GatewayRefusal ``bad_payload``."""
    try:
        raw = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise GatewayRefusal("bad_payload", "请求体应为 UTF-8 JSON 对象") from None
    if not isinstance(raw, dict):
        raise GatewayRefusal("bad_payload", "请求体应为 JSON 对象")
    return raw


def refuse(refusal: inbox.Refusal, *, peer: str, message_id: str, kind: str, remote_addr: str):
    """Record a refusal of a signed call (before the inbox took it) and raise it."""
    db.session.rollback()
    inbox.refuse(CHANNEL, peer, message_id[:64], kind, refusal.code, refusal.message, remote_addr, verified=True)
    raise refusal
