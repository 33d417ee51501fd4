"""The intake's OpenAPI document: its description, and the CallBatch schema the batch route documents
(the route reads its body raw, to judge items one by one, so FastAPI cannot derive it)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.intake.schemas import CallBatch
from shared import topics

TITLE = "Hotline intake (接诉即办 · 12345 / 311)"
VERSION = "1.0.0"
DESCRIPTION = f"""
The REST intake of the Hotline citizen-service platform (Beijing 12345 / a US 311 line). Integrations
(the 12345 CTI, web and app forms, WeChat/Weibo bridges, Open311 gateways) submit citizens' requests
(诉求) here; this is the 接诉 ("receive") step of 接诉即办, *handle on receipt*.

Each accepted call becomes a `CallReceived` event on **`{topics.CALLS_RECEIVED}`** (key = `call_id`),
published with `acks=all`: **202 means the broker acknowledged it**; 503 with `Retry-After` means it did not,
so submit again. The classifier, router and metrics services then write `{topics.CALLS_CLASSIFIED}`,
`{topics.CALLS_ROUTED}`, and poison messages go to `{topics.DEADLETTER}`.

**Resubmitting is safe.** `call_id` is a UUIDv5 of (`source_system`, `external_id`), and the event id is
derived from it, so a resubmitted call gets the same ids; the repeated event is harmless because every
consumer is idempotent (a case already stored is not stored or counted again).

Authenticate with an `X-API-Key` header (create one with `hotline keys --name NAME`); submitting needs the
`calls:write` scope. The citizen's phone number is never published or logged: the event carries a salted
hash (to link a citizen's calls) and a masked form such as `138****5678`.

每月一题 (Monthly Question) task and policy status updates come in here too, as `ProgrammeItemUpdated`
events on **`{topics.PROGRAMME_EVENTS}`** (key = `problem_id`): they need the `supervisor` or
`programme:write` scope (`hotline keys --name NAME --scope programme:write`).
"""


def openapi_with_call_batch(app: FastAPI) -> dict[str, Any]:
    """``app``'s OpenAPI document (built once), with CallBatch and its parts among the schemas."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags
    )
    batch_schema = CallBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in batch_schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components["CallBatch"] = batch_schema
    app.openapi_schema = schema
    return schema
