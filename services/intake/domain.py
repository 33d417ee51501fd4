"""Pure intake rules: language detection, contact hashing and masking, building the CallReceived event."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime

from shared.events import Call, CallReceived, Channel, Contact, Location, call_id_for, derived_event_id

# CJK Unified Ideographs, Extension A and the compatibility block: enough to tell Chinese from English.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_NON_DIGIT = re.compile(r"\D")
# Country codes stripped after an explicit international prefix, so +86 138... and 138... link.
_STRIPPED_COUNTRY_CODES = ("86", "1")

MIN_PHONE_DIGITS = 5
MAX_PHONE_DIGITS = 15  # E.164


def detect_language(text: str) -> str:
    """``zh`` when Han characters carry the text (one counts as three Latin letters), else ``en``."""
    han = len(_HAN.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if han == 0 and latin == 0:
        return "zh"
    return "zh" if han * 3 >= latin else "en"


def normalise_phone(raw: str) -> str:
    """The digits of a phone number, without an international prefix for China (+86) or the US (+1)."""
    stripped = raw.strip()
    international = stripped.startswith(("+", "00"))
    digits = _NON_DIGIT.sub("", stripped)
    if international:
        if digits.startswith("00"):
            digits = digits[2:]
        for code in _STRIPPED_COUNTRY_CODES:
            if digits.startswith(code) and len(digits) - len(code) >= MIN_PHONE_DIGITS:
                return digits[len(code) :]
    return digits


def mask_phone(digits: str) -> str:
    """Operator-safe form: first three and last four digits kept (138****5678), or only the last two."""
    if len(digits) >= 8:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * (len(digits) - 2) + digits[-2:]


def hash_contact(digits: str, salt: str) -> str:
    """Salted SHA-256 (HMAC keyed by the salt) of normalised digits: links a citizen's calls, reveals nothing."""
    return hmac.new(salt.encode(), digits.encode(), hashlib.sha256).hexdigest()


def contact_from_phone(raw: str, salt: str) -> Contact:
    """The event form of a citizen's phone number: hashed and masked, never plain."""
    digits = normalise_phone(raw)
    return Contact(hash=hash_contact(digits, salt), masked=mask_phone(digits))


def call_received(
    *,
    channel: Channel,
    source_system: str,
    external_id: str,
    subject: str | None,
    body: str,
    language: str | None,
    location: Location | None,
    contact_phone: str | None,
    received_at: datetime | None,
    contact_salt: str,
    now: datetime,
) -> CallReceived:
    """The CallReceived event of a validated submission; its ids are deterministic, so a resubmission
    produces the same call_id and event_id and every idempotent consumer ignores the repeat."""
    call_id = call_id_for(source_system, external_id)
    text_subject = (subject or "").strip()
    text_body = body.strip()
    call = Call(
        channel=channel,
        source_system=source_system,
        external_id=external_id,
        subject=text_subject,
        body=text_body,
        language=language or detect_language(f"{text_subject}\n{text_body}"),
        location=location if location is not None else Location(),
        contact=contact_from_phone(contact_phone, contact_salt) if contact_phone else None,
        received_at=(received_at or now).astimezone(UTC),
    )
    return CallReceived(event_id=derived_event_id(call_id, "received"), occurred_at=now, call_id=call_id, call=call)
