"""A citizen's phone number as the platform keeps it: normalised digits, a salted hash that links a
citizen's calls and reveals nothing, and a masked form for operators. Intake makes the contact from the
number; the console hashes a number an operator searches for with the same salt (``HOTLINE_CONTACT_SALT``)."""

from __future__ import annotations

import hashlib
import hmac
import re

from shared.events import Contact

_NON_DIGIT = re.compile(r"\D")
# Country codes stripped after an explicit international prefix, so +86 138... and 138... link.
_STRIPPED_COUNTRY_CODES = ("86", "1")

MIN_PHONE_DIGITS = 5
MAX_PHONE_DIGITS = 15  # E.164


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
