"""Time as every service counts it: instants in UTC, months and days in the city's time zone.

MongoDB hands back naive datetimes (UTC) unless the client is ``tz_aware``; events carry aware ones. Every
comparison is made on aware UTC datetimes (``as_utc``). Months (``YYYY-MM``) and days (``YYYY-MM-DD``) of
the 三率 and the 每月一题 figures are those of the city (Asia/Shanghai by default, ``HOTLINE_TIMEZONE``):
a call received at 2026-03-31 16:00 UTC belongs to April in Beijing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime

DEFAULT_TIMEZONE = "Asia/Shanghai"

EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
"""No instant in a Hotline contract (event, API body) lies before this: older ones are refused as absurd."""
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)
"""Every instant in a Hotline contract lies before this: later ones are refused as absurd."""
MONTH_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"
"""A month (YYYY-MM) within the instants' window: what every API that takes a month accepts (else 422)."""
RECEIVED_AT_MAX_FUTURE = timedelta(days=1)
"""The most a call's ``received_at`` in an event may lie ahead of the consumer's clock (intake is stricter)."""


def check_instant(moment: datetime) -> datetime:
    """``moment`` itself if it lies in [EARLIEST_INSTANT, LATEST_INSTANT); ValueError otherwise.

    Python compares aware datetimes without converting them, so year 1 or 9999 with a ±14:00 offset is
    refused here rather than overflowing later (in ``astimezone``, in a month computation).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("must carry a time-zone offset")
    if not EARLIEST_INSTANT <= moment < LATEST_INSTANT:
        raise ValueError(
            f"must lie between {EARLIEST_INSTANT:%Y-%m-%d} and {LATEST_INSTANT:%Y-%m-%d} (UTC), not {moment.isoformat()}"
        )
    return moment


def check_received_at(moment: datetime, *, now: datetime | None = None) -> datetime:
    """``check_instant``, and not more than ``RECEIVED_AT_MAX_FUTURE`` ahead of ``now``."""
    check_instant(moment)
    latest = (now or datetime.now(UTC)) + RECEIVED_AT_MAX_FUTURE
    if moment > latest:
        raise ValueError(f"lies in the future: {moment.isoformat()} is after {latest.isoformat()}")
    return moment


Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]
"""An aware datetime between EARLIEST_INSTANT and LATEST_INSTANT: the type of every instant in a contract."""
ReceivedAt = Annotated[AwareDatetime, AfterValidator(check_received_at)]
"""An ``Instant`` not in the future (beyond ``RECEIVED_AT_MAX_FUTURE``): a call's ``received_at``."""


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
