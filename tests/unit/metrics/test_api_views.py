"""The read API's 每月一题 answers hold to the response models its OpenAPI documents (and the console's fakes use).

``GET /v1/problems/trend`` and ``GET /v1/programme`` answer what ``Scoreboard`` builds; here the real
``Scoreboard`` runs over in-memory counters and programme updates and its answers are validated against
``ProblemsTrendView`` and ``ProgrammeView`` (unknown top-level fields are refused, so a field added to the
answer must be added to the model too). The hot spots' model is held to the stored documents in
tests/integration/test_metrics_case_store.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from services.metrics.api.app import create_app
from services.metrics.api.views import ProblemsTrendView, ProgrammeView
from services.metrics.queries import Scoreboard
from services.metrics.settings import MetricsSettings
from services.metrics.store.programme import ProgrammeStore
from services.metrics.store.reads import MetricsReads, MonthlyCount

VOLUMES = {"2026-03": 24, "2026-04": 12}


class Counters:
    """The monthly ``issue`` counters of wage arrears: 24 cases in March, 12 in April."""

    timezone = "Asia/Shanghai"

    async def monthly_counts(self, month: str, dimension: str) -> list[MonthlyCount]:
        assert dimension == "issue"
        return [MonthlyCount("wage-arrears", VOLUMES.get(month, 0), None)]


class Updates:
    """One stored programme update: wage arrears' first task done."""

    async def updates(self) -> list[dict[str, Any]]:
        return [
            {
                "_id": "wage-arrears|tasks|t1",
                "problem_id": "wage-arrears",
                "kind": "tasks",
                "item_id": "t1",
                "status": "done",
                "version": 2,
                "updated_at": datetime(2026, 4, 10, 1, tzinfo=UTC),
                "actor": "supervisor",
                "note": None,
            }
        ]


@pytest.fixture
def board() -> Scoreboard:
    return Scoreboard(cast(MetricsReads, Counters()), cast(ProgrammeStore, Updates()), MetricsSettings())


async def test_the_problem_trend_answer_is_a_problems_trend_view(board: Scoreboard) -> None:
    view = ProblemsTrendView.model_validate(await board.problem_trend("2026-04", months=3))
    wage = next(row for row in view.problems if row.problem == "wage-arrears")
    assert (wage.months, wage.volumes, wage.change) == (["2026-02", "2026-03", "2026-04"], [0, 24, 12], -0.5)
    assert view.summary.fell >= 1


async def test_the_programme_answer_is_a_programme_view(board: Scoreboard) -> None:
    view = ProgrammeView.model_validate(await board.programme("2026-04"))
    wage = next(problem for problem in view.problems if problem.id == "wage-arrears")
    assert (wage.tasks[0].status, wage.tasks[0].version, wage.tasks[0].updated_at) == (
        "done",
        2,
        datetime(2026, 4, 10, 1, tzinfo=UTC),
    )
    assert wage.trend is not None and wage.trend.volume == 12
    assert view.progress.tasks_done == 1


def test_the_openapi_document_names_these_models_as_the_answers() -> None:
    paths = create_app(MetricsSettings()).openapi()["paths"]
    answers = {
        path: paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        for path in ("/v1/problems/trend", "/v1/programme", "/v1/hotspots")
    }
    assert answers == {
        "/v1/problems/trend": "#/components/schemas/ProblemsTrendView",
        "/v1/programme": "#/components/schemas/ProgrammeView",
        "/v1/hotspots": "#/components/schemas/HotSpotsView",
    }
