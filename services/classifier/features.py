"""Character n-gram TF-IDF features computed with numpy over a whole batch at once (no Python loop per n-gram).

An n-gram of up to three characters is packed exactly into one uint64 (21 bits per code point, shifted
by one so that no key is zero), so the vocabulary is a sorted key array and a lookup is a hash probe.

Two blocks: one over subject + body, one over the subject alone (weighted, then every row re-normalised), so
the subject's topic words count more without repeating the subject in the text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from shared.keyindex import KEY_BITS, KeyIndex, key_to_text, text_to_key

MAX_CHARS = 3000
"""Longest text looked at: the head of a very long message says what it is about."""

NGRAM_ORDERS = (1, 2, 3)
_SEPARATOR = 1  # code point 0 shifted by one: marks document boundaries in a batch
_TAG = re.compile(r"<[^<>]{0,300}>")
_CONTROL_OR_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


SUBJECT_END = "\x1e"
"""Ends the subject in a message text (a control character, so normalised text never contains it)."""
_JOIN = "。"  # what ``full_text`` puts between subject and body


def message_text(subject: str, body: str) -> str:
    """The text the model reads: the normalised subject, SUBJECT_END, the normalised body."""
    return f"{normalise_text(subject or '')}{SUBJECT_END}{normalise_text(body or '')}"


def split_message(text: str) -> tuple[str, str]:
    """(subject, body) of a message text; a text without SUBJECT_END is all body."""
    subject, found, body = text.partition(SUBJECT_END)
    return (subject, body) if found else ("", text)


def full_text(text: str) -> str:
    """Subject and body of a message text as one readable string (subject, 。, body)."""
    subject, body = split_message(text)
    return f"{subject}{_JOIN}{body}" if subject else body


def normalise_text(text: str) -> str:
    """Lower-cased text without HTML tags, entities or control characters, one space between words, capped."""
    if "<" in text or "&" in text:
        text = html.unescape(_TAG.sub(" ", text))
    return _CONTROL_OR_SPACE.sub(" ", text).strip().lower()[:MAX_CHARS]


def _code_points(texts: Sequence[str]) -> np.ndarray:
    joined = "\x00".join(texts)
    raw = np.frombuffer(joined.encode("utf-32-le", "replace"), dtype=np.uint32)
    return raw.astype(np.uint64) + np.uint64(1)


def ngram_keys(texts: Sequence[str], orders: Sequence[int] = NGRAM_ORDERS) -> tuple[np.ndarray, np.ndarray]:
    """Every n-gram of the given ``orders`` (default 1, 2 and 3 characters) of every (normalised) text as
    (document index, packed key)."""
    empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    points = _code_points(texts)
    if not len(points):
        return empty
    is_separator = points == _SEPARATOR
    doc_of_position = np.cumsum(is_separator, dtype=np.int64)
    docs: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    size = len(points)
    for order in orders:
        count = size - order + 1
        if count <= 0:
            continue
        key = points[:count]
        for offset in range(1, order):
            key = (key << np.uint64(KEY_BITS)) | points[offset : offset + count]
        # An n-gram crosses a document boundary when a separator starts it or lies inside it.
        keep = ~is_separator[:count]
        if order > 1:
            keep &= doc_of_position[order - 1 : order - 1 + count] == doc_of_position[:count]
        keys.append(key[keep])
        docs.append(doc_of_position[:count][keep])
    return (np.concatenate(docs), np.concatenate(keys)) if keys else empty


NGrams = tuple[np.ndarray, np.ndarray]
"""(document index, packed key) of every n-gram of a batch, as ``ngram_keys`` gives them."""
_BIGRAM_KEYS = (np.uint64(1 << KEY_BITS), np.uint64(1 << (2 * KEY_BITS)))  # packed 2-character keys lie in [low, high)


def pair_codes(docs: np.ndarray, columns: np.ndarray, width: int, n_docs: int) -> np.ndarray:
    """``docs * width + columns``, one number per (document, column) pair; int32 when every code fits (numpy
    sorts int32 faster than int64; the numbers and their order are the same)."""
    if n_docs * width < 2**31:
        return docs.astype(np.int32) * np.int32(width) + columns.astype(np.int32, copy=False)
    return docs.astype(np.int64, copy=False) * width + columns


@dataclass(frozen=True)
class Vocabulary:
    """The kept n-grams (sorted packed keys) and their inverse document frequencies."""

    keys: np.ndarray  # uint64, sorted ascending
    idf: np.ndarray  # float32, same length
    index: KeyIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", KeyIndex(self.keys))

    def transform(self, texts: Sequence[str], ngrams: NGrams | None = None) -> sp.csr_matrix:
        """Sublinear-tf x idf, L2-normalised rows; unknown n-grams are ignored (a row may be all zeros).
        ``ngrams``: ``ngram_keys(texts)`` when the caller already has them."""
        docs, keys = ngram_keys(texts) if ngrams is None else ngrams
        n_features = len(self.keys)
        position = self.index.lookup(keys)
        known = position >= 0
        # One sort of (document, column) pairs gives the counts and a canonical CSR (rows, then sorted columns).
        cells, counts = np.unique(pair_codes(docs[known], position[known], n_features, len(texts)), return_counts=True)
        rows, columns = np.divmod(cells, n_features)
        values = ((1.0 + np.log(counts)) * self.idf[columns]).astype(np.float32)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(texts)), out=indptr[1:])
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts))).astype(np.float32)
        norms[norms == 0] = 1.0
        values /= np.repeat(norms, np.diff(indptr))
        return sp.csr_matrix((values, columns, indptr), shape=(len(texts), n_features))


class BigramFilter:
    """Which of a fixed set of two-character strings each text of a batch contains, for a whole batch at once.

    The lexical steps (levels 2/3, the Monthly Question, lexicon hints) only need the text's bigrams that open
    or make up a lexicon word; building every bigram of every text in Python cost more than the linear model.
    """

    def __init__(self, bigrams: Sequence[str]) -> None:
        self.bigrams = sorted({bigram for bigram in bigrams if len(bigram) == 2})
        keys = np.array([text_to_key(bigram) for bigram in self.bigrams], dtype=np.uint64)
        self._index = KeyIndex(keys)
        self._names = np.array(self.bigrams, dtype=object)
        self.ignores_joins = not any(char in bigram for bigram in self.bigrams for char in (SUBJECT_END, _JOIN))
        """True when no bigram of the filter holds a character that joins subject and body (U+001E in a message
        text, 。 in ``full_text``): the n-grams of either form of a message then give the same answer."""

    def present(self, texts: Sequence[str], ngrams: NGrams | None = None) -> list[set[str]]:
        """Per text, the filter's bigrams found in it. ``ngrams``: ``ngram_keys`` of the same messages in another
        form (``full_text``), usable when ``ignores_joins``; its 2-character keys are taken."""
        found: list[set[str]] = [set() for _ in texts]
        if not self.bigrams:
            return found
        if ngrams is None:
            docs, keys = ngram_keys(texts, orders=(2,))
        else:
            docs, keys = ngrams
            is_bigram = (keys >= _BIGRAM_KEYS[0]) & (keys < _BIGRAM_KEYS[1])
            docs, keys = docs[is_bigram], keys[is_bigram]
        position = self._index.lookup(keys)
        known = position >= 0
        pairs = np.unique(pair_codes(docs[known], position[known], len(self.bigrams), len(texts)))
        pair_docs, columns = np.divmod(pairs, len(self.bigrams))
        # Each text's bigrams in the order of the pairs (by text, then bigram), as adding them one by one would.
        names = self._names.take(columns).tolist()
        bounds = np.searchsorted(pair_docs, np.arange(len(texts) + 1)).tolist()
        return [set(names[bounds[doc] : bounds[doc + 1]]) for doc in range(len(texts))]


def fit_vocabulary(texts: Sequence[str], *, max_features: int, min_df: int = 2) -> Vocabulary:
    """Keep the ``max_features`` most frequent n-grams seen in at least ``min_df`` texts; smooth idf."""
    docs, keys = ngram_keys(texts)
    unique_keys, key_ids = np.unique(keys, return_inverse=True)
    term_frequency = np.bincount(key_ids, minlength=len(unique_keys))
    pairs = np.unique((docs.astype(np.uint64) << np.uint64(32)) | key_ids.astype(np.uint64))
    document_frequency = np.bincount((pairs & np.uint64(0xFFFFFFFF)).astype(np.int64), minlength=len(unique_keys))
    candidates = np.flatnonzero(document_frequency >= min_df)
    # Most frequent first; ties broken by key so the choice is deterministic.
    order = np.lexsort((unique_keys[candidates], -term_frequency[candidates]))
    chosen = np.sort(candidates[order[:max_features]])
    n_texts = len(texts)
    idf = np.log((1.0 + n_texts) / (1.0 + document_frequency[chosen])) + 1.0
    return Vocabulary(keys=unique_keys[chosen], idf=idf.astype(np.float32))


DEFAULT_SUBJECT_WEIGHT = 0.5


def capped_full_text(text: str, max_chars: int) -> str:
    """``full_text`` with the subject and the body each cut to their first ``max_chars`` characters."""
    subject, body = split_message(text)
    return f"{subject[:max_chars]}{_JOIN}{body[:max_chars]}" if subject else body[:max_chars]


@dataclass(frozen=True)
class Featuriser:
    """The two TF-IDF blocks of a message: subject + body, and the subject alone weighted, rows re-normalised.

    ``max_chars``: the n-grams come from the first ``max_chars`` characters of the subject and of the body (the
    lexical steps of levels 2/3 still read the whole text)."""

    text: Vocabulary
    subject: Vocabulary
    subject_weight: float = DEFAULT_SUBJECT_WEIGHT
    max_chars: int = MAX_CHARS

    @property
    def n_features(self) -> int:
        return len(self.text.keys) + len(self.subject.keys)

    @property
    def reads_whole_text(self) -> bool:
        """True when the n-grams come from the whole (normalised) subject and body, not a shorter head."""
        return self.max_chars >= MAX_CHARS

    def whole_ngrams(self, texts: Sequence[str]) -> NGrams:
        """The n-gram keys of the subject + body block (``ngram_keys`` of the capped ``full_text``)."""
        return ngram_keys([capped_full_text(text, self.max_chars) for text in texts])

    def transform(self, texts: Sequence[str], whole_ngrams: NGrams | None = None) -> sp.csr_matrix:
        """The feature rows of message texts; ``whole_ngrams``: ``whole_ngrams(texts)`` when already computed."""
        whole = self.text.transform(
            [capped_full_text(text, self.max_chars) for text in texts] if whole_ngrams is None else texts,
            whole_ngrams,
        )
        subject = self.subject.transform([split_message(text)[0][: self.max_chars] for text in texts])
        subject.data *= np.float32(self.subject_weight)
        matrix = sp.hstack([whole, subject], format="csr", dtype=np.float32)
        # Each block's rows are unit length (or empty): the joined row's norm follows without summing again.
        squares = (np.diff(whole.indptr) > 0) + (np.diff(subject.indptr) > 0) * np.float32(self.subject_weight) ** 2
        norms = np.sqrt(squares).astype(np.float32)
        norms[norms == 0] = 1.0
        matrix.data /= np.repeat(norms, np.diff(matrix.indptr))
        return matrix

    def term(self, column: int) -> str:
        """The n-gram of a feature column (either block)."""
        keys = self.text.keys
        return key_to_text(int(keys[column] if column < len(keys) else self.subject.keys[column - len(keys)]))


def fit_featuriser(
    texts: Sequence[str],
    *,
    max_features: int,
    max_subject_features: int,
    subject_weight: float = DEFAULT_SUBJECT_WEIGHT,
    max_chars: int = MAX_CHARS,
) -> Featuriser:
    """Both vocabularies fitted on message texts (``message_text``)."""
    return Featuriser(
        text=fit_vocabulary([capped_full_text(text, max_chars) for text in texts], max_features=max_features),
        subject=fit_vocabulary(
            [split_message(text)[0][:max_chars] for text in texts], max_features=max_subject_features
        ),
        subject_weight=subject_weight,
        max_chars=max_chars,
    )
