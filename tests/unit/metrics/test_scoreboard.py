"""The scoreboard's pure figures: the three rates, composite score, ranking, supervision, trends, hot spots."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.metrics.programme import with_updates
from services.metrics.scoreboard import (
    HotSpotThresholds,
    SupervisionCriteria,
    Weights,
    composite_score,
    hot_spot,
    programme_progress,
    ranked,
    resolution_rate,
    response_rate,
    satisfaction_rate,
    supervision,
    top_by_volume,
    trend_summary,
    unit_score,
)
from shared.clock import previous_month
from shared.programme import ProgrammeError, check_update, load_programme

REPO = Path(__file__).resolve().parents[3]


def test_basically_satisfied_counts_point_nine_by_default() -> None:
    counts = {"satisfied": 8, "basically_satisfied": 10, "dissatisfied": 2}

    assert satisfaction_rate(counts) == pytest.approx((8 + 9) / 20)


def test_the_basic_satisfaction_factor_is_configurable() -> None:
    counts = {"satisfied": 0, "basically_satisfied": 10}

    assert satisfaction_rate(counts, basic_factor=0.8) == pytest.approx(0.8)


def test_unreachable_citizens_are_not_in_the_satisfaction_denominator() -> None:
    assert satisfaction_rate({"satisfied": 3, "dissatisfied": 1, "unreachable": 50}) == pytest.approx(0.75)


def test_response_rate_is_responses_on_time_over_the_cases_whose_response_is_due() -> None:
    """Issue 14: cases minutes old read 0.0%: a rate counted the cases not yet due against the unit."""
    counts = {"dispatched": 30, "responded": 9, "responded_on_time": 7, "response_due": 10}
    assert response_rate(counts) == pytest.approx(0.7)
    assert response_rate({"dispatched": 30}) is None, "nothing due yet: no rate, not 0%"


def test_resolution_rate_is_resolved_over_the_cases_whose_resolution_is_due() -> None:
    assert resolution_rate({"dispatched": 20, "resolved": 6, "resolution_due": 8}) == pytest.approx(0.75)
    assert resolution_rate({"dispatched": 20, "resolved": 0}) is None


def test_a_rate_without_a_denominator_is_none_not_zero() -> None:
    assert response_rate({}) is None
    assert satisfaction_rate({"unreachable": 4}) is None


def test_the_composite_weights_10_50_40_by_default() -> None:
    assert composite_score(1.0, 0.5, 0.25, Weights()) == pytest.approx(10 + 25 + 10)


def test_composite_weights_are_configurable_and_scaled_to_100() -> None:
    weights = Weights(response=30, resolution=35, satisfaction=35)

    assert composite_score(1.0, 1.0, 0.0, weights) == pytest.approx(65)


def test_units_share_a_rank_on_equal_scores_and_units_without_cases_come_last() -> None:
    due = {"dispatched": 10, "response_due": 10, "resolution_due": 10}
    full = {**due, "responded_on_time": 10, "resolved": 10, "satisfied": 10}
    half = {**due, "responded_on_time": 5, "resolved": 5, "satisfied": 5, "dissatisfied": 5}
    scores = [
        unit_score("b", "B", "street", full, Weights()),
        unit_score("c", "C", "street", {}, Weights()),
        unit_score("e", "E", "street", {"dispatched": 3}, Weights()),  # nothing due yet: no rank, not a tie
        unit_score("a", "A", "street", full, Weights()),
        unit_score("d", "D", "street", half, Weights()),
    ]

    order = [(s.unit_id, s.rank) for s in ranked(scores)]

    assert order == [("a", 1), ("b", 1), ("d", 3), ("c", None), ("e", None)]


def test_the_top_ten_by_volume_breaks_ties_by_id() -> None:
    volumes = {f"s{i:02d}": 100 - i for i in range(15)} | {"s99": 100}

    top = top_by_volume(volumes)

    assert len(top) == 10
    assert top[:2] == [("s00", 100), ("s99", 100)]


def test_a_unit_left_without_requests_is_not_in_the_top_ten() -> None:
    """Issue 14: a street emptied by a return stayed in the top ten with 0."""
    assert top_by_volume({"a": 3, "emptied": 0, "b": 1}) == [("a", 3), ("b", 1)]


def test_month_before_january_is_december_of_the_previous_year() -> None:
    assert previous_month("2026-01") == "2025-12"
    assert previous_month("2026-03") == "2026-02"


def test_the_programme_summary_reads_like_the_seed() -> None:
    volumes = {f"p{i}": (100, 85) for i in range(7)}  # -15%
    volumes |= {f"q{i}": (100, 95) for i in range(8)}  # -5%
    volumes |= {f"r{i}": (100, 120) for i in range(12)}  # rose

    summary = trend_summary(volumes)

    assert (summary.problems, summary.fell, summary.fell_more_than) == (27, 15, 7)
    assert summary.text == "15 of 27 problems fell month on month, 7 by more than 10%"


def test_programme_progress_gives_the_share_of_the_annual_target() -> None:
    problems = [
        {"tasks": [{"status": "done"}] * 275 + [{"status": "planned"}] * 10, "policies": [{"status": "issued"}] * 31}
    ]

    progress = programme_progress(problems, {"tasks": 603, "policies": 65})

    assert progress["task_share"] == pytest.approx(0.456, abs=0.001)
    assert progress["policy_share"] == pytest.approx(0.477, abs=0.001)
    assert "275 of 603 tasks done (45.6% of the annual target)" in progress["text"]


def street_months(*rows: tuple[str, int, float | None]) -> dict[str, tuple[int, float | None, str]]:
    return {month: (volume, composite, "label") for month, volume, composite in rows}


def test_a_street_in_the_top_n_by_volume_enters_supervision() -> None:
    figures = {"busy": street_months(("2026-03", 50, 70.0)), "calm": street_months(("2026-03", 5, 95.0))}

    decisions = supervision(["2026-03"], figures, SupervisionCriteria(top_n=1))

    assert [(d.unit_id, d.status) for d in decisions] == [("busy", "enters")]


def test_a_supervised_street_may_leave_after_consecutive_months_meeting_the_criteria() -> None:
    months = ["2026-01", "2026-02", "2026-03"]
    figures = {
        "reformed": street_months(("2026-01", 90, 70.0), ("2026-02", 40, 88.0), ("2026-03", 30, 90.0)),
        "low_score": street_months(("2026-01", 80, 70.0), ("2026-02", 30, 80.0), ("2026-03", 20, 80.0)),
        "new_top": street_months(("2026-01", 10, 90.0), ("2026-02", 50, 90.0), ("2026-03", 60, 90.0)),
        "other": street_months(("2026-01", 1, 90.0), ("2026-02", 45, 90.0), ("2026-03", 45, 90.0)),
    }

    decisions = {d.unit_id: d for d in supervision(months, figures, SupervisionCriteria(top_n=2, leave_months=2))}

    assert decisions["reformed"].status == "may_leave"
    assert decisions["low_score"].status == "stays"  # 去低: its composite stayed under 85
    assert decisions["new_top"].status == "enters"
    assert [e.month for e in decisions["reformed"].evidence] == months
    assert decisions["reformed"].evidence[-1].meets_leave_criteria


def test_leaving_supervision_can_require_a_volume_drop() -> None:
    months = ["2026-01", "2026-02", "2026-03"]
    figures = {
        "flat": street_months(("2026-01", 90, 70.0), ("2026-02", 30, 90.0), ("2026-03", 30, 90.0)),
        "a": street_months(("2026-02", 50, 90.0), ("2026-03", 50, 90.0)),
    }

    decisions = {
        d.unit_id: d for d in supervision(months, figures, SupervisionCriteria(top_n=1, leave_volume_drop=0.1))
    }

    assert decisions["flat"].status == "stays"  # 减量: March did not fall by 10%


def test_a_day_far_above_the_area_baseline_is_a_hot_spot() -> None:
    daily = {f"2026-04-{d:02d}": 1 for d in range(1, 29)} | {"2026-04-29": 9}

    spot = hot_spot("2026-04-29", "day", daily, HotSpotThresholds(min_count=5, ratio=3.0, baseline_days=28))

    assert spot is not None
    assert (spot.count, spot.baseline, spot.ratio) == (9, 1.0, 9.0)


def test_a_busy_area_at_its_usual_level_is_not_a_hot_spot() -> None:
    daily = {f"2026-04-{d:02d}": 10 for d in range(1, 30)}

    assert hot_spot("2026-04-29", "day", daily, HotSpotThresholds()) is None
    assert hot_spot("2026-04-29", "week", daily, HotSpotThresholds()) is None


def test_a_few_calls_in_a_quiet_area_stay_under_the_minimum_count() -> None:
    assert hot_spot("2026-04-29", "day", {"2026-04-29": 4}, HotSpotThresholds(min_count=5)) is None


def test_a_week_well_above_the_weekly_baseline_is_a_hot_spot() -> None:
    daily = {f"2026-03-{d:02d}": 1 for d in range(1, 32)} | {f"2026-04-{d:02d}": 4 for d in range(1, 8)}

    spot = hot_spot("2026-04-07", "week", daily, HotSpotThresholds(min_count=5, ratio=3.0, baseline_days=28))

    assert spot is not None and spot.count == 28 and spot.baseline == 7.0


def test_the_programme_uses_the_classifier_problem_ids() -> None:
    classifier = yaml.safe_load((REPO / "shared/data/monthly_questions.yaml").read_text(encoding="utf-8"))
    programme = load_programme()

    assert [p["id"] for p in programme["problems"]] == [p["id"] for p in classifier["problems"]]
    for problem in programme["problems"]:
        assert problem["tasks"] and problem["policies"] and problem["lead_unit"]


def test_a_programme_update_must_name_a_known_item_and_status() -> None:
    programme = load_programme()

    check_update(programme, "wage-arrears", "tasks", "t1", "done")
    with pytest.raises(ProgrammeError):
        check_update(programme, "wage-arrears", "tasks", "t1", "issued")
    with pytest.raises(ProgrammeError):
        check_update(programme, "no-such-problem", "tasks", "t1", "done")
    with pytest.raises(ProgrammeError):
        check_update(programme, "wage-arrears", "policies", "t1", "issued")


def test_the_latest_update_of_an_item_wins_over_the_file() -> None:
    programme = load_programme()
    updates = [{"problem_id": "wage-arrears", "kind": "tasks", "item_id": "t2", "status": "done", "version": 3}]

    problems = with_updates(programme, updates)

    task = next(t for t in problems[0]["tasks"] if t["id"] == "t2")
    assert (task["status"], task["version"]) == ("done", 3)
    assert programme["problems"][0]["tasks"][1]["status"] == "planned"  # the loaded file is not changed
