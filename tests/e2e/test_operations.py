"""End to end, what an operator relies on: readiness that tells the truth and Prometheus metrics on every process.

One platform (the six processes) against the session's servers. ``Platform.start`` returns only once every
HTTP service's and every worker's ``/readyz`` answered 200 and a probe call went through the pipeline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hotline.embedded import free_port
from hotline.platform import WORKERS, Platform, ensure_dev_key
from shared.settings import ServiceSettings
from tests import factories
from tests.conftest import Servers
from tests.e2e.conftest import platform_on_session_servers
from tests.helpers import REPO

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(
    servers: Servers, settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    home: Path = tmp_path_factory.mktemp("ops-e2e")
    running = platform_on_session_servers(servers, settings, home, "hotline_ops")
    try:
        running.start(timeout=150)
        yield running
    finally:
        running.stop()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page, by name and labels (parsed with prometheus_client's own parser)."""
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def test_start_returns_once_every_worker_joined_and_a_probe_went_end_to_end(platform: Platform) -> None:
    probe = platform.probe_result
    assert probe is not None, "start() returned without the probe"
    assert probe.stored_after_s >= probe.routed_after_s > 0
    for name in WORKERS:
        response = httpx.get(platform.worker_url(name) + "/readyz", timeout=5)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ready" and body["group"] == f"hotline-{name}"
        assert body["assigned_partitions"] > 0 and body["missing_topics"] == [] and body["rebalancing"] is False
    # the probe was consumed by the metrics worker but never stored: no case, nothing counted
    response = httpx.get(f"{platform.metrics_url}/v1/cases/{probe.call_id}", timeout=5)
    assert response.status_code == 404, response.text


def test_every_process_serves_metrics_that_move_after_a_call(platform: Platform) -> None:
    endpoints = platform.metrics_endpoints
    assert set(endpoints) == {"intake", "metrics-api", "console", "classifier", "router", "metrics"}
    before = {name: scrape(url) for name, url in endpoints.items()}
    key = ensure_dev_key(platform)
    external_id = uuid.uuid4().hex
    response = httpx.post(
        f"{platform.intake_url}/v1/calls",
        headers={"X-API-Key": key},
        json=factories.submission(
            external_id,
            source_system="ops-e2e",
            subject="拖欠工资",
            body="大兴区西红门镇工地拖欠农民工工资三个月",
            location={"address": "大兴区西红门镇"},
        ),
        timeout=10,
    )
    assert response.status_code == 202, response.text
    call_id = response.json()["call_id"]
    rejected = httpx.post(f"{platform.intake_url}/v1/calls", headers={"X-API-Key": key}, json={"body": 1}, timeout=10)
    assert rejected.status_code == 422
    deadline = time.monotonic() + 60
    while httpx.get(f"{platform.metrics_url}/v1/cases/{call_id}", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the call never reached the case store"
        time.sleep(0.3)
    httpx.get(f"{platform.console_url}/readyz", timeout=5)
    time.sleep(6)  # the workers refresh the consumer lag every 5 s
    after = {name: scrape(url) for name, url in endpoints.items()}

    def moved(name: str, series: str, **labels: str) -> float:
        return total(after[name], series, **labels) - total(before[name], series, **labels)

    assert moved("intake", "hotline_intake_calls_total", outcome="accepted", reason="accepted") == 1
    assert moved("intake", "hotline_intake_calls_total", outcome="rejected", reason="invalid") == 1
    assert moved("intake", "http_request_duration_seconds_count", handler="/v1/calls") >= 2
    assert moved("classifier", "hotline_events_processed_total", service="classifier") >= 1
    assert moved("classifier", "hotline_hop_latency_seconds_count", service="classifier") >= 1
    assert moved("classifier", "hotline_classifier_confidence_count") >= 1
    assert moved("classifier", "hotline_classifier_decisions_total") >= 1
    assert moved("router", "hotline_events_processed_total", service="router") >= 1
    assert moved("metrics", "hotline_events_processed_total", service="metrics") >= 1
    assert moved("metrics", "hotline_database_operation_seconds_count", service="metrics") >= 1
    assert moved("metrics-api", "hotline_database_operation_seconds_count", service="metrics-api") >= 1
    assert moved("console", "http_request_duration_seconds_count") >= 0  # the console's own requests
    for worker in WORKERS:
        lag = [labels for (name, labels) in after[worker] if name == "hotline_consumer_lag"]
        assert lag, f"{worker}: no consumer lag series"
        assert all(dict(labels)["group"] == f"hotline-{worker}" for labels in lag)
        assert total(after[worker], "faust_messages_received_total") > 0 or worker == "metrics"
    queues = [labels for (name, labels) in after["metrics-api"] if name == "hotline_queue_depth"]
    assert queues, "no queue depth series on the read API"


def test_every_process_logs_json_lines_with_its_service_when_not_on_a_terminal(platform: Platform) -> None:
    for name, service in platform.services.items():
        lines = service.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        assert lines, f"{name} logged nothing"
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"{name}: not a JSON line: {line[:200]}")
        assert all(r["service"] == name and r["level"] and r["time"] and "message" in r for r in records), name


def test_hotline_status_reports_the_running_platform(platform: Platform) -> None:
    env = {**os.environ, **platform.process_env()}
    env.pop("KAFKA_BOOTSTRAP_SERVERS")  # found through the running platform's state file, as after `hotline up`
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "status", "--json"], env=env, cwd=REPO, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = json.loads(done.stdout)
    assert report["ready"] is True
    assert set(report["services"]) == {"intake", "metrics-api", "console", "classifier", "router", "metrics"}
    assert all(s["ready"] for s in report["services"].values())
    assert "broker_error" not in report, report.get("broker_error")
    assert {entry["group"] for entry in report["consumer_lag"].values()} == {
        "hotline-classifier",
        "hotline-router",
        "hotline-metrics",
    }
    assert all(entry["total"] >= 0 for entry in report["consumer_lag"].values())
    assert report["calls_last_hour"] is None or report["calls_last_hour"] >= 1
    assert report["queues"]["deepest"], "the call posted above waits in a queue"
    table = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "status"], env=env, cwd=REPO, capture_output=True, timeout=120
    )
    assert table.returncode == 0 and b"Consumer lag" in table.stdout and b"Deepest queues" in table.stdout


def test_hotline_status_exits_1_when_nothing_answers(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOTLINE_HOME": str(tmp_path),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        **{f"HOTLINE_{name.upper()}_WEB_PORT": str(free_port()) for name in WORKERS},
        "HOTLINE_INTAKE_PORT": str(free_port()),
        "HOTLINE_METRICS_PORT": str(free_port()),
        "HOTLINE_CONSOLE_PORT": str(free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "status", "--json", "--timeout", "1"],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr.decode()[-2000:]
    report = json.loads(done.stdout)
    assert not report["ready"] and all(s["status"] == "down" for s in report["services"].values())
    assert "broker_error" in report
