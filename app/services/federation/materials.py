"""Materials go by content (docs/federation.md, "Materials"): a forwarded case names each file by its
SHA-256, with a download link signed by the sending platform; the receiver fetches each file once
through that link, checks its SHA-256 and its type, and stores it once per checksum. A file it already
holds is not fetched again.

A **reference** (what a ``forward`` body carries for each file)::

    {"sha256": "<64 lowercase hex>", "size": 48213, "name": "可行性研究报告.pdf",
     "content_type": "application/pdf",
     "url": "https://fgw.example.gov.cn/api/federation/files/<sha256>?to=320000&exp=1767225600&sig=<base64url>"}

The **link** is ``<FEDERATION_PUBLIC_URL>/api/federation/files/<sha256>?to=<region>&exp=<unix time>&sig=<sig>``
where ``sig`` is the sending platform's Ed25519 signature, in Base64url without padding, over the
ASCII bytes ``yg-file:v1:<sha256>:<to>:<exp>``. Only the platform that signed a link serves it: it
checks the signature with its own key, the expiry, that ``to`` is a registered enabled peer, and that
the file is one its data references (``serve``).

The receiver (``fetch_material``) takes a link only on the sending peer's registered base URL (scheme,
host and port; no redirects are followed), so a forwarded case cannot make it fetch from anywhere
else. It holds no database transaction across the download (on SQLite an open transaction would hold
the write lock), reads at most the declared size, and refuses with ``inbox.Refusal``:
- ``bad_material`` (422): a malformed reference, a link off the peer's host, a refusal by the sender
  (bad or expired link, unknown file), more bytes than declared, a checksum that does not match, a
  type the platform does not accept or other than declared;
- ``material_unavailable`` (503): the sender could not be reached, timed out or failed (5xx) — the
  message is to be tried again later;
- ``unknown_peer`` (403): the sending region is not a registered, enabled peer.
Nothing is stored in any of these cases.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from flask import current_app, has_request_context, request

from ...extensions import db
from ..common import blobs
from ..common.blobs import TYPES, keep_blob, safe_filename, sniff
from ..common.clock import clock_now
from ..messaging import inbox
from ..messaging.inbox import Refusal
from .peers import FederationNotConfigured, own_public_key, own_region, peer, signing_key
from .protocol import ProtocolError

log = logging.getLogger(__name__)

FILE_PATH = "/api/federation/files/"
LINK_PREFIX = "yg-file:v1"
#: how long a link is good for unless told: the outbox retries a message for some 13 hours, and an
#: operator may send a dead letter again after a weekend
DEFAULT_TTL_SECONDS = 72 * 3600
CHUNK = 64 * 1024
REF_FIELDS = ("sha256", "size", "name", "content_type", "url")

_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
_REGION = re.compile(r"^[1-9]\d{5}\Z")
_EXP = re.compile(r"^[1-9]\d{0,11}\Z")
_SIG = re.compile(r"^[A-Za-z0-9_-]{86}(==)?\Z")  # 64 bytes in Base64url, padding optional
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: what ``fetch_material`` did in this process: ``fetched`` (downloaded and stored), ``held`` (already
#: stored: no request made), ``refused``
COUNTS: Counter = Counter()
_counts_lock = threading.Lock()


def _count(what: str) -> None:
    with _counts_lock:
        COUNTS[what] += 1


def link_text(sha256: str, to: str, exp: str | int) -> bytes:
    """The bytes a link's signature covers."""
    return f"{LINK_PREFIX}:{sha256}:{to}:{exp}".encode("ascii")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def storage_key(sha256: str) -> str:
    """Where blobs.keep_blob stores the bytes of this checksum under FILES_DIR."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


# -- the sending platform: references and links ------------------------------------------------------

def public_base_url() -> str:
    """The base URL peers reach this platform at: FEDERATION_PUBLIC_URL, else (inside a request only)
    the request's own host."""
    base = (current_app.config.get("FEDERATION_PUBLIC_URL") or "").strip().rstrip("/")
    if base:
        return base
    if has_request_context():
        return request.host_url.rstrip("/")
    raise FederationNotConfigured("FEDERATION_PUBLIC_URL is not set: peers cannot be given a download link "
                                  "(docs/federation.md)")


def material_ref(sha256: str, size: int, name: str, content_type: str, peer_region: str, *,
                 ttl_seconds: int | None = None) -> dict:
    """The reference to one stored file for the forward sent to ``peer_region``, with a download link
    signed by this platform and good for ``ttl_seconds`` (default DEFAULT_TTL_SECONDS)."""
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise ValueError("sha256 must be 64 lowercase hex digits")
    if not isinstance(peer_region, str) or not _REGION.match(peer_region):
        raise ValueError("peer_region must be a 6-digit region code")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError("size must be a positive integer")
    if content_type not in TYPES:
        raise ValueError(f"content_type must be one of {', '.join(TYPES)}")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValueError("name must be 1-200 characters")
    ttl = DEFAULT_TTL_SECONDS if ttl_seconds is None else int(ttl_seconds)
    if ttl < 1:
        raise ValueError("ttl_seconds must be positive")
    exp = int(clock_now().timestamp()) + ttl
    sig = _b64url(signing_key().sign(link_text(sha256, peer_region, exp)))
    url = f"{public_base_url()}{FILE_PATH}{sha256}?" + urlencode({"to": peer_region, "exp": exp, "sig": sig})
    return {"sha256": sha256, "size": size, "name": name, "content_type": content_type, "url": url}


def ref_of(row, peer_region: str, *, ttl_seconds: int | None = None) -> dict:
    """The reference to a stored file's row (a CaseFile, a library item: ``sha256``, ``size``,
    ``filename``, ``content_type``)."""
    return material_ref(row.sha256, row.size, row.filename, row.content_type, peer_region, ttl_seconds=ttl_seconds)


# -- the sending platform: serving a link ------------------------------------------------------------

def _refused_link(code: str, message: str, status: int, *, to: str = "", sha256: str = "", record=False):
    """A link refused. A genuine link of this platform (good signature) that is expired or names a
    peer no longer enabled is recorded for operators; forged or junk links are only logged (they are
    anyone's to send and must not push real refusals out of the table)."""
    if record:
        inbox.refuse("federation", to or "?", sha256, "file", code, message,
                     request.remote_addr if has_request_context() else "")
    else:
        log.info("federation file link refused: %s (%s)", code, message)
    return ProtocolError(code, message, status)


def open_linked(sha256, to, exp, sig) -> tuple[BinaryIO, int]:
    """The stored file a signed link names, opened, with its size, after every check (see the
    module's docstring). Raises ProtocolError: 404 ``unknown_file``, 403 ``bad_signature``,
    ``expired`` or ``unknown_peer``. The caller closes the file."""
    text = lambda v: v if isinstance(v, str) else ""  # noqa: E731
    sha256, to, exp, sig = text(sha256), text(to), text(exp), text(sig)
    if not _SHA256.match(sha256):
        raise _refused_link("unknown_file", "文件不存在（sha256 应为 64 位小写十六进制）", 404)
    if not (_REGION.match(to) and _EXP.match(exp) and _SIG.match(sig)):
        raise _refused_link("bad_signature", "下载链接不完整或格式不对（需要 to、exp、sig）", 403)
    try:
        own_public_key().verify(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)), link_text(sha256, to, exp))
    except (InvalidSignature, binascii.Error, ValueError):
        raise _refused_link("bad_signature", "下载链接的签名无效：不是本平台签发，或已被改动", 403) from None
    if int(exp) < clock_now().timestamp():
        raise _refused_link("expired", "下载链接已过期，请发送方重新签发", 403, to=to, sha256=sha256, record=True)
    target = peer(to)
    if target is None or not target.enabled:
        raise _refused_link("unknown_peer", f"平台 {to} 未登记为对端或已停用", 403, to=to, sha256=sha256,
                            record=True)
    key = storage_key(sha256)
    if not blobs.referenced([key]):  # only files this platform's data uses, never any file on disk
        raise _refused_link("unknown_file", "本平台没有该文件", 404)
    try:
        f = open(Path(current_app.config["FILES_DIR"]) / key, "rb")
    except (FileNotFoundError, IsADirectoryError):
        raise _refused_link("unknown_file", "本平台没有该文件（文件缺失）", 404) from None
    try:
        digest, size = hashlib.sha256(), 0
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
        if digest.hexdigest() != sha256:
            log.error("stored file %s does not match its checksum (damaged)", key)
            raise _refused_link("unknown_file", "本平台没有该文件（文件已损坏）", 404)
        f.seek(0)
        return f, size
    except BaseException:
        f.close()
        raise


# -- the receiving platform ------------------------------------------------------------------------

def _bad(message: str) -> Refusal:
    _count("refused")
    return Refusal("bad_material", message, 422)


def _unavailable(message: str) -> Refusal:
    _count("refused")
    return Refusal("material_unavailable", message, 503)


def _port(parts) -> int | None:
    try:
        return parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None


def check_ref(ref, peer_region: str) -> dict:
    """A reference received from ``peer_region``, checked (the link must be on that peer's registered
    base URL, at the file's own path). Returns the five fields; raises Refusal. Reads the peer's row."""
    if not isinstance(ref, dict):
        raise _bad("材料引用应为 JSON 对象")
    missing = [f for f in REF_FIELDS if f not in ref]
    if missing:
        raise _bad(f"材料引用缺少字段：{', '.join(missing)}")
    sha256, size, name, ctype, url = (ref[f] for f in REF_FIELDS)
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise _bad("sha256 应为 64 位小写十六进制")
    limit = current_app.config["FILE_MAX_BYTES"]
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= limit:
        raise _bad(f"size 应为 1–{limit} 之间的整数（字节）")
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or "\x00" in name:
        raise _bad("name 应为 1–200 个字符的文件名")
    if ctype not in TYPES:
        raise _bad(f"content_type 应为 {'、'.join(TYPES)} 之一")
    source = peer(peer_region) if isinstance(peer_region, str) else None
    if source is None or not source.enabled:
        _count("refused")
        raise Refusal("unknown_peer", f"平台 {peer_region} 未登记为对端或已停用", 403)
    if not isinstance(url, str) or len(url) > 2000 or not url.isascii() or any(ord(c) <= 0x20 or c == "\\" for c in url):
        raise _bad("url 不是有效的地址")
    base, link = urlsplit(source.base_url), urlsplit(url)
    if (link.scheme, (link.hostname or "").lower(), _port(link)) != \
            (base.scheme, (base.hostname or "").lower(), _port(base)) or "@" in link.netloc or link.fragment:
        raise _bad(f"材料地址不在发送方 {peer_region} 登记的地址（{base.scheme}://{base.netloc}）上")
    if link.path != base.path.rstrip("/") + FILE_PATH + sha256:
        raise _bad("材料地址的路径应为 /api/federation/files/<sha256>")
    if sorted(k for k, _ in parse_qsl(link.query, keep_blank_values=True)) != ["exp", "sig", "to"]:
        raise _bad("材料地址应带且只带 to、exp、sig 三个参数")
    return {"sha256": sha256, "size": size, "name": name, "content_type": ctype, "url": url}


def _check_bytes(blob: bytes, ref: dict) -> None:
    """The bytes are the declared file: its size, its checksum, and a type the platform accepts, told
    by the content (as for an upload) and the one declared."""
    if len(blob) != ref["size"]:
        raise _bad(f"材料 {ref['name']} 的大小 {len(blob)} 与声明的 {ref['size']} 字节不符")
    if hashlib.sha256(blob).hexdigest() != ref["sha256"]:
        raise _bad(f"材料 {ref['name']} 的 SHA-256 与声明的不符（内容被替换或损坏）")
    ctype = sniff(blob[:16], blob)
    if ctype is None:
        raise _bad(f"材料 {ref['name']} 不是 PDF、JPG、PNG 或 OFD 文件（按内容识别）")
    if ctype != ref["content_type"]:
        raise _bad(f"材料 {ref['name']} 的内容是 {ctype}，与声明的 {ref['content_type']} 不符")


def held(ref: dict) -> str | None:
    """The storage key of the file when this platform already holds its bytes intact (touched, as
    keep_blob does, so the sweep leaves it until the caller's row is written); None when not held. A
    stored file whose bytes no longer match their checksum is removed (it is fetched again)."""
    key = storage_key(ref["sha256"])
    path = Path(current_app.config["FILES_DIR"]) / key
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == ref["size"]:  # at most FILE_MAX_BYTES (checked)
                blob = f.read()
                intact = hashlib.sha256(blob).hexdigest() == ref["sha256"]
            else:
                blob, digest = None, hashlib.sha256()
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    digest.update(chunk)
                intact = digest.hexdigest() == ref["sha256"]
    except (FileNotFoundError, IsADirectoryError):
        return None
    if not intact:
        log.error("stored file %s does not match its checksum: removed, to be fetched again", key)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        return None
    if blob is None:  # the bytes of this checksum are held, and their size is not the one declared
        raise _bad(f"材料 {ref['name']} 的大小与声明的 {ref['size']} 字节不符")
    _check_bytes(blob, ref)
    try:
        os.utime(path)
    except FileNotFoundError:  # swept meanwhile: store it again from the bytes read
        keep_blob(blob)
    return key


def _download(ref: dict) -> bytes:
    """At most ``size`` bytes of the link (no redirects), within FEDERATION_TIMEOUT_SECONDS per read and
    ten times that in all."""
    timeout = float(current_app.config["FEDERATION_TIMEOUT_SECONDS"])
    deadline = time.monotonic() + 10 * timeout
    limit = ref["size"]
    try:
        with requests.get(ref["url"], stream=True, timeout=timeout, allow_redirects=False,
                          headers={"User-Agent": "yangguang-fagai-federation/1", "Accept-Encoding": "identity"}) as r:
            if r.status_code != 200:
                raise _answer_refused(r)
            declared = r.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _bad(f"材料 {ref['name']} 的应答长度 {declared} 超过声明的 {limit} 字节：未下载")
            buf = bytearray()
            for chunk in r.iter_content(CHUNK):
                buf += chunk
                if len(buf) > limit:
                    raise _bad(f"材料 {ref['name']} 超过声明的 {limit} 字节：已中止下载")
                if time.monotonic() > deadline:
                    raise _unavailable(f"材料 {ref['name']} 下载超时（{10 * timeout:g} 秒）")
            return bytes(buf)
    except requests.RequestException as exc:
        raise _unavailable(f"材料 {ref['name']} 无法下载：{type(exc).__name__}: {exc}"[:500]) from exc


def _answer_refused(r: requests.Response) -> Refusal:
    try:
        body = r.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    reason = f"HTTP {r.status_code} {body.get('error') or ''}: {body.get('message') or r.text[:200]}"
    if r.status_code >= 500 or r.status_code in (408, 425, 429):
        return _unavailable(f"发送方暂时无法提供材料（{reason}）")
    return _bad(f"发送方拒绝提供材料（{reason}）")


def fetch_material(ref: dict, peer_region: str) -> str:
    """The storage key of the file a reference from ``peer_region`` names: the one already held (no
    request made), or downloaded through the link, checked and stored once by its SHA-256. Raises
    Refusal (see the module's docstring); nothing is stored then.

    Ends the session's transaction before any download: call it before the inbox's transaction, never
    inside it."""
    ref = check_ref(ref, peer_region)
    db.session.rollback()  # no transaction (on SQLite: no lock) held across the HTTP call
    key = held(ref)
    if key is not None:
        _count("held")
        return key
    blob = _download(ref)
    _check_bytes(blob, ref)
    _, key = keep_blob(blob)  # the checksum was checked: the key is that of ref["sha256"]
    _count("fetched")
    log.info("fetched material %s (%d bytes) from %s", ref["sha256"], len(blob), peer_region)
    return key


def fetch_materials(refs, peer_region: str) -> list[dict]:
    """Every file of a forward's ``materials`` list, fetched once each: the fields of the rows the
    receiving case writes (``filename`` made safe, ``content_type``, ``size``, ``sha256``,
    ``storage_key``). Raises Refusal at the first that fails."""
    if not isinstance(refs, list) or len(refs) > 500:
        raise _bad("materials 应为至多 500 个材料引用的列表")
    out = []
    for ref in refs:
        key = fetch_material(ref, peer_region)
        out.append({"filename": safe_filename(ref["name"], ref["content_type"]), "content_type": ref["content_type"],
                    "size": ref["size"], "sha256": ref["sha256"], "storage_key": key})
    return out
