"""Pure scoreboard figures from counter values: the three rates, the composite score, rankings,
supervision (减量、提率、去低), month-on-month trends and hot spots. No I/O.

Definitions (docs/metrics.md has them in full):

- 响应率 response rate = responded on time / cases whose response is due: responded to (on time or
  late) or whose response deadline passed unanswered (``response_due``). A case still inside its
  deadline and not yet answered is not judged yet: it is in neither count.
- 解决率 resolution rate = cases standing resolved, called back or closed / cases whose resolution is
  due: standing resolved or whose resolution deadline passed unresolved (``resolution_due``); a reopened
  case stops counting until it is resolved again or its deadline passes.
- A rate with nothing due is None (shown "—"), and a unit with neither rate has no composite and no rank.
- 满意率 satisfaction rate = (satisfied + factor x basically satisfied) / callbacks reached
  (satisfied + basically satisfied + dissatisfied; unreachable citizens are not in the denominator).
- composite = w_response x 响应率 + w_resolution x 解决率 + w_satisfaction x 满意率, scaled so the
  weights' sum is 100 points; a rate without a denominator counts 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class Weights:
    """Composite weights and the basic-satisfaction factor."""

    response: float = 10
    resolution: float = 50
    satisfaction: float = 40
    basic_satisfaction_factor: float = 0.9


@dataclass(frozen=True)
class UnitScore:
    """A unit's month: the counts, the three rates and the composite score."""

    unit_id: str
    label: str
    unit_kind: str
    counts: dict[str, int]
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    composite: float | None
    rank: int | None = None


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None without a denominator."""
    return None if denominator <= 0 else numerator / denominator


def response_rate(counts: Mapping[str, int]) -> float | None:
    """响应率: responded on time / cases whose response is due (answered, or its deadline passed)."""
    return ratio(counts.get("responded_on_time", 0), counts.get("response_due", 0))


def resolution_rate(counts: Mapping[str, int]) -> float | None:
    """解决率: cases standing resolved (or called back, closed) / cases whose resolution is due (resolved, or
    its deadline passed)."""
    return ratio(counts.get("resolved", 0), counts.get("resolution_due", 0))


def satisfaction_rate(counts: Mapping[str, int], basic_factor: float = 0.9) -> float | None:
    """满意率: (satisfied + factor x basically satisfied) / callbacks that reached the citizen."""
    satisfied, basic = counts.get("satisfied", 0), counts.get("basically_satisfied", 0)
    reached = satisfied + basic + counts.get("dissatisfied", 0)
    return ratio(satisfied + basic_factor * basic, reached)


def composite_score(
    response: float | None, resolution: float | None, satisfaction: float | None, weights: Weights
) -> float | None:
    """The weighted score out of 100 (None when nothing was dispatched)."""
    if response is None and resolution is None:
        return None
    total = weights.response + weights.resolution + weights.satisfaction
    if total <= 0:
        return None
    points = (
        weights.response * (response or 0)
        + weights.resolution * (resolution or 0)
        + weights.satisfaction * (satisfaction or 0)
    )
    return 100 * points / total


def unit_score(unit_id: str, label: str, unit_kind: str, counts: Mapping[str, int], weights: Weights) -> UnitScore:
    """The rates and composite of one unit's month."""
    response, resolution = response_rate(counts), resolution_rate(counts)
    satisfaction = satisfaction_rate(counts, weights.basic_satisfaction_factor)
    return UnitScore(
        unit_id=unit_id,
        label=label,
        unit_kind=unit_kind,
        counts=dict(counts),
        response_rate=_round(response),
        resolution_rate=_round(resolution),
        satisfaction_rate=_round(satisfaction),
        composite=_round(composite_score(response, resolution, satisfaction, weights), 2),
    )


def ranked(scores: Sequence[UnitScore]) -> list[UnitScore]:
    """Scores ranked by composite (highest first; equal scores share a rank; units without a score last)."""
    ordered = sorted(scores, key=lambda s: (s.composite is None, -(s.composite or 0), s.unit_id))
    result: list[UnitScore] = []
    previous: float | None = None
    rank = 0
    for position, score in enumerate(ordered, start=1):
        if score.composite is None:
            result.append(score)
            continue
        if score.composite != previous:
            rank, previous = position, score.composite
        result.append(UnitScore(**{**score.__dict__, "rank": rank}))
    return result


def top_by_volume(volumes: Mapping[str, int], n: int = 10) -> list[tuple[str, int]]:
    """The ``n`` units with the most requests (ties by id); a unit left with none (its cases went elsewhere
    after a return) is not listed."""
    return sorted(
        ((unit, volume) for unit, volume in volumes.items() if volume > 0), key=lambda item: (-item[1], item[0])
    )[:n]


def month_on_month(current: int, previous: int) -> float | None:
    """(current - previous) / previous, or None without a previous month's volume."""
    return None if previous <= 0 else (current - previous) / previous


@dataclass(frozen=True)
class TrendSummary:
    """How many problems fell month on month ("15 of 27 problems fell, 7 by more than 10%")."""

    problems: int
    fell: int
    fell_more_than: int
    threshold: float
    text: str


def trend_summary(volumes: Mapping[str, tuple[int, int]], threshold: float = 0.10) -> TrendSummary:
    """From problem -> (previous month, this month) volumes: how many fell, and how many by more than ``threshold``."""
    changes = [month_on_month(current, previous) for previous, current in volumes.values()]
    fell = sum(1 for change in changes if change is not None and change < 0)
    steep = sum(1 for change in changes if change is not None and change < -threshold)
    text = f"{fell} of {len(volumes)} problems fell month on month, {steep} by more than {threshold:.0%}"
    return TrendSummary(problems=len(volumes), fell=fell, fell_more_than=steep, threshold=threshold, text=text)


@dataclass(frozen=True)
class SupervisionCriteria:
    """Who enters municipal supervision (top n by volume) and what leaving takes (减量、提率、去低)."""

    top_n: int = 10
    leave_months: int = 2
    leave_min_composite: float = 85.0
    leave_volume_drop: float = 0.0


@dataclass(frozen=True)
class MonthEvidence:
    """One street's figures in one month, as evidence for a supervision decision."""

    month: str
    volume: int
    volume_rank: int | None
    in_top: bool
    composite: float | None
    volume_change: float | None
    meets_leave_criteria: bool


@dataclass(frozen=True)
class SupervisionDecision:
    """A street's supervision status in the month asked for, with the months that decided it."""

    unit_id: str
    label: str
    status: str  # "enters", "stays", "may_leave"
    evidence: list[MonthEvidence] = field(default_factory=list)


def supervision(
    months: Sequence[str],
    figures: Mapping[str, Mapping[str, tuple[int, float | None, str]]],
    criteria: SupervisionCriteria,
) -> list[SupervisionDecision]:
    """Supervision of the last of ``months`` (oldest first) from street -> month -> (volume, composite, label).

    A street ``enters`` when it is in the top n by volume this month. A street that was in the top n
    in an earlier month of the window and is not now ``may_leave`` if, in each of the last
    ``leave_months`` months, it was out of the top n (减量 in rank), its volume fell by at least
    ``leave_volume_drop`` (减量), and its composite reached ``leave_min_composite`` (提率、去低);
    otherwise it ``stays``.
    """
    evidence: dict[str, list[MonthEvidence]] = {street: [] for street in figures}
    for index, month in enumerate(months):
        volumes = {street: by_month[month][0] for street, by_month in figures.items() if month in by_month}
        ranking = {street: rank for rank, (street, _) in enumerate(top_by_volume(volumes, len(volumes)), start=1)}
        for street, by_month in figures.items():
            volume, composite, _ = by_month.get(month, (0, None, street))
            previous = figures[street].get(months[index - 1], (0, None, street))[0] if index > 0 else 0
            change = month_on_month(volume, previous)
            rank = ranking.get(street)
            in_top = rank is not None and rank <= criteria.top_n and volume > 0
            volume_ok = change is None or change <= -criteria.leave_volume_drop
            meets = not in_top and volume_ok and composite is not None and composite >= criteria.leave_min_composite
            evidence[street].append(MonthEvidence(month, volume, rank, in_top, composite, _round(change), meets))
    decisions = []
    for street, items in evidence.items():
        label = next((f[2] for f in figures[street].values()), street)
        current = items[-1]
        if current.in_top:
            decisions.append(SupervisionDecision(street, label, "enters", items))
            continue
        if not any(item.in_top for item in items[:-1]):
            continue
        last = items[-criteria.leave_months :]
        earlier_top = any(item.in_top for item in items[: len(items) - len(last)])
        if earlier_top and len(last) == criteria.leave_months and all(item.meets_leave_criteria for item in last):
            decisions.append(SupervisionDecision(street, label, "may_leave", items))
        else:
            decisions.append(SupervisionDecision(street, label, "stays", items))
    order = {"enters": 0, "stays": 1, "may_leave": 2}
    return sorted(decisions, key=lambda d: (order[d.status], -d.evidence[-1].volume, d.unit_id))


@dataclass(frozen=True)
class HotSpotThresholds:
    """When an area x problem is hot: at least ``min_count`` in the window and ``ratio`` x its baseline."""

    min_count: int = 5
    ratio: float = 3.0
    baseline_days: int = 28


@dataclass(frozen=True)
class HotSpot:
    """A window whose volume rose well above the area's own baseline."""

    window: str
    day: str
    count: int
    baseline: float
    ratio: float


def window_days(day: str, window: str) -> list[str]:
    """The days of the ``window`` (day or week) ending on ``day``."""
    end = date.fromisoformat(day)
    length = 1 if window == "day" else 7
    return [(end - timedelta(days=offset)).isoformat() for offset in range(length)]


def baseline_days(day: str, window: str, thresholds: HotSpotThresholds) -> list[str]:
    """The days before the window that make its baseline."""
    end = date.fromisoformat(day) - timedelta(days=1 if window == "day" else 7)
    return [(end - timedelta(days=offset)).isoformat() for offset in range(thresholds.baseline_days)]


def checked_days(day: str, thresholds: HotSpotThresholds) -> list[str]:
    """Every day a check of ``day`` reads: the week ending on it and the baselines before both windows."""
    return sorted(
        set(window_days(day, "week"))
        | set(baseline_days(day, "day", thresholds))
        | set(baseline_days(day, "week", thresholds))
    )


def hot_spot(day: str, window: str, daily: Mapping[str, int], thresholds: HotSpotThresholds) -> HotSpot | None:
    """Whether the ``window`` ending on ``day`` is hot, from day -> count of the area x problem."""
    count = sum(daily.get(d, 0) for d in window_days(day, window))
    base_days = baseline_days(day, window, thresholds)
    per_window = (1 if window == "day" else 7) / len(base_days)
    baseline = sum(daily.get(d, 0) for d in base_days) * per_window
    rise = count / baseline if baseline > 0 else float(count)
    if count >= thresholds.min_count and rise >= thresholds.ratio:
        return HotSpot(window=window, day=day, count=count, baseline=round(baseline, 3), ratio=round(rise, 3))
    return None


def programme_progress(problems: Sequence[Mapping[str, Any]], targets: Mapping[str, int]) -> dict[str, Any]:
    """Tasks done / total, policies issued / planned, and the share of the annual targets (275/603 = 45.6%)."""
    tasks = [task for problem in problems for task in problem.get("tasks", ())]
    policies = [policy for problem in problems for policy in problem.get("policies", ())]
    done = sum(1 for task in tasks if task.get("status") == "done")
    issued = sum(1 for policy in policies if policy.get("status") == "issued")
    task_target = int(targets.get("tasks") or len(tasks))
    policy_target = int(targets.get("policies") or len(policies))
    return {
        "tasks_done": done,
        "tasks_total": len(tasks),
        "task_target": task_target,
        "task_share": _round(ratio(done, task_target), 3),
        "policies_issued": issued,
        "policies_planned": len(policies),
        "policy_target": policy_target,
        "policy_share": _round(ratio(issued, policy_target), 3),
        "text": (
            f"{done} of {task_target} tasks done ({_percent(ratio(done, task_target))} of the annual target); "
            f"{issued} of {policy_target} policies issued ({_percent(ratio(issued, policy_target))})"
        ),
    }


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
