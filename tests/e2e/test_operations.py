"""End to end, what an operator relies on: readiness that tells the truth and Prometheus metrics on every process.

One platform (the six processes) against the session's servers. ``Platform.start`` returns only once every
HTTP service's and every worker's ``/readyz`` answered 200 and a probe call went through the pipeline.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client.parser import text_string_to_metric_families

from hotline.embedded import free_port
from hotline.platform import WORKERS, Platform, ensure_dev_key, metrics_read_headers
from shared import topics
from shared.settings import ServiceSettings
from tests import factories
from tests.conftest import Servers
from tests.e2e.conftest import platform_on_session_servers
from tests.helpers import REPO, produce

pytestmark = pytest.mark.e2e


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: every span the processes export, decoded with opentelemetry-proto."""

    spans: list[dict[str, str]]


class _Receive(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        for resource in request.resource_spans:
            service = next(a.value.string_value for a in resource.resource.attributes if a.key == "service.name")
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: a.value.string_value for a in span.attributes}
                    self.server.spans.append(  # type: ignore[attr-defined]
                        {
                            "service": service,
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "key": attributes.get("messaging.kafka.message.key", ""),
                        }
                    )
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(ExportTraceServiceResponse().SerializeToString())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    server = Collector(("127.0.0.1", 0), _Receive)
    server.spans = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def platform(
    servers: Servers, settings: ServiceSettings, tmp_path_factory: pytest.TempPathFactory, collector: Collector
) -> Iterator[Platform]:
    home: Path = tmp_path_factory.mktemp("ops-e2e")
    running = platform_on_session_servers(servers, settings, home, "hotline_ops")
    tracing_on = {
        "HOTLINE_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}/v1/traces",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export every 0.2 s
    }
    saved = {name: os.environ.get(name) for name in tracing_on}
    os.environ.update(tracing_on)  # the processes inherit it
    try:
        running.start(timeout=150)
        yield running
    finally:
        running.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def post_call(platform: Platform, subject: str, body: str, address: str) -> str:
    """POST one call with the development key; its call_id once intake answered 202."""
    response = httpx.post(
        f"{platform.intake_url}/v1/calls",
        headers={"X-API-Key": ensure_dev_key(platform)},
        json=factories.submission(
            uuid.uuid4().hex, source_system="ops-e2e", subject=subject, body=body, location={"address": address}
        ),
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["call_id"])


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
    response = httpx.get(
        f"{platform.metrics_url}/v1/cases/{probe.call_id}", headers=metrics_read_headers(platform.home), timeout=5
    )
    assert response.status_code == 404, response.text


def test_every_process_serves_metrics_that_move_after_a_call(platform: Platform) -> None:
    endpoints = platform.metrics_endpoints
    assert set(endpoints) == {"intake", "metrics-api", "console", "classifier", "router", "metrics"}
    before = {name: scrape(url) for name, url in endpoints.items()}
    key = ensure_dev_key(platform)
    call_id = post_call(platform, "拖欠工资", "大兴区西红门镇工地拖欠农民工工资三个月", "大兴区西红门镇")
    rejected = httpx.post(f"{platform.intake_url}/v1/calls", headers={"X-API-Key": key}, json={"body": 1}, timeout=10)
    assert rejected.status_code == 422
    deadline = time.monotonic() + 60
    read = metrics_read_headers(platform.home)
    while httpx.get(f"{platform.metrics_url}/v1/cases/{call_id}", headers=read, timeout=5).status_code != 200:
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
    assert moved("classifier", "hotline_messages_published_total", topic="hotline.calls.classified.v1") >= 1
    assert moved("router", "hotline_messages_published_total", topic="hotline.calls.routed.v1") >= 1
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


def test_a_poison_message_is_a_dead_letter_counted_and_logged_as_json_with_its_call_agent_and_service(
    platform: Platform,
) -> None:
    """What the runbook's HotlineDeadLettersRising and `jq 'select(.call_id == ...)'` rely on, in a real worker."""
    call_id = str(uuid.uuid4())
    before = scrape(platform.metrics_endpoints["router"])
    asyncio.run(produce(platform.bootstrap_servers, topics.CALLS_CLASSIFIED, [(call_id.encode(), b"not json")]))
    log_path = platform.services["router"].log_path
    deadline = time.monotonic() + 60
    while True:
        lines = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines() if call_id in line]
        if lines:
            break
        assert time.monotonic() < deadline, "the router logged nothing about the poison message"
        time.sleep(0.3)
    [line] = lines
    assert line["service"] == "router" and line["level"] == "WARNING" and line["call_id"] == call_id
    assert line["agent"].startswith("router-") and "dead-lettered" in line["message"]
    after = scrape(platform.metrics_endpoints["router"])
    labels = {"service": "router", "kind": "invalid", "agent": line["agent"]}
    moved = total(after, "hotline_dead_letters_total", **labels) - total(before, "hotline_dead_letters_total", **labels)
    assert moved == 1


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
    # at least the probe call, found by the broker's offsets by timestamp (not n/a)
    assert report["calls_last_hour"] >= report["calls_last_minute"] >= 0 and report["calls_last_hour"] >= 1
    assert isinstance(report["dead_letters_last_hour"], int)
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


def test_one_calls_spans_are_linked_from_intake_through_every_agent_to_mongodb(
    platform: Platform, collector: Collector
) -> None:
    call_id = post_call(platform, "路灯不亮", "朝阳区朝阳门街道某小区门口路灯坏了一个星期", "朝阳区朝阳门街道")
    wanted = {"hotline-intake", "hotline-classifier", "hotline-router", "hotline-metrics"}
    deadline = time.monotonic() + 60
    while True:
        ours = [s for s in collector.spans if s["key"] == call_id]
        traces = {s["trace_id"] for s in ours}
        in_trace = [s for s in collector.spans if s["trace_id"] in traces]
        writes = [s for s in in_trace if s["service"] == "hotline-metrics" and s["name"].startswith("mongodb ")]
        if wanted <= {s["service"] for s in ours} and writes:
            break
        assert time.monotonic() < deadline, f"spans of {call_id}: {sorted((s['service'], s['name']) for s in in_trace)}"
        time.sleep(0.5)
    assert len(traces) == 1, "one call, one trace"
    by_id = {s["span_id"]: s for s in in_trace}

    def chain(span: dict[str, str]) -> list[str]:
        names = []
        while span:
            names.append(f"{span['service']}: {span['name']}")
            span = by_id.get(span["parent"], {})
        return names

    # the metrics worker's database write descends, hop by hop, from intake's request (FastAPI's own span)
    path = chain(writes[0])
    assert path[-1] == "hotline-intake: POST /v1/calls", path
    for hop in (
        "hotline-intake: send hotline.calls.received.v1",
        "hotline-classifier: process hotline.calls.received.v1",
        "hotline-router: process hotline.calls.classified.v1",
        "hotline-metrics: process hotline.calls.routed.v1",
    ):
        assert hop in path, path
