"""``hotline locate``: JSON lines {"id", "address"} on stdin → {"id", "district", "street", "confidence"}."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from shared.gazetteer import Gazetteer, load_gazetteer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", action="store_true", help="add the resolver's reason to each line")


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


def run(args: argparse.Namespace) -> int:
    locate_stream(sys.stdin, sys.stdout, with_reason=args.reason)
    return 0
