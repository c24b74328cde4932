"""Time helpers available to process expressions (timers, scripts), bound to the engine's clock and
the working-day calendar. All answer ISO 8601 strings, which is what timer expressions must give."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
NAMES = ("today", "now", "working_days_after", "add_working_days", "is_working_day")


def make_time_helpers(clock, calendar_provider) -> dict:
    """``clock()`` gives an aware UTC datetime; ``calendar_provider()`` a domain WorkCalendar."""

    def _today() -> date:
        return clock().astimezone(BEIJING).date()

    def today() -> str:
        return _today().isoformat()

    def now() -> str:
        return clock().astimezone(timezone.utc).isoformat()

    def _parse_at(at: str) -> time:
        try:
            return time.fromisoformat(at)
        except (TypeError, ValueError):
            raise ValueError(f"时间格式应为 HH:MM, got {at!r}") from None

    def working_days_after(n: int, at: str = "09:00") -> str:
        """Beijing time ``at`` on the n-th working day after today (today not counted)."""
        day = calendar_provider().add_working_days(_today(), int(n))
        return datetime.combine(day, _parse_at(at), BEIJING).isoformat()

    def add_working_days(start: str, n: int) -> str:
        return calendar_provider().add_working_days(date.fromisoformat(start), int(n)).isoformat()

    def is_working_day(day: str) -> bool:
        return calendar_provider().is_working_day(date.fromisoformat(day))

    return {"today": today, "now": now, "working_days_after": working_days_after,
            "add_working_days": add_working_days, "is_working_day": is_working_day,
            "timedelta": timedelta}
