"""Reference data every service agrees on, read once from the shipped files in ``shared/data/``.

- the official taxonomy of citizen messages (``taxonomy.json``, {level1: {level2: [level3, ...]}}) and its
  level-1 categories (城乡建设, 民政, …): what the classifier predicts, the dispatch catalogue matches and a
  supervisor may reclassify a case as;
- the lexicon (``synonyms.yaml``): words citizens use for taxonomy branches, written by the team; the
  classifier scores levels 2 and 3 with it and intake's Open311 services list them as keywords;
- the 每月一题 (Monthly Question) problems (``monthly_questions.yaml``: ids, names, taxonomy place and the
  classifier's keywords): the ids the classifier attaches to a call, the catalogue matches and the
  programme (``programme.yaml``) plans for.

This module owns the files' locations and the lists derived from them; the classifier keeps how it uses
the keywords and the tree (``services/classifier``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
TAXONOMY_PATH = DATA_DIR / "taxonomy.json"
MONTHLY_QUESTIONS_PATH = DATA_DIR / "monthly_questions.yaml"
SYNONYMS_PATH = DATA_DIR / "synonyms.yaml"

Taxonomy = dict[str, dict[str, list[str]]]

YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""How the product reads its YAML files: PyYAML's libyaml-backed safe loader when the installed PyYAML has it
(its wheels do), the pure-Python one otherwise; the same documents either way. The 派单目录 (~200 rules) took
~0.5 s to parse in pure Python and ~0.1 s with libyaml, on every start of intake, the router and the console."""


def read_yaml(text: str) -> Any:
    """The document in ``text``, read safely (``YAML_LOADER``); raises ``yaml.YAMLError`` on bad YAML."""
    return yaml.load(text, Loader=YAML_LOADER)


@lru_cache
def load_taxonomy(path: Path = TAXONOMY_PATH) -> Taxonomy:
    """The taxonomy tree {level1: {level2: [level3, ...]}} (the shipped one by default)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    tree: Taxonomy = document["tree"]
    return tree


@lru_cache
def load_synonyms_document(path: Path = SYNONYMS_PATH) -> dict[str, list[str]]:
    """The hand-written lexicon as written: keys ``level1/level2[/level3]`` (``…#en`` for more words of a key)."""
    document = read_yaml(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a mapping of taxonomy paths to word lists")
    return document


@lru_cache
def load_monthly_questions_document(path: Path = MONTHLY_QUESTIONS_PATH) -> dict[str, Any]:
    """The 每月一题 problems document (``programme`` and ``problems``), as written in the YAML."""
    document = read_yaml(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict) or not isinstance(document.get("problems"), list):
        raise ValueError(f"{path}: expected a mapping with a 'problems' list")
    return document


# Level-1 categories of the official taxonomy (15 names; ``load_taxonomy()`` keeps the file's order).
LEVEL1_CATEGORIES: frozenset[str] = frozenset(load_taxonomy())
# Level-3 item names of the official taxonomy (the same name may sit under several level-2 categories).
LEVEL3_ITEMS: frozenset[str] = frozenset(
    item for level2 in load_taxonomy().values() for items in level2.values() for item in items
)
# 每月一题 problem ids the classifier can attach to a call and the catalogue may match.
MONTHLY_QUESTION_IDS: frozenset[str] = frozenset(str(p["id"]) for p in load_monthly_questions_document()["problems"])
