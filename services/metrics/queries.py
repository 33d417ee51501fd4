"""The read side: dashboard figures from the pre-aggregated counters (a handful of indexed reads each)."""

from __future__ import annotations

from typing import Any

from services.metrics.aggregates import UNIT_FIELDS
from services.metrics.programme import with_updates
from services.metrics.scoreboard import (
    SupervisionCriteria,
    UnitScore,
    Weights,
    month_on_month,
    programme_progress,
    ranked,
    supervision,
    top_by_volume,
    trend_summary,
    unit_score,
)
from services.metrics.settings import MetricsSettings
from services.metrics.store.programme import ProgrammeStore
from services.metrics.store.reads import MetricsReads
from shared.clock import current_month, previous_month
from shared.programme import load_programme
from shared.queues import queue_label


def street_label(unit_id: str) -> str:
    """A street's display name from its queue id (``street:大兴区/西红门镇`` -> 西红门镇)."""
    return queue_label(unit_id)


class Scoreboard:
    """Figures for the console and the read API, computed from a few counter documents per request."""

    def __init__(self, reads: MetricsReads, programme: ProgrammeStore, settings: MetricsSettings) -> None:
        self.reads = reads
        self.programme_store = programme
        self.settings = settings
        self.weights = Weights(
            response=settings.weight_response,
            resolution=settings.weight_resolution,
            satisfaction=settings.weight_satisfaction,
            basic_satisfaction_factor=settings.basic_satisfaction_factor,
        )
        self.criteria = SupervisionCriteria(
            top_n=settings.supervision_top_n,
            leave_months=settings.supervision_leave_months,
            leave_min_composite=settings.supervision_leave_min_composite,
            leave_volume_drop=settings.supervision_leave_volume_drop,
        )

    def current_month(self) -> str:
        """This month in the city's time zone."""
        return current_month(self.reads.timezone)

    async def units(self, month: str, kind: str, district: str | None = None) -> list[UnitScore]:
        """Every unit of ``kind`` (street, department or district) in ``month``, ranked by composite score."""
        rows: list[tuple[str, str, dict[str, Any]]]
        if kind == "street":
            board = (await self.reads.street_scoreboards([month])).get(month, {})
            rows = [(unit_id, street_label(unit_id), dict(counts)) for unit_id, counts in board.items()]
        else:
            dimension = "district" if kind == "district" else "unit"
            counters = await self.reads.monthly_counters(month, dimension, None if kind == "district" else kind)
            rows = [(c["value"], c.get("label") or c["value"], c) for c in counters]
        scores = []
        for unit_id, label, counter in rows:
            if district and kind == "district" and unit_id != district:
                continue
            if district and kind != "district" and not unit_id.startswith(f"{kind}:{district}/"):
                continue
            counts = {name: int(counter.get(name, 0)) for name in UNIT_FIELDS}
            scores.append(unit_score(unit_id, label, kind, counts, self.weights))
        return ranked(scores)

    async def top_streets(self, month: str, n: int = 10) -> list[dict[str, Any]]:
        """The ``n`` streets/towns with the most requests in ``month`` (top ten: municipal supervision)."""
        board = (await self.reads.street_scoreboards([month])).get(month, {})
        volumes = {unit_id: counts.get("count", 0) for unit_id, counts in board.items()}
        return [
            {"rank": rank, "unit_id": unit_id, "label": street_label(unit_id), "volume": volume}
            for rank, (unit_id, volume) in enumerate(top_by_volume(volumes, n), start=1)
        ]

    async def supervision(self, month: str, window: int = 6) -> list[dict[str, Any]]:
        """减量、提率、去低: streets entering, staying in or allowed to leave municipal supervision, with evidence."""
        months = [month]
        while len(months) < max(window, self.criteria.leave_months + 1):
            months.insert(0, previous_month(months[0]))
        figures: dict[str, dict[str, tuple[int, float | None, str]]] = {}
        for each, board in (await self.reads.street_scoreboards(months)).items():
            for unit_id, counts in board.items():
                score = unit_score(unit_id, street_label(unit_id), "street", counts, self.weights)
                figures.setdefault(unit_id, {})[each] = (counts.get("count", 0), score.composite, score.label)
        decisions = supervision(months, figures, self.criteria)
        return [
            {
                "unit_id": d.unit_id,
                "label": d.label,
                "status": d.status,
                "evidence": [e.__dict__ for e in d.evidence],
            }
            for d in decisions
        ]

    async def problem_trend(self, month: str, problem: str | None = None, months: int = 6) -> dict[str, Any]:
        """Each 每月一题 problem's monthly volume (and month-on-month change), and the programme summary."""
        series_months = [month]
        while len(series_months) < months:
            series_months.insert(0, previous_month(series_months[0]))
        by_month = {m: {c.value: c.count for c in await self.reads.monthly_counts(m, "issue")} for m in series_months}
        programme_ids = [p["id"] for p in load_programme(self.settings.programme_path)["problems"]]
        seen = set(programme_ids) | {value for counts in by_month.values() for value in counts}
        ids = [problem] if problem else [*programme_ids, *sorted(seen - set(programme_ids))]
        rows: list[dict[str, Any]] = []
        for problem_id in ids:
            volumes = [by_month[m].get(problem_id, 0) for m in series_months]
            change = month_on_month(volumes[-1], volumes[-2]) if len(volumes) > 1 else None
            rows.append(
                {
                    "problem": problem_id,
                    "months": series_months,
                    "volumes": volumes,
                    "volume": volumes[-1],
                    "previous": volumes[-2] if len(volumes) > 1 else 0,
                    "change": None if change is None else round(change, 4),
                }
            )
        summary = trend_summary({r["problem"]: (r["previous"], r["volume"]) for r in rows})
        return {"month": month, "problems": rows, "summary": summary.__dict__}

    async def programme(self, month: str | None = None) -> dict[str, Any]:
        """The programme with each item's current status, its progress and each problem's volume trend."""
        document = load_programme(self.settings.programme_path)
        updates = await self.programme_store.updates()
        problems = with_updates(document, updates)
        trend = await self.problem_trend(month or self.current_month())
        volumes = {row["problem"]: row for row in trend["problems"]}
        for problem in problems:
            problem["progress"] = programme_progress([problem], {})
            problem["trend"] = volumes.get(problem["id"])
        return {
            "programme": document.get("programme"),
            "year": document.get("year"),
            "progress": programme_progress(problems, document.get("annual_targets") or {}),
            "summary": trend["summary"],
            "problems": problems,
        }
