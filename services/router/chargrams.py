"""The learned scorers' features, evaluated in numpy: character 1-3-grams, TF-IDF, a linear model per output.

Both learned scorers (``urgency``, ``lead``) read the same text of a call with the same kind of TF-IDF
(``char_grams_vectorizer``), each fitted on its own examples. sklearn's ``transform`` builds every n-gram of a
text as a Python string and looks it up one by one: on a real message of a few hundred characters that was
~1 ms of the router's CPU per call. Here each text's n-grams are integer keys computed from its code points for
the whole batch at once (``GramTable.count``), looked up in a hash table of the vocabulary (``shared.keyindex``, as
the classifier's featuriser does), and counted per text;
the tf-idf weights, the norm and the dot product with a model's weights are sums per text
(``LinearCharGrams.probabilities_of``). It gives sklearn's probabilities (a unit test compares them); n-grams that
are not in a model's vocabulary count for nothing in either.

The scorers share one table (``share_table``): a batch's n-grams are found and counted once for both, and each
model maps the table's rows to its own features. Against one sorted-key table per scorer (``np.searchsorted``),
that took the two scorers' cost on the classifier's real letters from ~340 to ~140 µs a call
(docs/performance.md, "One n-gram table for both scorers").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from shared.keyindex import KEY_BITS, KeyIndex, text_to_key

N_MAX = 3
_NONE = -1  # a table row or a model column that does not exist


def char_grams_vectorizer() -> TfidfVectorizer:
    """The TF-IDF that ``LinearCharGrams`` evaluates: char_wb 1-3-grams, sublinear tf, lower-cased, l2 norm."""
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(1, N_MAX), sublinear_tf=True, lowercase=True)


def positive_weights(model: LogisticRegression) -> tuple[np.ndarray, np.ndarray]:
    """A binary model's coefficients and intercept for its ``True`` class (sklearn's are for ``classes_[1]``)."""
    sign = 1.0 if list(model.classes_).index(True) == 1 else -1.0
    return sign * model.coef_[0], sign * model.intercept_[0]


@dataclass(frozen=True)
class GramCounts:
    """A batch's n-grams found in a table: for each (text, table row) that occurs, the text, the row and how often."""

    table: GramTable
    texts: int
    text_of: np.ndarray
    row: np.ndarray
    count: np.ndarray


class GramTable:
    """Distinct n-gram keys (``text_to_key``) and their rows, found for a whole batch at once (``shared.keyindex``).

    ``count`` remembers its last batch: the router asks both scorers about the same texts one after the other, and
    the second is answered from the first's count.
    """

    def __init__(self, keys: np.ndarray) -> None:
        """``keys``: distinct non-zero n-gram keys; a key's row is its position in ``keys``."""
        self.keys = np.asarray(keys, dtype=np.uint64)
        if len(np.unique(self.keys)) != len(self.keys) or (len(self.keys) and not self.keys.all()):
            raise ValueError("a gram table needs distinct non-zero keys")
        self._index = KeyIndex(self.keys)
        self._last: tuple[list[str], GramCounts] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def rows(self, grams: np.ndarray) -> np.ndarray:
        """The row of each gram key, -1 for a key not in the table."""
        return self._index.lookup(np.asarray(grams, dtype=np.uint64))

    def count(self, texts: Sequence[str]) -> GramCounts:
        """The table's n-grams in each (lower-cased) text, counted as ``char_wb`` does.

        Texts are laid end to end, each word padded with a space as ``char_wb`` does, so adjacent words (and
        adjacent texts) meet in two spaces: an n-gram spanning a boundary holds two spaces, which no padded word
        has, so it is never in the table and never counted."""
        texts = list(texts)
        last = self._last
        if last is not None and last[0] == texts:
            return last[1]
        padded = ["".join(f" {word} " for word in text.lower().split()) for text in texts]
        lengths = np.array([len(text) for text in padded], dtype=np.int64)
        codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64) + np.uint64(1)
        owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)  # the text each position belongs to
        found_owner: list[np.ndarray] = [np.empty(0, np.int64)]
        found_row: list[np.ndarray] = [np.empty(0, np.int64)]
        for n in range(1, N_MAX + 1):
            if len(codes) < n:
                continue
            grams = codes[: len(codes) - n + 1].copy()
            for offset in range(1, n):
                grams = (grams << np.uint64(KEY_BITS)) | codes[offset : len(codes) - n + 1 + offset]
            rows = self.rows(grams)
            hit = rows >= 0
            found_owner.append(owner[: len(codes) - n + 1][hit])
            found_row.append(rows[hit])
        size = max(len(self.keys), 1)
        pairs, counts = np.unique(np.concatenate(found_owner) * size + np.concatenate(found_row), return_counts=True)
        text_of, row = np.divmod(pairs, size)
        result = GramCounts(self, len(texts), text_of, row, counts)
        self._last = (texts, result)
        return result


class LinearCharGrams:
    """A fitted ``char_grams_vectorizer`` and one linear model per output (logistic), evaluated on a gram table."""

    def __init__(self, vectorizer: TfidfVectorizer, coef: np.ndarray, intercept: np.ndarray) -> None:
        """``coef`` (outputs x features) and ``intercept`` (outputs): one linear model per output."""
        if not vectorizer.lowercase or vectorizer.ngram_range != (1, N_MAX) or vectorizer.analyzer != "char_wb":
            raise ValueError("LinearCharGrams evaluates char_grams_vectorizer()'s kind of TF-IDF only")
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.keys = np.array([text_to_key(gram) for gram in vocabulary], dtype=np.uint64)
        self.features = np.array(list(vocabulary.values()), dtype=np.int64)
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.weights = np.ascontiguousarray(np.asarray(coef, dtype=np.float64).T)  # features x outputs
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.use(GramTable(self.keys))

    def use(self, table: GramTable) -> None:
        """Read n-grams from ``table`` (which holds every key of this model's vocabulary, and maybe others')."""
        columns = np.full(len(table), _NONE, dtype=np.int64)
        rows = table.rows(self.keys)
        if (rows < 0).any():
            raise ValueError("the gram table lacks some of the model's n-grams")
        columns[rows] = self.features
        self.table, self._columns = table, columns

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's probability per output (texts x outputs), the logistic of its linear model."""
        return self.probabilities_of(self.table.count(texts))

    def probabilities_of(self, counts: GramCounts) -> np.ndarray:
        """``probabilities`` of texts whose n-grams this model's table counted."""
        if counts.table is not self.table:
            raise ValueError("these n-grams were counted in another table")
        feature = self._columns[counts.row]
        own = feature >= 0
        text_of, feature = counts.text_of[own], feature[own]
        values = (1.0 + np.log(counts.count[own])) * self.idf[feature]
        norms = np.sqrt(np.bincount(text_of, weights=values * values, minlength=counts.texts))
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)[text_of]
        size = len(self.idf)
        dots = csr_matrix((values * scale, (text_of, feature)), shape=(counts.texts, size)) @ self.weights
        return 1.0 / (1.0 + np.exp(-(self.intercept + dots)))


def share_table(*models: LinearCharGrams) -> GramTable:
    """One table of all the models' n-grams, which every one of them reads from now on (a batch counted once)."""
    table = GramTable(np.unique(np.concatenate([model.keys for model in models])))
    for model in models:
        model.use(table)
    return table
