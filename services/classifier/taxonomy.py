"""The official 3-level taxonomy of citizen messages as a JSON tree, and choosing levels 2 and 3 within a branch.

``python -m services.classifier.taxonomy --build CSV`` rebuilds ``data/taxonomy.json`` from the public
standard's table (columns level1, level2, level3). Only the category names are kept, as our own tree.
"""

from __future__ import annotations

import argparse
import csv
import json
import operator
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
TAXONOMY_PATH = DATA_DIR / "taxonomy.json"
SYNONYMS_PATH = DATA_DIR / "synonyms.yaml"
OTHER = "其他"

Taxonomy = dict[str, dict[str, list[str]]]


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


@lru_cache
def load_taxonomy(path: Path = TAXONOMY_PATH) -> Taxonomy:
    """The shipped taxonomy tree {level1: {level2: [level3, ...]}}."""
    document = json.loads(path.read_text(encoding="utf-8"))
    tree: Taxonomy = document["tree"]
    return tree


def level1_names(tree: Taxonomy | None = None) -> list[str]:
    return list((tree if tree is not None else load_taxonomy()).keys())


@lru_cache
def load_synonyms(path: Path = SYNONYMS_PATH) -> dict[str, list[str]]:
    """Hand-written words citizens use for a category: keys ``level1/level2`` or ``level1/level2/level3``."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(key): [str(word).lower() for word in words] for key, words in document.items()}


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
    by_synonym: list[tuple[str, _Targets]]


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
    return _Branch(leaves, by_bigram, frozenset(by_bigram), list(by_synonym.items()))


class BranchMatcher:
    """Chooses level 2 and 3 inside a level-1 branch by lexical similarity of the text to the names."""

    def __init__(self, tree: Taxonomy, synonyms: Mapping[str, Sequence[str]]) -> None:
        self._branches = {level1: _index_branch(level1, branch, synonyms) for level1, branch in tree.items()}

    def match(self, level1: str, text: str) -> tuple[str | None, str | None]:
        """(level2, level3) most similar to ``text`` (normalised, lower-case), or (None, None) if nothing fits."""
        branch = self._branches.get(level1)
        if branch is None or not text:
            return None, None
        scores = [0.0] * len(branch.leaves)
        for bigram in branch.bigrams.intersection(text_bigrams(text)):
            for leaf, weight in branch.by_bigram[bigram]:
                scores[leaf] += weight
        for word, targets in branch.by_synonym:
            if word in text:
                for leaf, weight in targets:
                    scores[leaf] += weight
        best = max(range(len(scores)), key=scores.__getitem__)
        if scores[best] < MIN_SCORE:
            return None, None
        return branch.leaves[best]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build data/taxonomy.json from the taxonomy CSV.")
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
