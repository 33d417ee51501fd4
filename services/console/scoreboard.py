"""The scoreboard's figures, read from the metrics read API; what it does not offer says "not available yet".

Endpoints (issue 5): ``/v1/scoreboard/units`` (三率 and composite, ranked), ``/v1/scoreboard/top`` (top
ten streets/towns), ``/v1/problems/trend`` (每月一题 problems month on month), ``/v1/programme``
(tasks and policies) and ``/v1/hotspots``. Against an older metrics API, the top ten and the chart fall
back to the monthly counts (per street queue and per level-1 category) it has always served.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup

from services.console.clients import MetricsClient
from services.console.district_map import map_svg
from services.console.views import bar_chart_svg
from shared.clock import previous_month
from shared.events import UnitKind
from shared.queues import kind_of

UNIT_KINDS: tuple[str, ...] = ("street", "department", "district")
"""The scoreboard's tables: streets/towns, departments, districts (the API's ``kind``)."""


def first(row: Mapping[str, Any] | None, *keys: str) -> Any:
    """The first of ``keys`` present in ``row``."""
    for key in keys:
        if row and row.get(key) is not None:
            return row[key]
    return None


def percent(value: Any) -> str:
    """0.873 -> 87.3%; None -> —."""
    return "—" if value is None else f"{float(value) * 100:.1f}%"


def name_in(value: Any, language: str) -> str:
    """A name given as {zh, en} (or plain text) in ``language``."""
    if isinstance(value, Mapping):
        return str(value.get(language) or value.get("zh") or value.get("en") or "")
    return "" if value is None else str(value)


async def rates(metrics: MetricsClient, month: str) -> dict[str, list[dict[str, Any]]] | None:
    """Per unit kind, the units with rank, three rates and composite; None when the API has no scoreboard."""
    found: dict[str, list[dict[str, Any]]] = {}
    for kind in UNIT_KINDS:
        body = await metrics.optional("/v1/scoreboard/units", {"month": month, "kind": kind})
        if body is None:
            return None
        found[kind] = [
            {
                "rank": unit.get("rank"),
                "unit": first(unit, "label", "unit_id"),
                "unit_id": unit.get("unit_id"),
                "response_rate": unit.get("response_rate"),
                "resolution_rate": unit.get("resolution_rate"),
                "satisfaction_rate": unit.get("satisfaction_rate"),
                "composite": unit.get("composite"),
                "volume": (unit.get("counts") or {}).get("count"),
            }
            for unit in body.get("units", [])
        ]
    return found


async def top_ten(metrics: MetricsClient, month: str) -> list[dict[str, Any]]:
    """The ten streets/towns with the most requests in the month."""
    body = await metrics.optional("/v1/scoreboard/top", {"month": month, "n": 10})
    if body is not None:
        entries = first(body, "top", "streets") or []  # the field was renamed while issue 5 landed
        return [{"unit": first(e, "label", "unit_id"), "count": first(e, "volume", "count")} for e in entries]
    units = await metrics.monthly(month, "unit")
    streets = [
        {"unit": c.get("label") or c["value"], "count": c["count"]}
        for c in units
        if kind_of(str(c.get("value", ""))) is UnitKind.street
    ]
    return sorted(streets, key=lambda r: -(r["count"] or 0))[:10]


async def month_on_month(
    metrics: MetricsClient, month: str, names: Mapping[str, str]
) -> tuple[list[tuple[str, int, int]], dict[str, Any] | None, str]:
    """(label, previous, this month) per 每月一题 problem, the API's summary, and what the rows are of."""
    body = await metrics.optional("/v1/problems/trend", {"month": month, "months": 2})
    if body is not None:
        rows = [
            (names.get(r["problem"], r["problem"]), int(r.get("previous") or 0), int(r.get("volume") or 0))
            for r in body.get("problems", [])
        ]
        return rows, body.get("summary"), "problems"
    current = {c["value"]: c["count"] for c in await metrics.monthly(month, "category")}
    previous = {c["value"]: c["count"] for c in await metrics.monthly(previous_month(month), "category")}
    labels = sorted(set(current) | set(previous), key=lambda k: -(current.get(k, 0) + previous.get(k, 0)))
    return [(label, previous.get(label, 0), current.get(label, 0)) for label in labels[:15]], None, "categories"


UNIT_MONTHS = 6
"""How many months the chart of one unit shows (each against the month before it)."""


async def unit_months(
    metrics: MetricsClient, unit_id: str, month: str, n: int = UNIT_MONTHS
) -> tuple[str | None, list[tuple[str, int, int]]]:
    """One unit's requests month by month: its label (None when it had none in these months) and, for each of
    the ``n`` months up to ``month``, (the month, the month before's requests, the month's) from the monthly
    per-unit counts."""
    months = [month]
    for _ in range(n):
        months.append(previous_month(months[-1]))
    months.reverse()
    counts: dict[str, int] = {}
    label: str | None = None
    for each in months:
        for count in await metrics.monthly(each, "unit"):
            if count.get("value") == unit_id:
                counts[each] = int(count.get("count") or 0)
                label = count.get("label") or label or unit_id
    rows = [(this, counts.get(before, 0), counts.get(this, 0)) for before, this in itertools.pairwise(months)]
    return label, rows


async def scoreboard_context(
    metrics: MetricsClient,
    month: str,
    t: Callable[..., str],
    language: str = "zh",
    by: str = "volume",
    unit: str | None = None,
) -> dict[str, Any]:
    """Everything the scoreboard page shows for ``month`` (and, with ``unit``, that unit month by month)."""
    programme = await metrics.optional("/v1/programme", {"month": month})
    problems = programme.get("problems", []) if isinstance(programme, dict) else []
    names = {p["id"]: name_in(p.get("name"), language) or p["id"] for p in problems if "id" in p}
    chart_rows, trend_summary, chart_of = await month_on_month(metrics, month, names)
    legend = (f"{t('previous_month')} {previous_month(month)}", f"{t('this_month')} {month}")
    hot = await metrics.optional("/v1/hotspots", {"limit": 20})
    summary = summary_text(trend_summary, t)
    unit_rates = await rates(metrics, month)
    hot_spots = hot.get("hot_spots", []) if isinstance(hot, dict) else None
    unit_label, unit_rows = await unit_months(metrics, unit, month) if unit else (None, [])
    return {
        "unit": unit,
        "unit_label": unit_label or unit,
        "unit_months": Markup(bar_chart_svg(unit_rows, legend=(t("previous_month"), t("this_month")))),
        "rates": unit_rates,
        "map": Markup(district_map(unit_rates, hot_spots or [], by, t)),
        "map_by": by,
        "unit_chart": Markup(bar_chart_svg(await streets_month_on_month(metrics, month), legend=legend)),
        "top_ten": await top_ten(metrics, month),
        "chart": Markup(bar_chart_svg(chart_rows, legend=legend)),
        "chart_of": chart_of,
        "trend_summary": summary,
        "programme": programme,
        "problems": [{**p, "display_name": names.get(p.get("id", ""), "")} for p in problems],
        "hot_spots": hot_spots,
        "percent": percent,
        "first": first,
    }


def summary_text(summary: Mapping[str, Any] | None, t: Callable[..., str]) -> str | None:
    """The month-on-month summary in the page's language, from the API's figures (its ``text`` is English)."""
    if not summary:
        return None
    if all(summary.get(k) is not None for k in ("problems", "fell", "fell_more_than", "threshold")):
        return t(
            "trend_summary",
            problems=summary["problems"],
            fell=summary["fell"],
            steep=summary["fell_more_than"],
            threshold=f"{float(summary['threshold']):.0%}",
        )
    return str(summary.get("text") or "") or None


MAP_FIGURES = ("volume", "composite")
"""What the district map is coloured by: the month's requests, or the composite score."""


def district_map(
    unit_rates: Mapping[str, list[dict[str, Any]]] | None,
    hot_spots: list[dict[str, Any]],
    by: str,
    t: Callable[..., str],
) -> str:
    """The 16 districts coloured by ``by`` (per the district table), with the hot spots on their districts."""
    districts = (unit_rates or {}).get("district", [])
    figures = {str(d["unit_id"]): d.get(by if by in MAP_FIGURES else "volume") for d in districts}
    spots = []
    for spot in hot_spots:
        area = str(first(spot, "area", "district", "street") or "")
        spots.append(
            (
                area.split("/")[0],
                str(first(spot, "problem", "category", "issue") or ""),
                int(first(spot, "count", "volume") or 1),
            )
        )
    return map_svg(figures, spots, label=t("map_" + (by if by in MAP_FIGURES else "volume")))


async def streets_month_on_month(metrics: MetricsClient, month: str, n: int = 10) -> list[tuple[str, int, int]]:
    """(street, previous month, this month) for the month's top ``n`` streets/towns by volume."""
    current = await metrics.optional("/v1/scoreboard/top", {"month": month, "n": n})
    previous = await metrics.optional("/v1/scoreboard/top", {"month": previous_month(month), "n": 100})
    if current is None:
        return []
    before = {e.get("unit_id"): first(e, "volume", "count") or 0 for e in first(previous, "top", "streets") or []}
    return [
        (str(first(e, "label", "unit_id")), int(before.get(e.get("unit_id"), 0)), int(first(e, "volume", "count") or 0))
        for e in first(current, "top", "streets") or []
    ]
