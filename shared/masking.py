"""Masking the contact details citizens type into free text: phone numbers and e-mail addresses.

ONE function, :func:`mask_contacts`, used wherever free text leaves the internal pipeline (the routed
call on ``hotline.calls.routed.v1``, case-step notes, the metrics read API, the console's pages): see
docs/security.md for where the original text is kept and who may read it.

A phone number is a run of 7 to 15 digits (an optional leading ``+``; single spaces or dashes between
groups) that is not part of a longer number; it keeps its first three and last four digits:
``13812345678`` -> ``138****5678``. Dates written as ``2026-05-01`` are not phone numbers. An e-mail
address keeps its first character and its domain: ``zhang.san@example.com`` -> ``z***@example.com``.
Masking is idempotent: masked text stays as it is.
"""

from __future__ import annotations

import re

PHONE = re.compile(r"(?<![\d*])(\+?\d(?:[ -]?\d){6,16})(?![\d*])")
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 15


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(1)
    digits = re.sub(r"\D", "", text)
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS or DATE.fullmatch(text):
        return text
    return digits[:3] + "****" + digits[-4:]


def mask_contacts(text: str) -> str:
    """``text`` with phone numbers and e-mail addresses masked (see the module's rules)."""
    if not text:
        return text
    return EMAIL.sub(r"\1***@\2", PHONE.sub(_mask_phone, text))


def mask_optional(text: str | None) -> str | None:
    """:func:`mask_contacts` of ``text``, None staying None."""
    return None if text is None else mask_contacts(text)
