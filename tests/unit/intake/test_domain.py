"""Pure intake rules: language detection, contact hashing and masking, deterministic events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.intake.domain import (
    call_received,
    contact_from_phone,
    detect_language,
    hash_contact,
    mask_phone,
    normalise_phone,
)
from shared.events import CallReceived, Channel, Location, call_id_for

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("小区楼下商铺夜间施工噪音扰民", "zh"),
        ("Large pothole outside 1200 Main St", "en"),
        ("我的iPhone充电器在地铁站丢了", "zh"),
        ("Noise complaint near 望京 SOHO every night after midnight", "en"),
        ("12345", "zh"),
    ],
)
def test_language_is_detected_from_the_script(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("13812345678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("+1 (202) 555-0143", "2025550143"),
        ("(202) 555-0143", "2025550143"),
        ("010-65123456", "01065123456"),
    ],
)
def test_phone_numbers_are_normalised_to_national_digits(raw: str, digits: str) -> None:
    assert normalise_phone(raw) == digits


@pytest.mark.parametrize(
    ("digits", "masked"),
    [("13812345678", "138****5678"), ("2025550143", "202***0143"), ("12345", "***45")],
)
def test_phone_numbers_are_masked_for_operators(digits: str, masked: str) -> None:
    assert mask_phone(digits) == masked


def test_the_same_citizen_links_across_formats_but_not_across_salts() -> None:
    a = contact_from_phone("+86 138-1234-5678", "salt-1")
    b = contact_from_phone("13812345678", "salt-1")
    assert a == b and a.masked == "138****5678"
    assert contact_from_phone("13812345678", "salt-2").hash != a.hash
    assert contact_from_phone("13812345679", "salt-1").hash != a.hash
    assert "13812345678" not in a.hash and len(a.hash) == 64
    assert hash_contact("13812345678", "salt-1") == a.hash


def _event(**overrides: object) -> CallReceived:
    fields: dict[str, object] = {
        "channel": Channel.phone,
        "source_system": "12345-cti",
        "external_id": "CTI-1",
        "subject": "  噪音 ",
        "body": " 夜间施工噪音很大 \n",
        "language": None,
        "location": None,
        "contact_phone": "13812345678",
        "received_at": None,
        "contact_salt": "s",
        "now": NOW,
    }
    fields.update(overrides)
    return call_received(**fields)  # type: ignore[arg-type]


def test_event_ids_are_deterministic_so_a_resubmission_is_recognisable() -> None:
    first, again = _event(), _event(now=NOW + timedelta(hours=1), body="更正后的内容")
    assert first.call_id == again.call_id == call_id_for("12345-cti", "CTI-1")
    assert first.event_id == again.event_id
    assert _event(external_id="CTI-2").call_id != first.call_id


def test_event_carries_only_hashed_and_masked_contact() -> None:
    event = _event()
    assert event.call.contact is not None and event.call.contact.masked == "138****5678"
    assert b"13812345678" not in event.to_bytes()
    assert _event(contact_phone=None).call.contact is None


def test_event_text_is_trimmed_language_detected_and_time_defaults_to_now() -> None:
    event = _event()
    assert event.call.subject == "噪音" and event.call.body == "夜间施工噪音很大"
    assert event.call.language == "zh"
    assert event.call.received_at == NOW
    assert event.call.location == Location()
    assert _event(body="Streetlight out", subject=None).call.language == "en"
    assert _event(language="en").call.language == "en"


def test_received_at_is_stored_in_utc() -> None:
    beijing = datetime(2024, 3, 15, 23, 12, tzinfo=timezone(timedelta(hours=8)))
    event = _event(received_at=beijing)
    assert event.call.received_at == beijing
    assert event.call.received_at.utcoffset() == timedelta(0)
    assert CallReceived.model_validate_json(event.to_bytes()) == event
