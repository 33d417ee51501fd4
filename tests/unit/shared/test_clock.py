"""Instants in UTC, months in the city's time zone (shared/clock.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.clock import as_utc, as_utc_or_none, current_month, month_key, parse_utc, previous_month


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
