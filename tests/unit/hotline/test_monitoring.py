"""deploy/'s Prometheus configuration, alert rules and Grafana dashboard agree with the series the code exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from services.common import observability

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
ALERTS = (
    "HotlineConsumerStalled",
    "HotlineConsumerLagGrowing",
    "HotlineDeadLettersRising",
    "HotlineOverdueRising",
    "HotlineIntake503s",
)
SERIES = re.compile(r"\b(?:hotline|faust|http)_[a-z_]+\b")
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "gauge": ("",),
    "summary": ("_count", "_sum"),
}


def _names(families: Any) -> set[str]:
    return {family.name + suffix for family in families for suffix in SUFFIXES.get(family.type, ("",))}


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Every series name a Hotline process can export: Hotline's, faust's sensors' and the HTTP instrumentator's."""
    from faust.sensors.prometheus import FaustMetrics

    faust_registry = CollectorRegistry()
    FaustMetrics.create(faust_registry, "faust")
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ok": "yes"}

    observability.instrument_http(app, "unit-monitoring")
    with TestClient(app) as client:
        client.get("/ping")
        scraped = client.get("/metrics").text
    return (
        _names(observability.REGISTRY.collect())
        | _names(faust_registry.collect())
        | _names(text_string_to_metric_families(scraped))
    )


def _check_expression(expr: str, exported: set[str], where: str) -> None:
    promql_parser.parse(expr)  # raises on a syntax error
    used = set(SERIES.findall(expr))
    assert used, f"{where}: no Hotline series in {expr!r}"
    assert used <= exported, f"{where}: unknown series {sorted(used - exported)}"


def test_every_alert_is_there_parses_and_reads_exported_series(exported: set[str]) -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert set(alerts) == set(ALERTS)
    operations = (DEPLOY.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    for name, rule in alerts.items():
        _check_expression(rule["expr"], exported, name)
        assert rule["labels"]["severity"] in {"page", "warn"}
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}"
        assert f"### {name}" in operations, f"docs/operations.md says nothing about {name}"


def test_every_dashboard_panel_queries_exported_series(exported: set[str]) -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "hotline.json").read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            _check_expression(target["expr"], exported, panel["title"])


def test_prometheus_scrapes_every_process_and_loads_the_rules() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    targets = {t for job in config["scrape_configs"] for c in job.get("static_configs", []) for t in c["targets"]}
    assert targets == {"intake:8000", "metrics-api:8001", "console:8002"}
    workers = [c for job in config["scrape_configs"] for c in job.get("dns_sd_configs", [])]
    assert {name for c in workers for name in c["names"]} == {"classifier", "router", "metrics"}
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    for worker in ("classifier", "router", "metrics"):
        environment = compose[worker]["environment"]
        assert str(environment[f"HOTLINE_{worker.upper()}_WEB_PORT"]) == str(workers[0]["port"])
        assert "/readyz" in " ".join(compose[worker]["healthcheck"]["test"])
    mounts = " ".join(compose["prometheus"]["volumes"] + compose["grafana"]["volumes"])
    for path in ("prometheus/prometheus.yml", "prometheus/alerts.yml", "grafana/provisioning", "grafana/dashboards"):
        assert f"./{path}:" in mounts and (DEPLOY / path).exists(), path


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (`make promtool`: Debian's prometheus package)")
def test_promtool_accepts_the_configuration_and_each_alert_fires_on_its_condition(tmp_path: Path) -> None:
    """Prometheus's own checker on the configuration and the rules, and the rules' unit tests
    (``deploy/prometheus/alerts_test.yml``: each alert fires on the condition it names, and not otherwise)."""
    assert PROMTOOL is not None
    rules = tmp_path / "alerts.yml"
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", rules)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        (DEPLOY / "prometheus" / "prometheus.yml")
        .read_text(encoding="utf-8")
        .replace("/etc/prometheus/alerts.yml", str(rules)),
        encoding="utf-8",
    )
    for command in (
        ["check", "config", str(config)],
        ["check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
        ["test", "rules", str(DEPLOY / "prometheus" / "alerts_test.yml")],
    ):
        done = subprocess.run([PROMTOOL, *command], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"promtool {' '.join(command)}:\n{done.stdout}{done.stderr}"
