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

from services.classifier.evaluation import ENGLISH_SET
from services.classifier.model import Classifier
from services.classifier.multilingual import clear_token_cache

DEFAULT_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "domain" / "messages-train.csv"
ENGLISH_CORPUS = ENGLISH_SET


@dataclass(frozen=True)
class BenchResult:
    messages: int
    batch_size: int
    load_seconds: float
    seconds: float
    peak_rss_mib: float
    cpu_seconds: float = 0.0

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def messages_per_cpu_second(self) -> float:
        """Messages per second of CPU time this process used: the per-core rate even on a busy machine."""
        return self.messages / self.cpu_seconds if self.cpu_seconds else 0.0

    def describe(self) -> str:
        return (
            f"{self.messages} messages in {self.seconds:.2f} s = {self.messages_per_second:,.0f} msg/s wall, "
            f"{self.messages_per_cpu_second:,.0f} msg per CPU-second (batches of {self.batch_size}, one process); "
            f"model load {self.load_seconds:.2f} s; peak RSS {self.peak_rss_mib:.0f} MiB"
        )


def read_corpus(path: Path) -> list[tuple[str, str]]:
    """(subject, body) pairs of a CSV, or of a JSON-lines file (rows with a ``body``)."""
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [(row.get("subject") or "", row["body"]) for row in rows if "body" in row]
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
    seconds = cpu_seconds = 0.0
    for _ in range(repeat):
        clear_token_cache()  # every pass tokenises its English words afresh
        started, cpu_started = time.perf_counter(), time.process_time()
        for start in range(0, len(items), batch_size):
            model.predict(items[start : start + batch_size])
        seconds += time.perf_counter() - started
        cpu_seconds += time.process_time() - cpu_started
    return BenchResult(len(items) * repeat, batch_size, load_seconds, seconds, peak_rss_mib(), cpu_seconds)


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
    parser.add_argument(
        "--data", type=Path, default=None, help="CSV with subject and body columns, or JSON lines (default: the CSV)"
    )
    parser.add_argument(
        "--english", action="store_true", help=f"English requests: the team-written set ({ENGLISH_CORPUS.name})"
    )
    parser.add_argument("--batch-size", type=int, default=500, help="messages per predict call")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the corpus")
    parser.add_argument("--model", type=Path, default=None, help="artifact directory (default: shipped)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")


def run(args: argparse.Namespace) -> int:
    items = read_corpus(args.data or (ENGLISH_CORPUS if args.english else DEFAULT_CORPUS))
    result = benchmark(items, model_path=args.model, batch_size=args.batch_size, repeat=args.repeat)
    if args.json:
        rates = {
            "messages_per_second": round(result.messages_per_second),
            "messages_per_cpu_second": round(result.messages_per_cpu_second),
        }
        print(json.dumps({**asdict(result), **rates}))
    else:
        print(result.describe())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
