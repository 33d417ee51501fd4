"""The classifier worker as a process: received calls on the bus come back classified, poison is dead-lettered."""

from __future__ import annotations

import json
import uuid

import pytest

from shared import topics
from shared.events import CallClassified, DeadLetter, derived_event_id, utc_now
from tests import factories
from tests.helpers import produce, read_topic, run_service

pytestmark = pytest.mark.integration


async def test_the_worker_classifies_a_received_call_and_dead_letters_poison(worker_env, servers, tmp_path) -> None:
    run = uuid.uuid4().hex[:10]
    received = factories.received(
        factories.call(
            f"classifier-it-{run}",
            subject="工地拖欠工资",
            body="我在工地干了半年，老板拖欠我们三个月工资一直不发，请帮我们讨薪",
            received_at=utc_now(),
        )
    )
    poison_key = f"classifier-poison-{run}".encode()
    invalid_key = f"classifier-invalid-{run}".encode()
    invalid = json.dumps({"event_type": "call.received", "call_id": str(uuid.uuid4()), "call": {"body": 1}}).encode()
    log_path = tmp_path / "classifier.log"

    with run_service("services.classifier", worker_env, log_path) as proc:
        await produce(
            servers.bootstrap_servers,
            topics.CALLS_RECEIVED,
            [(received.key(), received.to_bytes()), (poison_key, b"not json"), (invalid_key, invalid)],
        )

        def is_our_call(value: bytes) -> bool:
            return json.loads(value).get("call_id") == str(received.call_id)

        classified_values = await read_topic(
            servers.bootstrap_servers, topics.CALLS_CLASSIFIED, lambda kept: bool(kept), keep=is_our_call, timeout=90
        )
        assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
        assert len(classified_values) == 1, log_path.read_text(errors="replace")[-3000:]
        classified = CallClassified.model_validate_json(classified_values[0])
        assert classified.call == received.call
        assert classified.event_id == derived_event_id(received.event_id, "classified")
        assert classified.classification.category == "劳动和社会保障"
        assert classified.classification.issue == "wage-arrears"
        assert classified.classification.model_version.startswith("tfidf-linear-")

        our_keys = {poison_key.decode(), invalid_key.decode()}

        def is_our_dead_letter(value: bytes) -> bool:
            return json.loads(value).get("key") in our_keys

        dead = await read_topic(
            servers.bootstrap_servers,
            topics.DEADLETTER,
            lambda kept: len(kept) >= 2,
            keep=is_our_dead_letter,
            timeout=60,
        )
        letters = {letter.key: letter for letter in map(DeadLetter.model_validate_json, dead)}
        assert set(letters) == our_keys
        for letter in letters.values():
            assert letter.service == "classifier"
            assert letter.source_topic == topics.CALLS_RECEIVED
        assert "invalid CallReceived" in letters[poison_key.decode()].reason
        assert "invalid CallReceived" in letters[invalid_key.decode()].reason
        assert "call.body" in letters[invalid_key.decode()].reason
        assert proc.poll() is None
