"""``hotline status``: how the running platform is doing, at a glance (rich tables) or as JSON (``--json``).

Where to look: the running ``hotline up``'s ``<HOTLINE_HOME>/platform.json`` when there is one (the embedded
broker's port is chosen at start), else the same environment as ``hotline up`` (``docs/configuration.md``).
It reads what an operator would: each process's ``/readyz``; the broker's end offsets and each consumer
group's committed offsets (lag, with no worker port needed, so it works against real Kafka too); the calls
received in the last minute and hour and the dead letters of the last hour (offsets by timestamp); the
deepest and the most overdue queues from the metrics read API.

Exit status: 0 every process is ready; 1 a process is not ready or does not answer; 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Mapping
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from hotline.embedded import log_ends, topic_partitions
from hotline.platform import WORKERS, Platform, locate, metrics_read_headers
from shared import topics

GROUP_TOPICS = {
    "classifier": (topics.CALLS_RECEIVED,),
    "router": (topics.CALLS_CLASSIFIED, topics.CASES_EVENTS),
    "metrics": (topics.CALLS_ROUTED, topics.CASES_EVENTS, topics.PROGRAMME_EVENTS),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    parser.add_argument("--top", type=int, default=5, help="how many of the deepest and most overdue queues to show")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each answer")


def health(urls: dict[str, str], timeout: float) -> dict[str, dict[str, Any]]:
    """Each process's ``/readyz``: ready or not, and why."""
    answers: dict[str, dict[str, Any]] = {}
    for name, url in urls.items():
        try:
            response = httpx.get(url + "/readyz", timeout=timeout)
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            answers[name] = {
                "ready": response.status_code == 200,
                "status": body.get("status", str(response.status_code)),
                "detail": body.get("reason") or body.get("missing_topics") or "",
                "url": url,
            }
        except httpx.HTTPError as exc:
            answers[name] = {"ready": False, "status": "down", "detail": type(exc).__name__, "url": url}
    return answers


async def broker_figures(bootstrap_servers: str, groups: Mapping[str, str], timeout: float) -> dict[str, Any]:
    """Consumer lag per worker's group (``groups``: worker -> group id, and its worst partition), calls in the last
    minute and hour, dead letters in the last hour."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000))
    await consumer.start()
    await admin.start()
    try:
        partitions = {topic: await topic_partitions(consumer, topic) for topic in topics.ALL_TOPICS}
        everything = [tp for tps in partitions.values() for tp in tps]
        ends = await log_ends(consumer, everything)
        lag: dict[str, dict[str, Any]] = {}
        for name, group in groups.items():
            wanted = [tp for topic in GROUP_TOPICS[name] for tp in partitions.get(topic, [])]
            committed = await admin.list_consumer_group_offsets(group, partitions=wanted)
            per_partition = {
                f"{tp.topic}[{tp.partition}]": max(
                    0, ends[tp] - (c.offset if (c := committed.get(tp)) and c.offset >= 0 else 0)
                )
                for tp in wanted
            }
            worst = max(per_partition.items(), key=lambda item: item[1], default=("", 0))
            lag[name] = {
                "group": group,
                "total": sum(per_partition.values()),
                "worst_partition": worst[0],
                "worst": worst[1],
            }
        now_ms = int(time.time() * 1000)

        async def since(topic: str, seconds: int) -> int | None:
            tps = partitions.get(topic, [])
            try:
                found = await consumer.offsets_for_times({tp: now_ms - seconds * 1000 for tp in tps})
            except Exception:
                return None  # a broker without timestamp lookups
            return sum(ends[tp] - found[tp].offset for tp in tps if found.get(tp) is not None)

        return {
            "consumer_lag": lag,
            "calls_last_minute": await since(topics.CALLS_RECEIVED, 60),
            "calls_last_hour": await since(topics.CALLS_RECEIVED, 3600),
            "dead_letters_last_hour": await since(topics.DEADLETTER, 3600),
        }
    finally:
        await consumer.stop()
        await admin.close()


def queues(metrics_url: str, top: int, timeout: float, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The deepest and the most overdue queues (metrics read API, with ``headers``' read key)."""
    try:
        response = httpx.get(metrics_url + "/v1/queues", headers=headers, timeout=timeout)
        response.raise_for_status()
        rows = response.json()["queues"]
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        return {"error": f"metrics read API: {type(exc).__name__}", "deepest": [], "most_overdue": []}

    def brief(row: dict[str, Any]) -> dict[str, Any]:
        return {k: row.get(k) for k in ("queue_id", "unit_name", "depth", "overdue")}

    deepest = sorted((r for r in rows if r["depth"] > 0), key=lambda r: -r["depth"])[:top]
    overdue = sorted((r for r in rows if r.get("overdue", 0) > 0), key=lambda r: -r["overdue"])[:top]
    return {"deepest": [brief(r) for r in deepest], "most_overdue": [brief(r) for r in overdue]}


def collect(
    bootstrap_servers: str,
    groups: Mapping[str, str],
    urls: dict[str, str],
    *,
    top: int,
    timeout: float,
    read_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    report: dict[str, Any] = {"services": health(urls, timeout)}
    try:
        report.update(asyncio.run(asyncio.wait_for(broker_figures(bootstrap_servers, groups, timeout), timeout * 4)))
    except Exception as exc:
        report["broker_error"] = f"{type(exc).__name__}: {exc}"
    report["queues"] = queues(urls["metrics-api"], top, timeout, read_headers)
    report["ready"] = all(s["ready"] for s in report["services"].values())
    return report


def render(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    services = Table(title="Hotline processes")
    for column in ("process", "ready", "status", "detail", "url"):
        services.add_column(column)
    for name, s in report["services"].items():
        mark = "[green]yes[/green]" if s["ready"] else "[red]no[/red]"
        services.add_row(name, mark, s["status"], str(s["detail"] or ""), s["url"])
    console.print(services)
    if "broker_error" in report:
        console.print(f"[red]broker: {report['broker_error']}[/red]")
    else:
        lag = Table(title="Consumer lag")
        for column in ("group", "messages behind", "worst partition"):
            lag.add_column(column)
        for entry in report["consumer_lag"].values():
            lag.add_row(entry["group"], str(entry["total"]), f"{entry['worst_partition']} ({entry['worst']})")
        console.print(lag)

        def shown(value: int | None) -> str:
            return "n/a" if value is None else str(value)

        console.print(
            f"Calls: {shown(report['calls_last_minute'])} in the last minute, {shown(report['calls_last_hour'])} "
            f"in the last hour.  Dead letters in the last hour: {shown(report['dead_letters_last_hour'])}"
        )
    for key, title in (("deepest", "Deepest queues"), ("most_overdue", "Most overdue queues")):
        table = Table(title=title)
        for column in ("queue", "unit", "open", "overdue"):
            table.add_column(column)
        for row in report["queues"][key]:
            table.add_row(row["queue_id"], row["unit_name"] or "", str(row["depth"]), str(row["overdue"]))
        console.print(table)
    if "error" in report["queues"]:
        console.print(f"[red]{report['queues']['error']}[/red]")


def run(args: argparse.Namespace) -> int:
    bootstrap_servers, urls = locate()
    platform = Platform.from_environment()
    read_headers = metrics_read_headers(platform.home)  # the key hotline up made
    groups = {name: platform.settings.kafka.group_id(name) for name in WORKERS}  # KAFKA_GROUP_PREFIX
    report = collect(bootstrap_servers, groups, urls, top=args.top, timeout=args.timeout, read_headers=read_headers)
    if args.json:
        json.dump(report, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        render(report)
    return 0 if report["ready"] else 1
