"""``python -m services.router.bench``: the router's cost per call, printed (no pass/fail)."""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from services.router.catalogue import ISSUE_IDS, LEVEL1_CATEGORIES, load_catalogue
from services.router.gazetteer import load_gazetteer
from services.router.routing import route_call
from shared.events import Call, CallClassified, CallRouted, Classification, Location, call_id_for

ADDRESSES = [
    "大兴区西红门那边的宏福苑小区",
    "朝阳区望京西园三区十号楼二单元",
    "我家在海淀区中关村南大街那块，靠近人民大学",
    "通州梨园地区云景里小区",
    "昌平回龙观龙泽苑东区",
    "八里庄那边",
    "朝阳区一个小区门口",
    "",
]
BODY = (
    "您好，我想反映一个问题，我们小区门口这段路最近一直在施工，晚上十一点以后还在干活，噪音特别大，"
    "家里老人孩子都睡不好，之前打过电话也没人管，希望有关部门尽快过来看看，给个说法，谢谢。"
)


def sample_calls(count: int) -> list[CallClassified]:
    """``count`` varied classified calls: categories, issues, addresses, some needing review."""
    categories = sorted(LEVEL1_CATEGORIES)
    issues = [None, None, None, *sorted(ISSUE_IDS)]
    calls = []
    for i, (category, issue, address) in enumerate(
        itertools.islice(zip(itertools.cycle(categories), itertools.cycle(issues), itertools.cycle(ADDRESSES)), count)
    ):
        call = Call(
            channel="phone",
            source_system="bench",
            external_id=str(i),
            body=BODY,
            language="zh",
            location=Location(address=address or None),
            received_at=datetime(2025, 5, 12, tzinfo=UTC),
        )
        classification = Classification(
            category=category, issue=issue, confidence=0.9, model_version="bench", needs_review=i % 20 == 0
        )
        calls.append(CallClassified(call_id=call_id_for("bench", str(i)), call=call, classification=classification))
    return calls


def per_item_microseconds(action: Callable[[], object], items: int, repeats: int) -> tuple[float, float]:
    """Best and median time per item (µs) over ``repeats`` runs of ``action`` on ``items`` items."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        runs.append((time.perf_counter() - start) / items * 1e6)
    return min(runs), statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.router.bench", description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000, help="calls per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs; best and median are printed")
    args = parser.parse_args(argv)

    catalogue = load_catalogue()
    gazetteer = load_gazetteer()
    calls = sample_calls(args.calls)
    raw = [c.to_bytes() for c in calls]
    now = datetime.now(UTC)
    addresses = [c.call.location.address for c in calls]

    def resolve_all() -> None:
        for address in addresses:
            gazetteer.resolve(address, None, None)

    def route_all() -> None:
        for classified in calls:
            route_call(classified, catalogue, gazetteer, now)

    def parse_route_serialise_all() -> None:
        for value in raw:
            classified = CallClassified.model_validate_json(value)
            CallRouted.from_classified(classified, route_call(classified, catalogue, gazetteer, now)).to_bytes()

    print(f"router bench: {args.calls} calls x {args.repeats} runs, catalogue {catalogue.version} "
          f"({len(catalogue.rules)} rules), {gazetteer.street_count} streets/towns, Python {sys.version.split()[0]}")  # fmt: skip
    for label, action in [
        ("resolve_location (address only)", resolve_all),
        ("route_call (location + body scan + rules)", route_all),
        ("parse JSON + route_call + CallRouted JSON", parse_route_serialise_all),
    ]:
        best, median = per_item_microseconds(action, args.calls, args.repeats)
        print(f"  {label:<44} best {best:7.1f} µs/call  median {median:7.1f} µs/call  ≈ {1e6 / median:,.0f} calls/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
