"""``hotline locate``: JSON lines {"id", "address"} on stdin → {"id", "district", "street", "confidence"}.

``--score``: the input lines also carry the expected ``district`` and ``street`` (null where the text names
none); a summary of street/town and district resolution, streets invented and the CPU time per address goes
to stderr (``hotline locate --score < tests/data/spoken_addresses.jsonl > /dev/null``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from shared.gazetteer import Gazetteer, load_gazetteer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", action="store_true", help="add the resolver's reason to each line")
    parser.add_argument(
        "--score",
        action="store_true",
        help="compare with each line's expected district/street and print the rates to stderr",
    )


def locate_lines(lines: Iterable[str], gazetteer: Gazetteer, *, with_reason: bool = False) -> Iterator[dict[str, Any]]:
    """One answer per non-blank input line; a line that is not a JSON object gets an ``error``."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            yield {"id": None, "district": None, "street": None, "confidence": 0.0, "error": f"line {number}: {exc}"}
            continue
        address = item.get("address")
        resolved = gazetteer.resolve(address if isinstance(address, str) else None, None, None)
        answer: dict[str, Any] = {
            "id": item.get("id"),
            "district": resolved.district,
            "street": resolved.street,
            "confidence": resolved.confidence,
        }
        if with_reason:
            answer["reason"] = resolved.reason
        yield answer


def locate_stream(source: TextIO, sink: TextIO, *, with_reason: bool = False) -> int:
    """Resolve every line of ``source`` into ``sink``; the number of lines answered."""
    count = 0
    for answer in locate_lines(source, load_gazetteer(), with_reason=with_reason):
        sink.write(json.dumps(answer, ensure_ascii=False) + "\n")
        count += 1
    sink.flush()
    return count


def score(expected: Sequence[dict[str, Any]], answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How the answers compare with labelled lines (``district``, ``street``: null where none is named)."""
    pairs = list(zip(expected, answers, strict=True))
    with_street = [(e, a) for e, a in pairs if e.get("street")]
    without_street = [(e, a) for e, a in pairs if not e.get("street")]
    streets_right = sum((a["district"], a["street"]) == (e.get("district"), e["street"]) for e, a in with_street)
    return {
        "addresses": len(pairs),
        "with_street": len(with_street),
        "street_resolved": streets_right,
        "street_rate": round(streets_right / len(with_street), 4) if with_street else None,
        "without_street": len(without_street),
        "street_invented": sum(a["street"] is not None for _, a in without_street),
        "district_rate": round(sum(a["district"] == e.get("district") for e, a in pairs) / len(pairs), 4)
        if pairs
        else None,
        "misses": [
            {"id": e.get("id"), "expected": [e.get("district"), e.get("street")], "got": [a["district"], a["street"]]}
            for e, a in pairs
            if (a["district"], a["street"]) != (e.get("district"), e.get("street"))
        ],
    }


def _labels(line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except ValueError:
        return {}
    return item if isinstance(item, dict) else {}


def run(args: argparse.Namespace) -> int:
    if not args.score:
        locate_stream(sys.stdin, sys.stdout, with_reason=args.reason)
        return 0
    lines = [line for line in sys.stdin if line.strip()]
    gazetteer = load_gazetteer()
    started = time.process_time()
    answers = list(locate_lines(lines, gazetteer, with_reason=args.reason))
    cpu = time.process_time() - started
    for answer in answers:
        sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
    expected = [_labels(line) for line in lines]
    summary = score(expected, answers)
    summary["cpu_microseconds_per_address"] = round(cpu / max(len(lines), 1) * 1e6, 1)
    print(json.dumps(summary, ensure_ascii=False), file=sys.stderr)
    return 0
