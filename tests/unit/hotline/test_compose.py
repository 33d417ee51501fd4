"""deploy/docker-compose.yml and deploy/Dockerfile are consistent with the code (no Docker engine needed)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline import schemas
from hotline.cli import COMMANDS

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
HOTLINE_SERVICES = ("topics", "intake", "classifier", "router", "metrics", "metrics-api")
INFRASTRUCTURE = ("kafka", "mongodb")
SCALABLE_WORKERS = ("classifier", "router", "metrics")
# A subset of the Compose Specification's keys (compose-spec.json): a misspelt key is silently ignored by
# some Compose versions, so the file may only use these.
SERVICE_KEYS = {
    "build", "command", "container_name", "depends_on", "deploy", "entrypoint", "env_file", "environment",
    "expose", "healthcheck", "image", "labels", "logging", "networks", "ports", "profiles", "read_only",
    "restart", "secrets", "stop_grace_period", "user", "volumes", "working_dir",
}  # fmt: skip
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
TOP_LEVEL_KEYS = {"name", "services", "volumes", "networks", "secrets", "configs"}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _is_setting(env_name: str) -> bool:
    """Whether a Hotline process reads ``env_name``: a variable of the settings models, as documented."""
    return env_name in {setting.name for setting in schemas.env_settings()}


def _has_settings_prefix(name: str) -> bool:
    prefixes = {schemas.env_prefix(model) for model in schemas.settings_models()} | {schemas.PLATFORM_PREFIX}
    return name.startswith(tuple(prefix for prefix in prefixes if prefix))


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def _module_file(module: str) -> Path | None:
    """The file ``python -m module`` runs, if it exists in the repository."""
    base = REPO.joinpath(*module.split("."))
    if (base / "__main__.py").is_file():
        return base / "__main__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _command_module(command: list[str] | str) -> tuple[str, bool]:
    """The Python module a service command runs, and whether through the ``hotline`` command."""
    words = command.split() if isinstance(command, str) else list(command)
    if words[:2] == ["python", "-m"]:
        return words[2], False
    if words[0] == "hotline":
        return COMMANDS[words[1]][0], True
    raise AssertionError(f"unexpected command {words}")


def test_every_service_exists_with_an_image_or_a_build(services: dict[str, dict[str, Any]]) -> None:
    for name in (*INFRASTRUCTURE, *HOTLINE_SERVICES):
        assert name in services, name
        assert services[name].get("image") or services[name].get("build"), name


def test_the_file_uses_only_compose_specification_keys(compose: dict[str, Any]) -> None:
    assert {k for k in compose if not k.startswith("x-")} <= TOP_LEVEL_KEYS
    for name, service in compose["services"].items():
        assert set(service) <= SERVICE_KEYS, f"{name}: {set(service) - SERVICE_KEYS}"
        assert set(service.get("healthcheck", {})) <= HEALTHCHECK_KEYS, name
        assert service.get("restart", "no") in ("no", "always", "on-failure", "unless-stopped"), name
        test = service.get("healthcheck", {}).get("test")
        assert test is None or test[0] in ("CMD", "CMD-SHELL"), name


def test_the_hotline_services_share_one_image_built_by_the_deploy_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    images = {services[name].get("image") for name in HOTLINE_SERVICES}
    builds = {repr(services[name].get("build")) for name in HOTLINE_SERVICES}
    assert len(images) == 1 and None not in images
    assert len(builds) == 1
    build = services["intake"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()


def test_kafka_runs_in_kraft_mode_with_a_valid_cluster_id(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = _environment(kafka)
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "broker" in env["KAFKA_PROCESS_ROLES"]
    assert "ZOOKEEPER" not in " ".join(env)
    cluster_id = env["CLUSTER_ID"]
    assert len(cluster_id) == 22 and len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_mongodb_is_a_replica_set_that_initiates_itself(services: dict[str, dict[str, Any]]) -> None:
    mongodb = services["mongodb"]
    assert mongodb["image"].startswith("mongo:8")
    command = " ".join(mongodb["command"]) if isinstance(mongodb["command"], list) else mongodb["command"]
    assert "--replSet rs0" in command
    check = " ".join(mongodb["healthcheck"]["test"])
    assert "rs.initiate(" in check and "rs0" in check and "isWritablePrimary" in check
    for name in HOTLINE_SERVICES:
        assert "replicaSet=rs0" in _environment(services[name])["MONGODB_URI"], name


def test_every_depends_on_target_exists_with_a_known_condition(services: dict[str, dict[str, Any]]) -> None:
    known = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, service in services.items():
        for target, condition in _depends_on(service).items():
            assert target in services, f"{name} depends on missing {target}"
            assert condition in known, f"{name}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} health, which has no check"


def test_services_start_after_healthy_servers_and_created_topics(services: dict[str, dict[str, Any]]) -> None:
    assert _depends_on(services["topics"]) == {"kafka": "service_healthy"}
    for name in ("intake", "classifier", "router", "metrics", "metrics-api"):
        assert _depends_on(services[name]) == {
            "kafka": "service_healthy",
            "mongodb": "service_healthy",
            "topics": "service_completed_successfully",
        }, name


def test_servers_and_http_services_have_healthchecks_on_readiness(services: dict[str, dict[str, Any]]) -> None:
    for name in ("kafka", "mongodb", "intake", "metrics-api"):
        assert services[name].get("healthcheck", {}).get("test"), name
    assert "http://127.0.0.1:8000/readyz" in " ".join(services["intake"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8001/readyz" in " ".join(services["metrics-api"]["healthcheck"]["test"])


def test_only_intake_and_the_console_publish_ports_monitoring_on_loopback(services: dict[str, dict[str, Any]]) -> None:
    assert any(str(p).endswith("8000:8000") for p in services["intake"]["ports"])
    assert any(str(p).endswith("8002:8002") for p in services["console"]["ports"])
    published = {name for name, service in services.items() if service.get("ports")}
    # Monitoring (no citizen's data; Grafana signs in) may listen on the host's loopback only.
    monitoring = {"prometheus", "grafana"}
    assert published - monitoring == {"intake", "console"}
    for name in published & monitoring:
        assert all(str(p).startswith("127.0.0.1:") for p in services[name]["ports"]), name
    assert _environment(services["intake"])["HOTLINE_INTAKE_HOST"] == "0.0.0.0"
    assert _environment(services["metrics-api"])["HOTLINE_METRICS_HOST"] == "0.0.0.0"  # on the compose network


def test_the_read_api_checks_keys_from_the_same_file_and_its_readers_have_keys(
    services: dict[str, dict[str, Any]],
) -> None:
    key_file = _environment(services["intake"])["HOTLINE_INTAKE_API_KEYS_FILE"]
    assert _environment(services["metrics-api"])["HOTLINE_METRICS_API_KEYS_FILE"] == key_file
    assert any(str(v).startswith("api-keys:") for v in services["metrics-api"]["volumes"])
    assert "HOTLINE_CONSOLE_METRICS_API_KEY" in _environment(services["console"])
    assert "HOTLINE_INTAKE_METRICS_API_KEY" in _environment(services["intake"])


def test_scalable_workers_publish_no_ports_and_have_no_fixed_container_name(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in SCALABLE_WORKERS:
        assert "ports" not in services[name] and "container_name" not in services[name], name


def test_every_hotline_environment_variable_is_a_real_setting(services: dict[str, dict[str, Any]]) -> None:
    assert _is_setting("KAFKA_BOOTSTRAP_SERVERS") and not _is_setting("KAFKA_BOOTSTRAP")
    assert _is_setting("HOTLINE_CONTACT_SALT") and not _is_setting("HOTLINE_KAFKA")
    for name in HOTLINE_SERVICES:
        for env_name in _environment(services[name]):
            assert _is_setting(env_name), f"{name}: {env_name} is not a field of shared.settings"


def test_every_interpolated_variable_with_a_settings_prefix_is_a_real_setting() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    interpolated = set(INTERPOLATION.findall(text))
    assert "HOTLINE_CONTACT_SALT" in interpolated
    for env_name in interpolated:
        if _has_settings_prefix(env_name):
            assert _is_setting(env_name), env_name


def test_the_contact_salt_comes_from_the_environment_and_has_no_default(services: dict[str, dict[str, Any]]) -> None:
    for name in HOTLINE_SERVICES:
        salt = _environment(services[name])["HOTLINE_CONTACT_SALT"]
        assert re.fullmatch(r"\$\{HOTLINE_CONTACT_SALT(:?\?[^}]*)?\}", salt), f"{name}: {salt}"


def test_the_api_key_file_is_on_a_mounted_volume(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    key_file = _environment(services["intake"])["HOTLINE_INTAKE_API_KEYS_FILE"]
    mounts = [str(v).split(":") for v in services["intake"]["volumes"]]
    assert any(
        key_file.startswith(target.rstrip("/") + "/") and source in compose["volumes"] for source, target in mounts
    )


def test_every_service_command_runs_a_module_that_exists(services: dict[str, dict[str, Any]]) -> None:
    missing = []
    for name in HOTLINE_SERVICES:
        module, via_hotline_command = _command_module(services[name]["command"])
        path = _module_file(module)
        if path is None:
            missing.append(f"{name}: {module}")
            continue
        source = path.read_text(encoding="utf-8")
        if via_hotline_command:
            assert "def add_arguments(" in source and "def run(" in source, f"{module} is not a hotline subcommand"
        elif path.name != "__main__.py":
            assert 'if __name__ == "__main__":' in source, f"{module} does not run as a script"
    assert not missing, f"modules not found: {missing}"


def test_the_dockerfile_builds_a_slim_non_root_image_without_the_embedded_servers() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert "pip install ." in dockerfile and "embedded" not in " ".join(i for i in instructions if "pip" in i)
    env_names = re.findall(r"\b([A-Z][A-Z0-9_]+)=", dockerfile)
    for env_name in env_names:
        if _has_settings_prefix(env_name):
            assert _is_setting(env_name), env_name
