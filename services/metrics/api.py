"""The metrics read API and the live queue page (``python -m services.metrics.api``).

Operators see every queue of 街乡镇 (streets/towns) and 委办局 (departments) with its depth and its
oldest waiting case; analysts read the monthly counts per category, Monthly-Question problem, unit
and district that the metrics worker pre-aggregates.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase

from services.common.mongo import hotline_database, mongo_client
from services.metrics.queries import Scoreboard
from services.metrics.repository import MetricsRepository
from services.metrics.settings import ScoreboardSettings
from shared.settings import Settings, get_settings

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

DESCRIPTION = """\
Read API of the Hotline metrics store for 接诉即办 ("handle on receipt"): every citizen request is
dispatched (派单) to a queue of a street/town (街乡镇) or a department (委办局). This API shows each
queue's depth, overdue cases and oldest waiting case, the cases waiting in a queue, one case with its
history, the monthly counts per category, Monthly-Question (每月一题) problem, unit and district, and
the city's scoreboard: the three rates 响应率 / 解决率 / 满意率 and the composite score per unit with
the monthly ranking, the top ten streets by volume, municipal supervision (减量、提率、去低), the
每月一题 programme's progress and problem trends, and hot spots (主动治理). Figure endpoints take
`format=csv`. `GET /v1/stream` pushes queue and scoreboard changes (server-sent events). Definitions:
docs/metrics.md. `GET /` is a live queue page. Read-only: 每月一题 task and policy status updates
are events submitted through intake (`POST /v1/programme/...`), applied by the metrics worker.
"""

Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv (a spreadsheet export).")]
Month = Annotated[
    str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM in the city's time zone; default: this month.")
]


class OldestWaiting(BaseModel):
    """The case that has waited longest in a queue."""

    call_id: str
    received_at: datetime
    age_seconds: float = Field(description="How long it has waited, at the time of the answer.")


class QueueView(BaseModel):
    """A queue with its depth (open cases) and oldest waiting case."""

    queue_id: str
    unit_kind: str = Field(description="street (街乡镇), department (委办局), district or manual.")
    unit_name: str
    district: str | None
    depth: int = Field(description="Open cases waiting in the queue (待办).")
    dispatched_total: int = Field(description="Cases ever dispatched to the queue.")
    overdue: int = Field(0, description="Open cases of the queue past a deadline (超期).")
    oldest_waiting: OldestWaiting | None = Field(description="Oldest waiting case (最早等待), if any.")


class QueuesView(BaseModel):
    """Every queue, as of ``generated_at``."""

    generated_at: datetime
    queues: list[QueueView]


class CaseView(BaseModel):
    """A case (one per call) as the metrics store keeps it, with its history; the contact only hashed and masked."""

    model_config = ConfigDict(extra="allow")

    call_id: str
    status: str
    queue_id: str
    district: str | None = None
    received_at: datetime
    routed_at: datetime
    stored_at: datetime | None = Field(None, description="When the case became visible in its queue.")
    month: str = Field(description="Month of receipt in the city's time zone (YYYY-MM).")
    day: str = Field(description="Day of receipt in the city's time zone (YYYY-MM-DD).")
    call: dict[str, Any]
    classification: dict[str, Any]
    assignment: dict[str, Any]
    queue_ids: list[str] = Field(default_factory=list, description="Lead and cooperating queues (吹哨报到).")
    history: list[dict[str, Any]] = Field(
        default_factory=list, description="Applied and rejected lifecycle steps, oldest first."
    )
    overdue: dict[str, Any] = Field(default_factory=dict, description="Deadlines missed: response, resolution.")


class CasesView(BaseModel):
    """A page of a queue's open cases; pass ``next_after`` as ``after`` (or ``next_before`` as ``before``) next."""

    queue_id: str
    order: Literal["oldest", "newest"]
    cases: list[CaseView]
    next_before: datetime | None = None
    next_after: datetime | None = None


class CaseListView(BaseModel):
    """Cases matching a query, newest first (at most ``limit``)."""

    cases: list[CaseView]


class MonthlyCountView(BaseModel):
    """Cases dispatched in the month for one value."""

    value: str
    label: str | None = None
    count: int


class MonthlyView(BaseModel):
    """Monthly counts for one dimension."""

    month: str
    dimension: str
    total: int
    counts: list[MonthlyCountView]


class UnitScoreView(BaseModel):
    """A unit's month: counts, the three rates (0-1), the composite score (0-100) and its rank."""

    unit_id: str
    label: str
    unit_kind: str
    rank: int | None
    composite: float | None = Field(description="Weighted score out of 100 (default 10/50/40).")
    response_rate: float | None = Field(description="响应率 = responded on time / dispatched.")
    resolution_rate: float | None = Field(description="解决率 = standing resolved / dispatched.")
    satisfaction_rate: float | None = Field(
        description="满意率 = (satisfied + 0.9 x basically satisfied) / callbacks reached."
    )
    counts: dict[str, int]


class UnitsView(BaseModel):
    """A month's scoreboard for one kind of unit, ranked."""

    month: str
    kind: str
    weights: dict[str, float]
    units: list[UnitScoreView]


class TopEntry(BaseModel):
    """A street/town by request volume."""

    rank: int
    unit_id: str
    label: str
    volume: int


class TopView(BaseModel):
    """The streets/towns with the most requests in a month."""

    month: str
    streets: list[TopEntry]


class SupervisionView(BaseModel):
    """Streets that enter, stay in or may leave municipal supervision, with the months that decided it."""

    month: str
    criteria: dict[str, float]
    streets: list[dict[str, Any]]


def get_repository(request: Request) -> MetricsRepository:
    repository: MetricsRepository = request.app.state.repository
    return repository


RepositoryDep = Annotated[MetricsRepository, Depends(get_repository)]


def get_scoreboard(request: Request) -> Scoreboard:
    scoreboard: Scoreboard = request.app.state.scoreboard
    return scoreboard


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


def create_app(
    settings: Settings | None = None,
    *,
    database: AsyncDatabase | None = None,
    scoreboard_settings: ScoreboardSettings | None = None,
) -> FastAPI:
    """The read API; ``database`` injects an existing database (tests), else the lifespan connects."""
    settings = settings or get_settings()
    board_settings = scoreboard_settings or ScoreboardSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if database is not None:
            yield
            return
        client = mongo_client(settings.mongodb)
        app.state.repository = MetricsRepository(hotline_database(client, settings.mongodb), timezone=settings.timezone)
        app.state.scoreboard = Scoreboard(app.state.repository, board_settings)
        try:
            yield
        finally:
            await client.close()

    app = FastAPI(
        title="Hotline metrics — 接诉即办 queues and monthly counts",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
    )
    if database is not None:
        app.state.repository = MetricsRepository(database, timezone=settings.timezone)
        app.state.scoreboard = Scoreboard(app.state.repository, board_settings)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=None)
    async def readyz(repository: RepositoryDep) -> dict[str, str] | JSONResponse:
        """The database answers a ping."""
        try:
            await repository.ping()
        except Exception as exc:
            return JSONResponse(status_code=503, content={"status": "unavailable", "reason": type(exc).__name__})
        return {"status": "ready"}

    @app.get("/v1/queues")
    async def list_queues(repository: RepositoryDep) -> QueuesView:
        """Every queue with its depth, oldest waiting case and that case's age."""
        now = datetime.now(UTC)
        views = []
        for queue in await repository.queues():
            oldest = None
            if queue.oldest_waiting_received_at is not None and queue.oldest_waiting_call_id is not None:
                oldest = OldestWaiting(
                    call_id=queue.oldest_waiting_call_id,
                    received_at=queue.oldest_waiting_received_at,
                    age_seconds=round((now - queue.oldest_waiting_received_at).total_seconds(), 3),
                )
            views.append(
                QueueView(
                    queue_id=queue.queue_id,
                    unit_kind=queue.unit_kind,
                    unit_name=queue.unit_name,
                    district=queue.district,
                    depth=queue.depth,
                    dispatched_total=queue.dispatched_total,
                    overdue=queue.overdue,
                    oldest_waiting=oldest,
                )
            )
        views.sort(key=lambda q: (-q.depth, q.queue_id))
        return QueuesView(generated_at=now, queues=views)

    @app.get("/v1/queues/{queue_id:path}/cases")
    async def list_queue_cases(
        queue_id: str,
        repository: RepositoryDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        before: Annotated[datetime | None, Query(description="Only cases received before this time.")] = None,
        after: Annotated[datetime | None, Query(description="Only cases received after this time.")] = None,
        order: Annotated[Literal["oldest", "newest"], Query(description="oldest first suits a work queue.")] = (
            "oldest"
        ),
    ) -> CasesView:
        """The open cases waiting in a queue, oldest first by default."""
        oldest_first = order == "oldest"
        cases = await repository.cases_of_queue(
            queue_id, limit=limit, before=before, after=after, oldest_first=oldest_first
        )
        views = [CaseView.model_validate(case) for case in cases]
        last = views[-1].received_at if len(views) == limit else None
        return CasesView(
            queue_id=queue_id,
            order=order,
            cases=views,
            next_before=None if oldest_first else last,
            next_after=last if oldest_first else None,
        )

    @app.get("/v1/cases")
    async def find_cases(
        repository: RepositoryDep,
        call_id: Annotated[list[str], Query(description="Case ids (repeat); the other filters are then ignored.")] = [],  # noqa: B006
        received_from: Annotated[datetime | None, Query(description="Received at or after (ISO 8601).")] = None,
        received_to: Annotated[datetime | None, Query(description="Received at or before (ISO 8601).")] = None,
        status: Annotated[list[str], Query(description="Lifecycle statuses (repeat), e.g. closed.")] = [],  # noqa: B006
        category: Annotated[
            list[str], Query(description="Level-1 or level1/level2 category (repeat); OR-ed with issue.")
        ] = [],  # noqa: B006
        issue: Annotated[list[str], Query(description="每月一题 problem ids (repeat).")] = [],  # noqa: B006
        limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    ) -> CaseListView:
        """Cases by id, or by time of receipt, status and classification, newest first (Open311 reads these)."""
        cases = await repository.find_cases(
            call_ids=call_id,
            received_from=received_from,
            received_to=received_to,
            statuses=status,
            categories=category,
            issues=issue,
            limit=limit,
        )
        return CaseListView(cases=[CaseView.model_validate(case) for case in cases])

    @app.get("/v1/cases/{call_id}")
    async def get_case(call_id: str, repository: RepositoryDep) -> CaseView:
        """One case by its call id (404 when unknown)."""
        case = await repository.get_case(call_id)
        if case is None:
            raise HTTPException(status_code=404, detail=f"no case {call_id}")
        return CaseView.model_validate(case)

    @app.get("/v1/metrics/monthly")
    async def monthly(
        repository: RepositoryDep,
        month: Annotated[str, Query(pattern=MONTH_PATTERN, description="YYYY-MM in the city's time zone.")],
        dimension: Annotated[Literal["category", "issue", "unit", "district"], Query()] = "category",
    ) -> MonthlyView:
        """Cases dispatched in a month per category, Monthly-Question issue, unit or district."""
        counts = await repository.monthly_counts(month, dimension)
        return MonthlyView(
            month=month,
            dimension=dimension,
            total=sum(c.count for c in counts),
            counts=[MonthlyCountView(value=c.value, label=c.label, count=c.count) for c in counts],
        )

    @app.get("/v1/scoreboard", response_model=None, include_in_schema=False)
    @app.get("/v1/scoreboard/units", response_model=None)
    async def scoreboard_units(
        board: ScoreboardDep,
        month: Month = None,
        kind: Annotated[Literal["street", "department", "district"], Query()] = "street",
        district: Annotated[str | None, Query(description="Only units of this district, e.g. 大兴区.")] = None,
        format: Format = "json",
    ) -> UnitsView | Response:
        """Every unit's 响应率, 解决率, 满意率 and composite score in a month, ranked (1 = best)."""
        month = month or board.current_month()
        scores = await board.units(month, kind, district)
        views = [UnitScoreView(**score.__dict__) for score in scores]
        if format == "csv":
            rows = [{**v.model_dump(exclude={"counts"}), **v.counts} for v in views]
            return csv_response(rows, f"scoreboard-{kind}-{month}")
        weights = board.weights
        return UnitsView(
            month=month,
            kind=kind,
            weights={
                "response": weights.response,
                "resolution": weights.resolution,
                "satisfaction": weights.satisfaction,
                "basic_satisfaction_factor": weights.basic_satisfaction_factor,
            },
            units=views,
        )

    @app.get("/v1/top-ten", response_model=None, include_in_schema=False)
    @app.get("/v1/scoreboard/top", response_model=None)
    async def scoreboard_top(
        board: ScoreboardDep,
        month: Month = None,
        n: Annotated[int, Query(ge=1, le=100)] = 10,
        format: Format = "json",
    ) -> TopView | Response:
        """The streets/towns with the most requests in a month (the top ten go under municipal supervision)."""
        month = month or board.current_month()
        top = await board.top_streets(month, n)
        if format == "csv":
            return csv_response(top, f"top-{month}")
        return TopView(month=month, streets=[TopEntry(**entry) for entry in top])

    @app.get("/v1/supervision", response_model=None)
    async def supervision_view(
        board: ScoreboardDep, month: Month = None, format: Format = "json"
    ) -> SupervisionView | Response:
        """减量、提率、去低: which streets/towns enter municipal supervision and which may leave it, with evidence."""
        month = month or board.current_month()
        streets = await board.supervision(month)
        if format == "csv":
            rows = [
                {"unit_id": s["unit_id"], "label": s["label"], "status": s["status"], **e}
                for s in streets
                for e in s["evidence"]
            ]
            return csv_response(rows, f"supervision-{month}")
        criteria = board.criteria
        return SupervisionView(month=month, criteria=dict(criteria.__dict__), streets=streets)

    @app.get("/v1/problems/trend", response_model=None)
    async def problems_trend(
        board: ScoreboardDep,
        month: Month = None,
        problem: Annotated[str | None, Query(description="A 每月一题 problem id; default: every problem.")] = None,
        months: Annotated[int, Query(ge=2, le=36)] = 6,
        format: Format = "json",
    ) -> dict[str, Any] | Response:
        """Each problem's monthly volume with its month-on-month change, and how many problems fell."""
        trend = await board.problem_trend(month or board.current_month(), problem, months)
        if format == "csv":
            return csv_response(trend["problems"], f"problems-{trend['month']}")
        return trend

    @app.get("/v1/programme", response_model=None)
    async def programme(
        board: ScoreboardDep, month: Month = None, format: Format = "json"
    ) -> dict[str, Any] | Response:
        """The 每月一题 programme: problems, tasks and policies with status, progress and volume trend."""
        view = await board.programme(month)
        if format == "csv":
            rows = [
                {"problem": p["id"], "kind": kind, **item}
                for p in view["problems"]
                for kind in ("tasks", "policies")
                for item in p[kind]
            ]
            return csv_response(rows, "programme")
        return view

    @app.get("/v1/hotspots", response_model=None)
    async def hotspots(
        repository: RepositoryDep,
        area: Annotated[str | None, Query(description="district/street, e.g. 大兴区/西红门镇.")] = None,
        problem: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        format: Format = "json",
    ) -> dict[str, Any] | Response:
        """Hot spots (主动治理): an area x problem well above its own baseline, newest first, with the figures."""
        found = [
            {k: v for k, v in doc.items() if k != "_id"}
            for doc in await repository.hotspot_list(area=area, problem=problem, limit=limit)
        ]
        if format == "csv":
            return csv_response(found, "hotspots")
        return {"hot_spots": found}

    @app.get("/v1/stream")
    async def stream(
        request: Request,
        board: ScoreboardDep,
        interval: Annotated[float, Query(ge=0.2, le=60, description="Seconds between checks.")] = 1.0,
        max_events: Annotated[int | None, Query(ge=1, description="Stop after this many events.")] = None,
    ) -> StreamingResponse:
        """Server-sent events: `queues` and `scoreboard` whenever they change (the console's live feed)."""

        async def events() -> AsyncIterator[str]:
            last: dict[str, str] = {}
            sent = 0
            while True:
                month = board.current_month()
                snapshot = {
                    "queues": (await list_queues(board.repository)).model_dump_json(),
                    "scoreboard": json.dumps(
                        {"month": month, "top": await board.top_streets(month)}, ensure_ascii=False, default=str
                    ),
                }
                for name, data in snapshot.items():
                    if last.get(name) != data:
                        last[name] = data
                        yield f"event: {name}\ndata: {data}\n\n"
                        sent += 1
                        if max_events is not None and sent >= max_events:
                            return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(interval)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/", response_class=HTMLResponse)
    async def queue_page() -> HTMLResponse:
        """The live queue page (refreshes itself every 2 s)."""
        return HTMLResponse(QUEUE_PAGE)

    return app


QUEUE_PAGE = """<!doctype html>
<html lang="zh">
<head>
<meta charset="utf-8">
<title>队列 Queues — Hotline 接诉即办</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; }
table { border-collapse: collapse; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #ddd; text-align: left; }
td.n { text-align: right; }
#status { color: #666; font-size: .9rem; }
</style>
</head>
<body>
<h1>队列 Queues</h1>
<p id="status">加载中 loading…</p>
<table>
<thead><tr>
<th>队列 Queue</th><th>单位 Unit</th><th>类型 Kind</th><th>待办 Depth</th>
<th>最早等待 Oldest waiting</th><th>等待时长 Waiting for</th>
</tr></thead>
<tbody id="queues"></tbody>
</table>
<script>
function age(seconds) {
  if (seconds < 60) return Math.round(seconds) + " s";
  if (seconds < 3600) return Math.round(seconds / 60) + " min";
  if (seconds < 86400) return (seconds / 3600).toFixed(1) + " h";
  return (seconds / 86400).toFixed(1) + " d";
}
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}
async function refresh() {
  try {
    const response = await fetch("/v1/queues");
    if (!response.ok) throw new Error("HTTP " + response.status);
    const data = await response.json();
    const body = document.getElementById("queues");
    body.replaceChildren();
    for (const q of data.queues) {
      const row = document.createElement("tr");
      cell(row, q.queue_id);
      cell(row, q.unit_name);
      cell(row, q.unit_kind);
      cell(row, String(q.depth), "n");
      cell(row, q.oldest_waiting ? new Date(q.oldest_waiting.received_at).toLocaleString() : "—");
      cell(row, q.oldest_waiting ? age(q.oldest_waiting.age_seconds) : "—", "n");
      body.appendChild(row);
    }
    document.getElementById("status").textContent =
      data.queues.length + " 个队列 queues · 更新于 updated " + new Date().toLocaleTimeString();
  } catch (error) {
    document.getElementById("status").textContent = "无法加载 cannot load: " + error;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""


def main() -> None:
    """Serve the read API with uvicorn on METRICS_HOST:METRICS_PORT."""
    import uvicorn

    from services.common.streaming import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=settings.metrics.host, port=settings.metrics.port, log_level="info")


if __name__ == "__main__":
    main()
