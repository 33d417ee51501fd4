"""``hotline catalogue check FILE``: validate a dispatch catalogue (派单目录), with line numbers.
``hotline catalogue suggest``: propose rule changes from the returns and manual dispatches in the case store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.common.mongo import mongo_client
from services.router.catalogue_check import check_catalogue_text
from services.router.settings import RouterSettings
from services.router.suggest import Lesson, lesson_of, report, suggest
from shared.cases import CaseReadModel
from shared.catalogue import DEFAULT_CATALOGUE_PATH, Catalogue, CatalogueError, load_catalogue
from shared.gazetteer import load_gazetteer
from shared.settings import MongoSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="report invalid rules, unknown units, unreachable rules and overlaps")
    check.add_argument("file", type=Path, nargs="?", default=DEFAULT_CATALOGUE_PATH, help="catalogue YAML file")
    check.add_argument("--strict", action="store_true", help="warnings (overlaps) fail too")
    learn = sub.add_parser(
        "suggest",
        help="propose catalogue rules from returned and hand-dispatched cases, with their evidence (for review)",
    )
    learn.add_argument(
        "--catalogue", type=Path, help="catalogue under review (default: HOTLINE_CATALOGUE_PATH or shipped)"
    )
    learn.add_argument("--database", help="database name (default: MONGODB_DATABASE)")
    learn.add_argument("--since", type=datetime.fromisoformat, help="only cases received since (ISO date/time, UTC)")
    learn.add_argument("--min-cases", type=int, default=3, help="cases needed for a proposal (default 3)")
    learn.add_argument("--json", action="store_true", help="one JSON document instead of the readable report")
    learn.add_argument(
        "--lead-examples",
        type=Path,
        help="also write every settled case as a learned lead example (JSON lines) to this file, for "
        "HOTLINE_ROUTER_LEARNED_LEAD_EXTRA_EXAMPLES",
    )


async def suggest_from_store(
    mongodb: MongoSettings,
    database: str,
    catalogue: Catalogue,
    *,
    since: datetime | None = None,
    min_cases: int = 3,
    timezone: str,
    lead_examples: Path | None = None,
) -> dict[str, Any]:
    """Read the returned and hand-dispatched cases of ``database`` and propose changes to ``catalogue``;
    ``lead_examples``: a file to write each lesson's case to, as a learned lead example (led where it settled)."""
    client = mongo_client(mongodb)
    gazetteer = load_gazetteer()
    now = datetime.now(UTC)
    lessons: list[Lesson] = []
    read = 0
    try:
        async for case in CaseReadModel(client[database]).returned_or_dispatched(since=since):
            read += 1
            lesson = lesson_of(case, catalogue, gazetteer, now, timezone=timezone)
            if lesson is not None:
                lessons.append(lesson)
    finally:
        await client.close()
    suggestions = suggest(lessons, catalogue, min_cases=min_cases)
    if lead_examples is not None:
        lines = [json.dumps(lesson.example, ensure_ascii=False) + "\n" for lesson in lessons]
        lead_examples.write_text("".join(lines), encoding="utf-8")
    return {
        "catalogue_version": catalogue.version,
        "cases_read": read,
        "lessons": len(lessons),
        "min_cases": min_cases,
        "suggestions": [s.to_json() for s in suggestions],
        "report": report(suggestions, cases_read=read, lessons=len(lessons), catalogue=catalogue),
    }


def run_suggest(args: argparse.Namespace) -> int:
    settings = RouterSettings()
    path = args.catalogue or settings.catalogue_path or DEFAULT_CATALOGUE_PATH
    try:
        catalogue = load_catalogue(path)
    except (OSError, CatalogueError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    since = args.since.replace(tzinfo=args.since.tzinfo or UTC) if args.since else None
    result = asyncio.run(
        suggest_from_store(
            settings.mongodb,
            args.database or settings.mongodb.database,
            catalogue,
            since=since,
            min_cases=args.min_cases,
            timezone=settings.timezone,
            lead_examples=args.lead_examples,
        )
    )
    if args.lead_examples is not None:
        print(f"wrote {result['lessons']} lead examples to {args.lead_examples}", file=sys.stderr)
    readable = result.pop("report")
    print(json.dumps(result, ensure_ascii=False, indent=1) if args.json else readable)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "suggest":
        return run_suggest(args)
    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"{path}: cannot read: {exc}", file=sys.stderr)
        return 2
    findings = check_catalogue_text(text)
    for finding in findings:
        print(finding.format(str(path)))
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    print(f"{path}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors or (args.strict and warnings) else 0
