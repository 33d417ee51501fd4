"""``hotline classify``: JSON lines {"id", "subject", "body"} on stdin, one classification line per input on
stdout. No server needed. A bad line yields {"id", "error"} and the rest goes on."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from services.classifier.model import Classifier
from services.classifier.settings import ClassifierSettings

READ_CHUNK = 1 << 16


def parse_request(line: bytes) -> tuple[Any, tuple[str, str] | None, str | None]:
    """(id, (subject, body), None) for a good line, (id or None, None, reason) for a bad one."""
    try:
        request = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, None, f"invalid JSON: {exc}"
    if not isinstance(request, dict):
        return None, None, "expected a JSON object with id, subject and body"
    request_id = request.get("id")
    subject, body = request.get("subject", ""), request.get("body")
    if subject is None:
        subject = ""
    if not isinstance(body, str):
        return request_id, None, "body must be a string"
    if not isinstance(subject, str):
        return request_id, None, "subject must be a string"
    return request_id, (subject, body), None


def classify_lines(model: Classifier, lines: list[bytes], *, explain: bool = False) -> list[dict[str, Any]]:
    """One output object per input line, in order; the good lines are classified in one batch."""
    parsed = [parse_request(line) for line in lines]
    good = [item for _, item, _ in parsed if item is not None]
    decisions = iter(model.predict(good))
    answers: list[dict[str, Any]] = []
    for request_id, item, error in parsed:
        if item is None:
            answers.append({"id": request_id, "error": error})
            continue
        decision = next(decisions)
        answer: dict[str, Any] = {"id": request_id, **decision.model_dump(include=_OUTPUT_FIELDS)}
        if explain:
            answer.update(decision.model_dump(include=_EXPLAIN_FIELDS))
        answers.append(answer)
    return answers


_OUTPUT_FIELDS = {"category", "subcategory", "item", "issue", "confidence", "subcategory_confidence", "item_confidence"}
_EXPLAIN_FIELDS = {"needs_review", "explanation", "model_version", "suggested_category", "suggested_terms"}


def read_line_batches(stream: BinaryIO, batch_size: int) -> Iterator[list[bytes]]:
    """Non-blank lines in batches of what has arrived (at most ``batch_size``), so a pipe gets prompt answers."""
    fd = stream.fileno()
    pending = b""
    while True:
        chunk = os.read(fd, READ_CHUNK)
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split(b"\n")
        lines = [line for line in complete if line.strip()]
        for start in range(0, len(lines), batch_size):
            yield lines[start : start + batch_size]
    if pending.strip():
        yield [pending]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=None, help="artifact directory (default: shipped)")
    parser.add_argument("--batch-size", type=int, default=500, help="lines classified together")
    parser.add_argument("--explain", action="store_true", help="add needs_review, explanation, model_version")
    parser.add_argument("--benchmark", action="store_true", help="print msg/s and peak RSS on the corpus instead")
    parser.add_argument("--data", type=Path, default=None, help="corpus CSV for --benchmark")


def run(args: argparse.Namespace) -> int:
    if args.benchmark:
        from services.classifier import bench

        items = bench.read_corpus(args.data or bench.DEFAULT_CORPUS)
        print(bench.benchmark(items, model_path=args.model, batch_size=args.batch_size).describe())
        return 0
    model = Classifier.load(args.model, min_confidence=ClassifierSettings().min_confidence)
    out = sys.stdout
    for lines in read_line_batches(sys.stdin.buffer, args.batch_size):
        for answer in classify_lines(model, lines, explain=args.explain):
            out.write(json.dumps(answer, ensure_ascii=False) + "\n")
        out.flush()
    return 0
