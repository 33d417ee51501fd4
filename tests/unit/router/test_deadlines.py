"""Due times: resolution in calendar days or working days (weekends and listed holidays skipped)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.router.routing import route
from shared.catalogue import load_catalogue
from shared.deadlines import add_working_days, resolution_due
from shared.gazetteer import load_gazetteer
from tests import factories

# Friday 2025-05-09 10:00 in Beijing
FRIDAY = datetime(2025, 5, 9, 2, 0, tzinfo=UTC)


def test_five_working_days_from_a_friday_end_the_next_friday() -> None:
    assert add_working_days(FRIDAY, 5) == FRIDAY + timedelta(days=7)


def test_one_working_day_from_a_friday_is_monday_at_the_same_time() -> None:
    assert add_working_days(FRIDAY, 1) == FRIDAY + timedelta(days=3)


def test_a_case_received_on_saturday_counts_from_monday() -> None:
    saturday = FRIDAY + timedelta(days=1)
    assert add_working_days(saturday, 1) == FRIDAY + timedelta(days=3)


def test_holidays_are_skipped() -> None:
    assert add_working_days(FRIDAY, 1, holidays={date(2025, 5, 12)}) == FRIDAY + timedelta(days=4)


def test_the_local_day_decides_not_the_utc_day() -> None:
    # Friday 23:30 UTC is already Saturday 07:30 in Beijing: one working day ends Monday 07:30 Beijing
    late = datetime(2025, 5, 9, 23, 30, tzinfo=UTC)
    assert add_working_days(late, 1) == datetime(2025, 5, 11, 23, 30, tzinfo=UTC)


def test_a_fraction_landing_on_a_weekend_moves_to_monday() -> None:
    thursday_evening = datetime(2025, 5, 8, 12, 0, tzinfo=UTC)  # 20:00 in Beijing
    # Friday 20:00 plus half a day is Saturday 08:00 (Beijing): moved to Monday 08:00
    assert add_working_days(thursday_evening, 1.5) == datetime(2025, 5, 12, 0, 0, tzinfo=UTC)


def test_calendar_days_ignore_weekends() -> None:
    assert resolution_due(FRIDAY, 5, "calendar") == FRIDAY + timedelta(days=5)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_working_days(datetime(2025, 5, 9), 1)


def test_a_working_days_rule_sets_the_due_time_in_working_days() -> None:
    catalogue = load_catalogue()
    rule = catalogue.rule("property-certificate")
    assert rule is not None and rule.assign.calendar == "working"
    call = factories.call("1", source_system="t", body="房产证办不下来", address="大兴区西红门镇", received_at=FRIDAY)
    classification = factories.classification("城乡建设", issue="property-certificate", model_version="t")
    assignment = route(call, classification, catalogue, load_gazetteer(), FRIDAY)
    assert assignment.rule_id == "property-certificate"
    assert assignment.resolution_due_at == add_working_days(FRIDAY, rule.assign.resolution_days)
    assert assignment.resolution_due_at == FRIDAY + timedelta(days=21)  # 15 working days: three weeks
