"""Pure rules of submitted calls: what is wrong with one, the CallReceived event it becomes, and how a
batch is judged item by item. No I/O: the submissions, limits, salt and clock are passed in.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from services.intake import domain
from services.intake.schemas import BatchItemResult, CallSubmission, FieldError
from shared.api_keys import KeyRecord
from shared.cases import StoredCall
from shared.events import CallReceived

_SUBMISSIONS = TypeAdapter(list[CallSubmission])


def field_errors(errors: Sequence[Any], *, prefix: tuple[str | int, ...] = ()) -> list[dict[str, Any]]:
    """Validation errors as {loc, msg, type}, without echoing the input (which may hold a phone number)."""
    return [
        FieldError(loc=[*prefix, *error["loc"]], msg=error["msg"], type=error["type"]).model_dump() for error in errors
    ]


def text_too_long(submission: CallSubmission, max_chars: int, *, prefix: tuple[str | int, ...]) -> dict[str, Any]:
    return FieldError(
        loc=[*prefix, "body"],
        msg=f"subject and body together are {submission.text_length()} characters; at most {max_chars} are accepted",
        type="text_too_long",
    ).model_dump()


@dataclass(frozen=True, slots=True)
class ReceivedWindow:
    """When a submitted ``received_at`` may lie: from ``earliest`` to ``skew`` after the intake's clock."""

    earliest: datetime
    skew: timedelta

    def problem(
        self, submission: CallSubmission, now: datetime, *, prefix: tuple[str | int, ...]
    ) -> dict[str, Any] | None:
        """The 422 error of a ``received_at`` outside the window, else None (absent means now: always fine)."""
        received_at = submission.received_at
        if received_at is None:
            return None
        if received_at < self.earliest:
            msg = f"received_at {received_at.isoformat()} is before {self.earliest.isoformat()}, the earliest accepted"
            kind = "received_at_too_early"
        elif received_at > now + self.skew:
            msg = (
                f"received_at {received_at.isoformat()} is in the future: more than {self.skew.total_seconds():.0f}s "
                f"after the intake's clock ({now.isoformat()})"
            )
            kind = "received_at_in_future"
        else:
            return None
        return FieldError(loc=[*prefix, "received_at"], msg=msg, type=kind).model_dump()


def submission_problem(
    submission: CallSubmission,
    *,
    max_text_chars: int,
    window: ReceivedWindow,
    now: datetime,
    prefix: tuple[str | int, ...],
) -> dict[str, Any] | None:
    """What is wrong with a submission beyond its schema (too long, received_at outside the window), or None."""
    if submission.text_length() > max_text_chars:
        return text_too_long(submission, max_text_chars, prefix=prefix)
    return window.problem(submission, now, prefix=prefix)


def event_for(submission: CallSubmission, contact_salt: str, now: datetime) -> CallReceived:
    return domain.call_received(
        channel=submission.channel,
        source_system=submission.source_system,
        external_id=submission.external_id,
        subject=submission.subject,
        body=submission.body,
        language=submission.language,
        location=submission.location.to_location() if submission.location is not None else None,
        contact_phone=submission.contact_phone,
        received_at=submission.received_at,
        contact_salt=contact_salt,
        now=now,
    )


def build_batch(
    items: Sequence[Any], *, max_text_chars: int, window: ReceivedWindow, contact_salt: str, now: datetime
) -> tuple[list[BatchItemResult], list[CallReceived]]:
    """Judge every item: the results in request order and the events to publish.

    Items repeating an earlier item's call_id are accepted as its duplicate and not published twice.
    """
    try:
        valid = dict(enumerate(_SUBMISSIONS.validate_python(items)))
        errors_by_index: dict[int, list[dict[str, Any]]] = {}
    except ValidationError as exc:
        errors_by_index = {}
        for error in exc.errors():
            index = int(error["loc"][0])
            errors_by_index.setdefault(index, []).append({**error, "loc": error["loc"][1:]})
        good = [i for i in range(len(items)) if i not in errors_by_index]
        valid = dict(zip(good, _SUBMISSIONS.validate_python([items[i] for i in good]), strict=True))

    results: list[BatchItemResult] = []
    events: list[CallReceived] = []
    first_index_of: dict[Any, int] = {}
    for index in range(len(items)):
        if index in errors_by_index:
            errors = [FieldError.model_validate(e) for e in field_errors(errors_by_index[index])]
            results.append(BatchItemResult(index=index, status="rejected", errors=errors))
            continue
        submission = valid[index]
        problem = submission_problem(submission, max_text_chars=max_text_chars, window=window, now=now, prefix=())
        if problem is not None:
            results.append(BatchItemResult(index=index, status="rejected", errors=[FieldError.model_validate(problem)]))
            continue
        event = event_for(submission, contact_salt, now)
        earlier = first_index_of.get(event.call_id)
        if earlier is not None:
            results.append(BatchItemResult(index=index, call_id=event.call_id, status="accepted", duplicate_of=earlier))
            continue
        first_index_of[event.call_id] = index
        events.append(event)
        results.append(BatchItemResult(index=index, call_id=event.call_id, status="accepted"))
    return results, events


def content_hash(event: CallReceived) -> str:
    """The content hash of the call (``StoredCall.content_hash``): equal for an identical resubmission."""
    return StoredCall.model_validate(event.call.model_dump(mode="json")).content_hash()


class RecentSubmissions:
    """Content hashes of the calls this process accepted lately (the newest ``size``), so a changed
    resubmission is caught before its case is stored too."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._hashes: OrderedDict[uuid.UUID, str] = OrderedDict()

    def get(self, call_id: uuid.UUID) -> str | None:
        return self._hashes.get(call_id)

    def remember(self, events: Sequence[CallReceived]) -> None:
        for event in events:
            self._hashes[event.call_id] = content_hash(event)
            self._hashes.move_to_end(event.call_id)
        while len(self._hashes) > self.size:
            self._hashes.popitem(last=False)


def conflicts(events: Sequence[CallReceived], stored: Mapping[uuid.UUID, str]) -> dict[uuid.UUID, str]:
    """The events whose call was accepted before with other content: call_id -> the stored version's hash.

    The rule: ``(source_system, external_id)`` names one request. Submitted again with the same content it is
    the same call (202, published again, consumers ignore the repeat); with other content it is refused
    (409), since the accepted version is the one the platform acts on: a change is a new external_id."""
    return {
        event.call_id: stored[event.call_id]
        for event in events
        if event.call_id in stored and stored[event.call_id] != content_hash(event)
    }


def reject_foreign_sources(
    results: list[BatchItemResult], events: list[CallReceived], key: KeyRecord
) -> tuple[list[BatchItemResult], list[CallReceived]]:
    """A batch's results and events with the items under a source_system the key is not bound to rejected."""
    foreign = {e.call_id: e.call.source_system for e in events if not key.submits_for(e.call.source_system)}
    if not foreign:
        return results, events
    judged = [
        BatchItemResult(
            index=r.index,
            status="rejected",
            errors=[FieldError(loc=["source_system"], msg=key.source_refusal(foreign[r.call_id]), type="forbidden")],
        )
        if r.call_id in foreign
        else r
        for r in results
    ]
    return judged, [e for e in events if e.call_id not in foreign]


def reject_conflicts(
    results: list[BatchItemResult], events: list[CallReceived], stored: Mapping[uuid.UUID, str]
) -> tuple[list[BatchItemResult], list[CallReceived]]:
    """A batch's results and events with the conflicting items (``conflicts``) rejected and not published."""
    refused = conflicts(events, stored)
    if not refused:
        return results, events
    judged = [
        BatchItemResult(
            index=r.index,
            status="rejected",
            stored_hash=refused[r.call_id],
            errors=[
                FieldError(loc=["external_id"], msg=conflict_message(r.call_id, refused[r.call_id]), type="conflict")
            ],
        )
        if r.call_id in refused
        else r
        for r in results
    ]
    return judged, [e for e in events if e.call_id not in refused]


def conflict_message(call_id: uuid.UUID, stored_hash: str) -> str:
    return (
        f"call {call_id} (this source_system and external_id) was accepted before with other content "
        f"(content hash {stored_hash}); a changed request needs a new external_id"
    )
