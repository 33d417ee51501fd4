"""The committed topic schemas and settings table match the contracts, and real events validate against them."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import jsonschema
import pytest
from pydantic import BaseModel

from hotline import schemas
from shared import topics
from shared.events import (
    TOPIC_MODELS,
    Assignment,
    CallClassified,
    CallReceived,
    CallRouted,
    CaseEvent,
    CaseEventKind,
    CaseOverdue,
    Contact,
    DeadLetter,
    DeadlineKind,
    HotSpotAlert,
    Location,
    ProgrammeItemUpdated,
    UnitKind,
)
from shared.settings import KafkaSettings, MongoSettings, ServiceSettings
from tests import factories

REPO = Path(__file__).resolve().parents[3]
TOPICS_DOC = REPO / "docs" / "topics.md"


def _received() -> CallReceived:
    return factories.received(
        factories.call(
            "T-0001",
            subject="小区门口路灯不亮",
            body="小区南门外的路灯已经坏了一周，晚上出行不安全，请尽快修理。",
            location=Location(address="西红门镇宏福路", district="大兴区", street="西红门镇", lat=39.79, lon=116.33),
            contact=Contact(hash="a" * 64, masked="138****5678"),
            received_at=datetime(2025, 5, 6, 9, 30, tzinfo=UTC),
        )
    )


def _classified() -> CallClassified:
    decision = factories.classification(
        "城乡建设",
        subcategory="市政设施",
        item="路灯",
        confidence=0.91,
        model_version="2025.05.1",
        explanation=["路灯", "不亮"],
    )
    return CallClassified.from_received(_received(), decision)


def _routed() -> CallRouted:
    assignment = Assignment(
        queue_id="street:大兴区/西红门镇",
        unit_kind=UnitKind.street,
        unit_name="西红门镇人民政府",
        district="大兴区",
        street="西红门镇",
        cooperating_units=["department:区城市管理委员会"],
        rule_id="catalogue-0042",
        catalogue_version="2025-05",
        reason="市政设施/路灯 按派单目录直派属地街乡镇",
        priority=3,
        response_due_at=datetime(2025, 5, 6, 11, 30, tzinfo=UTC),
        resolution_due_at=datetime(2025, 5, 13, 9, 30, tzinfo=UTC),
    )
    return CallRouted.from_classified(_classified(), assignment)


def _case_event() -> CaseEvent:
    return factories.case_step(
        _received(),
        CaseEventKind.whistle,
        actor="daxing-xihongmen-operator",
        actor_queue="street:大兴区/西红门镇",
        note="需要区城管委和供电公司共同到场处置",
        departments=["department:市城市管理委员会"],
    )


def _overdue() -> CaseOverdue:
    return CaseOverdue(
        call_id=_received().call_id,
        deadline=DeadlineKind.response,
        due_at=datetime(2025, 5, 6, 11, 30, tzinfo=UTC),
        queue_id="department:市人力资源和社会保障局劳动保障监察总队",
        unit_name="市人力资源和社会保障局劳动保障监察总队",
    )


def _hot_spot() -> HotSpotAlert:
    return HotSpotAlert(
        call_id=_received().call_id,
        area="大兴区/西红门镇",
        problem="wage-arrears",
        window="day",
        day="2025-05-06",
        count=14,
        baseline=2.5,
        ratio=5.6,
        thresholds={"min_count": 5, "ratio": 3.0, "baseline_days": 28},
    )


def _dead_letter() -> DeadLetter:
    return DeadLetter(
        service="classifier",
        source_topic=topics.CALLS_RECEIVED,
        partition=2,
        offset=1041,
        key=str(uuid.uuid4()),
        reason="invalid CallReceived: call.body: Field required",
        original_b64="eyJub3QiOiAiYSBjYWxsIn0=",
    )


def _programme_update() -> ProgrammeItemUpdated:
    return factories.programme_update("in_progress", note="在建工程欠薪隐患排查已覆盖六个区", actor="programme-office")


EXAMPLES: dict[str, BaseModel] = {
    topics.CALLS_RECEIVED: _received(),
    topics.CALLS_CLASSIFIED: _classified(),
    topics.CALLS_ROUTED: _routed(),
    topics.CASES_EVENTS: _case_event(),
    topics.CASES_OVERDUE: _overdue(),
    topics.ALERTS: _hot_spot(),
    topics.DEADLETTER: _dead_letter(),
    topics.PROGRAMME_EVENTS: _programme_update(),
}


def _written_schema(topic: str) -> dict[str, Any]:
    return json.loads((schemas.SCHEMA_DIR / f"{topic}{schemas.SCHEMA_SUFFIX}").read_text(encoding="utf-8"))


def _validator(topic: str) -> jsonschema.protocols.Validator:
    schema = _written_schema(topic)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def test_committed_topic_schemas_match_the_event_models() -> None:
    assert schemas.drifted_schemas() == [], "run `hotline schemas --write` and commit docs/topics/"


def test_committed_settings_table_matches_the_settings_models() -> None:
    assert not schemas.configuration_drifted(), "run `hotline schemas --write` and commit docs/configuration.md"


def test_drift_is_reported_for_a_changed_a_missing_and_a_stale_schema(tmp_path: Path) -> None:
    schemas.write_schemas(tmp_path)
    assert schemas.drifted_schemas(tmp_path) == []
    changed = tmp_path / f"{topics.CALLS_ROUTED}{schemas.SCHEMA_SUFFIX}"
    changed.write_text(changed.read_text(encoding="utf-8").replace('"priority"', '"urgency"'), encoding="utf-8")
    (tmp_path / f"{topics.DEADLETTER}{schemas.SCHEMA_SUFFIX}").unlink()
    (tmp_path / f"hotline.calls.retired.v0{schemas.SCHEMA_SUFFIX}").write_text("{}\n", encoding="utf-8")
    assert sorted(schemas.drifted_schemas(tmp_path)) == sorted(
        [
            changed.name,
            f"{topics.DEADLETTER}{schemas.SCHEMA_SUFFIX}",
            f"hotline.calls.retired.v0{schemas.SCHEMA_SUFFIX}",
        ]
    )
    schemas.write_schemas(tmp_path)
    assert schemas.drifted_schemas(tmp_path) == []


def test_every_topic_has_a_model_an_example_and_a_schema_named_after_it() -> None:
    assert set(TOPIC_MODELS) == set(topics.ALL_TOPICS) == set(EXAMPLES)
    for topic in topics.ALL_TOPICS:
        schema = _written_schema(topic)
        assert schema["$id"] == f"urn:hotline:topic:{topic}"
        assert topic in schema["title"]
        assert "UTF-8" in schema["x-kafka-key"]["description"]


@pytest.mark.parametrize("topic", topics.ALL_TOPICS)
def test_an_example_event_validates_against_its_written_schema(topic: str) -> None:
    event = EXAMPLES[topic]
    assert isinstance(event, TOPIC_MODELS[topic])
    _validator(topic).validate(json.loads(event.model_dump_json()))


@pytest.mark.parametrize("topic", [topics.CALLS_RECEIVED, topics.CALLS_ROUTED, topics.CASES_EVENTS])
def test_a_message_missing_its_call_id_or_with_an_unknown_field_is_rejected_by_the_schema(topic: str) -> None:
    validator = _validator(topic)
    message = json.loads(EXAMPLES[topic].model_dump_json())
    without_id = {k: v for k, v in message.items() if k != "call_id"}
    assert not validator.is_valid(without_id)
    assert not validator.is_valid({**message, "surprise": 1})
    assert not validator.is_valid({**message, "call_id": "not-a-uuid"})


def _documented_examples() -> list[tuple[str, dict[str, Any]]]:
    text = TOPICS_DOC.read_text(encoding="utf-8")
    pattern = re.compile(r"<!-- example: (\S+) -->\s*```json\n(.*?)```", re.DOTALL)
    return [(topic, json.loads(body)) for topic, body in pattern.findall(text)]


def test_the_topics_doc_shows_a_valid_example_message_for_every_topic() -> None:
    documented = _documented_examples()
    assert {topic for topic, _ in documented} == set(topics.ALL_TOPICS)
    for topic, message in documented:
        _validator(topic).validate(message)
        TOPIC_MODELS[topic].model_validate(message)


def _value_for(setting: schemas.EnvSetting) -> tuple[str, object] | None:
    """A valid value different from the default, as the environment string and as parsed; None if unsure."""
    annotation, default = setting.info.annotation, setting.info.get_default()
    if annotation is bool:
        return ("false", False) if default else ("true", True)
    if annotation is int or annotation is float:
        changed = default * 2 if default else 1
        bounds: list[float] = [m.le for m in setting.info.metadata if getattr(m, "le", None) is not None]
        if bounds and changed > min(bounds):  # e.g. a probability: halve it instead
            changed = default / 2
        return str(changed), changed
    if annotation in (Path, Path | None):
        return "/srv/hotline/test-value", Path("/srv/hotline/test-value")
    if annotation in (str, str | None):
        return "test-value", "test-value"
    if get_origin(annotation) is Literal:  # a choice: another one than the default
        other = next(choice for choice in get_args(annotation) if choice != default)
        return str(other), other
    return None


def _setting_value(setting: schemas.EnvSetting) -> object:
    """The value the model that documents ``setting`` reads (the processes read it through their own class:
    see the test of the platform-wide variables below)."""
    return getattr(setting.model(), setting.field)


def test_every_documented_environment_variable_is_read_by_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    documented = schemas.env_settings()
    assert {"KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI", "HOTLINE_INTAKE_API_KEYS_FILE", "HOTLINE_CONTACT_SALT"} <= {
        s.name for s in documented
    }
    for setting in documented:
        example = _value_for(setting)
        if example is None:  # a type this test cannot invent a value for: the name must still be accepted
            assert setting.field in setting.model.model_fields
            continue
        raw, expected = example
        monkeypatch.setenv(setting.name, raw)
        assert _setting_value(setting) == expected, setting.name
        monkeypatch.delenv(setting.name)


def test_every_process_reads_the_platform_wide_variables_through_its_own_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    processes = schemas.process_settings()
    assert {"intake", "classifier", "router", "console"} <= set(processes)
    groups = {ServiceSettings: None, KafkaSettings: "kafka", MongoSettings: "mongodb"}
    platform_wide = [s for s in schemas.env_settings() if s.model in groups]
    assert {"HOTLINE_HOME", "HOTLINE_PROGRAMME_PATH", "KAFKA_BOOTSTRAP_SERVERS", "MONGODB_DATABASE"} <= {
        s.name for s in platform_wide
    }
    for setting in platform_wide:
        example = _value_for(setting)
        assert example is not None, setting.name
        raw, expected = example
        monkeypatch.setenv(setting.name, raw)
        for name, model in processes.items():
            group = groups[setting.model]
            read = model() if group is None else getattr(model(), group)
            assert getattr(read, setting.field) == expected, f"{name}: {setting.name}"
        monkeypatch.delenv(setting.name)


def test_the_processes_table_names_each_process_class_and_its_one_prefix() -> None:
    table = schemas.processes_table()
    for name, model in schemas.process_settings().items():
        prefix = str(model.model_config["env_prefix"])
        assert prefix == f"HOTLINE_{name.upper()}_"
        assert f"| {name} | `{model.__name__}` (`services/{name}/settings.py`) | `{prefix}` |" in table


def test_the_check_command_fails_until_write_has_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hotline.cli import main

    configuration = tmp_path / "configuration.md"
    configuration.write_text(f"# Configuration\n\n{schemas.TABLE_BEGIN}\n{schemas.TABLE_END}\n", encoding="utf-8")
    location = ["--dir", str(tmp_path / "topics"), "--configuration", str(configuration)]
    assert main(["schemas", "--check", *location]) == 1
    assert f"{topics.CALLS_RECEIVED}{schemas.SCHEMA_SUFFIX}" in capsys.readouterr().err
    assert main(["schemas", "--write", *location]) == 0
    assert main(["schemas", "--check", *location]) == 0
    assert "| `MONGODB_URI` |" in configuration.read_text(encoding="utf-8")
