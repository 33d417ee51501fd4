"""What the console's OpenAPI document declares besides its paths: the forms its pages post (the handlers read
them raw with ``web.form_of``, so FastAPI cannot derive them) and every answer other than 200 a route gives,
so that a client, and the schemathesis fuzz (tests/fuzz), knows them all. The console is HTML pages and forms
for people; the document is for tools."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.common.limits import FORM
from services.console.access import STEP_ORDER
from shared.events import CallbackResult

Responses = dict[int | str, dict[str, Any]]

ANSWERS: dict[int, str] = {
    303: "Not signed in: redirected to the sign-in page (/login?next=…).",
    400: "An unknown step kind.",
    401: "Not signed in (the live parts of a page answer 401 instead of redirecting).",
    403: "A form posted from another origin (no Origin/Referer of the console's own: CSRF), or a queue that is "
    "not the user's.",
    404: "No such case, or one the user's unit neither holds nor cooperates on (the same answer).",
    409: "Intake refused the step: not legal in the case's status (the page says why).",
    413: "The body is larger than max_request_bytes (refused before it is read).",
    415: f"The body is not a form (Content-Type: {FORM}).",
    422: "A step without what it needs (departments, callback result, a category or unit of the pickers); the "
    "page says what.",
    429: "Too many sign-in attempts (for this user name, or from this address): retry after Retry-After seconds.",
    503: "The database or an upstream did not answer: retry after Retry-After seconds.",
}

FORM_ANSWERS = (403, 413, 415)
"""What every route taking a form may answer before the route runs (services/common/limits.py, the CSRF check)."""


def answers(*codes: int, **descriptions: str) -> Responses:
    """The ``responses=`` of a route: each of ``codes`` with its description (``s403="…"`` replaces one)."""
    return {code: {"description": descriptions.get(f"s{code}", ANSWERS[code])} for code in codes}


class SignInForm(BaseModel):
    """``POST /login``."""

    user: str = Field(description="The user name.")
    password: str = Field(description="The password.")
    next: str = Field("/queues", description="Where to go once signed in (a local path; anything else: /queues).")


class StepForm(BaseModel):
    """``POST /cases/{call_id}/steps``: one step, posted on to intake with the user's own key."""

    kind: str = Field(description="The step.", json_schema_extra={"enum": [step.value for step in STEP_ORDER]})
    note: str = Field("", description="Free text; a return needs its reason (退单理由).")
    departments: str = Field("", description="whistle: department queue ids, comma-separated.")
    callback_result: str = Field(
        "", description="callback: the citizen's answer.", json_schema_extra={"enum": ["", *CallbackResult]}
    )
    category_path: str = Field("", description="reclassified: level 1[/level 2[/level 3]] of the taxonomy.")
    queue_id: str = Field("", description="dispatched: the unit's queue id.")
    idempotency_key: str = Field("", description="The page's key: posting the same form twice takes one step.")


class BulkForm(BaseModel):
    """``POST /bulk/{queue_id}``: 签收 the ticked cases."""

    call_id: str = Field(description="The ticked cases' call ids, comma-separated (or the field repeated).")
    batch: str = Field("", description="The page's key: posting the same form twice accepts each case once.")


def query(**parameters: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` declaring the optional query parameters a page reads from ``request.query_params``
    (name -> JSON schema, with its description)."""
    declared = []
    for name, schema in parameters.items():
        schema = dict(schema)
        description = schema.pop("description", "")
        declared.append({"name": name, "in": "query", "required": False, "description": description, "schema": schema})
    return {"parameters": declared}


QUEUE_FILTERS: dict[str, dict[str, Any]] = {
    "q": {"type": "string", "description": "A call id, a phone number (found by its hash) or words."},
    "category": {"type": "string", "description": "level1[/level2[/level3]] of the taxonomy."},
    "status": {"type": "string", "description": "A lifecycle status."},
    "priority": {"type": "string", "enum": ["", "urgent", "normal"], "description": "Urgent cases, or the others."},
    "overdue": {"type": "string", "enum": ["", "1"], "description": "1: only overdue cases."},
    "district": {"type": "string", "description": "A district."},
    "sort": {"type": "string", "enum": ["urgent", "oldest", "newest", "deadline"], "description": "The order."},
}
"""The filters of a queue's page, its rows and its export."""

SCOREBOARD_QUERY: dict[str, dict[str, Any]] = {
    "month": {"type": "string", "description": "YYYY-MM (default: this month)."},
    "map": {"type": "string", "enum": ["volume", "composite"], "description": "What the district map shows."},
    "unit": {"type": "string", "description": "A unit's queue id: its requests month by month."},
}

SEARCH_QUERY: dict[str, dict[str, Any]] = {
    "q": QUEUE_FILTERS["q"],
    "before": {"type": "string", "description": "The next page's cursor (the previous page's link gives it)."},
}
"""The whole-store search page's query."""


def form_body(model: type[BaseModel] | None = None) -> dict[str, Any]:
    """``openapi_extra`` declaring an urlencoded form body with ``model``'s fields (an empty form without one)."""
    schema = model.model_json_schema() if model else {"type": "object", "properties": {}}
    return {"requestBody": {"required": model is not None, "content": {FORM: {"schema": schema}}}}
