"""The evaluation protocol: near-duplicate groups, grouped stratified folds, and intervals by group bootstrap.

A random split of a citizen-message corpus puts copies of the same complaint (re-posted, or written by the
same campaign with a few words changed) on both sides, so it measures memory as much as generalisation.
Messages whose character 5-gram sets have a Jaccard similarity of at least NEAR_DUPLICATE_JACCARD are joined
into one group (MinHash with banding finds the candidate pairs, the exact Jaccard decides, union-find joins
them transitively), and ``StratifiedGroupKFold`` keeps every group inside one fold.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold

from services.classifier.features import full_text

FOLDS = 5
SHINGLE = 5
NEAR_DUPLICATE_JACCARD = 0.5
MINHASH_BANDS = 32
MINHASH_ROWS = 4
BOOTSTRAP_SAMPLES = 1000
_PRIME = (1 << 61) - 1
_DIGITS_AND_MASKS = re.compile(r"[a-z]?\d+")  # "a3区", "2019", "a市" masks and numbers say nothing of the topic
_SPACE_AND_PUNCTUATION = re.compile(r"[\s\W_]+")


def duplicate_key_text(text: str) -> str:
    """The text compared for near-duplicates: numbers and masked place codes removed, no punctuation."""
    return _SPACE_AND_PUNCTUATION.sub("", _DIGITS_AND_MASKS.sub("", full_text(text)))


def shingles(text: str) -> set[str]:
    key = duplicate_key_text(text)
    if len(key) <= SHINGLE:
        return {key}
    return {key[i : i + SHINGLE] for i in range(len(key) - SHINGLE + 1)}


def _minhash(sets: Sequence[set[str]], permutations: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, _PRIME, permutations, dtype=np.uint64)
    b = rng.integers(0, _PRIME, permutations, dtype=np.uint64)
    signatures = np.zeros((len(sets), permutations), dtype=np.uint64)
    for row, items in enumerate(sets):
        values = np.fromiter(
            (int.from_bytes(hashlib.blake2b(item.encode("utf-8"), digest_size=8).digest(), "little") for item in items),
            dtype=np.uint64,
            count=len(items),
        ) & np.uint64(_PRIME)
        # (a*x + b) mod p on uint64 wraps; the wrap is a fine hash too, what matters is one fixed family.
        signatures[row] = ((values[:, None] * a + b) % np.uint64(_PRIME)).min(axis=0)
    return signatures


def near_duplicate_groups(
    texts: Sequence[str], *, threshold: float = NEAR_DUPLICATE_JACCARD, seed: int = 0
) -> np.ndarray:
    """A group id per message text; near-duplicates (5-gram Jaccard >= threshold, transitively) share one."""
    sets = [shingles(text) for text in texts]
    signatures = _minhash(sets, MINHASH_BANDS * MINHASH_ROWS, seed)
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    checked: set[tuple[int, int]] = set()
    for band in range(MINHASH_BANDS):
        columns = signatures[:, band * MINHASH_ROWS : (band + 1) * MINHASH_ROWS]
        buckets: dict[bytes, list[int]] = {}
        for row in range(len(texts)):
            buckets.setdefault(columns[row].tobytes(), []).append(row)
        for members in buckets.values():
            for position, i in enumerate(members):
                for j in members[position + 1 :]:
                    if (i, j) in checked:
                        continue
                    checked.add((i, j))
                    union = len(sets[i] | sets[j])
                    if union and len(sets[i] & sets[j]) / union >= threshold:
                        parent[root(j)] = root(i)
    roots = [root(i) for i in range(len(texts))]
    _, groups = np.unique(roots, return_inverse=True)
    return groups.astype(np.int64)


def grouped_folds(
    labels: Sequence[str], groups: np.ndarray, *, seed: int, folds: int = FOLDS
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds in which every near-duplicate group lies inside one fold: (train, test) index pairs."""
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), np.asarray(labels), groups))


SELECTION_SHARE_FOLDS = 5
SELECTION_SEED = 7
"""The selection split: fold 0 of a 5-fold StratifiedGroupKFold with this seed, i.e. ~20% of the near-duplicate
groups, fixed once (not the reporting seed). Settings are chosen on it; it is never in a reported test fold."""


def selection_split(labels: Sequence[str], groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rest, selection): row indices outside and inside the fixed selection groups (whole groups on each side)."""
    splitter = StratifiedGroupKFold(n_splits=SELECTION_SHARE_FOLDS, shuffle=True, random_state=SELECTION_SEED)
    rest, selection = next(iter(splitter.split(np.zeros(len(labels)), np.asarray(labels), groups)))
    return np.sort(rest), np.sort(selection)


def reporting_folds(
    labels: Sequence[str],
    groups: np.ndarray,
    *,
    seed: int,
    folds: int = FOLDS,
    fold_groups: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped folds whose test parts cover only the rows outside the selection split; every fold trains on the
    rest of those rows plus the whole selection split (which chose the settings, so it is never tested on).
    ``fold_groups``: other groups for the folds only (``np.arange(n)``: plain stratified folds, for comparison)."""
    rest, selection = selection_split(labels, groups)
    label_array = np.asarray(labels)
    within = (groups if fold_groups is None else fold_groups)[rest]
    inner = grouped_folds(label_array[rest].tolist(), within, seed=seed, folds=folds)
    return [(np.sort(np.concatenate([rest[train], selection])), rest[test]) for train, test in inner]


def group_bootstrap_interval(
    truth: Sequence[str] | np.ndarray,
    predicted: Sequence[str] | np.ndarray,
    groups: np.ndarray,
    *,
    statistic: Callable[[np.ndarray, np.ndarray, np.ndarray], float] | None = None,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """95% percentile interval of a statistic (default macro-F1) over bootstrap resamples of whole groups.

    A resample draws as many groups as there are, with replacement; a row counts as often as its group was
    drawn (``statistic(truth, predicted, weights)``)."""
    truth_array, predicted_array = np.asarray(truth), np.asarray(predicted)
    classes = sorted(set(truth_array.tolist()))

    def macro_f1(t: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
        return float(f1_score(t, p, labels=classes, average="macro", zero_division=0, sample_weight=w))

    measure = statistic or macro_f1
    _, inverse = np.unique(groups, return_inverse=True)
    count = int(inverse.max()) + 1 if len(inverse) else 0
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(samples):
        drawn = np.bincount(rng.integers(0, count, count), minlength=count)
        weights = drawn[inverse].astype(np.float64)
        kept = weights > 0
        values.append(measure(truth_array[kept], predicted_array[kept], weights[kept]))
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
