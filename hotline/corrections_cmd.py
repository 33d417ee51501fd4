"""``hotline corrections export``: operators' reclassifications as extra training data.

hotline corrections export --out corrections.jsonl
hotline train --data messages.csv --corrections corrections.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from services.common.mongo import mongo_client
from services.metrics.corrections import default_path, export_corrections
from shared.settings import ServiceSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write reclassified cases as JSON lines for `hotline train --corrections`")
    export.add_argument(
        "--out", type=Path, help="file to write ('-' for stdout; default: <HOTLINE_HOME>/corrections.jsonl)"
    )
    export.add_argument("--database", help="database name (default: MONGODB_DATABASE)")


async def _export(settings: ServiceSettings, out_path: Path | None, database: str | None) -> int:
    client = mongo_client(settings.mongodb)
    try:
        db = client[database or settings.mongodb.database]
        if out_path is not None and str(out_path) == "-":
            written = await export_corrections(db, sys.stdout)
        else:
            path = out_path or default_path(settings.home)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as out:
                written = await export_corrections(db, out)
            print(f"wrote {written} corrections to {path}", file=sys.stderr)
        return 0
    finally:
        await client.close()


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_export(ServiceSettings(), args.out, args.database))
