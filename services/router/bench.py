"""``python -m services.router.bench``: the router's cost per call, printed (no pass/fail)."""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services.router.agent import route_parsed
from services.router.cases import redispatch_after_return
from services.router.duplicates import OpenCase
from services.router.lead import LeadScorer, load_scorers
from services.router.routing import locate_call, route_call
from services.router.settings import RouterSettings
from services.router.urgency import UrgencyScorer
from shared.catalogue import load_catalogue
from shared.events import Call, CallClassified, CallRouted, Classification, Location, call_id_for
from shared.gazetteer import Gazetteer, load_gazetteer
from shared.reference import LEVEL1_CATEGORIES, MONTHLY_QUESTION_IDS

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
    issues = [None, None, None, *sorted(MONTHLY_QUESTION_IDS)]
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


SPOKEN_ADDRESSES = Path(__file__).parent / "data" / "spoken_addresses.jsonl"
# The larger labelled set (Chinese, pinyin, English): in a source checkout only.
SPOKEN_ADDRESSES_TESTS = Path(__file__).parents[2] / "tests" / "data" / "spoken_addresses.jsonl"


def locate_rate(gazetteer: Gazetteer, path: Path = SPOKEN_ADDRESSES) -> str:
    """How many spoken-style addresses resolve to a street/town or a district, and how many as expected."""
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    streets = districts = correct = 0
    for item in items:
        resolved = gazetteer.resolve(item["address"], None, None)
        streets += resolved.street is not None
        districts += resolved.district is not None
        correct += (resolved.district, resolved.street) == (item["district"], item["street"])
    expected_streets = sum(item["street"] is not None for item in items)
    return (
        f"locate on {len(items)} spoken-style addresses ({path.name}): street/town resolved {streets} "
        f"({streets / len(items):.0%}; {expected_streets} have one), district {districts} "
        f"({districts / len(items):.0%}), as expected {correct}/{len(items)} ({correct / len(items):.0%})"
    )


def open_cases_like(calls: list[CallClassified], gazetteer: Gazetteer, count: int) -> list[OpenCase]:
    """``count`` open cases at the calls' places and categories, as a batch's duplicate query returns them."""
    found = []
    for i, classified in enumerate(calls[:count]):
        place = locate_call(classified.call, gazetteer)
        case = OpenCase.from_document(
            {
                "_id": str(uuid.uuid4()),
                "status": "dispatched",
                "received_at": classified.call.received_at - timedelta(hours=1 + i % 48),
                "classification": {"category": classified.classification.category},
                "assignment": {"queue_id": "q", "district": place.district, "street": place.street},
            }
        )
        if case is not None:
            found.append(case)
    return found


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

    batch = [(None, c, locate_call(c.call, gazetteer)) for c in calls]
    open_cases = open_cases_like(calls, gazetteer, 50)
    window = timedelta(hours=72)

    def route_with_duplicates_all() -> None:
        for start in range(0, len(batch), 500):
            route_parsed(batch[start : start + 500], catalogue, gazetteer, now,  # type: ignore[arg-type]
                         open_cases=open_cases, duplicate_window=window)  # fmt: skip

    returned_cases = [
        {
            "_id": str(c.call_id),
            "status": "returned",
            "received_at": c.call.received_at,
            "call": {"channel": "phone", "body": c.call.body, "location": {"address": c.call.location.address}},
            "classification": {"category": c.classification.category, "issue": c.classification.issue},
            "assignment": {"queue_id": "x", "rule_id": None, "attempt": 1},
        }
        for c in calls
    ]

    scorer = UrgencyScorer.load()
    plain_calls = [c.call for c in calls]

    def learned_urgency_all() -> None:
        for start in range(0, len(plain_calls), 500):
            scorer.flags(plain_calls[start : start + 500])

    lead = LeadScorer.load()

    def learned_lead_all() -> None:
        for start in range(0, len(plain_calls), 500):
            lead.votes(plain_calls[start : start + 500])

    both_urgency, both_lead = load_scorers(RouterSettings(learned_urgency=True, learned_lead=True))
    assert both_urgency is not None and both_lead is not None

    def learned_both_all() -> None:
        for start in range(0, len(plain_calls), 500):
            both_urgency.judge(plain_calls[start : start + 500])
            both_lead.votes(plain_calls[start : start + 500])

    def redispatch_all() -> None:
        for case in returned_cases:
            redispatch_after_return(case, catalogue, gazetteer, now)

    print(f"router bench: {args.calls} calls x {args.repeats} runs, catalogue {catalogue.version} "
          f"({len(catalogue.rules)} rules), {gazetteer.street_count} streets/towns, Python {sys.version.split()[0]}")  # fmt: skip
    for label, action in [
        ("resolve_location (address only)", resolve_all),
        ("route_call (location + body scan + rules)", route_all),
        ("parse JSON + route_call + CallRouted JSON", parse_route_serialise_all),
        ("route + duplicate match (50 open cases, batch 500)", route_with_duplicates_all),
        ("learned urgency scorer flags (batch 500)", learned_urgency_all),
        ("learned lead scorer votes (batch 500)", learned_lead_all),
        ("both learned scorers, one n-gram table (batch 500)", learned_both_all),
        ("re-dispatch after a return (case document)", redispatch_all),
    ]:
        best, median = per_item_microseconds(action, args.calls, args.repeats)
        print(f"  {label:<50} best {best:7.1f} µs/call  median {median:7.1f} µs/call  ≈ {1e6 / median:,.0f} calls/s")
    print("  " + locate_rate(gazetteer))
    if SPOKEN_ADDRESSES_TESTS.exists():
        print("  " + locate_rate(gazetteer, SPOKEN_ADDRESSES_TESTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
