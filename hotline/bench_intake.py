"""``hotline bench intake``: N concurrent clients, each posting one call at a time to ``POST /v1/calls``.

What a city's switchboards do: many senders, one call per request, each waiting for its 202 (given only
after the broker acknowledged the call with acks=all) before it sends the next. It starts a platform of
its own (embedded broker and database, free ports; ``--only-intake`` starts intake alone, without the
workers that would otherwise consume the calls meanwhile) and prints, never asserts:

- accepted calls per second over the measured window (after ``--warmup`` seconds);
- latency of each POST from the client's side: p50, p95, p99, max;
- every answer that was not a 202, by status (or by the client's exception);
- CPU milliseconds per accepted call of each process (intake, broker, database, the workers) and of
  the load generator itself, which shares the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from hotline.platform import Platform, ensure_dev_key, running_platform

DATABASE = "hotline_bench_intake"
PLACES = ["大兴区西红门镇", "朝阳区朝阳门街道", "海淀区中关村街道", "丰台区卢沟桥街道", "通州区永顺镇"]


@dataclass
class IntakeBenchResult:
    clients: int
    seconds: float
    warmup_seconds: float
    only_intake: bool
    accepted: int
    calls_per_s: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    errors: dict[str, int]
    cpu_ms_per_call: dict[str, float]
    load_average: tuple[float, float, float]
    started_at: str


def run(args: argparse.Namespace) -> int:
    from hotline.bench import bench_platform, load_texts, write_result

    only = frozenset({"intake"}) if args.only_intake else None
    platform, _ = bench_platform(args, "hotline-bench-intake-", probe=not args.only_intake, only=only)
    home = platform.home
    api_key = ensure_dev_key(platform)
    texts = load_texts(args.texts)
    print(f"Starting {'intake alone' if args.only_intake else 'the whole platform'} in {home} ...", flush=True)
    with running_platform(platform, timeout=180):
        result = asyncio.run(measure(platform, api_key, texts, args))
    print(report(result), flush=True)
    write_result(args.out, "intake", asdict(result), home)
    return 0


async def measure(
    platform: Platform, api_key: str, texts: list[tuple[str, str]], args: argparse.Namespace
) -> IntakeBenchResult:
    """Run ``args.clients`` closed-loop clients for ``warmup + seconds``; figures of the last ``seconds``."""
    import aiohttp

    from hotline.bench import _cpu_seconds, _percentile

    run_id = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    started = time.monotonic()
    window_start = started + args.warmup
    window_end = window_start + args.seconds
    headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
    url = platform.intake_url + "/v1/calls"
    cpu_before: dict[str, float] = {}
    own_cpu_before = 0.0

    async def client(session: aiohttp.ClientSession, number: int) -> None:
        rng = random.Random(number)
        sent = 0
        while (now := time.monotonic()) < window_end:
            subject, body = texts[rng.randrange(len(texts))]
            call = {
                "channel": "phone",
                "source_system": "bench-intake",
                "external_id": f"{run_id}-{number}-{sent}",
                "subject": subject,
                "body": body or subject,
                "location": {"address": f"{PLACES[sent % len(PLACES)]}{rng.randrange(1, 5000)}号院"},
                "contact_phone": f"139{number:04d}{sent % 10000:04d}",
            }
            sent += 1
            data = json.dumps(call, ensure_ascii=False).encode()
            try:
                async with session.post(url, data=data, headers=headers) as response:
                    await response.read()
                    outcome = str(response.status)
            except Exception as exc:  # a refused or broken connection is an error too, not a crash
                outcome = type(exc).__name__
            done = time.monotonic()
            if now < window_start or done > window_end:
                continue  # warm-up, or finished after the window: not counted
            if outcome == "202":
                latencies.append((done - now) * 1000)
            else:
                errors[outcome] += 1

    async def start_window() -> None:
        nonlocal cpu_before, own_cpu_before
        await asyncio.sleep(max(0.0, window_start - time.monotonic()))
        cpu_before = _cpu_seconds(platform)
        own_cpu_before = time.process_time()

    connector = aiohttp.TCPConnector(limit=args.clients, limit_per_host=args.clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        print(
            f"{args.clients} clients posting single calls for {args.warmup:.0f} + {args.seconds:.0f} s ...", flush=True
        )
        await asyncio.gather(start_window(), *(client(session, n) for n in range(args.clients)))
    cpu_after = _cpu_seconds(platform)
    own_cpu = time.process_time() - own_cpu_before
    latencies.sort()
    accepted = len(latencies)
    cpu_ms_per_call = {
        name: round((cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / max(accepted, 1), 3) for name in cpu_after
    }
    cpu_ms_per_call["load generator"] = round(own_cpu * 1000 / max(accepted, 1), 3)
    return IntakeBenchResult(
        clients=args.clients,
        seconds=args.seconds,
        warmup_seconds=args.warmup,
        only_intake=args.only_intake,
        accepted=accepted,
        calls_per_s=round(accepted / args.seconds, 1),
        latency_p50_ms=round(_percentile(latencies, 50), 1),
        latency_p95_ms=round(_percentile(latencies, 95), 1),
        latency_p99_ms=round(_percentile(latencies, 99), 1),
        latency_max_ms=round(latencies[-1], 1) if latencies else 0.0,
        errors=dict(errors),
        cpu_ms_per_call=cpu_ms_per_call,
        load_average=os.getloadavg(),
        started_at=datetime.fromtimestamp(time.time() - (time.monotonic() - started), UTC).isoformat(),
    )


def report(r: IntakeBenchResult) -> str:
    errors = ", ".join(f"{status}: {count}" for status, count in sorted(r.errors.items())) or "none"
    cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in sorted(r.cpu_ms_per_call.items()))
    return f"""
Hotline intake benchmark ({r.clients} clients, one call per POST /v1/calls, {r.seconds:.0f} s measured
after {r.warmup_seconds:.0f} s of warm-up; {"intake alone" if r.only_intake else "whole platform running"})
  accepted (202 after acks=all):   {r.calls_per_s:>8.1f} calls/s  ({r.accepted} calls)
  latency per POST:                p50 {r.latency_p50_ms:.0f} ms, p95 {r.latency_p95_ms:.0f} ms, p99 {r.latency_p99_ms:.0f} ms, max {r.latency_max_ms:.0f} ms
  errors (not 202):                {errors}
  CPU per accepted call (ms):      {cpu}
  load average at the end:         {" ".join(f"{x:.2f}" for x in r.load_average)}
"""
