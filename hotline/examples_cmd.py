"""``hotline examples``: rebuild the router's learned scorers' examples from the team's labelled dispatch sets.

The learned lead scorer (``services/router/lead.py``) and the learned urgency scorer (``services/router/urgency.py``)
train when the router starts on ``services/router/data/lead_examples.jsonl`` and ``urgency_examples.jsonl``. Both
are written from the dispatch sets of ``tests/data/dispatch_calls*.jsonl`` — calls written and labelled by the
team, never the classifier's corpus — except the sets kept back to measure the scorers (``HELD_OUT``). The
urgency file also keeps the calls that were written for that scorer alone (rows whose ``from`` is no set's id).

    hotline examples            # write both files from tests/data
    hotline examples --check    # exit 1 when the shipped files differ from what the sets give

Add a labelled set as ``tests/data/dispatch_calls_<name>.jsonl``, run ``hotline examples``, and the router learns
it at its next start; a set meant to measure the scorers goes into ``HELD_OUT`` first.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.router.lead import EXAMPLES_PATH as LEAD_EXAMPLES
from services.router.lead import unit_of
from services.router.urgency import EXAMPLES_PATH as URGENCY_EXAMPLES
from services.router.urgency import text_to_score

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SETS_GLOB = "dispatch_calls*.jsonl"
HELD_OUT = ("fresh13-", "fresh14-", "fresh15-")
"""Ids of the sets no scorer learns from: fresh13 (written after the lead scorer's settings were fixed), fresh14 and
fresh15 (each written blind while a round of the sets it learns from was written, scored once when that round was
learned). Their figures are in docs/routing.md."""


def labelled_rows(data: Path = DATA) -> list[dict[str, Any]]:
    """Every labelled call of the dispatch sets in ``data``, set by set in file-name order."""
    rows: list[dict[str, Any]] = []
    for path in sorted(data.glob(SETS_GLOB)):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def text_of(row: dict[str, Any]) -> str:
    """What the scorers read of a labelled call: ``services.router.urgency.scored_text`` of its call."""
    return text_to_score(row.get("subject"), row["body"])


def lead_examples(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{id, text, accept}`` per call not held out, each unit as the scorer names it (``unit_of``: every
    ``manual:…`` is the one unit ``manual``)."""
    return [
        {"id": row["id"], "text": text_of(row), "accept": list(dict.fromkeys(unit_of(unit) for unit in row["accept"]))}
        for row in rows
        if not row["id"].startswith(HELD_OUT)
    ]


def urgency_examples(rows: Iterable[dict[str, Any]], written_alone: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls written for the urgency scorer alone, then ``{text, urgent, from: id}`` per call not held out."""
    sets = [row for row in rows if not row["id"].startswith(HELD_OUT)]
    return [*written_alone, *({"text": text_of(row), "urgent": bool(row["urgent"]), "from": row["id"]} for row in sets)]


def build(data: Path = DATA, urgency_now: Path = URGENCY_EXAMPLES) -> dict[Path, str]:
    """The two files' contents: path -> JSON lines."""
    rows = labelled_rows(data)
    ids = {row["id"] for row in rows}
    current = [json.loads(line) for line in urgency_now.read_text(encoding="utf-8").splitlines() if line.strip()]
    alone = [item for item in current if item.get("from") not in ids]

    def lines(items: list[dict[str, Any]]) -> str:
        return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)

    return {LEAD_EXAMPLES: lines(lead_examples(rows)), URGENCY_EXAMPLES: lines(urgency_examples(rows, alone))}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the dispatch_calls*.jsonl sets")
    parser.add_argument("--check", action="store_true", help="only say whether the shipped files are current")


def run(args: argparse.Namespace) -> int:
    stale = False
    for path, text in build(args.data).items():
        current = path.exists() and path.read_text(encoding="utf-8") == text
        stale = stale or not current
        if not current and not args.check:
            path.write_text(text, encoding="utf-8")
        state = "current" if current else "differs from the sets" if args.check else "written"
        print(f"{path}: {text.count(chr(10))} examples, {state}")
    return 1 if args.check and stale else 0
