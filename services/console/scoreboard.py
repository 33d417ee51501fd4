"""The scoreboard's figures, read from the metrics API: what it offers is shown, the rest says "not yet".

Month-on-month volume per problem and the top ten streets/towns come from the monthly counts the
metrics API has always served; the three rates, the 每月一题 programme and hot spots come from the
read API of issue 5 under whichever of the candidate paths it offers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup

from services.console.clients import MetricsClient
from services.console.views import bar_chart_svg, previous_month

RATES_PATHS = ("/v1/scoreboard", "/v1/metrics/scoreboard", "/v1/units/scores", "/v1/metrics/units")
TOP_TEN_PATHS = ("/v1/top-ten", "/v1/metrics/top-ten", "/v1/rankings/top-ten")
PROGRAMME_PATHS = ("/v1/programme", "/v1/metrics/programme", "/v1/programme/problems")
HOT_SPOT_PATHS = ("/v1/hot-spots", "/v1/hotspots", "/v1/metrics/hot-spots", "/v1/alerts")


def rows_of(body: Any, *keys: str) -> list[dict[str, Any]] | None:
    """The list inside an API answer (a bare list, or under one of ``keys``); None when absent."""
    if body is None:
        return None
    if isinstance(body, list):
        return [r for r in body if isinstance(r, dict)]
    if isinstance(body, dict):
        for key in keys:
            if isinstance(body.get(key), list):
                return [r for r in body[key] if isinstance(r, dict)]
    return None


def first(row: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` present in ``row`` (field names vary between API versions)."""
    for key in keys:
        if row.get(key) is not None:
            return row[key]
    return None


def rate_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Units with rank, three rates and composite, best first."""
    table = []
    for row in rows:
        rates: Mapping[str, Any] = row["rates"] if isinstance(row.get("rates"), dict) else row
        table.append(
            {
                "rank": first(row, "rank", "ranking"),
                "unit": first(row, "unit_name", "label", "name", "unit_id", "queue_id", "unit"),
                "response_rate": first(rates, "response_rate", "响应率", "responded_rate"),
                "resolution_rate": first(rates, "resolution_rate", "解决率", "resolved_rate"),
                "satisfaction_rate": first(rates, "satisfaction_rate", "满意率", "satisfied_rate"),
                "composite": first(row, "composite", "composite_score", "score"),
            }
        )
    table.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, -(r["composite"] or 0)))
    for position, row in enumerate(table, start=1):
        row["rank"] = row["rank"] or position
    return table


def percent(value: Any) -> str:
    """0.873 -> 87.3%; already-percent figures (> 1) kept; None -> —."""
    if value is None:
        return "—"
    number = float(value)
    return f"{number * 100:.1f}%" if number <= 1 else f"{number:.1f}%"


async def scoreboard_context(metrics: MetricsClient, month: str, t: Callable[..., str]) -> dict[str, Any]:
    """Everything the scoreboard page shows for ``month``."""
    params = {"month": month}
    rates_body = await metrics.first_available(RATES_PATHS, params)
    rates = rows_of(rates_body, "units", "rows", "scores", "ranking")

    top_body = await metrics.first_available(TOP_TEN_PATHS, params)
    top_ten = rows_of(top_body, "streets", "units", "rows", "top_ten")
    if top_ten is None:
        units = await metrics.monthly(month, "unit")
        top_ten = [
            {"unit": c.get("label") or c["value"], "count": c["count"]}
            for c in units
            if str(c.get("value", "")).startswith("street:")
        ]
    else:
        top_ten = [
            {"unit": first(r, "unit_name", "label", "name", "queue_id", "street"), "count": first(r, "count", "volume")}
            for r in top_ten
        ]
    top_ten = sorted(top_ten, key=lambda r: -(r["count"] or 0))[:10]

    before = previous_month(month)
    current = {c["value"]: c["count"] for c in await metrics.monthly(month, "category")}
    previous = {c["value"]: c["count"] for c in await metrics.monthly(before, "category")}
    labels = sorted(set(current) | set(previous), key=lambda k: -(current.get(k, 0) + previous.get(k, 0)))
    chart_rows = [(label, previous.get(label, 0), current.get(label, 0)) for label in labels[:15]]
    chart = Markup(bar_chart_svg(chart_rows, legend=(f"{t('previous_month')} {before}", f"{t('this_month')} {month}")))

    programme = rows_of(await metrics.first_available(PROGRAMME_PATHS, params), "problems", "rows", "programme")
    hot_spots = rows_of(await metrics.first_available(HOT_SPOT_PATHS, params), "hot_spots", "alerts", "rows")
    return {
        "rates": rate_rows(rates) if rates is not None else None,
        "top_ten": top_ten,
        "chart": chart,
        "previous": before,
        "programme": programme,
        "hot_spots": hot_spots,
        "percent": percent,
        "first": first,
    }
