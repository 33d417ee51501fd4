"""Time as every service counts it: instants in UTC, months and days in the city's time zone.

MongoDB hands back naive datetimes (UTC) unless the client is ``tz_aware``; events carry aware ones. Every
comparison is made on aware UTC datetimes (``as_utc``). Months (``YYYY-MM``) and days (``YYYY-MM-DD``) of
the 三率 and the 每月一题 figures are those of the city (Asia/Shanghai by default, ``HOTLINE_TIMEZONE``):
a call received at 2026-03-31 16:00 UTC belongs to April in Beijing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one (as PyMongo returns them) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def as_utc_or_none(moment: datetime | None) -> datetime | None:
    """``as_utc`` that lets None through."""
    return None if moment is None else as_utc(moment)


def parse_utc(value: Any) -> datetime | None:
    """A datetime from MongoDB (naive means UTC) or an ISO 8601 string, as aware UTC; None for anything else."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return as_utc(value)


def local_month_and_day(moment: datetime, timezone: str = DEFAULT_TIMEZONE) -> tuple[str, str]:
    """The month (YYYY-MM) and day (YYYY-MM-DD) of ``moment`` in the city's time zone."""
    local = as_utc(moment).astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m"), local.strftime("%Y-%m-%d")


def month_key(moment: datetime, timezone: str = DEFAULT_TIMEZONE) -> str:
    """The month (YYYY-MM) of ``moment`` in the city's time zone."""
    return local_month_and_day(moment, timezone)[0]


def current_month(timezone: str = DEFAULT_TIMEZONE, *, now: datetime | None = None) -> str:
    """This month (YYYY-MM) in the city's time zone."""
    return month_key(now or datetime.now(UTC), timezone)


def previous_month(month: str) -> str:
    """The month before ``month`` (YYYY-MM)."""
    year, number = _month_parts(month)
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def _month_parts(month: str) -> tuple[int, int]:
    try:
        year, number = (int(part) for part in month.split("-"))
    except ValueError:
        raise ValueError(f"bad month {month!r}: expected YYYY-MM") from None
    if not 1 <= number <= 12:
        raise ValueError(f"bad month {month!r}: expected YYYY-MM")
    return year, number
