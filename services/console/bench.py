"""Sign-in under load: ``python -m services.console.bench [--seconds 5] [--clients 50]``.

Starts a console process on a free port with one user (lockout and throttle lifted, so every attempt is
hashed), then prints: the time a wrong password takes for a known and for an unknown user name (medians of
sequential attempts: they must match, or names can be told apart), and ``/healthz`` latency alone and
during a flood of wrong sign-ins from ``--clients`` concurrent clients (scrypt runs in worker threads, so
the event loop keeps answering). Wall-clock figures: compare them on a quiet machine.

The sign-in counts are kept in MongoDB: the console uses the database ``MONGODB_URI`` names (e.g. the one
``hotline up`` started), in a throw-away database of the run's own, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from services.common.mongo import mongo_client
from services.console.settings import ConsoleSettings
from services.console.users import add_user
from shared.settings import MongoSettings, settings_env


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _healthz_latencies(client: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        await client.get("/healthz")
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)
    return latencies


async def _flood(client: httpx.AsyncClient, stop: asyncio.Event, worker: int) -> int:
    sent = 0
    while not stop.is_set():
        await client.post("/login", data={"user": f"nobody-{worker}-{sent}", "password": "wrong-password"})
        sent += 1
    return sent


async def _measure(url: str, seconds: float, clients: int) -> None:
    headers = {"Origin": url}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        for name in ("bench-user", "no-such-user"):  # warm up
            await client.post("/login", data={"user": name, "password": "wrong-password"})
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        for _ in range(15):
            for label, name in (("known", "bench-user"), ("unknown", "no-such-user")):
                started = time.perf_counter()
                response = await client.post("/login", data={"user": name, "password": "wrong-password"})
                timings[label].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 401, response.status_code
        for label, values in timings.items():
            print(f"wrong password, {label:7s} user name: median {statistics.median(values):6.1f} ms")

        stop = asyncio.Event()
        probe = asyncio.create_task(_healthz_latencies(client, stop))
        await asyncio.sleep(seconds)
        stop.set()
        alone = await probe
        stop = asyncio.Event()
        probe = asyncio.create_task(_healthz_latencies(client, stop))
        flooders = [asyncio.create_task(_flood(client, stop, i)) for i in range(clients)]
        await asyncio.sleep(seconds)
        stop.set()
        during = await probe
        attempts = sum(await asyncio.gather(*flooders))
        for label, values in (("alone", alone), (f"during {clients}-client flood", during)):
            ordered = sorted(values)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            print(
                f"/healthz {label:24s}: median {statistics.median(values):6.1f} ms, p99 {p99:6.1f} ms, "
                f"max {ordered[-1]:6.1f} ms ({len(values)} probes)"
            )
        print(f"sign-in attempts judged during the flood: {attempts / seconds:.1f}/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.console.bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        users = home / "users.json"
        add_user(
            users,
            name="bench-user",
            role="supervisor",
            queue=None,
            password="correct-horse-battery",
            api_key_name="bench",
            api_key="hl_bench",
        )
        port = _free_port()
        mongodb = MongoSettings(database=f"console_bench_{os.getpid()}")
        env = {
            **os.environ,
            **settings_env(
                ConsoleSettings,
                port=port,
                users_file=users,
                revoked_sessions_file=home / "revoked.json",
                session_secret="b" * 40,
                login_max_failures=10**9,
                login_attempts_per_minute=10**9,
            ),
            **settings_env(MongoSettings, uri=mongodb.uri, database=mongodb.database),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.console"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            asyncio.run(_measure(url, args.seconds, args.clients))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            asyncio.run(_drop(mongodb))
    return 0


async def _drop(mongodb: MongoSettings) -> None:
    client = mongo_client(mongodb, fail_fast=True)
    try:
        await client.drop_database(mongodb.database)
    finally:
        await client.close()


if __name__ == "__main__":
    sys.exit(main())
