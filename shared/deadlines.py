"""Due times of a dispatched case: calendar hours for the response, calendar or working days for resolution."""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.clock import DEFAULT_TIMEZONE


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    """Monday to Friday and not a listed public holiday."""
    return day.weekday() < 5 and day not in holidays


def add_working_days(
    start: datetime, days: float, *, holidays: Collection[date] = (), timezone: str = DEFAULT_TIMEZONE
) -> datetime:
    """``start`` plus ``days`` working days in the city's time zone, at the same local time of day.

    Whole days step over weekends and holidays; a fraction is added as hours after the last whole day
    (then moved to the next working day if it lands on a day off). A case received on a Saturday counts
    from Monday: its first working day ends on Monday at the same time.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if days <= 0:
        return start
    zone = ZoneInfo(timezone)
    local = start.astimezone(zone)
    whole = math.floor(days)
    fraction = days - whole
    day = local.date()
    counted = 0
    while counted < whole:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            counted += 1
    due = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=zone)
    if fraction:
        due += timedelta(days=fraction)
        while not is_working_day(due.date(), holidays):
            due += timedelta(days=1)
    return due.astimezone(UTC)


def resolution_due(
    now: datetime,
    days: float,
    calendar: str,
    *,
    holidays: Collection[date] = (),
    timezone: str = DEFAULT_TIMEZONE,
) -> datetime:
    """When a case dispatched at ``now`` must be resolved: ``days`` calendar or working days later."""
    if calendar == "working":
        return add_working_days(now, days, holidays=holidays, timezone=timezone)
    return now + timedelta(days=days)
