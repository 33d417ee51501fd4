"""Instants in UTC, months in the city's time zone (shared/clock.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.clock import (
    as_utc,
    as_utc_or_none,
    check_instant,
    check_received_at,
    current_month,
    month_key,
    parse_utc,
    previous_month,
)


def test_a_naive_datetime_from_mongodb_is_taken_as_utc() -> None:
    assert as_utc(datetime(2026, 4, 1, 8, 0)) == datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    assert as_utc(datetime(2026, 4, 1, 16, 0, tzinfo=timezone(timedelta(hours=8)))).hour == 8
    assert as_utc_or_none(None) is None


def test_parse_utc_reads_iso_strings_and_refuses_the_rest() -> None:
    assert parse_utc("2026-04-01T16:00:00+08:00") == datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    assert parse_utc("2026-04-01T08:00:00") == datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    assert parse_utc("yesterday") is None
    assert parse_utc(42) is None


def test_months_are_the_citys_not_utcs() -> None:
    last_utc_minute_of_march_in_beijing = datetime(2026, 3, 31, 15, 59, tzinfo=UTC)
    assert month_key(last_utc_minute_of_march_in_beijing) == "2026-03"
    assert month_key(last_utc_minute_of_march_in_beijing + timedelta(minutes=1)) == "2026-04"
    assert month_key(datetime(2026, 3, 31, 17, 0, tzinfo=UTC), "UTC") == "2026-03"
    assert current_month(now=datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == "2027-01"


@pytest.mark.parametrize(("month", "before"), [("2026-01", "2025-12"), ("2026-03", "2026-02"), ("2026-10", "2026-09")])
def test_previous_month(month: str, before: str) -> None:
    assert previous_month(month) == before


@pytest.mark.parametrize("month", ["2026-13", "2026", "April", "2026-00"])
def test_a_bad_month_is_refused_clearly(month: str) -> None:
    with pytest.raises(ValueError, match="expected YYYY-MM"):
        previous_month(month)


@pytest.mark.parametrize(
    "absurd",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59-14:00",
        "1900-01-01T00:00:00Z",
        "2100-01-01T00:00:00Z",
    ],
)
def test_absurd_instants_are_refused_without_overflowing(absurd: str) -> None:
    with pytest.raises(ValueError, match="must lie between 2000-01-01 and 2100-01-01"):
        check_instant(datetime.fromisoformat(absurd))


def test_a_received_at_may_not_lie_in_the_future_beyond_a_day() -> None:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    assert check_received_at(now + timedelta(hours=23), now=now) == now + timedelta(hours=23)
    with pytest.raises(ValueError, match="in the future"):
        check_received_at(now + timedelta(hours=25), now=now)
