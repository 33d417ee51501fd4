"""What the routes share: the stores they read (from ``app.state``), query parameter types, CSV export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query, Request, Security, status
from fastapi.responses import Response
from fastapi.security import APIKeyHeader

from services.metrics.queries import Scoreboard
from services.metrics.store.hotspots import HotSpotStore
from services.metrics.store.reads import MetricsReads
from shared.api_keys import CASES_READ, READ_ALL, KeyRecord, KeyStore
from shared.cases import case_units
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


api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description=f"An API key with the scope {CASES_READ} (for its units: `hotline keys --name NAME --read "
    f"--unit QUEUE_ID`) or {READ_ALL} (`hotline keys --name NAME --read-all`).",
)


@dataclass(frozen=True)
class Reader:
    """Who reads, and what they may see: every queue and case, or those of their units only."""

    name: str
    units: frozenset[str] | None  # None: everything

    def sees_queue(self, queue_id: str) -> bool:
        return self.units is None or queue_id in self.units

    def sees_case(self, case: Any) -> bool:
        """The case is led by or cooperated on by one of the reader's units (or the reader sees everything)."""
        return self.units is None or bool(case_units(case) & self.units)


def reader(request: Request, presented: Annotated[str | None, Security(api_key_header)]) -> Reader:
    """The caller's read rights; 401 without a known key, 403 when the key has no read scope."""
    store: KeyStore = request.app.state.key_store
    if not presented:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "X-API-Key header is missing", headers={"WWW-Authenticate": "ApiKey"}
        )
    record: KeyRecord | None = store.verify(presented)
    if record is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "X-API-Key is not a known key", headers={"WWW-Authenticate": "ApiKey"}
        )
    if not record.reads:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"API key '{record.name}' lacks the scope {CASES_READ} or {READ_ALL} "
            f"(it has: {', '.join(record.scopes) or 'none'})",
        )
    return Reader(record.name, None if record.reads_everything else frozenset(record.units))


ReaderDep = Annotated[Reader, Depends(reader)]
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
