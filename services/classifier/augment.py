"""Training-time copies of CSV rows written the way shifted calls are (no subject, a short SMS-style line, a
spoken transcript with fillers, a cut body): generated from the CSV itself, no outside text.

Used by ``hotline train`` only when the settings ask for it (``ModelSettings.augment``); the selection grid
(``services/classifier/selection.py``) measured what it costs and gives.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

AUGMENTATIONS = ("nosubject", "truncate", "sms", "spoken")
FILLERS = ("嗯", "那个", "就是", "喂", "然后", "我跟你说")
_POLITE_OPENING = re.compile(r"^(尊敬的[^，,。！!]{0,12}[，,：:！!]?\s*)?(您好|你好)?[，,！!。]?")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")


def _sentences(body: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(body) if part.strip()]


def augmented(subject: str, body: str, kind: str, rng: random.Random) -> tuple[str, str]:
    """One (subject, body) copy of a message rewritten as ``kind`` (one of AUGMENTATIONS)."""
    if kind == "nosubject":
        return "", body
    if kind == "truncate":
        return subject, body[: rng.randint(40, 120)]
    plain = _POLITE_OPENING.sub("", body.strip())
    if kind == "sms":
        first = "".join(_sentences(plain)[:1]) or plain
        return "", first[: rng.randint(20, 50)]
    if kind == "spoken":
        return "", "".join(f"{rng.choice(FILLERS)}，{part}" for part in _sentences(plain)[:3])[:200]
    raise ValueError(f"unknown augmentation {kind!r}; one of {AUGMENTATIONS}")


def augment_rows(
    rows: Sequence[tuple[str, str, str]], plan: Sequence[tuple[str, float]], *, seed: int
) -> list[tuple[str, str, str, float]]:
    """(subject, body, label, sample weight) copies of ``rows`` (subject, body, label): one per row and entry of
    ``plan`` (kind, weight), reproducible from ``seed``."""
    rng = random.Random(seed)
    copies = []
    for kind, weight in plan:
        for subject, body, label in rows:
            new_subject, new_body = augmented(subject, body, kind, rng)
            copies.append((new_subject, new_body, label, weight))
    return copies
