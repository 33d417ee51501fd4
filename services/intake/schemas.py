"""Request and response bodies of the intake API (the events themselves are in ``shared.events``)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from services.intake.domain import MAX_PHONE_DIGITS, MIN_PHONE_DIGITS
from shared.clock import Instant
from shared.events import Channel, Location

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, newline and carriage return allowed


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds NUL or another control character (tab and line breaks are allowed in text)."""
    return _CONTROL_IN_TEXT.search(text) is not None


def no_control_characters(value: str | None) -> str | None:
    """``value`` unless it holds NUL or another control character (tab and line breaks allowed in text)."""
    if value is not None and has_control_characters(value):
        raise PydanticCustomError(
            "control_characters", "must not contain NUL or control characters (tab and line breaks are allowed)"
        )
    return value


FreeText = Annotated[str, AfterValidator(no_control_characters)]
"""Free text from a citizen or a unit: any characters but NUL and the other control characters (422)."""
_PHONE_CHARS = re.compile(r"^\+?[\d\s\-().]+$")

EXAMPLE_ZH: dict[str, Any] = {
    "channel": "phone",
    "source_system": "12345-cti",
    "external_id": "CTI-20240315-000123",
    "subject": "小区噪音扰民",
    "body": "西红门镇某小区楼下商铺每天夜里十一点后仍然施工，噪音很大，希望尽快处理。",
    "location": {"address": "大兴区西红门镇某小区3号楼", "district": "大兴区", "street": "西红门镇"},
    "contact_phone": "13812345678",
    "received_at": "2024-03-15T23:12:00+08:00",
}
EXAMPLE_EN: dict[str, Any] = {
    "channel": "open311",
    "source_system": "open311-gateway",
    "external_id": "SR-2024-88412",
    "subject": "Pothole",
    "body": "Large pothole in the right lane outside 1200 Main St; cars swerve around it.",
    "language": "en",
    "location": {"address": "1200 Main St", "lat": 38.9072, "lon": -77.0369},
    "received_at": "2024-03-15T14:05:00Z",
}


def _id_text(value: str, what: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "{what} must not be empty or only whitespace", {"what": what})
    if _CONTROL.search(value):
        raise PydanticCustomError("control_characters", "{what} must not contain control characters", {"what": what})
    return value


class LocationIn(Location):
    """Where the problem is; latitude and longitude come together or not at all."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [EXAMPLE_ZH["location"], EXAMPLE_EN["location"]]},
    )

    @model_validator(mode="after")
    def _lat_lon_together(self) -> LocationIn:
        if (self.lat is None) != (self.lon is None):
            missing = "lon" if self.lon is None else "lat"
            raise PydanticCustomError(
                "coordinates_pair", "lat and lon must be given together: {missing} is missing", {"missing": missing}
            )
        return self

    @field_validator("address", "district", "street")
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        return no_control_characters(value)

    def to_location(self) -> Location:
        return Location.model_construct(**{name: getattr(self, name) for name in Location.model_fields})


class CallSubmission(BaseModel):
    """A citizen's request (诉求) as a source system submits it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_ZH, EXAMPLE_EN]})

    channel: Channel = Field(
        description="How the citizen reached the hotline: phone, web, app, wechat, weibo, open311 or api.",
        examples=["phone", "open311"],
    )
    source_system: str = Field(
        min_length=1,
        max_length=100,
        description="The submitting system; with external_id it makes the call's deterministic id.",
        examples=["12345-cti", "open311-gateway"],
    )
    external_id: str = Field(
        min_length=1,
        max_length=200,
        description="The request's id in the source system: resubmitting it gives the same call_id.",
        examples=["CTI-20240315-000123", "SR-2024-88412"],
    )
    subject: FreeText | None = Field(
        default=None, description="Subject line (optional).", examples=["小区噪音扰民", "Pothole"]
    )
    body: FreeText = Field(
        description="What the citizen said or wrote, in Chinese or English; subject+body at most max_text_chars.",
        examples=[EXAMPLE_ZH["body"], EXAMPLE_EN["body"]],
    )
    language: Literal["zh", "en"] | None = Field(
        default=None,
        description="ISO 639-1 language of the text; detected from the script when absent.",
        examples=["zh"],
    )
    location: LocationIn | None = Field(default=None, description="Where the problem is (optional).")
    contact_phone: str | None = Field(
        default=None,
        max_length=40,
        description="The citizen's phone number, plain. Intake stores only a salted hash and a masked form "
        "(138****5678) in the event and never logs it.",
        examples=["13812345678", "+1 (202) 555-0143"],
    )
    received_at: Instant | None = Field(
        default=None,
        description="When the hotline received it, with a time-zone offset; default: now. Accepted from "
        "received_at_earliest (default 2000-01-01) to now plus clock_skew_seconds (default 300); 422 otherwise.",
        examples=["2024-03-15T23:12:00+08:00", "2024-03-15T14:05:00Z"],
    )

    @field_validator("source_system")
    @classmethod
    def _source_system_text(cls, value: str) -> str:
        return _id_text(value, "source_system")

    @field_validator("external_id")
    @classmethod
    def _external_id_text(cls, value: str) -> str:
        return _id_text(value, "external_id")

    @field_validator("body")
    @classmethod
    def _body_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("blank", "body must contain text, not only whitespace")
        return value

    @field_validator("contact_phone")
    @classmethod
    def _phone_shape(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        digits = sum(ch.isdigit() for ch in value)
        if not _PHONE_CHARS.match(value.strip()) or not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
            raise PydanticCustomError(
                "phone_format",
                "contact_phone must be {low} to {high} digits, optionally with +, spaces, dashes, dots or brackets",
                {"low": MIN_PHONE_DIGITS, "high": MAX_PHONE_DIGITS},
            )
        return value

    def text_length(self) -> int:
        return len((self.subject or "").strip()) + len(self.body.strip())


class CallBatch(BaseModel):
    """Many calls in one request, answered item by item."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"calls": [EXAMPLE_ZH, EXAMPLE_EN]}]})

    calls: list[CallSubmission] = Field(description="The calls, at most max_batch (default 1000).")


class RawCallBatch(BaseModel):
    """The batch envelope before its items are validated one by one."""

    model_config = ConfigDict(extra="forbid")

    calls: list[Any] = Field(min_length=1, description="The calls, at most max_batch.")


class FieldError(BaseModel):
    """One thing wrong with the input."""

    loc: list[str | int] = Field(description="Path of the field, e.g. ['location', 'lat'].")
    msg: str = Field(description="What is wrong, e.g. 'Input should be less than or equal to 90'.")
    type: str = Field(description="Machine-readable error type, e.g. less_than_equal.")


class CallAccepted(BaseModel):
    """The broker acknowledged the call's CallReceived event (acks=all)."""

    call_id: uuid.UUID = Field(description="Deterministic id (UUIDv5 of source_system and external_id).")
    status: Literal["accepted"] = Field(default="accepted", description="Always accepted: the event is durable.")
    event_id: uuid.UUID = Field(description="Id of the CallReceived event (also deterministic).")
    topic: str = Field(description="Where the event was published.", examples=["hotline.calls.received.v1"])


class BatchItemResult(BaseModel):
    """What happened to one item of a batch."""

    index: int = Field(description="Position of the item in the request's calls list.")
    call_id: uuid.UUID | None = Field(default=None, description="The call's id (absent when the item was rejected).")
    status: Literal["accepted", "rejected"] = Field(description="accepted: acknowledged by the broker.")
    duplicate_of: int | None = Field(
        default=None, description="Index of an earlier item of this batch with the same call_id; published once."
    )
    errors: list[FieldError] | None = Field(default=None, description="Why the item was rejected.")
    stored_hash: str | None = Field(
        default=None,
        description="When rejected as a conflict: the content hash of the version accepted before (see 409 of /v1/calls).",
    )


class BatchAccepted(BaseModel):
    """Per-item outcome of a batch; every accepted item was acknowledged by the broker."""

    accepted: int = Field(description="Items accepted.")
    rejected: int = Field(description="Items rejected for invalid input.")
    results: list[BatchItemResult] = Field(description="One result per item, in request order.")


class CallConflict(BaseModel):
    """409 of ``POST /v1/calls``: this (source_system, external_id) was accepted before with other content."""

    message: str = Field(description="What conflicts, and what to do.")
    call_id: uuid.UUID = Field(description="The call id of the version accepted before.")
    stored_hash: str = Field(description="Content hash (sha256) of the version accepted before.")
    submitted_hash: str = Field(description="Content hash of this submission.")


class ConflictBody(BaseModel):
    """Error answer 409 of ``POST /v1/calls``."""

    detail: CallConflict


class ErrorBody(BaseModel):
    """Error answer (401, 403, 413, 503)."""

    detail: Any = Field(description="What went wrong.", examples=["X-API-Key header is missing"])
