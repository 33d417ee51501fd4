"""docs/asyncapi.yaml: current with the contracts and valid by the AsyncAPI project's own JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hotline.asyncapi import ASYNCAPI_DOC, asyncapi_document, asyncapi_drifted, channel_id, render_asyncapi
from shared import topics
from shared.events import TOPIC_MODELS
from tests import factories

SPEC_SCHEMA = Path(__file__).resolve().parents[2] / "data" / "asyncapi" / "asyncapi-3.0.0.schema.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(yaml.safe_load(ASYNCAPI_DOC.read_text(encoding="utf-8")))


def test_the_committed_document_is_current() -> None:
    assert not asyncapi_drifted(), "run `hotline schemas --write`"
    assert ASYNCAPI_DOC.read_text(encoding="utf-8") == render_asyncapi(asyncapi_document())


def test_it_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    spec = json.loads(SPEC_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(spec)
    errors = sorted(jsonschema.Draft7Validator(spec).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:300]}" for e in errors[:10])


def test_a_broken_document_is_refused_by_the_spec_schema(document: dict[str, Any]) -> None:
    spec = json.loads(SPEC_SCHEMA.read_text(encoding="utf-8"))
    broken = {**document, "channels": {"callsReceivedV1": {"address": 42}}}
    assert list(jsonschema.Draft7Validator(spec).iter_errors(broken))


def test_every_topic_has_a_channel_a_message_a_key_and_a_send_operation(document: dict[str, Any]) -> None:
    assert {c["address"] for c in document["channels"].values()} == set(topics.ALL_TOPICS) == set(TOPIC_MODELS)
    for topic, model in TOPIC_MODELS.items():
        channel = document["channels"][channel_id(topic)]
        assert channel["bindings"]["kafka"]["topic"] == topic
        message = document["components"]["messages"][model.__name__]
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        assert any(op["channel"]["$ref"] == f"#/channels/{channel_id(topic)}" for op in document["operations"].values())
    assert "hotline deadletter replay" in document["channels"][channel_id(topics.DEADLETTER)]["description"]


def _payload_schema(document: dict[str, Any], message: str) -> dict[str, Any]:
    """A message's payload schema, its #/components/... references resolvable."""
    return {**document["components"]["messages"][message]["payload"], "components": document["components"]}


def test_the_payload_schemas_accept_real_events_and_refuse_broken_ones(document: dict[str, Any]) -> None:
    received = json.loads(factories.received().to_bytes())
    jsonschema.validate(received, _payload_schema(document, "CallReceived"))
    routed = json.loads(factories.routed().to_bytes())
    jsonschema.validate(routed, _payload_schema(document, "CallRouted"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**received, "call": {"body": 1}}, _payload_schema(document, "CallReceived"))
