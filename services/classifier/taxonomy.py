"""The official 3-level taxonomy of citizen messages as a JSON tree, and choosing levels 2 and 3 within a branch.

``python -m services.classifier.taxonomy --build CSV`` rebuilds ``shared/data/taxonomy.json`` from the public
standard's table (columns level1, level2, level3). Only the category names are kept, as our own tree.
"""

from __future__ import annotations

import argparse
import csv
import json
import operator
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from shared.reference import SYNONYMS_PATH, TAXONOMY_PATH, Taxonomy, load_synonyms_document, load_taxonomy

OTHER = "其他"


def build_taxonomy(rows: Sequence[Mapping[str, str]]) -> Taxonomy:
    """The tree {level1: {level2: [level3, ...]}} in the table's order, without duplicates or blanks."""
    tree: Taxonomy = {}
    for row in rows:
        level1, level2, level3 = (row.get(name, "").strip() for name in ("level1", "level2", "level3"))
        if not level1:
            continue
        branch = tree.setdefault(level1, {})
        if not level2:
            continue
        items = branch.setdefault(level2, [])
        if level3 and level3 not in items:
            items.append(level3)
    return tree


def read_taxonomy_csv(path: Path) -> Taxonomy:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return build_taxonomy(list(csv.DictReader(handle)))


def write_taxonomy(tree: Taxonomy, path: Path = TAXONOMY_PATH) -> None:
    document = {
        "source": "Official 3-level classification of citizen messages to government (public standard).",
        "levels": ["level1", "level2", "level3"],
        "tree": tree,
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def level1_names(tree: Taxonomy | None = None) -> list[str]:
    return list(tree if tree is not None else load_taxonomy())


@lru_cache
def load_synonyms(path: Path = SYNONYMS_PATH) -> dict[str, list[str]]:
    """Hand-written words citizens use for a category: keys ``level1/level2`` or ``level1/level2/level3``."""
    document = load_synonyms_document(path)
    merged: dict[str, list[str]] = {}
    for key, words in document.items():
        # "key#en" lists more words for "key" (YAML keys must be unique).
        target = merged.setdefault(str(key).split("#", 1)[0], [])
        target.extend(word for word in (str(w).lower() for w in words) if word not in target)
    return merged


_LATIN_WORD = re.compile(r"[a-z][a-z '\-]*[a-z]")
_HAS_LATIN = re.compile(r"[a-z]{2}")  # every Latin lexicon word has two letters in a row; "a3区" has not


class Term:
    """A lexicon word: a substring test for Chinese, a whole-word test for Latin words ("tax" is not in "taxi")."""

    __slots__ = ("pattern", "word")

    def __init__(self, word: str) -> None:
        self.word = word
        whole_word = rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])"
        self.pattern = re.compile(whole_word) if _LATIN_WORD.fullmatch(word) else None

    def found_in(self, text: str) -> bool:
        if self.pattern is None:
            return self.word in text
        return self.word in text and self.pattern.search(text) is not None


def _bigrams(name: str) -> set[str]:
    name = name.lower()
    return {name[i : i + 2] for i in range(len(name) - 1)} or {name}


def text_bigrams(text: str) -> set[str]:
    """The distinct two-character substrings of ``text``."""
    return set(map(operator.add, text, text[1:]))


# How much each kind of evidence counts for a leaf (level-3 item): its own synonyms most, then the share of
# its name's bigrams found in the text, then its level-2 branch's synonyms and name.
ITEM_SYNONYM_WEIGHT = 2.0
BRANCH_SYNONYM_WEIGHT = 1.0
ITEM_NAME_WEIGHT = 1.5
BRANCH_NAME_WEIGHT = 0.5
MIN_SCORE = 0.75

_Targets = list[tuple[int, float]]


@dataclass(frozen=True)
class _Branch:
    """The leaves of one level-1 category, indexed by the bigrams and synonyms that give them evidence."""

    leaves: list[tuple[str, str | None]]
    by_bigram: dict[str, _Targets]
    bigrams: frozenset[str]
    by_word: list[tuple[str, _Targets]]  # Chinese (and other) words: substring test
    by_latin: list[tuple[Term, _Targets]]  # Latin words: whole-word test, only for text with Latin letters
    level2_of: tuple[int, ...] = ()  # per leaf, the position of its level 2 in the branch
    by_opening: dict[str, list[int]] = field(default_factory=dict)  # first two characters -> by_word positions
    short_words: tuple[int, ...] = ()  # by_word positions of one-character words
    word_weights: tuple[float, ...] = ()  # per by_word entry, its largest weight (the word's rank in "words")

    def words_in(self, text: str, bigrams: set[str]) -> list[int]:
        """Positions in ``by_word`` of the words found in ``text`` (whose ``bigrams`` are given), in order: only
        the words opening with one of the text's bigrams are tested, not the whole lexicon."""
        candidates = [*self.short_words]
        for bigram in bigrams.intersection(self.by_opening):
            candidates.extend(self.by_opening[bigram])
        return sorted(i for i in candidates if self.by_word[i][0] in text)


def _index_branch(level1: str, branch: Mapping[str, Sequence[str]], synonyms: Mapping[str, Sequence[str]]) -> _Branch:
    leaves: list[tuple[str, str | None]] = []
    by_bigram: dict[str, _Targets] = {}
    by_synonym: dict[str, _Targets] = {}

    def add(index: dict[str, _Targets], token: str, leaf: int, weight: float) -> None:
        index.setdefault(token.lower(), []).append((leaf, weight))

    for level2, items in branch.items():
        branch_bigrams = set() if level2 == OTHER else _bigrams(level2)
        branch_words = synonyms.get(f"{level1}/{level2}", ())
        levels3: list[str | None] = list(items) or [None]
        for level3 in levels3:
            leaf = len(leaves)
            leaves.append((level2, level3))
            for bigram in branch_bigrams:
                add(by_bigram, bigram, leaf, BRANCH_NAME_WEIGHT / len(branch_bigrams))
            if level3 and level3 != OTHER:
                name_bigrams = _bigrams(level3)
                for bigram in name_bigrams:
                    add(by_bigram, bigram, leaf, ITEM_NAME_WEIGHT / len(name_bigrams))
            for word in branch_words:
                add(by_synonym, word, leaf, BRANCH_SYNONYM_WEIGHT)
            for word in synonyms.get(f"{level1}/{level2}/{level3}", ()):
                add(by_synonym, word, leaf, ITEM_SYNONYM_WEIGHT)
    latin = [(Term(word), targets) for word, targets in by_synonym.items() if _LATIN_WORD.fullmatch(word)]
    plain = [(word, targets) for word, targets in by_synonym.items() if not _LATIN_WORD.fullmatch(word)]
    names = list(dict.fromkeys(level2 for level2, _ in leaves))
    level2_of = tuple(names.index(level2) for level2, _ in leaves)
    by_opening: dict[str, list[int]] = {}
    for position, (word, _) in enumerate(plain):
        if len(word) >= 2:
            by_opening.setdefault(word[:2], []).append(position)
    short = tuple(position for position, (word, _) in enumerate(plain) if len(word) < 2)
    weights = tuple(max(weight for _, weight in targets) for _, targets in plain)
    return _Branch(leaves, by_bigram, frozenset(by_bigram), plain, latin, level2_of, by_opening, short, weights)


class BranchMatcher:
    """Chooses level 2 and 3 inside a level-1 branch by lexical similarity of the text to the names."""

    def __init__(self, tree: Taxonomy, synonyms: Mapping[str, Sequence[str]]) -> None:
        self._branches = {level1: _index_branch(level1, branch, synonyms) for level1, branch in tree.items()}

    def match(self, level1: str, text: str) -> tuple[str | None, str | None]:
        """(level2, level3) most similar to ``text`` (normalised, lower-case), or (None, None) if nothing fits."""
        level2, level3, _ = self.match_with_words(level1, text)
        return level2, level3

    def match_with_words(self, level1: str, text: str) -> tuple[str | None, str | None, list[str]]:
        """Like ``match``, plus the branch's lexicon words found in the text (for explanations)."""
        found = self.rank(level1, text)
        if found.score < MIN_SCORE:
            return None, None, found.words
        return found.level2, found.level3, found.words

    def relevant_bigrams(self) -> set[str]:
        """Every bigram the matcher looks at (name bigrams, openings of lexicon words): a text's bigrams outside
        this set change nothing, so ``rank``/``evidence`` may be given only the text's bigrams inside it."""
        found: set[str] = set()
        for branch in self._branches.values():
            found |= branch.bigrams
            found.update(branch.by_opening)
        return found

    def rank(self, level1: str, text: str, bigrams: set[str] | None = None) -> LeafMatch:
        """The best leaf of the ``level1`` branch for ``text`` (even a weak one), with its score and its margins
        over the best leaf of another level 2 and the best other leaf of the same level 2; with no evidence at
        all, the branch's 其他 leaf (or its first) at score 0. ``bigrams``: the text's bigrams (at least those in
        ``relevant_bigrams``), when the caller has them."""
        branch = self._branches.get(level1)
        if branch is None:
            return LeafMatch(None, None, [], 0.0, 0.0, 0.0)
        scores: dict[int, float] = {}  # only the leaves with evidence; every other leaf scores 0
        found: list[tuple[float, str]] = []
        if text:
            if bigrams is None:
                bigrams = text_bigrams(text)
            get, by_bigram = scores.get, branch.by_bigram
            # Sorted: a set of strings iterates in an order that changes with each process's hash seed, and the
            # floating-point sums below would then differ in their last bits, enough to break ties another way.
            for bigram in sorted(branch.bigrams.intersection(bigrams)):
                for leaf, weight in by_bigram[bigram]:
                    scores[leaf] = get(leaf, 0.0) + weight
            for position in branch.words_in(text, bigrams):
                word, targets = branch.by_word[position]
                found.append((branch.word_weights[position], word))
                for leaf, weight in targets:
                    scores[leaf] = get(leaf, 0.0) + weight
            if _HAS_LATIN.search(text):
                for term, targets in branch.by_latin:
                    if term.found_in(text):
                        found.append((max(weight for _, weight in targets), term.word))
                        for leaf, weight in targets:
                            scores[leaf] = scores.get(leaf, 0.0) + weight
        # Item-level words first, then longer words.
        words = [word for _, word in sorted(found, key=lambda pair: (-pair[0], -len(pair[1])))]
        top = max(scores.values(), default=0.0)
        if top > 0:
            best = min(leaf for leaf, value in scores.items() if value == top)  # ties: the first leaf
        else:
            best = next((i for i, (level2, _) in enumerate(branch.leaves) if level2 == OTHER), 0)
        level2, level3 = branch.leaves[best]
        score = scores.get(best, 0.0)
        other_branch = same_branch = 0.0
        level2_of = branch.level2_of
        best_group = level2_of[best]
        for leaf, value in scores.items():  # the largest of each kind (scores are positive: as max() finds it)
            if level2_of[leaf] != best_group:
                if value > other_branch:
                    other_branch = value
            elif leaf != best and value > same_branch:
                same_branch = value
        return LeafMatch(level2, level3, words, score, score - other_branch, score - same_branch)

    def evidence(self, level1: str, text: str, bigrams: set[str] | None = None) -> LexiconEvidence:
        """The lexicon words of the ``level1`` branch found in ``text`` and how strong they are together."""
        branch = self._branches.get(level1)
        if branch is None or not text:
            return LexiconEvidence(level1, ())
        words = [
            branch.by_word[i][0] for i in branch.words_in(text, text_bigrams(text) if bigrams is None else bigrams)
        ]
        if _HAS_LATIN.search(text):
            words += [term.word for term, _ in branch.by_latin if term.found_in(text)]
        return LexiconEvidence(level1, tuple(words))

    def strongest(self, text: str, level1_names: Sequence[str], bigrams: set[str] | None = None) -> LexiconEvidence:
        """The level-1 category among ``level1_names`` with the strongest lexicon evidence in ``text``."""
        if bigrams is None:
            bigrams = text_bigrams(text)
        found = [self.evidence(name, text, bigrams) for name in level1_names]
        return max(found, key=lambda evidence: evidence.strength, default=LexiconEvidence("", ()))


@dataclass(frozen=True)
class LeafMatch:
    """The best leaf of a branch for a text, and how clearly it won (for the level-2/3 confidences)."""

    level2: str | None
    level3: str | None
    words: list[str]
    score: float
    level2_margin: float
    level3_margin: float


# A lexicon word of this many characters (Chinese) is specific enough on its own ("婚姻登记", "非法采砂").
SPECIFIC_WORD_CHARS = 3


@dataclass(frozen=True)
class LexiconEvidence:
    """Lexicon words of one level-1 category found in a text."""

    level1: str
    words: tuple[str, ...]

    @property
    def strength(self) -> float:
        """Distinct words found, a specific (long) word counting 1.5, nested words ("低保" in "城镇低保") once."""
        distinct = [w for w in self.words if not any(w != other and w in other for other in self.words)]
        return sum(1.5 if len(w) >= SPECIFIC_WORD_CHARS and not w.isascii() else 1.0 for w in distinct)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build shared/data/taxonomy.json from the taxonomy CSV.")
    parser.add_argument("--build", type=Path, required=True, metavar="CSV", help="level1,level2,level3 table")
    parser.add_argument("--out", type=Path, default=TAXONOMY_PATH, help="JSON file to write")
    args = parser.parse_args(argv)
    tree = read_taxonomy_csv(args.build)
    write_taxonomy(tree, args.out)
    leaves = sum(len(items) for branch in tree.values() for items in branch.values())
    level2 = sum(len(branch) for branch in tree.values())
    print(f"wrote {args.out}: {len(tree)} level-1, {level2} level-2, {leaves} level-3 categories")
    return 0


if __name__ == "__main__":
    sys.exit(main())
