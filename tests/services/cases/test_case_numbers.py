"""The 办件编号 serial (lifecycle.next_case_no): one statement hands out the day's next number, and two
submissions at once never get the same one: the second waits for the first's transaction and takes the
number after the one it committed; a number rolled back is handed out again."""
from __future__ import annotations

import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from app.models import CaseSerial, Region
from app.services.cases.lifecycle import next_case_no

WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _serial(no: str) -> int:
    return int(no.rsplit("-", 1)[1])


def _last(app, region: str = "320000", day: str = "20260302"):
    with app.app_context():
        row = db.session.execute(select(CaseSerial.last).where(
            CaseSerial.region_code == region, CaseSerial.day == day)).scalar_one_or_none()
        db.session.remove()
    return row


def test_numbers_follow_each_other_per_region_and_day(app):
    with app.app_context():
        first = [next_case_no("320000", WHEN) for _ in range(3)]
        other_region = next_case_no("320100", WHEN)
        next_day = next_case_no("320000", datetime(2026, 3, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
        db.session.commit()
    assert [_serial(n) for n in first] == [1, 2, 3]
    assert _serial(other_region) == 1 and _serial(next_day) == 1
    assert first[0] != other_region and "20260302" in first[0] and "20260303" in next_day
    assert _last(app) == 3


def test_a_number_rolled_back_is_handed_out_again(app):
    with app.app_context():
        kept = next_case_no("320000", WHEN)
        db.session.commit()
        next_case_no("320000", WHEN)
        db.session.rollback()
        again = next_case_no("320000", WHEN)
        db.session.commit()
    assert _serial(kept) == 1 and _serial(again) == 2
    assert _last(app) == 2


def test_it_leaves_what_the_session_holds_pending(app):
    """Nothing pending touches the serials: the number does not flush the case's changes (they go with
    the step's next flush, one statement fewer)."""
    with app.app_context():
        region = Region(code="329999", name="测试区", level="county", parent_code="320000")
        db.session.add(region)
        next_case_no("320000", WHEN)
        assert region in db.session.new
        db.session.rollback()


def test_two_submissions_at_once_get_two_numbers(app):
    """The first transaction holds the day's row (PostgreSQL: its row lock; SQLite: the write lock of
    BEGIN IMMEDIATE); the second waits and takes the next number once the first commits."""
    answer: dict = {}

    def second():
        with app.app_context():
            try:
                answer["no"] = next_case_no("320000", WHEN)
                db.session.commit()
            except Exception as exc:   # reported below: a thread's exception would be lost
                answer["error"] = exc
            finally:
                db.session.remove()

    with app.app_context():
        first = next_case_no("320000", WHEN)
        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.5)
        waiting = other.is_alive()
        db.session.commit()
        db.session.remove()
    other.join(30)
    assert "error" not in answer, answer.get("error")
    assert waiting, "the second allocation must wait for the first transaction"
    assert (_serial(first), _serial(answer["no"])) == (1, 2)
    assert _last(app) == 2
