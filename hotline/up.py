"""``hotline up``: run the whole platform in the foreground until Ctrl-C (what ``make run`` calls)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from hotline.platform import Platform, ensure_demo_supervisor, ensure_dev_key, replicas_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every service to be ready")
    parser.add_argument(
        "--replicas",
        type=replicas_argument,
        default={},
        help="instances of the faust workers in their consumer groups, e.g. classifier=2,router=2,metrics=2",
    )


def run(args: argparse.Namespace) -> int:
    platform = Platform.from_environment()
    platform.replicas = args.replicas
    platform.home.mkdir(parents=True, exist_ok=True)
    stopping = False

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        api_key = ensure_dev_key(platform)
        supervisor = ensure_demo_supervisor(platform)
        print(
            "Starting Hotline (waiting for every worker to join its group and a probe call to go through) ...",
            flush=True,
        )
        platform.start(timeout=args.timeout)
        print(_banner(platform, api_key, supervisor), flush=True)
        while not stopping:
            for name in platform.restart_dead():
                print(f"! {name} exited; restarted it (log: {platform.services[name].log_path})", flush=True)
            time.sleep(0.5)
        return 0
    except RuntimeError as exc:
        print(f"hotline up: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("Stopping Hotline ...", flush=True)
        platform.stop()
        print("Stopped.", flush=True)


def _banner(platform: Platform, api_key: str, supervisor: tuple[str, str] | None = None) -> str:
    kafka = f"embedded Tansu at {platform.bootstrap_servers}" if platform.embedded_kafka else platform.bootstrap_servers
    mongo = (
        f"embedded SecantusDB at {platform.mongodb_uri} (data in {platform.home / 'db'})"
        if platform.embedded_mongodb
        else platform.mongodb_uri
    )
    probe = platform.probe_result
    proof = f" A probe call went end to end in {probe.stored_after_s:.1f}s." if probe else ""
    return f"""
Hotline is running (接诉即办).{proof}
  Console (live queues):  {platform.console_url}/
  Console sign-in:        {supervisor[0] if supervisor else "-"} / {supervisor[1] if supervisor else "-"}   (add users: python -m services.console.users add)
  Intake API:             {platform.intake_url}   (OpenAPI: {platform.intake_url}/docs)
  Metrics read API:       {platform.metrics_url}/docs   (X-API-Key: a read key, e.g. hotline keys --name me --read-all)
  Development API key:    {api_key}
  Kafka:                  {kafka}
  MongoDB:                {mongo}
  Logs:                   {platform.home / "logs"}
  Prometheus /metrics:    {", ".join(f"{name} {url}" for name, url in platform.metrics_endpoints.items())}

Try it:
  curl -s -X POST {platform.intake_url}/v1/calls -H 'X-API-Key: {api_key}' -H 'Content-Type: application/json' \\
    -d '{{"channel":"phone","source_system":"demo","external_id":"demo-1","subject":"拖欠工资","body":"大兴区西红门镇工地拖欠农民工工资三个月","location":{{"address":"大兴区西红门镇"}}}}'

Press Ctrl-C to stop everything.
"""
