"""Federation over HTTP: the outbox channel ``federation`` that signs and POSTs each message to its
peer, and the receiving side that checks an envelope before the inbox applies it.

Sending (``send``, called by the outbox's sender with no transaction open): the envelope is signed at
each attempt with the time of that attempt, POSTed as JSON to ``<peer base URL>/api/federation/messages``:
- 200 with the protocol's answer (``answer`` an object, ``duplicate`` a boolean) → delivered (kept on
  the outbox row; a repeat is answered ``duplicate``); a 200 of another shape → ``Retry``;
- 4xx → the peer refused this message as it is: ``Refused`` (dead letter, visible to operators) —
  except what time or the other side's operators mend: ``stale`` (clocks), ``unknown_peer`` (not
  registered or disabled there yet), ``wrong_recipient``, ``not_configured``, 408, 425, 429 → ``Retry``;
- 5xx, a timeout, a refused connection, a redirect (never followed: the envelope goes only to the
  registered URL) → ``Retry`` with the outbox's backoff; a peer disabled here → ``Defer`` (waits
  without counting a failure).
The whole exchange has one deadline (FEDERATION_TIMEOUT_SECONDS for each read, three times that in
all, well inside the claim's lease) and the answer at most ANSWER_MAX_BYTES: a slow or endless peer
cannot hold the sender.

Receiving (``accept``): shape → known and enabled peer → addressed to this deployment → signature
→ timestamp within FEDERATION_MAX_SKEW_SECONDS → the inbox (message id and sequence number: once).
Each refusal is answered with the platform's error body and recorded in ``inbox_refusals`` for
operators. Refusals of a message signed by the registered peer it names (stale, replay, content) are
always recorded and kept; the others (junk, unknown peers, bad signatures) at most once a minute per
address and reason in each process (the rest are logged), and pruned first — nobody without a key
can turn requests into writes or push the real refusals out.
"""
from __future__ import annotations

import base64
import binascii
import importlib
import json
import logging
import time
import uuid
from datetime import timedelta
from typing import Callable

import requests
from cryptography.exceptions import InvalidSignature
from flask import current_app

from ...extensions import db
from ..common.clock import clock_now
from ..messaging import inbox, outbox
from ..messaging.outbox import Channel, Defer, Outgoing, Refused, Retry, Wait
from .peers import own_level, own_region, peer, signing_key
from .protocol import Envelope, ProtocolError, canonical, open_envelope, parse_public_key, seal, verify

log = logging.getLogger(__name__)

CHANNEL = "federation"
PATH = "/api/federation/messages"
PING_PATH = "/api/federation/ping"
#: the largest answer read from a peer (a delivery's answer is a few hundred bytes)
ANSWER_MAX_BYTES = 64 * 1024
#: refusals that the receiver's clock or operators mend: sent again later, not dead
TRANSIENT = {"stale", "unknown_peer", "wrong_recipient", "not_configured"}

#: kind → function(envelope) -> (answer, case id or None), run inside the inbox's transaction;
#: registered by the modules that own each kind
HANDLERS: dict[str, Callable[[Envelope], tuple[dict, int | None]]] = {}


#: kind → function(envelope) -> prepared, run BEFORE the inbox's transaction (it may end the session's
#: transaction: fetching a forward's materials does); its result is passed to the kind's handler as
#: ``handler(envelope, prepared)``. A Refusal it raises is recorded and answered; nothing is stored.
PREPARERS: dict[str, Callable[[Envelope], object]] = {}


def handles(kind: str):
    def register(fn):
        HANDLERS[kind] = fn
        return fn
    return register


def prepares(kind: str):
    """``@prepares("forward")``: the kind's preparation before the inbox applies the message (see PREPARERS)."""
    def register(fn):
        PREPARERS[kind] = fn
        return fn
    return register


def register(base_seconds: float = 15, timeout_seconds: float = 10) -> None:
    """Make the ``federation`` channel deliverable (called when the app starts), with the handlers of
    the case messages (forwarding.py registers them when imported: before the first message, not
    only after the first step of a case). ``base_seconds``: the first retry's delay; the claim's lease
    outlasts one send's deadline (three times ``timeout_seconds``) with a margin."""
    for name in ("forwarding", "reports", "withdrawals"):
        importlib.import_module(f"app.services.federation.{name}")
    outbox.register_channel(Channel(CHANNEL, send, max_attempts=20, base_seconds=base_seconds, max_backoff_seconds=3600,
                                    lease_seconds=3 * timeout_seconds + 30))


class Answer:
    """A peer's answer, read within the deadline and the size limit."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content
        self.text = content[:300].decode("utf-8", "replace")


def post(url: str, envelope: dict, timeout: float) -> Answer:
    """POST the envelope to exactly ``url`` (no redirect followed), reading the answer within
    3 × ``timeout`` in all and at most ANSWER_MAX_BYTES. Raises requests.RequestException."""
    deadline = time.monotonic() + 3 * timeout
    with requests.post(url, json=envelope, timeout=timeout, allow_redirects=False, stream=True,
                       headers={"User-Agent": "yangguang-fagai-federation/1"}) as r:
        body = b""
        for chunk in r.iter_content(8192):
            body += chunk
            if len(body) > ANSWER_MAX_BYTES:
                raise requests.exceptions.ContentDecodingError(f"answer over {ANSWER_MAX_BYTES} bytes")
            if time.monotonic() > deadline:
                raise requests.exceptions.ReadTimeout(f"answer not complete within {3 * timeout:.0f} s")
        return Answer(r.status_code, body)


def send(out: Outgoing) -> dict:
    target = peer(out.peer)
    base_url, enabled = (target.base_url, target.enabled) if target is not None else (None, False)
    db.session.rollback()  # no transaction (on SQLite: no write lock) held across the HTTP call
    if base_url is None:
        raise Refused(f"对端 {out.peer} 未登记", "unknown_peer")
    if not enabled:
        raise Defer(f"对端 {out.peer} 已停用：消息保留，启用后发送", "peer_disabled")
    envelope = seal(signing_key(), message_id=out.message_id, sender=own_region(), recipient=out.peer, seq=out.seq,
                    ts=clock_now(), kind=out.kind, body=out.payload)
    timeout = float(current_app.config["FEDERATION_TIMEOUT_SECONDS"])
    try:
        r = post(base_url + PATH, envelope, timeout)
    except requests.RequestException as exc:
        raise Retry(f"{type(exc).__name__}: {exc}"[:500], "network") from exc
    body = _json(r)
    if r.status_code == 200:
        if isinstance(body.get("answer"), dict) and isinstance(body.get("duplicate"), bool):
            return body
        raise Retry("HTTP 200 without the protocol's answer (is the URL the peer's platform?)", "bad_answer")
    code = body.get("error") if isinstance(body.get("error"), str) else f"http_{r.status_code}"
    message = body.get("message") if isinstance(body.get("message"), str) else r.text
    if r.status_code == 503 and code == "not_ready":   # the case there is suspended: it waits, so do we
        raise Wait(f"HTTP 503: {message}"[:500], code)
    if 400 <= r.status_code < 500 and r.status_code not in (408, 425, 429) and code not in TRANSIENT:
        raise Refused(f"HTTP {r.status_code}: {message}"[:500], code[:48])
    raise Retry(f"HTTP {r.status_code}: {message}"[:500], code[:48])


def _json(r: Answer) -> dict:
    try:
        body = json.loads(r.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# -- receiving -------------------------------------------------------------------------------------

def _refuse(raw, error: ProtocolError | inbox.Refusal, remote_addr: str, *, authenticated: bool):
    """Answer a refusal; record it for operators only when the message is signed by a registered peer
    (see the module's docstring), else log it."""
    raw = raw if isinstance(raw, dict) else {}
    text = lambda v: v if isinstance(v, str) else ""  # noqa: E731
    claimed = text(raw.get("from"))[:6] or "?"
    if authenticated or inbox.first_in_a_while(CHANNEL, remote_addr, error.code):
        inbox.refuse(CHANNEL, claimed, text(raw.get("id"))[:64], text(raw.get("kind"))[:32], error.code,
                     error.message, remote_addr, verified=authenticated)
    else:
        log.warning("federation: refused a message from %s (claims %r): [%s] %s", remote_addr, claimed,
                    error.code, error.message)
    raise error


def authenticate(raw, remote_addr: str = "") -> Envelope:
    """Shape, peer, recipient, signature and time of an envelope; ProtocolError (recorded) when any fails."""
    verified = False
    try:
        env = open_envelope(raw)
        sender = peer(env.sender)
        if sender is None or not sender.enabled:
            raise ProtocolError("unknown_peer", f"平台 {env.sender} 未登记为对端或已停用", 403)
        key = parse_public_key(sender.public_key)
        db.session.rollback()  # the peer is read: no transaction (on SQLite the write lock) held further
        verify(env, key)
        verified = True
        if env.recipient != own_region():
            raise ProtocolError("wrong_recipient", f"消息发往 {env.recipient}，本平台是 {own_region()}", 421)
        skew = timedelta(seconds=int(current_app.config["FEDERATION_MAX_SKEW_SECONDS"]))
        if abs(clock_now() - env.ts) > skew:
            raise ProtocolError("stale", f"消息时间 {env.raw['ts']} 与本平台时钟相差超过 {skew.seconds} 秒（重放或时钟错误）", 401)
        return env
    except ProtocolError as error:
        _refuse(raw, error, remote_addr, authenticated=verified)


def accept(raw, remote_addr: str = "") -> tuple[dict, bool]:
    """One received message: checked, then applied once. Returns (answer, duplicate). Raises
    ProtocolError or inbox.Refusal (both recorded) when refused."""
    env = authenticate(raw, remote_addr)
    if env.kind == "ping":
        _refuse(raw, ProtocolError("bad_envelope", "ping 消息发往 " + PING_PATH), remote_addr, authenticated=True)
    handler = HANDLERS.get(env.kind)
    if handler is None:
        _refuse(raw, ProtocolError("unsupported_kind", f"本平台不受理 {env.kind} 消息", 422), remote_addr,
                authenticated=True)
    prepare = PREPARERS.get(env.kind)
    if prepare is None:
        apply = lambda: handler(env)  # noqa: E731
    else:
        try:
            prepared = prepare(env)
        except inbox.Refusal as refusal:
            db.session.rollback()
            _refuse(raw, refusal, remote_addr, authenticated=True)
        apply = lambda: handler(env, prepared)  # noqa: E731
    return inbox.receive(CHANNEL, env.sender, env.id, env.seq, env.kind, apply, remote_addr=remote_addr)


# -- ping: both keys and the path, checked without a message taking effect --------------------------

def ping_answer(raw, remote_addr: str = "") -> dict:
    """The answer to a signed ping: who this deployment is, signed over the ping's id (so the pinging
    side checks this platform's key too). Nothing is stored."""
    env = authenticate(raw, remote_addr)
    if env.kind != "ping":
        _refuse(raw, ProtocolError("bad_envelope", f"{PING_PATH} 只接收 ping 消息"), remote_addr, authenticated=True)
    answer = {"region": own_region(), "level": own_level(), "name": current_app.config["AGENCY_NAME"],
              "echo": env.id, "ts": env.raw["ts"]}
    answer["sig"] = base64.b64encode(signing_key().sign(canonical(answer))).decode("ascii")
    return answer


def ping(region: str) -> dict:
    """Ping a registered peer: sends a signed ping, checks the signed answer with the peer's key,
    records the outcome on the peer (commits). Returns {"ok", "ms", "error"?, "answer"?}."""
    target = peer(region)
    if target is None:
        raise LookupError(region)
    started, base_url, public_key = clock_now(), target.base_url, target.public_key
    db.session.rollback()  # no transaction held across the HTTP call
    env = seal(signing_key(), message_id=str(uuid.uuid4()), sender=own_region(), recipient=region, seq=1,
               ts=started, kind="ping", body={})
    result: dict = {"ok": False}
    t0 = time.perf_counter()
    try:
        r = post(base_url + PING_PATH, env, float(current_app.config["FEDERATION_TIMEOUT_SECONDS"]))
        answer = _json(r)
        if r.status_code != 200:
            raise ProtocolError(answer.get("error") or f"http_{r.status_code}",
                                f"HTTP {r.status_code}: {answer.get('message') or r.text[:200]}")
        sig = answer.pop("sig", "")
        try:
            parse_public_key(public_key).verify(base64.b64decode(sig, validate=True), canonical(answer))
        except (InvalidSignature, ValueError, TypeError, binascii.Error):
            raise ProtocolError("bad_signature", "对端应答的签名与登记的公钥不符") from None
        if answer.get("echo") != env["id"] or answer.get("region") != region:
            raise ProtocolError("bad_answer", "对端应答的区划或回显与请求不符")
        result = {"ok": True, "answer": answer}
    except requests.RequestException as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"[:500]
    except ProtocolError as exc:
        result["error"] = f"[{exc.code}] {exc.message}"
    result["ms"] = round((time.perf_counter() - t0) * 1000, 1)
    target = peer(region)
    target.last_ping_at, target.last_ping_error = started, result.get("error")
    db.session.commit()
    return result
