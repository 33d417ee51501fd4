"""What the routes share: the stores they read (from ``app.state``), query parameter types, CSV export."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from services.metrics.queries import Scoreboard
from services.metrics.store.hotspots import HotSpotStore
from services.metrics.store.reads import MetricsReads
from shared.clock import MONTH_PATTERN

Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv (a spreadsheet export).")]
Month = Annotated[
    str | None,
    Query(
        pattern=MONTH_PATTERN, description="YYYY-MM (2000-01 to 2099-12) in the city's time zone; default: this month."
    ),
]


def get_reads(request: Request) -> MetricsReads:
    reads: MetricsReads = request.app.state.reads
    return reads


def get_hotspots(request: Request) -> HotSpotStore:
    hotspots: HotSpotStore = request.app.state.hotspots
    return hotspots


def get_scoreboard(request: Request) -> Scoreboard:
    scoreboard: Scoreboard = request.app.state.scoreboard
    return scoreboard


ReadsDep = Annotated[MetricsReads, Depends(get_reads)]
HotSpotsDep = Annotated[HotSpotStore, Depends(get_hotspots)]
ScoreboardDep = Annotated[Scoreboard, Depends(get_scoreboard)]


def csv_response(rows: list[dict[str, Any]], name: str) -> Response:
    """Rows as a CSV download (nested values as JSON)."""
    buffer = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, dict | list) else v
                for k, v in row.items()
            }
        )
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
