"""``hotline status``'s queue tables from the metrics read API's answer (the e2e test runs the command)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hotline import status_cmd


def test_the_deepest_and_the_most_overdue_queues_are_picked_and_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        {"queue_id": "street:a", "unit_name": "A", "depth": 3, "overdue": 0},
        {"queue_id": "street:b", "unit_name": "B", "depth": 9, "overdue": 1},
        {"queue_id": "street:c", "unit_name": "C", "depth": 0, "overdue": 0},
        {"queue_id": "street:d", "unit_name": "D", "depth": 5, "overdue": 4},
        {"queue_id": "street:e", "unit_name": "E", "depth": 7, "overdue": 2},
    ]
    asked: list[Any] = []

    def get(url: str, **kwargs: Any) -> httpx.Response:
        asked.append((url, kwargs.get("headers")))
        return httpx.Response(200, json={"queues": rows}, request=httpx.Request("GET", url))

    monkeypatch.setattr(status_cmd.httpx, "get", get)
    picked = status_cmd.queues("http://metrics", 2, 1.0, {"X-API-Key": "k"})
    assert asked == [("http://metrics/v1/queues", {"X-API-Key": "k"})]
    assert [q["queue_id"] for q in picked["deepest"]] == ["street:b", "street:e"]
    assert [q["queue_id"] for q in picked["most_overdue"]] == ["street:d", "street:e"]
    assert picked["deepest"][0] == {"queue_id": "street:b", "unit_name": "B", "depth": 9, "overdue": 1}
    everything = status_cmd.queues("http://metrics", 10, 1.0)
    assert len(everything["deepest"]) == 4 and len(everything["most_overdue"]) == 3  # empty queues are left out


def test_an_unanswering_read_api_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def get(url: str, **kwargs: Any) -> httpx.Response:
        raise httpx.ConnectError("refused")

    monkeypatch.setattr(status_cmd.httpx, "get", get)
    assert status_cmd.queues("http://metrics", 5, 1.0) == {
        "error": "metrics read API: ConnectError",
        "deepest": [],
        "most_overdue": [],
    }
