"""The application's clock: wall time in production, injectable in tests (``CLOCK`` config or
``app.extensions['clock']``). Everything that asks "what time is it" asks here."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

BEIJING = ZoneInfo("Asia/Shanghai")


def clock_now() -> datetime:
    return current_app.extensions["clock"]()


def today_beijing() -> date:
    return clock_now().astimezone(BEIJING).date()


class FakeClock:
    """A settable clock for tests and simulations."""

    def __init__(self, start: datetime):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs) -> None:
        self.current = self.current + timedelta(**kwargs)

    def set(self, moment: datetime) -> None:
        self.current = moment
