"""Positions of packed integer keys, by a vectorised open-addressing hash table (numpy).

The classifier's featuriser (``services.classifier.features``) and the router's learned scorers
(``services.router.chargrams``) pack each character n-gram of a batch into one integer and look them all up at
once: one or two probes per key where a binary search of sorted keys takes ~17.
"""

from __future__ import annotations

import numpy as np

KEY_BITS = 21
"""Bits per character of a packed key: a code point plus one fits in 21, so an n-gram of up to 3 characters in 63."""
_KEY_MASK = (1 << KEY_BITS) - 1


def key_to_text(key: int) -> str:
    """The n-gram a packed key stands for."""
    chars = []
    while key:
        chars.append(chr((key & _KEY_MASK) - 1))
        key >>= KEY_BITS
    return "".join(reversed(chars))


def text_to_key(ngram: str) -> int:
    """An n-gram's packed key: its code points plus one side by side, ``KEY_BITS`` each (distinct for every n-gram
    of 1-3 characters, and never 0, which ``KeyIndex`` keeps for an empty slot)."""
    key = 0
    for char in ngram:
        key = (key << KEY_BITS) | (ord(char) + 1)
    return key


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class KeyIndex:
    """Positions of packed keys (distinct, non-zero ``uint64``) in their array, by a vectorised open-addressing hash
    table (linear probing, at most a quarter full): keys placed in rounds, looked up all at once.

    Faster than a binary search per n-gram; slots hold key 0 when empty (no real key is 0: the n-gram packings
    add 1 to each code point). Positions are kept as int32 (half the memory a lookup reads at random; a vocabulary
    stays far below 2**31 keys).
    """

    def __init__(self, keys: np.ndarray) -> None:
        bits = max(4, int(np.ceil(np.log2(max(len(keys), 1) * 4))))
        self._shift = np.uint64(64 - bits)
        self._mask = np.int64((1 << bits) - 1)
        self._slots = np.zeros(1 << bits, dtype=np.uint64)
        positions = np.full(1 << bits, -1, dtype=np.int64)
        slot_of = self._hash(keys)
        pending = np.arange(len(keys))
        while pending.size:
            wanted = slot_of[pending]
            free = self._slots[wanted] == 0
            taken_slots, first = np.unique(wanted[free], return_index=True)
            winners = pending[free][first]
            self._slots[taken_slots] = keys[winners]
            positions[taken_slots] = winners
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slot_of[pending] = (slot_of[pending] + 1) & self._mask
        self._positions = positions.astype(np.int32)

    def _hash(self, keys: np.ndarray) -> np.ndarray:
        """Each key's first slot: the top bits of key * golden ratio, worked out in place (one array, no copies)."""
        slots = np.multiply(keys, _GOLDEN)
        np.right_shift(slots, self._shift, out=slots)
        return slots.view(np.int64)  # below 2**bits: the same numbers as int64

    def lookup(self, queries: np.ndarray) -> np.ndarray:
        """Position of each query key (int32), -1 where it is not a known key."""
        slot_of = self._hash(queries)
        # First probe for every query at once (most end here: a hit, or an empty slot), then the few collisions.
        stored = self._slots.take(slot_of)
        result = self._positions.take(slot_of)
        miss = stored != queries
        result[miss] = -1
        active = np.flatnonzero(miss & (stored != 0))
        while active.size:
            slots = (slot_of[active] + 1) & self._mask
            slot_of[active] = slots
            stored = self._slots[slots]
            hit = stored == queries[active]
            result[active[hit]] = self._positions[slots[hit]]
            active = active[~hit & (stored != 0)]
        return result
