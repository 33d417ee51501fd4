"""Fake upstreams of the console's unit tests: the metrics read API and intake's case-step endpoint, in process.

The fake metrics API answers with the read API's own response models (``services.metrics.api.views``), filled
from the metrics code that makes each figure, and the fake intake validates a step with intake's own
``CaseStepIn`` and answers its ``StepAccepted``, so neither can drift from the real services.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.intake.cases import CaseStepIn, StepAccepted
from services.metrics.api.views import (
    CaseSearchView,
    CasesView,
    CaseView,
    HotSpotsView,
    HotSpotView,
    MonthlyCountView,
    MonthlyView,
    ProblemsTrendView,
    ProblemTrendRow,
    ProgrammeView,
    QueuesView,
    QueueView,
    TopEntry,
    TopView,
    TrendSummaryView,
    UnitScoreView,
    UnitsView,
)
from services.metrics.case_facts import case_document
from services.metrics.case_search import CaseFilter, ordered
from services.metrics.scoreboard import Weights, month_on_month, programme_progress, trend_summary
from shared import topics
from shared.events import Assignment, CallRouted
from shared.queues import QueueId, queue_label
from tests import factories

XHM = "street:大兴区/西红门镇"
WANGJING = "street:朝阳区/望京街道"
LABOUR = "department:市人力资源社会保障局"
PASSWORD = "long-enough-password"


def _case(
    call_id: str, queue_id: str, status: str = "dispatched", cooperating: list[str] | None = None
) -> dict[str, Any]:
    """The case document the metrics worker stores for a call routed to ``queue_id`` (built by its own code)."""
    queue = QueueId.parse(queue_id)
    received_at = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)
    routed = CallRouted(
        call_id=uuid.uuid5(uuid.NAMESPACE_URL, call_id),
        occurred_at=received_at + timedelta(seconds=1),
        call=factories.call(
            call_id,
            subject="拖欠工资",
            body="老板拖欠工资三个月，我的电话13812345678",
            address="大兴区西红门镇宏福苑",
            contact=factories.CONTACT,
            received_at=received_at,
        ),
        classification=factories.classification(
            "劳动和社会保障", subcategory="劳动保障", item="拖欠工资", confidence=0.93
        ),
        assignment=Assignment(
            queue_id=queue_id,
            unit_kind=queue.kind,
            unit_name=queue.label,
            district=queue.district,
            cooperating_units=cooperating or [],
            catalogue_version="test",
            reason="rule wage-arrears",
            response_due_at=received_at + timedelta(hours=2),
            resolution_due_at=received_at + timedelta(days=7),
        ),
    )
    return {**case_document(routed, "Asia/Shanghai"), "_id": call_id, "status": status}


CASES = {
    "c-xhm": _case("c-xhm", XHM),
    "c-wj": _case("c-wj", WANGJING),
    "c-labour": _case("c-labour", LABOUR, "accepted", cooperating=[XHM]),
    "c-coop": _case("c-coop", WANGJING, "accepted", cooperating=[LABOUR]),
}


def _case_view(document: dict[str, Any]) -> CaseView:
    """A stored case as the read API answers it."""
    return CaseView.model_validate({"call_id": document["_id"], **{k: v for k, v in document.items() if k != "_id"}})


def fake_metrics(offer_rates: bool) -> FastAPI:
    """The metrics read API over the four cases above. Its answers are the read API's own response models
    (``services.metrics.api``), filled from the metrics code where it makes the figure (case documents, the
    composite weights, the trend summary, programme progress), so a change of the real views shows here.
    """
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/v1/queues")
    async def queues() -> QueuesView:
        listed: dict[str, QueueView] = {}
        for case in CASES.values():
            assignment = case["assignment"]
            queue = listed.setdefault(
                case["queue_id"],
                QueueView(
                    queue_id=case["queue_id"],
                    unit_kind=assignment["unit_kind"],
                    unit_name=assignment["unit_name"],
                    district=case["district"],
                    depth=0,
                    dispatched_total=0,
                    oldest_waiting=None,
                ),
            )
            queue.depth += 1
            queue.dispatched_total += 1
        return QueuesView(generated_at=datetime(2026, 4, 10, 2, 0, tzinfo=UTC), queues=list(listed.values()))

    @app.get("/v1/queues/{queue_id:path}/cases")
    async def queue_cases(queue_id: str) -> CasesView:
        cases = [_case_view(c) for c in CASES.values() if c["queue_id"] == queue_id]
        return CasesView(queue_id=queue_id, order="oldest", cases=cases)

    @app.get("/v1/search")
    async def search(
        queue_id: str,
        q: str | None = None,
        contact_hash: str | None = None,
        priority: Annotated[list[int], Query()] = [],  # noqa: B006
        sort: str = "urgent",
        limit: int = 200,
    ) -> CaseSearchView:
        """The real search's matching and order over the cases above (the database part done by hand)."""
        found = CaseFilter.of(q=q, queue_id=queue_id, contact_hash=contact_hash, priorities=tuple(priority))
        candidates = [
            c
            for c in CASES.values()
            if queue_id in (c.get("queue_ids") or [c["queue_id"]])
            and (not found.call_id or c["_id"] == found.call_id)
            and (not contact_hash or (c["call"].get("contact") or {}).get("hash") == contact_hash)
            and (not priority or int(c["assignment"].get("priority") or 3) in priority)
            and found.matches(c, datetime.now(UTC))
        ]
        listed = ordered(candidates, sort, limit)
        return CaseSearchView(total=len(candidates), sort=sort, cases=[_case_view(c) for c in listed])

    @app.get("/v1/cases/{call_id}", response_model=None)
    async def case(call_id: str) -> CaseView | JSONResponse:
        if call_id not in CASES:
            return JSONResponse({"detail": f"no case {call_id}"}, status_code=404)
        return _case_view(CASES[call_id])

    @app.get("/v1/metrics/monthly")
    async def monthly(month: str, dimension: str) -> MonthlyView:
        counts = {
            "category": [MonthlyCountView(value="劳动和社会保障", count=12 if month == "2026-04" else 20)],
            "unit": [
                MonthlyCountView(value=XHM, label="西红门镇", count=9),
                MonthlyCountView(value=LABOUR, label="人社局", count=30),
            ],
        }.get(dimension, [])
        return MonthlyView(month=month, dimension=dimension, total=sum(c.count for c in counts), counts=counts)

    if not offer_rates:
        return app

    @app.get("/v1/scoreboard/units")
    async def scoreboard(month: str, kind: str) -> UnitsView:
        def scored(
            unit_id: str, kind: str, rates: tuple[float, float, float | None], composite: float
        ) -> UnitScoreView:
            response, resolution, satisfaction = rates
            return UnitScoreView(
                unit_id=unit_id, label=queue_label(unit_id), unit_kind=kind, rank=1, response_rate=response,
                resolution_rate=resolution, satisfaction_rate=satisfaction, composite=composite, counts={},
            )  # fmt: skip

        xhm = scored(XHM, "street", (0.98, 0.9, 0.95), 93.2)
        daxing = scored("大兴区", "district", (0.9, 0.8, None), 49.0)
        units = {"street": [xhm], "district": [daxing]}.get(kind, [])
        return UnitsView(month=month, kind=kind, weights=dataclasses.asdict(Weights()), units=units)

    @app.get("/v1/scoreboard/top")
    async def top(month: str) -> TopView:
        return TopView(month=month, streets=[TopEntry(rank=1, unit_id=XHM, label="西红门镇", volume=9)])

    wage_arrears = {
        "id": "wage-arrears",
        "name": {"zh": "欠薪", "en": "Wage arrears"},
        "tasks": [
            {"id": "t1", "status": "done", "version": 1},
            {"id": "t2", "status": "planned", "version": 0},
            {"id": "t3", "status": "planned", "version": 0},
        ],
        "policies": [{"id": "p1", "status": "drafting", "version": 1}, {"id": "p2", "status": "planned", "version": 0}],
    }
    trend_row = ProblemTrendRow(
        problem="wage-arrears",
        months=["2026-03", "2026-04"],
        volumes=[24, 12],
        volume=12,
        previous=24,
        change=month_on_month(12, 24),
    )
    summary = TrendSummaryView.model_validate(dataclasses.asdict(trend_summary({"wage-arrears": (24, 12)})))

    @app.get("/v1/problems/trend")
    async def trend(month: str, months: int) -> ProblemsTrendView:
        return ProblemsTrendView(month=month, problems=[trend_row], summary=summary)

    @app.get("/v1/programme")
    async def programme(month: str) -> ProgrammeView:
        problem = {**wage_arrears, "progress": programme_progress([wage_arrears], {}), "trend": trend_row}
        overall = programme_progress([wage_arrears], {"tasks": 27, "policies": 18})
        return ProgrammeView.model_validate(
            {"programme": None, "year": None, "progress": overall, "summary": summary, "problems": [problem]}
        )

    @app.get("/v1/hotspots")
    async def hotspots(limit: int) -> HotSpotsView:
        alert = HotSpotView(
            call_id=uuid.uuid5(uuid.NAMESPACE_URL, "c-xhm"),
            area="大兴区/西红门镇",
            problem="wage-arrears",
            window="day",
            day="2026-04-10",
            count=9,
            baseline=1.5,
            ratio=6.0,
        )
        return HotSpotsView(hot_spots=[alert][:limit])

    return app


class FakeIntake:
    """Intake's case-step endpoint: the body must be intake's own ``CaseStepIn`` (else 422, as intake answers),
    and the answer is intake's ``StepAccepted``; ``refuse_with`` makes it answer 409 with that reason."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, str, dict]] = []
        self.refuse_with: str | None = None
        self.app = FastAPI()

        @self.app.post("/v1/cases/{call_id}/events", status_code=202, response_model=None)
        async def step(call_id: str, request: Request) -> StepAccepted | JSONResponse:
            body = await request.json()
            self.posted.append((request.headers.get("x-api-key", ""), call_id, body))
            try:
                taken = CaseStepIn.model_validate(body)
            except ValidationError as exc:
                return JSONResponse({"detail": exc.errors(include_url=False)}, status_code=422)
            if self.refuse_with:
                return JSONResponse({"detail": self.refuse_with}, status_code=409)
            return StepAccepted(
                call_id=uuid.uuid5(uuid.NAMESPACE_URL, call_id),
                event_id=uuid.uuid4(),
                kind=taken.kind,
                status_before=CASES[call_id]["status"],
                status_after=CASES[call_id]["status"],
                topic=topics.CASES_EVENTS,
            )
