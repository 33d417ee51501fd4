"""The Monthly Question (每月一题) programme as data, and matching a message to one of its problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shared.reference import MONTHLY_QUESTIONS_PATH, load_monthly_questions_document


@dataclass(frozen=True)
class MonthlyQuestion:
    """One problem of the programme, e.g. wage arrears (欠薪)."""

    id: str
    name_zh: str
    name_en: str
    category: str
    subcategory: str | None
    item: str | None
    keywords: tuple[str, ...]  # lower-case, Chinese and English together


def parse_monthly_questions(document: dict) -> list[MonthlyQuestion]:
    """The problems of a programme document (see shared/data/monthly_questions.yaml)."""
    problems = []
    for entry in document.get("problems", []):
        keywords = entry.get("keywords", {}) or {}
        words = [*keywords.get("zh", []), *keywords.get("en", [])]
        problems.append(
            MonthlyQuestion(
                id=str(entry["id"]),
                name_zh=str(entry["name"]["zh"]),
                name_en=str(entry["name"]["en"]),
                category=str(entry["category"]),
                subcategory=entry.get("subcategory"),
                item=entry.get("item"),
                keywords=tuple(dict.fromkeys(str(word).lower() for word in words if str(word).strip())),
            )
        )
    return problems


@lru_cache
def load_monthly_questions(path: Path = MONTHLY_QUESTIONS_PATH) -> tuple[MonthlyQuestion, ...]:
    """The shipped programme's problems."""
    return tuple(parse_monthly_questions(load_monthly_questions_document(path)))


def keyword_openings(questions: Sequence[MonthlyQuestion]) -> set[str]:
    """The first two characters of every keyword of two or more characters (see ``match_monthly_question``)."""
    return {word[:2] for question in questions for word in question.keywords if len(word) >= 2}


_KeywordIndex = tuple[dict[str, list[tuple[int, str]]], list[tuple[int, str]]]
_indexes: dict[int, tuple[Sequence[MonthlyQuestion], _KeywordIndex]] = {}


def _keywords_by_opening(questions: Sequence[MonthlyQuestion]) -> _KeywordIndex:
    """(opening bigram -> [(question position, keyword)], [(question position, one-character keyword)]), built
    once per programme object (kept by identity: hashing the whole programme per call cost more than the search)."""
    known = _indexes.get(id(questions))
    if known is not None and known[0] is questions:
        return known[1]
    by_opening: dict[str, list[tuple[int, str]]] = {}
    short: list[tuple[int, str]] = []
    for position, question in enumerate(questions):
        for word in question.keywords:
            if len(word) >= 2:
                by_opening.setdefault(word[:2], []).append((position, word))
            else:
                short.append((position, word))
    if len(_indexes) > 8:
        _indexes.clear()
    _indexes[id(questions)] = (questions, (by_opening, short))
    return by_opening, short


def match_monthly_question(
    text: str, questions: Sequence[MonthlyQuestion], category: str | None = None, bigrams: set[str] | None = None
) -> MonthlyQuestion | None:
    """The problem whose keywords occur most often in ``text`` (lower-cased); ties go to ``category``'s, then to
    the first in the programme.

    ``bigrams``: the text's bigrams (at least those in ``keyword_openings``), when the caller has them: only the
    keywords opening with one of them are searched for."""
    text = text.lower()
    hits = [0] * len(questions)
    if bigrams is None:
        for position, question in enumerate(questions):
            hits[position] = sum(1 for word in question.keywords if word in text)
    else:
        by_opening, short = _keywords_by_opening(questions)
        candidates = [pair for bigram in bigrams.intersection(by_opening) for pair in by_opening[bigram]]
        for position, word in candidates + short:
            if word in text:
                hits[position] += 1
    best: MonthlyQuestion | None = None
    best_rank = (0, False)
    for question, count in zip(questions, hits, strict=True):
        if not count:
            continue
        rank = (count, question.category == category)
        if rank > best_rank:
            best, best_rank = question, rank
    return best
