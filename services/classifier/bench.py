"""``python -m services.classifier.bench``: classifier throughput (messages/s on one core) and peak RSS."""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from services.classifier.model import Classifier

DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "domain" / "messages-train.csv"


@dataclass(frozen=True)
class BenchResult:
    messages: int
    batch_size: int
    load_seconds: float
    seconds: float
    peak_rss_mib: float

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        return (
            f"{self.messages} messages in {self.seconds:.2f} s = {self.messages_per_second:,.0f} msg/s "
            f"(batches of {self.batch_size}, one process); model load {self.load_seconds:.2f} s; "
            f"peak RSS {self.peak_rss_mib:.0f} MiB"
        )


def read_corpus(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [(row.get("subject") or "", row.get("body") or "") for row in csv.DictReader(handle)]


def benchmark(
    items: list[tuple[str, str]], *, model_path: Path | None = None, batch_size: int = 500, repeat: int = 3
) -> BenchResult:
    """Classify ``items`` ``repeat`` times in batches; the first (warm-up) pass is not timed."""
    started = time.perf_counter()
    model = Classifier.load(model_path)
    load_seconds = time.perf_counter() - started
    model.predict(items[:batch_size])
    started = time.perf_counter()
    for _ in range(repeat):
        for start in range(0, len(items), batch_size):
            model.predict(items[start : start + batch_size])
    seconds = time.perf_counter() - started
    return BenchResult(len(items) * repeat, batch_size, load_seconds, seconds, peak_rss_mib())


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would count the parent's before exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_CORPUS, help="CSV with subject and body columns")
    parser.add_argument("--batch-size", type=int, default=500, help="messages per predict call")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the corpus")
    parser.add_argument("--model", type=Path, default=None, help="artifact directory (default: shipped)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def run(args: argparse.Namespace) -> int:
    items = read_corpus(args.data)
    result = benchmark(items, model_path=args.model, batch_size=args.batch_size, repeat=args.repeat)
    if args.json:
        print(json.dumps({**asdict(result), "messages_per_second": round(result.messages_per_second)}))
    else:
        print(result.describe())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
