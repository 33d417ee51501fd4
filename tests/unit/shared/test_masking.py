"""Contact details typed into free text are masked (shared.masking) wherever the text is read downstream."""

from __future__ import annotations

from shared.events import CallRouted
from shared.masking import mask_contacts
from tests import factories

WORDS = "老板电话13812345678，邮箱 boss.wang@example.com，2026-05-01 到期，3 号楼"


def test_phones_and_emails_are_masked_dates_and_short_numbers_kept() -> None:
    masked = mask_contacts(WORDS)
    assert "13812345678" not in masked and "138****5678" in masked
    assert "boss.wang" not in masked and "b***@example.com" in masked
    assert "2026-05-01" in masked and "3 号楼" in masked


def test_masking_is_idempotent() -> None:
    once = mask_contacts(WORDS + " 座机 010-6512 3456 +86 138 1234 5678")
    assert mask_contacts(once) == once


def test_the_routed_call_downstream_systems_read_carries_masked_text() -> None:
    call = factories.call(subject="回电 13812345678", body=WORDS, address="西红门镇 联系 a.b@example.org")
    classified = factories.classified(call)
    routed = CallRouted.from_classified(classified, factories.routed().assignment)

    text = routed.to_bytes().decode()
    assert "13812345678" not in text and "boss.wang" not in text and "a.b@example.org" not in text
    assert routed.call.body == mask_contacts(WORDS) and routed.call.subject == "回电 138****5678"
    assert classified.call.body == WORDS  # the internal classified call is untouched
