"""每月一题 programme updates at intake: who may submit, what is checked, the event they become."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from hotline.cli import main as hotline_main
from services.intake.programme import (
    ProgrammeUpdateIn,
    event_id_for,
    may_update_programme,
    programme_event,
    update_problem,
)
from services.metrics.agent import split_programme_updates
from shared import topics
from shared.api_keys import CALLS_WRITE, CASES_ACT, PROGRAMME_WRITE, SUPERVISOR, KeyRecord, load_keys
from shared.events import ProgrammeItemKind, ProgrammeItemUpdated
from shared.programme import load_programme

PROGRAMME = load_programme()
NOW = datetime(2026, 4, 10, 2, tzinfo=UTC)


def key(*scopes: str) -> KeyRecord:
    return KeyRecord(name="office", salt="s", hash="h", scopes=scopes, created_at="")


def test_the_supervisor_and_programme_write_keys_may_update_but_unit_and_call_keys_may_not() -> None:
    assert may_update_programme(key(SUPERVISOR))
    assert may_update_programme(key(PROGRAMME_WRITE))
    assert not may_update_programme(key(CALLS_WRITE, CASES_ACT))


@pytest.mark.parametrize(
    ("problem_id", "item_list", "item_id", "status", "code"),
    [
        ("no-such-problem", "tasks", "t1", "done", 404),
        ("wage-arrears", "milestones", "t1", "done", 404),
        ("wage-arrears", "tasks", "t9", "done", 404),
        ("wage-arrears", "policies", "t1", "issued", 404),  # t1 is a task, not a policy
        ("wage-arrears", "tasks", "t1", "issued", 422),  # a policy's status
        ("wage-arrears", "policies", "p1", "in_progress", 422),  # a task's status
        ("wage-arrears", "tasks", "t1", "finished", 422),
    ],
)
def test_an_update_for_an_unknown_item_is_404_and_a_wrong_status_422(
    problem_id: str, item_list: str, item_id: str, status: str, code: int
) -> None:
    problem = update_problem(PROGRAMME, problem_id, item_list, item_id, status)

    assert problem is not None and problem[0] == code


@pytest.mark.parametrize(
    ("item_list", "item_id", "status"), [("tasks", "t2", "in_progress"), ("policies", "p1", "issued")]
)
def test_a_known_item_with_a_status_of_its_kind_fits(item_list: str, item_id: str, status: str) -> None:
    assert update_problem(PROGRAMME, "wage-arrears", item_list, item_id, status) is None


def test_an_idempotency_key_gives_the_same_event_id_per_item_and_key() -> None:
    first = event_id_for("wage-arrears", "tasks", "t1", "office", "req-1")

    assert event_id_for("wage-arrears", "tasks", "t1", "office", "req-1") == first
    assert event_id_for("wage-arrears", "tasks", "t2", "office", "req-1") != first
    assert event_id_for("wage-arrears", "tasks", "t1", "other-office", "req-1") != first
    assert event_id_for("wage-arrears", "tasks", "t1", "office", None) != event_id_for(
        "wage-arrears", "tasks", "t1", "office", None
    )


def test_an_update_becomes_an_event_keyed_by_its_problem() -> None:
    event_id = uuid.uuid4()
    event = programme_event(
        ProgrammeUpdateIn(status="issued", note="已印发"),
        problem_id="wage-arrears",
        item_list="policies",
        item_id="p2",
        key=key(PROGRAMME_WRITE),
        event_id=event_id,
        now=NOW,
    )

    assert (event.item_kind, event.item_id, event.status, event.note) == (
        ProgrammeItemKind.policy,
        "p2",
        "issued",
        "已印发",
    )
    assert (event.event_id, event.occurred_at, event.actor) == (event_id, NOW, "office")
    assert event.topic == topics.PROGRAMME_EVENTS
    assert event.key() == b"wage-arrears"


def test_the_contract_refuses_a_status_of_the_other_kind_of_item() -> None:
    with pytest.raises(ValidationError, match="task status is one of planned, in_progress, done"):
        ProgrammeItemUpdated(problem_id="wage-arrears", item_kind="task", item_id="t1", status="issued", actor="x")
    with pytest.raises(ValidationError):
        ProgrammeItemUpdated(problem_id="wage-arrears", item_kind="policy", item_id="p1", status="done", actor="x")


def test_the_metrics_worker_dead_letters_updates_that_name_no_item_of_the_programme() -> None:
    fits = ProgrammeItemUpdated(problem_id="wage-arrears", item_kind="task", item_id="t1", status="done", actor="x")
    unknown = fits.model_copy(update={"problem_id": "no-such-problem"})

    fitting, dead = split_programme_updates(PROGRAMME, [fits, unknown])

    assert fitting == [fits]
    assert [(d.service, d.source_topic, d.key) for d in dead] == [
        ("metrics", topics.PROGRAMME_EVENTS, "no-such-problem")
    ]
    assert "no problem 'no-such-problem'" in dead[0].reason


def test_hotline_keys_creates_a_programme_write_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"

    assert hotline_main(["keys", "--name", "programme-office", "--scope", PROGRAMME_WRITE, "--file", str(path)]) == 0

    [record] = load_keys(path)
    assert record.scopes == (PROGRAMME_WRITE,)
