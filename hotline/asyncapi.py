"""The AsyncAPI 3 document of every Hotline topic (``docs/asyncapi.yaml``), generated from the contracts.

One channel per topic (its address, partitions, the Kafka key), one message per topic with its payload
schema from ``shared.events`` (the same models as ``docs/topics/*.schema.json``, their shared definitions
in ``components.schemas``), and one ``send`` operation per topic naming the Hotline service that produces
it. ``hotline schemas --write`` writes it with the JSON Schemas; ``--check`` (and the unit tests) fail when
the committed file differs from the models. The tests validate it with the AsyncAPI project's own JSON
Schema of the 3.0.0 specification (``tests/data/asyncapi/``, from the npm package ``@asyncapi/specs``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from hotline.schemas import DEAD_LETTER_KEY_DESCRIPTION, KEY_DESCRIPTION, REPO
from shared import topics
from shared.events import PROBE_SOURCE_SYSTEM, TOPIC_MODELS

ASYNCAPI_DOC = REPO / "docs" / "asyncapi.yaml"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"

# Who writes each topic (the channel's description and its send operation).
PRODUCERS: dict[str, str] = {
    topics.CALLS_RECEIVED: "intake",
    topics.CALLS_CLASSIFIED: "classifier",
    topics.CALLS_ROUTED: "router",
    topics.CASES_EVENTS: "intake and router",
    topics.CASES_OVERDUE: "metrics",
    topics.ALERTS: "metrics",
    topics.DEADLETTER: "classifier, router and metrics",
    topics.PROGRAMME_EVENTS: "intake",
}


def channel_id(topic: str) -> str:
    """A topic's channel id (AsyncAPI ids may not hold dots): ``hotline.calls.received.v1`` -> ``callsReceivedV1``."""
    words = topic.removeprefix("hotline.").replace("-", ".").split(".")
    return words[0] + "".join(word.capitalize() for word in words[1:])


def _key_schema(model: type[BaseModel]) -> dict[str, Any]:
    keyed_by_call = "call_id" in model.model_fields
    own = getattr(model, "key_description", None)
    schema: dict[str, Any] = {
        "type": "string",
        "description": own or (KEY_DESCRIPTION if keyed_by_call else DEAD_LETTER_KEY_DESCRIPTION),
    }
    if keyed_by_call:
        schema["format"] = "uuid"
    return schema


def asyncapi_document(partitions: int = 6) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of every topic in ``TOPIC_MODELS``."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic, model in TOPIC_MODELS.items():
        payload = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(payload.pop("$defs", {}))
        name = model.__name__
        summary = (model.__doc__ or name).strip().splitlines()[0]
        messages[name] = {
            "name": name,
            "title": name,
            "summary": summary,
            "contentType": "application/json",
            "payload": payload,
            "headers": {
                "type": "object",
                "description": "W3C trace context of the span that produced the message, when tracing is on "
                "(docs/operations.md, 'Traces'). Never needed to process the message.",
                "properties": {header: {"type": "string"} for header in topics.TRACE_HEADERS},
            },
            "bindings": {"kafka": {"key": _key_schema(model), "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        ident = channel_id(topic)
        description = f"Written by {PRODUCERS[topic]}. {summary}"
        if topic == topics.DEADLETTER:
            description += (
                " A message a consumer could not parse or apply, with the reason and its original bytes: replay it "
                "after a fix with `hotline deadletter replay` (docs/operations.md)."
            )
        if "call_id" in model.model_fields and topic.startswith("hotline.calls."):
            description += f" Readiness probes (`call.source_system == {PROBE_SOURCE_SYSTEM!r}`) pass here: skip them."
        channels[ident] = {
            "address": topic,
            "title": topic,
            "description": description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": {"topic": topic, "partitions": partitions, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        operations[f"send{ident[0].upper()}{ident[1:]}"] = {
            "action": "send",
            "title": f"{PRODUCERS[topic]} writes {topic}",
            "channel": {"$ref": f"#/channels/{ident}"},
            "messages": [{"$ref": f"#/channels/{ident}/messages/{name}"}],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Hotline event topics",
            "version": "1.0.0",
            "description": "Every Kafka topic of Hotline (接诉即办), generated from the contracts in shared/events.py by "
            "`hotline schemas --write`. Messages are UTF-8 JSON keyed by call_id (dead letters: by the failed "
            "message's key). Delivery is at-least-once: deduplicate by event_id. How to subscribe: "
            "docs/asyncapi.md.",
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "servers": {
            "kafka": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "The Kafka bootstrap servers of your deployment (KAFKA_BOOTSTRAP_SERVERS).",
            }
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render_asyncapi(document: dict[str, Any]) -> str:
    """The committed text: YAML, keys in the document's order, Chinese kept readable."""
    header = "# Generated by `hotline schemas --write` from shared/events.py: do not edit by hand.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def asyncapi_drifted(path: Path = ASYNCAPI_DOC) -> bool:
    """Whether the committed AsyncAPI document differs from the models."""
    return not path.exists() or path.read_text(encoding="utf-8") != render_asyncapi(asyncapi_document())


def write_asyncapi(path: Path = ASYNCAPI_DOC) -> bool:
    """Write the document if it changed; whether it was written."""
    text = render_asyncapi(asyncapi_document())
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True
