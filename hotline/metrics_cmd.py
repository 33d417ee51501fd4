"""``hotline metrics``: rebuild or check every aggregate from the stored case facts."""

from __future__ import annotations

import argparse
import asyncio

from services.common.mongo import mongo_client
from services.common.progress import stages
from services.metrics.repository import MetricsRepository
from services.metrics.settings import MetricsSettings
from shared.clock import DEFAULT_TIMEZONE
from shared.settings import MongoSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    rebuild = sub.add_parser("rebuild", help="recompute every counter from the stored cases and their history")
    rebuild.add_argument(
        "--check", action="store_true", help="only compare with the stored counters (exit 1 if they differ)"
    )
    rebuild.add_argument("--database", help="database name (default: MONGODB_DATABASE)")


REBUILD_STAGES = ("recomputing every counter from the cases", "reading the stored counters", "writing the counters")


async def rebuild(database: str, *, check: bool, uri: str, timezone: str = DEFAULT_TIMEZONE) -> int:
    """Rebuild (or check) the counters of ``database``; exit status 1 when a check finds differences."""
    client = mongo_client(MongoSettings(uri=uri))
    steps: tuple[str, ...] = REBUILD_STAGES if not check else REBUILD_STAGES[:-1]
    try:
        with stages("hotline metrics rebuild", steps) as stage:
            repository = MetricsRepository(client[database], timezone=timezone)
            stage(steps[0])
            computed = await repository.computed_counters()
            stage(steps[1])
            stored = await repository.stored_counters()
            differing = sorted(k for k in set(computed) | set(stored) if computed.get(k) != stored.get(k))
            cases = await repository.counter_rebuild.case_count()
            if not check and not (cases == 0 and stored):
                stage(steps[2])
                written: int | None = await repository.rebuild()
            else:
                written = None
        print(f"{cases} cases; {len(computed)} counters recomputed; {len(differing)} differ from the stored ones")
        for counter_id in differing[:20]:
            print(f"  {counter_id}: stored {stored.get(counter_id)} recomputed {computed.get(counter_id)}")
        if check:
            return 1 if differing else 0
        if written is None:
            print("refusing to replace counters with nothing: no cases stored (wrong database?)")
            return 1
        print(f"wrote {written} counters")
        return 0
    finally:
        await client.close()


def run(args: argparse.Namespace) -> int:
    if args.action == "rebuild":
        settings = MetricsSettings()
        database = args.database or settings.mongodb.database
        return asyncio.run(rebuild(database, check=args.check, uri=settings.mongodb.uri, timezone=settings.timezone))
    return 2
