"""The inbox: each message received from another system takes effect exactly once.

The sender's outbox delivers at least once (a retry after a timeout, a re-send of a dead letter, a
sender killed between the peer's answer and its record). ``receive`` turns that into exactly once:
the message's row in ``inbox_messages`` (keyed by channel, peer and message id), its effect and the
answer given are written in ONE transaction. The same message again — while the first is still being
applied in another process, or a year later — is answered with the first answer and changes nothing.
A different message that reuses a sequence number already received on the link is refused as a
replay.

The protocol's checks (signature, peer, timestamp) come before ``receive`` in the wing that owns
the channel; a refused message changes nothing and leaves only a row in ``inbox_refusals``
(``refuse``), which operators see.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models.exchange import InboxMessage, InboxRefusal
from ..common.clock import clock_now
from ..common.db_support import insert_once, rolled_back

log = logging.getLogger(__name__)

#: refusals kept for operators (older ones are deleted as new ones come: a flood of forged
#: messages cannot grow the table without bound)
KEEP_REFUSALS = 10_000


class Refusal(Exception):
    """A message refused: ``code`` (machine-readable), ``message`` (for the peer's operators) and the
    HTTP status to answer with."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def receive(channel: str, peer: str, message_id: str, seq: int | None, kind: str,
            apply: Callable[[], tuple[dict, int | None]], *, remote_addr: str = "") -> tuple[dict, bool]:
    """Apply one verified message once. ``apply`` makes the change (without committing) and returns
    (the answer to the sender, the case it concerns or None). Returns (answer, duplicate). Commits.
    A ``Refusal`` raised by ``apply`` (or a sequence number reused) rolls everything back, is recorded
    with ``refuse`` and raised again; any other exception rolls back and propagates (the sender
    retries), a race lost to another change of the case as ``ConcurrentChange``."""
    key = f"{channel}:{peer}:{message_id}"
    try:
        first = _answer(key)
        if first is not None:
            db.session.rollback()
            return first, True
        if seq is not None and db.session.execute(select(InboxMessage.id).where(
                InboxMessage.channel == channel, InboxMessage.peer == peer, InboxMessage.seq == seq)).first():
            raise Refusal("replay", f"sequence number {seq} of this link was already received with another "
                                    f"message id", 409)
        try:
            inserted = insert_once(InboxMessage, "key", key=key, channel=channel, peer=peer, message_id=message_id,
                                   seq=seq, kind=kind, received_at=clock_now(), reply={})
        except IntegrityError as exc:  # the same seq inserted meanwhile by another message
            raise Refusal("replay", f"sequence number {seq} of this link was already received", 409) from exc
        if not inserted:  # the same message applied meanwhile by another request
            db.session.rollback()
            return _answer(key) or {}, True
        answer, case_id = apply()
        row = db.session.execute(select(InboxMessage).where(InboxMessage.key == key)).scalar_one()
        row.reply, row.case_id = answer, case_id
        db.session.commit()
        return answer, False
    except Refusal as refusal:
        db.session.rollback()
        refuse(channel, peer, message_id, kind, refusal.code, refusal.message, remote_addr)
        raise
    except BaseException as exc:
        rolled_back(exc)   # a lost race: ConcurrentChange
        raise


def _answer(key: str) -> dict | None:
    return db.session.execute(select(InboxMessage.reply).where(InboxMessage.key == key)).scalar_one_or_none()


def refuse(channel: str, peer: str, message_id: str, kind: str, code: str, error: str, remote_addr: str = "",
           *, verified: bool = True) -> None:
    """Record a refused message for operators (its own transaction; commits). Never raises.
    ``verified``: the message carries a valid signature of the registered peer it names; unverified
    rows are the ones pruned beyond KEEP_REFUSALS, so forged traffic never pushes out the real ones."""
    try:
        db.session.add(InboxRefusal(channel=channel[:32], peer=(peer or "?")[:64], message_id=(message_id or "")[:64],
                                    kind=(kind or "")[:32], code=code[:48], error=error[:2000],
                                    remote_addr=(remote_addr or "")[:64], verified=verified, at=clock_now()))
        db.session.flush()
        newest = db.session.execute(select(func.max(InboxRefusal.id))).scalar() or 0
        if newest % 100 == 0 and newest > KEEP_REFUSALS:
            db.session.execute(delete(InboxRefusal).where(InboxRefusal.id <= newest - KEEP_REFUSALS,
                                                          InboxRefusal.verified.is_(False)))
        db.session.commit()
    except Exception:  # the refusal stands whether or not it could be recorded
        db.session.rollback()
        log.exception("could not record a refused %s message from %s", channel, peer)


def refusals(channel: str | None = None, limit: int = 50) -> list[InboxRefusal]:
    q = select(InboxRefusal).order_by(InboxRefusal.id.desc()).limit(limit)
    if channel is not None:
        q = q.where(InboxRefusal.channel == channel)
    return list(db.session.execute(q).scalars())


#: per (channel, address, reason): when an unverified refusal was last recorded in this process
_LAST_RECORDED: dict[tuple[str, str, str], float] = {}
#: an unverified refusal (unsigned, forged, from an unknown sender) is recorded at most once per
#: address and reason in this many seconds; the rest are only logged
RECORD_EVERY_SECONDS = 60.0


def first_in_a_while(channel: str, remote_addr: str, code: str) -> bool:
    """Whether an unverified refusal of this address and reason is the first of the last minute in
    this process (only those are written: nobody without a key can turn requests into writes)."""
    now = time.monotonic()
    key = (channel, remote_addr or "", code)
    if now - _LAST_RECORDED.get(key, -RECORD_EVERY_SECONDS) < RECORD_EVERY_SECONDS:
        return False
    if len(_LAST_RECORDED) > 10_000:
        _LAST_RECORDED.clear()
    _LAST_RECORDED[key] = now
    return True


def forget_recorded() -> None:
    """Start the throttle afresh (tests: each sees its first unverified refusal recorded)."""
    _LAST_RECORDED.clear()
