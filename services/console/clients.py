"""The console's two upstreams: the metrics read API (what it shows) and intake (where it acts).

Endpoints a parallel issue has not shipped yet answer 404 (or 405): ``optional`` turns that into None,
so the page says "not available yet" instead of failing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)


class UpstreamError(RuntimeError):
    """An upstream answered with an error or could not be reached."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def upstream_path(path: str) -> str:
    """``path`` percent-encoded: the ids in it come from the console's own URL (a queue id, a call id), and any
    character a browser can send there (control characters, ``?``, ``#``, ``%``) must reach the API as data."""
    return quote(path, safe="/:")


def error_detail(response: httpx.Response) -> str:
    """The reason an API gave, as text an operator can read."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("reason") or detail)
    return str(detail)


@dataclass
class MetricsClient:
    """Reads the metrics read API."""

    http: httpx.AsyncClient

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            response = await self.http.get(upstream_path(path), params=params)
        except httpx.HTTPError as exc:
            raise UpstreamError(503, f"metrics API unreachable: {exc}") from exc
        if response.status_code >= 300:  # a redirect is not an answer the console can show
            raise UpstreamError(response.status_code, error_detail(response))
        return response.json()

    async def optional(self, path: str, params: Mapping[str, Any] | None = None) -> Any | None:
        """The answer, or None when the endpoint (or the resource) does not exist yet or is unavailable."""
        try:
            return await self.get(path, params)
        except UpstreamError as exc:
            if exc.status in (404, 405, 501, 503):
                return None
            raise

    async def queues(self) -> list[dict[str, Any]]:
        body = await self.get("/v1/queues")
        return list(body["queues"] if isinstance(body, dict) else body)

    async def queue_cases(
        self,
        queue_id: str,
        *,
        limit: int,
        order: str = "oldest",
        after: str | None = None,
        after_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """A queue's open cases, ``oldest`` first or ``urgent`` ones on top of the oldest; ``after`` and
        ``after_id``: the page that follows the one whose last case was received then and had that id (the read
        API's keyset cursor)."""
        params: dict[str, Any] = {"limit": limit, "order": order}
        if after:
            params["after"] = after
            if after_id:
                params["after_id"] = after_id
        body = await self.get(f"/v1/queues/{queue_id}/cases", params)
        return list(body.get("cases", []))

    async def queue_load(self, queue_id: str) -> dict[str, Any] | None:
        """The queue's open cases per assignee (承办人) and unassigned (``/v1/queues/{id}/load``), None when the
        read API does not offer it."""
        body = await self.optional(f"/v1/queues/{queue_id}/load")
        return dict(body) if isinstance(body, dict) else None

    async def search(self, params: Mapping[str, Any]) -> tuple[int, list[dict[str, Any]]]:
        """Cases matching ``params`` (``GET /v1/search``): how many, and those listed."""
        body = await self.get("/v1/search", params)
        return int(body.get("total", 0)), list(body.get("cases", []))

    async def case(self, call_id: str) -> dict[str, Any] | None:
        """The case, or None when there is none; an id with a ``/`` names no case (the read API would take it for
        another path, or redirect it)."""
        if "/" in call_id:
            return None
        try:
            body: dict[str, Any] = await self.get(f"/v1/cases/{call_id}")
        except UpstreamError as exc:
            if exc.status == 404:
                return None
            raise
        return body

    async def monthly(self, month: str, dimension: str) -> list[dict[str, Any]]:
        body = await self.get("/v1/metrics/monthly", {"month": month, "dimension": dimension})
        return list(body.get("counts", []))

    async def first_available(self, paths: Sequence[str], params: Mapping[str, Any] | None = None) -> Any | None:
        """The answer of the first of ``paths`` that exists (the read API of issue 5 is still landing)."""
        for path in paths:
            body = await self.optional(path, params)
            if body is not None:
                return body
        return None


@dataclass(frozen=True)
class StepResult:
    """What intake said to a case step: accepted, or refused with the server's reason."""

    ok: bool
    status: int
    detail: str


@dataclass
class IntakeClient:
    """Posts case steps to intake with the signed-in user's API key, like any other integration."""

    http: httpx.AsyncClient

    async def post_step(
        self, api_key: str, call_id: str, step: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> StepResult:
        headers = {"X-API-Key": api_key}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key  # a form submitted twice is one step
        try:
            response = await self.http.post(
                upstream_path(f"/v1/cases/{call_id}/events"), json=dict(step), headers=headers
            )
        except httpx.HTTPError as exc:
            return StepResult(False, 503, f"intake unreachable: {exc}")
        if response.status_code >= 400:
            return StepResult(False, response.status_code, error_detail(response))
        return StepResult(True, response.status_code, "")

    async def allowed_steps(self, api_key: str, call_id: str) -> list[str] | None:
        """The steps intake says this key may take on the case now; None when intake cannot say (yet)."""
        try:
            response = await self.http.get(upstream_path(f"/v1/cases/{call_id}/steps"), headers={"X-API-Key": api_key})
        except httpx.HTTPError:
            return None
        if response.status_code >= 400:
            return None
        body = response.json()
        steps = body.get("steps") if isinstance(body, dict) else None
        return [str(step) for step in steps] if isinstance(steps, list) else None
