"""``hotline bench`` (``make bench``): push N calls through intake's batch endpoint and print the figures.

It starts a platform of its own (embedded broker and database in a temporary folder, the five service
processes, free ports), so nothing else must be running. ``hotline bench console --open N`` measures the
console's queue page and search instead (``hotline.bench_console``). Printed, never asserted:

- sustained throughput: calls per second from the first POST until every case is visible in MongoDB;
- latency from intake's 202 to the case being visible in its queue (p50, p99, max);
- the same machine's raw aiokafka produce->consume rate on the same broker, and the ratio;
- the size of the store it ran on, CPU per call of each process, and what each periodic job (deadline
  watcher, outbox, pending events, hot spots, queue pages, scoreboard reads) costs at that size.

``--stored N`` runs on top of a store of N cases over the twelve months before now, built once through
the metrics store's own write path and reused (``hotline.seed``; kept in ``.hotline/bench-store-N``).
Visibility is read from the category counters (a few documents), never by counting cases, and the
latencies from the cases by ``_id`` in slices: the benchmark's own reads do not grow with the store.

Size: ~500 lines — one run's phases (platform, paced posting, visibility, latencies, raw Kafka rate, periodic
costs) share its ``BenchResult`` and report; the console, intake, metrics and word benchmarks are modules apart.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hotline.embedded import free_port
from hotline.platform import Platform, ensure_dev_key, replicas_argument, running_platform
from hotline.seed import build_or_reuse, store_folder
from services.common.mongo import mongo_client
from services.common.progress import progress_bars
from services.console.settings import ConsoleSettings
from services.intake.settings import IntakeSettings
from services.metrics.repository import MetricsRepository
from services.metrics.scoreboard import HotSpotThresholds
from services.metrics.settings import MetricsSettings
from shared.cases import CASES_COLLECTION
from shared.clock import DEFAULT_TIMEZONE, as_utc, local_month_and_day
from shared.gazetteer import load_gazetteer
from shared.queues import QueueId
from shared.settings import MongoSettings, ServiceSettings

DEFAULT_TEXTS = Path(__file__).resolve().parents[2] / "shared" / "domain" / "messages-train.csv"
SYNTHETIC = [
    ("拖欠工资", "大兴区西红门镇某工地拖欠农民工工资三个月，请求劳动监察部门处理。"),
    ("小区供暖不热", "朝阳区朝阳门街道某小区冬季供暖温度不达标，室内只有十五度。"),
    ("幼儿园入园难", "海淀区普惠性幼儿园名额不足，孩子无法入园，希望增加学位。"),
    ("噪音扰民", "丰台区某工地夜间施工噪音扰民，严重影响休息。"),
    ("Broken water main", "Water main broken on the street, water everywhere since this morning."),
]


@dataclass
class BenchResult:
    calls: int
    batch: int
    concurrency: int
    post_seconds: float
    intake_calls_per_s: float
    pipeline_seconds: float
    pipeline_calls_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    raw_kafka_msgs_per_s: float
    ratio_pipeline_to_raw: float
    paced_rate_per_s: float
    paced_latency_p50_ms: float
    paced_latency_p99_ms: float
    cpu_ms_per_call: dict[str, float]
    started_at: str
    stored_before: int = 0
    stored_after: int = 0
    seeding: dict[str, object] | None = None
    periodic_jobs: dict[str, dict[str, float]] | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "what",
        nargs="?",
        choices=("calls", "console", "intake"),
        default="calls",
        help="calls: the pipeline, batches through the whole platform until stored (default); console: the queue "
        "page and search with --open N open cases (hotline/bench_console.py); intake: --clients concurrent clients "
        "posting single calls to POST /v1/calls for --seconds (hotline/bench_intake.py)",
    )
    parser.add_argument("--calls", type=int, default=20_000, help="number of calls to push (default 20,000)")
    parser.add_argument("--batch", type=int, default=500, help="calls per POST /v1/calls/batch")
    parser.add_argument("--concurrency", type=int, default=4, help="batches in flight at once")
    parser.add_argument("--texts", type=Path, default=DEFAULT_TEXTS, help="CSV of real messages to send (optional)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up waiting for visibility after this")
    parser.add_argument("--paced-rate", type=float, default=100.0, help="calls/s of the unsaturated latency phase")
    parser.add_argument("--paced-seconds", type=float, default=10.0, help="length of the unsaturated latency phase")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for the JSON result")
    parser.add_argument(
        "--stored",
        type=int,
        default=0,
        help="run on top of a store of this many cases over the last twelve months (built once, then reused)",
    )
    parser.add_argument(
        "--replicas",
        type=replicas_argument,
        default={},
        help="instances of the faust workers, e.g. classifier=2,router=2,metrics=2 (CPU is reported per instance)",
    )
    parser.add_argument("--clients", type=int, default=200, help="intake mode: concurrent single-call clients")
    parser.add_argument("--seconds", type=float, default=30.0, help="intake mode: seconds measured")
    parser.add_argument("--warmup", type=float, default=3.0, help="intake mode: seconds of load before measuring")
    parser.add_argument(
        "--only-intake", action="store_true", help="intake mode: start intake alone (no workers consuming meanwhile)"
    )
    parser.add_argument(
        "--store-root", type=Path, default=Path(".hotline"), help="where --stored keeps its stores (bench-store-N)"
    )
    from hotline import bench_console

    bench_console.add_arguments(parser)


def load_texts(path: Path) -> list[tuple[str, str]]:
    """Subject/body pairs from the training CSV when it is there (read at run time, never shipped)."""
    if not path.exists():
        return SYNTHETIC
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    subject_key = next((k for k in rows[0] if "主题" in k or "subject" in k.lower()), None)
    body_key = next((k for k in rows[0] if "详情" in k or "body" in k.lower()), None)
    if not subject_key or not body_key:
        return SYNTHETIC
    return [(r[subject_key].strip(), r[body_key].strip()[:4000]) for r in rows if r[body_key].strip()]


DATABASE = "hotline_bench"


def run(args: argparse.Namespace) -> int:
    if args.what == "console":
        from hotline import bench_console

        return bench_console.run(args)
    if args.what == "intake":
        from hotline import bench_intake

        return bench_intake.run(args)
    platform, seeding = bench_platform(args, "hotline-bench-")
    home = platform.home
    api_key = ensure_dev_key(platform)
    texts = load_texts(args.texts)
    print(f"Starting a platform in {home} ...", flush=True)
    with running_platform(platform, timeout=180):
        result = asyncio.run(_bench(platform, api_key, texts, args))
    result.seeding = seeding
    print(_report(result), flush=True)
    write_result(args.out, "pipeline", asdict(result), home)
    return 0


def bench_platform(args: argparse.Namespace, prefix: str, **fields: Any) -> tuple[Platform, dict[str, object] | None]:
    """The benchmark's own platform (not started): embedded broker and database, every process on a free port,
    on the ``--stored`` store (built first if need be) or in a new temporary folder named ``prefix...``; and what
    the store holds. ``fields`` are further :class:`Platform` fields (probe, only); replicas come from ``args``."""
    seeding: dict[str, object] | None = None
    if getattr(args, "stored", 0) > 0:
        home = store_folder(args.store_root.resolve(), args.stored)
        print(f"Store of {args.stored:,} cases in {home} (built on first use, then reused) ...", flush=True)
        seeding = build_or_reuse(home, args.stored, DATABASE)
        print(f"  {json.dumps(seeding)}", flush=True)
    else:
        home = Path(tempfile.mkdtemp(prefix=prefix))
    platform = Platform(
        settings=ServiceSettings(home=home, mongodb=MongoSettings(database=DATABASE)),
        home=home,
        embedded_kafka=True,
        embedded_mongodb=True,
        intake=IntakeSettings(port=free_port(), api_keys_file=home / "api-keys.json"),
        metrics=MetricsSettings(port=free_port()),
        console=ConsoleSettings(port=free_port(), users_file=home / "console-users.json"),
        replicas=getattr(args, "replicas", {}),
        **fields,
    )
    home.mkdir(parents=True, exist_ok=True)
    return platform, seeding


def write_result(folder: Path, kind: str, result: dict[str, Any], home: Path) -> None:
    """Write a run's figures as JSON to ``folder/<kind>-<UTC time>.json`` and say where, and where the logs are."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"(written to {out}; logs in {home / 'logs'})")


async def _bench(
    platform: Platform, api_key: str, texts: list[tuple[str, str]], args: argparse.Namespace
) -> BenchResult:
    import httpx

    calls = _make_calls(texts, args.calls, "bench", random.Random(42))
    mongo = mongo_client(MongoSettings(uri=platform.mongodb_uri))
    database = mongo[platform.settings.mongodb.database]
    cases = database[CASES_COLLECTION]
    stored_before = await _stored_cases(database)
    print(f"store: {stored_before:,} cases; timing the periodic jobs at that size ...", flush=True)
    periodic = await _periodic_costs(platform, MetricsRepository(database))
    months = _months_from(datetime.now(UTC))
    visible_before = await _counted_cases(database, months)
    cpu_before = _cpu_seconds(platform)
    batches = [calls[i : i + args.batch] for i in range(0, len(calls), args.batch)]
    accepted_at: dict[str, float] = {}
    rejected = 0
    semaphore = asyncio.Semaphore(args.concurrency)
    started = time.time()

    bars = progress_bars()
    bars.start()
    posting = bars.add_task("calls accepted by intake", total=len(calls))
    async with httpx.AsyncClient(base_url=platform.intake_url, headers={"X-API-Key": api_key}, timeout=120) as client:

        async def post(batch: list[dict]) -> None:
            nonlocal rejected
            async with semaphore:
                for attempt in range(5):
                    response = await client.post("/v1/calls/batch", json={"calls": batch})
                    if response.status_code != 503:
                        break
                    await asyncio.sleep(0.5 * (attempt + 1))
                response.raise_for_status()
                now = time.time()
                for item in response.json()["results"]:
                    if item["status"] == "accepted":
                        accepted_at[item["call_id"]] = now
                    else:
                        rejected += 1
                bars.advance(posting, len(batch))

        await asyncio.gather(*(post(b) for b in batches))
    post_seconds = time.time() - started
    print(f"posted {len(accepted_at)} calls ({rejected} rejected) in {post_seconds:.1f}s", flush=True)

    wanted = set(accepted_at)
    stored = bars.add_task("cases visible in MongoDB", total=len(wanted))
    visible = await _wait_visible(
        database,
        months,
        visible_before,
        len(wanted),
        time.time() + args.timeout,
        on_progress=lambda seen: bars.update(stored, completed=seen),
    )
    bars.stop()
    finished = time.time()
    cpu_after = _cpu_seconds(platform)
    latencies = await _visible_latencies(cases, accepted_at)
    paced_rate, paced = await _paced_phase(platform, api_key, texts, args, database)
    stored_after = await _stored_cases(database)
    await mongo.close()
    if visible < len(wanted):
        print(f"only {visible} of {len(wanted)} visible after {args.timeout:.0f}s", flush=True)

    raw_rate = await _raw_kafka_rate(platform.bootstrap_servers, args.calls, _typical_size(calls))
    pipeline_seconds = finished - started
    pipeline_rate = visible / pipeline_seconds if pipeline_seconds else 0.0
    cpu_ms_per_call = {
        name: round((cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / max(visible, 1), 3) for name in cpu_after
    }
    return BenchResult(
        calls=args.calls,
        batch=args.batch,
        concurrency=args.concurrency,
        post_seconds=round(post_seconds, 2),
        intake_calls_per_s=round(len(accepted_at) / post_seconds, 1),
        pipeline_seconds=round(pipeline_seconds, 2),
        pipeline_calls_per_s=round(pipeline_rate, 1),
        latency_p50_ms=round(_percentile(latencies, 50), 1),
        latency_p99_ms=round(_percentile(latencies, 99), 1),
        latency_max_ms=round(latencies[-1], 1) if latencies else 0.0,
        raw_kafka_msgs_per_s=round(raw_rate, 1),
        ratio_pipeline_to_raw=round(pipeline_rate / raw_rate, 3) if raw_rate else 0.0,
        paced_rate_per_s=round(paced_rate, 1),
        paced_latency_p50_ms=round(_percentile(paced, 50), 1),
        paced_latency_p99_ms=round(_percentile(paced, 99), 1),
        cpu_ms_per_call=cpu_ms_per_call,
        started_at=datetime.fromtimestamp(started, UTC).isoformat(),
        stored_before=stored_before,
        stored_after=stored_after,
        periodic_jobs=periodic,
    )


def _months_from(start: datetime) -> list[str]:
    """The city's months from ``start`` to a day later (a run may cross a month's end)."""
    return sorted({local_month_and_day(start + timedelta(days=d), DEFAULT_TIMEZONE)[0] for d in (0, 1)})


async def _counted_cases(database, months: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Cases received in ``months``, from the category counters (a few documents, whatever the store's size)."""
    total = 0
    for month in months:
        async for counter in database.counters.find({"dimension": "category", "month": month}, {"count": 1}):
            total += int(counter.get("count", 0))
    return total


async def _stored_cases(database) -> int:  # type: ignore[no-untyped-def]
    """Every stored case, from the category counters of every month (not a count of the cases)."""
    total = 0
    async for counter in database.counters.find({"dimension": "category"}, {"count": 1}):
        total += int(counter.get("count", 0))
    return total


async def _wait_visible(  # type: ignore[no-untyped-def]
    database, months: list[str], before: int, wanted: int, deadline: float, on_progress=None
) -> int:
    """Poll the counters until ``wanted`` more cases were counted (or the deadline): how many were."""
    visible = 0
    while time.time() < deadline:
        visible = await _counted_cases(database, months) - before
        if on_progress is not None:
            on_progress(visible)
        if visible >= wanted:
            break
        await asyncio.sleep(0.25)
    return visible


async def _periodic_costs(
    platform: Platform, repository: MetricsRepository, rounds: int = 10
) -> dict[str, dict[str, float]]:
    """Each periodic job's and page's cost on this store: wall ms and database CPU ms per run (average)."""
    now = datetime.now(UTC)
    queues = await repository.queues()
    busiest = max(queues, key=lambda q: q.depth).queue_id if queues else "street:东城区/街道00"
    month, day = local_month_and_day(now, repository.timezone)
    months = sorted({local_month_and_day(now - timedelta(days=31 * n), repository.timezone)[0] for n in range(12)})
    area = QueueId.parse(busiest).body  # the hot-spot check keys areas by the queue's unit
    touched = {(area, "劳动和社会保障", day, str(uuid.uuid4()))}
    jobs = {
        "deadline watcher tick": lambda: repository.flag_overdue(now),
        "outbox read": lambda: repository.outbox_messages(),
        "pending events retry": lambda: repository.retry_pending(),
        "hot-spot check (1 area)": lambda: repository.detect_hotspots(touched, HotSpotThresholds()),
        "queues + oldest waiting (SSE, scoreboard)": lambda: repository.queues(),
        "console queue page (busiest queue)": lambda: repository.cases_of_queue(busiest, limit=50),
        "monthly counts by unit": lambda: repository.monthly_counts(month, "unit"),
        "street scoreboards, 12 months": lambda: repository.street_scoreboards(months),
    }
    costs: dict[str, dict[str, float]] = {}
    for name, job in jobs.items():
        cpu_before = _cpu_seconds(platform).get("database", 0.0)
        started = time.perf_counter()
        for _ in range(rounds):
            await job()
        wall = (time.perf_counter() - started) / rounds
        cpu = (_cpu_seconds(platform).get("database", 0.0) - cpu_before) / rounds
        costs[name] = {"wall_ms": round(wall * 1000, 1), "database_cpu_ms": round(cpu * 1000, 1)}
    return costs


PLACES_PER_RUN = 50


def _places_of_run(run_id: str) -> list[str]:
    """The streets/towns a run's calls come from: 50 of the city's, drawn anew for each run. A fixed handful
    piled every run's calls (never closed) on the same queues of a reused store: after four runs each held
    ~9,000 open cases, which no real street has, and the runs then measured that (docs/performance.md)."""
    gazetteer = load_gazetteer()
    streets = sorted(district + street for district, names in gazetteer.districts.items() for street in names)
    return random.Random(run_id).sample(streets, PLACES_PER_RUN)


def _make_calls(texts: list[tuple[str, str]], count: int, source: str, rng: random.Random) -> list[dict]:
    run_id = uuid.uuid4().hex[:8]
    places = _places_of_run(run_id)
    # One number per call, and numbers of their own for each run: with the same 138... numbers in every run, each
    # call on a reused store matched the open cases of every earlier run's caller (the router's duplicate check by
    # contact looks back 72 hours), and the runs measured a linking load that grew with each run.
    first_phone = random.Random(run_id).randrange(10**9 - count)
    calls = []
    for i in range(count):
        subject, body = texts[rng.randrange(len(texts))]
        calls.append(
            {
                "channel": "phone",
                "source_system": source,
                "external_id": f"{run_id}-{i}",
                "subject": subject,
                "body": body or subject,
                # 25,000 addresses (50 places x 500), as before the places were drawn per run: repeats are duplicates.
                "location": {"address": f"{places[i % len(places)]}{rng.randrange(1, 501)}号院"},
                "contact_phone": f"13{first_phone + i:09d}",
            }
        )
    return calls


def _cpu_seconds(platform: Platform) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process of the platform, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    named = {name: s.proc for name, s in platform.services.items() if s.proc is not None}
    if platform.stack is not None:
        for proc in platform.stack.processes:
            named["database" if "secantus" in str(proc.args) else "broker"] = proc
    used = {}
    for name, proc in named.items():
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[name] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return used


async def _visible_latencies(cases, accepted_at: dict[str, float], per_lookup: int = 50) -> list[float]:  # type: ignore[no-untyped-def]
    """202 -> stored, per call, read by ``_id`` in slices (slices of 25-50 ids cost least per id)."""
    latencies = []
    ids = list(accepted_at)
    for start in range(0, len(ids), per_lookup):
        async for doc in cases.find({"_id": {"$in": ids[start : start + per_lookup]}}, {"stored_at": 1}):
            if doc.get("stored_at"):
                stored_ts = as_utc(doc["stored_at"]).timestamp()
                latencies.append(max(0.0, stored_ts - accepted_at[doc["_id"]]) * 1000)
    return sorted(latencies)


async def _paced_phase(
    platform: Platform, api_key: str, texts: list[tuple[str, str]], args: argparse.Namespace, database
) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    """Latency when the pipeline is not saturated: small batches at a steady rate, one at a time."""
    import httpx

    count = int(args.paced_rate * args.paced_seconds)
    calls = _make_calls(texts, count, "bench-paced", random.Random(7))
    per_post = 10
    interval = per_post / args.paced_rate
    accepted_at: dict[str, float] = {}
    months = _months_from(datetime.now(UTC))
    before = await _counted_cases(database, months)
    started = time.time()
    async with httpx.AsyncClient(base_url=platform.intake_url, headers={"X-API-Key": api_key}, timeout=60) as client:
        for n, i in enumerate(range(0, count, per_post)):
            await asyncio.sleep(max(0.0, started + n * interval - time.time()))
            response = await client.post("/v1/calls/batch", json={"calls": calls[i : i + per_post]})
            response.raise_for_status()
            now = time.time()
            for item in response.json()["results"]:
                if item["status"] == "accepted":
                    accepted_at[item["call_id"]] = now
    rate = len(accepted_at) / (time.time() - started)
    await _wait_visible(database, months, before, len(accepted_at), time.time() + 120)
    return rate, await _visible_latencies(database[CASES_COLLECTION], accepted_at)


def _typical_size(calls: list[dict]) -> int:
    return int(statistics.median(len(json.dumps(c, ensure_ascii=False).encode()) for c in calls[:1000])) + 400


async def _raw_kafka_rate(bootstrap: str, count: int, size: int) -> float:
    """Produce ``count`` messages of ``size`` bytes with acks=all and consume them back: messages/s."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"hotline.bench.raw.{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await admin.close()
    payload = b"x" * size
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=topic)
    await producer.start()
    await consumer.start()
    try:
        started = time.time()
        futures = [await producer.send(topic, payload, key=str(i).encode()) for i in range(count)]
        await asyncio.gather(*futures)
        received = 0
        deadline = time.time() + 300
        while received < count and time.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            received += sum(len(messages) for messages in batches.values())
        return received / (time.time() - started)
    finally:
        await producer.stop()
        await consumer.stop()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    index = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[index]


def _report(r: BenchResult) -> str:
    jobs = "\n".join(
        f"    {name + ':':<44}{cost['wall_ms']:>8.1f} ms wall, {cost['database_cpu_ms']:>7.1f} ms database CPU"
        for name, cost in (r.periodic_jobs or {}).items()
    )
    return f"""
Hotline pipeline benchmark ({r.calls} calls, batches of {r.batch}, {r.concurrency} in flight)
  store: {r.stored_before:,} cases before the run, {r.stored_after:,} after
  periodic jobs and pages at that size (average of 10 runs each, before the calls):
{jobs}
  intake accepted (202, acks=all):      {r.intake_calls_per_s:>10.1f} calls/s  ({r.post_seconds:.1f} s)
  end to end, visible in MongoDB:       {r.pipeline_calls_per_s:>10.1f} calls/s  ({r.pipeline_seconds:.1f} s)
  latency 202 -> visible in queue:      p50 {r.latency_p50_ms:.0f} ms, p99 {r.latency_p99_ms:.0f} ms, max {r.latency_max_ms:.0f} ms
  raw aiokafka produce->consume:        {r.raw_kafka_msgs_per_s:>10.1f} msgs/s (same broker, same run)
  ratio pipeline / raw Kafka:           {r.ratio_pipeline_to_raw:.3f}
  unsaturated, {r.paced_rate_per_s:.0f} calls/s:             p50 {r.paced_latency_p50_ms:.0f} ms, p99 {r.paced_latency_p99_ms:.0f} ms (202 -> visible)
  CPU per call (ms) by process:         {", ".join(f"{k} {v:.2f}" for k, v in sorted(r.cpu_ms_per_call.items()))}
"""
