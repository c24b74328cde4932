"""A step racing another operation on the same case, staged without timing luck: the step's first locks
are held, the operation starts and waits for a lock, then the step writes and commits (used by
test_lock_order.py and tests/services/portal/test_correction_lock_order.py)."""
from __future__ import annotations

import threading
import time

from sqlalchemy import text

from app.extensions import db
from app.services.common.db_support import is_sqlite


def waiting_for_lock(app) -> bool:
    """Whether a session of this database waits for a row lock now (PostgreSQL)."""
    with app.app_context():
        try:
            return bool(db.session.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")).scalar())
        finally:
            db.session.remove()


def _started(operation) -> tuple[threading.Thread, dict]:
    """``operation()`` (returning a dict) running in a thread; the dict it returns is filled in
    (``error``: what it raised: a thread's exception would be lost)."""
    answer: dict = {}

    def run():
        try:
            answer.update(operation())
        except Exception as exc:
            answer["error"] = repr(exc)
    thread = threading.Thread(target=run)
    thread.start()
    return thread, answer


def _until_waiting(app, thread: threading.Thread, answer: dict) -> None:
    """Until a session of the database waits for a row lock (PostgreSQL), at most 20 s."""
    deadline = time.monotonic() + 20
    while not waiting_for_lock(app):
        assert time.monotonic() < deadline and thread.is_alive(), answer
        time.sleep(0.02)


def behind_a_step(app, hold, operation, write, *, settle: float) -> tuple[dict, str | None]:
    """In one transaction ``hold()`` takes the locks a step takes first; ``operation()`` (returning a dict,
    e.g. the answer's status) runs in a thread until it waits for a lock (PostgreSQL; SQLite: 0.3 s), and
    ``settle`` seconds more; then ``write()`` writes what the step writes and the transaction commits.
    Returns what the operation returned (``error``: what it raised) and the step's error (None when it
    committed)."""
    step_error = None
    with app.app_context():
        hold()
        other, answer = _started(operation)
        if is_sqlite():
            time.sleep(0.3)
        else:
            _until_waiting(app, other, answer)
            time.sleep(settle)   # had it taken a lock the step wants, it would hold it now
        try:
            write()
            db.session.commit()
        except Exception as exc:
            step_error = repr(exc)[:200]
            db.session.rollback()
    other.join(60)
    assert not other.is_alive()
    return answer, step_error


def at_once(call, n: int = 2) -> list:
    """``call()`` from ``n`` threads released together; what each returned (an exception: its repr)."""
    answers: list = []
    gate = threading.Barrier(n)

    def one():
        gate.wait()
        try:
            answers.append(call())
        except Exception as exc:   # reported to the caller: a thread's exception would be lost
            answers.append(repr(exc))
    threads = [threading.Thread(target=one) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return answers


def in_a_deadlock(app, db_url: str, case_id: int, instance_id: int, operation) -> dict:
    """A real deadlock on PostgreSQL: another connection locks the case, ``operation()`` (returning a dict)
    runs in a thread until it waits for a lock, then the other connection asks for the instance. The other
    waits with a long deadlock_timeout, so PostgreSQL ends the operation's transaction, never the other's.
    Returns what the operation returned (``error``: what it raised)."""
    import psycopg
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as other:
        other.execute("SET deadlock_timeout = '30s'")
        other.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case_id,))
        thread, answer = _started(operation)
        _until_waiting(app, thread, answer)   # the operation waits for the case
        other.execute("SELECT id FROM process_instances WHERE id = %s FOR UPDATE", (instance_id,))
        other.rollback()
    thread.join(60)
    assert not thread.is_alive()
    return answer
