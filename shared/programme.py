"""The 每月一题 programme as data: problems, tasks and policies from YAML, with their versioned status updates.

Pure (no I/O but reading the YAML): intake checks updates with it before publishing them, metrics before
storing them. How far the programme has come (the stored statuses) is metrics': ``services/metrics/programme.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.events import PROGRAMME_ITEM_STATUSES, ProgrammeItemKind, ProgrammeItemUpdated
from shared.reference import read_yaml

DEFAULT_PATH = Path(__file__).parent / "data" / "programme.yaml"
TASK_STATUSES = PROGRAMME_ITEM_STATUSES[ProgrammeItemKind.task]
POLICY_STATUSES = PROGRAMME_ITEM_STATUSES[ProgrammeItemKind.policy]
ITEM_KINDS = {"tasks": TASK_STATUSES, "policies": POLICY_STATUSES}
# The list of a problem's plan that holds each kind of item (as in the YAML and the read API).
LIST_OF_KIND: dict[ProgrammeItemKind, str] = {ProgrammeItemKind.task: "tasks", ProgrammeItemKind.policy: "policies"}
KIND_OF_LIST: dict[str, ProgrammeItemKind] = {name: kind for kind, name in LIST_OF_KIND.items()}


class ProgrammeError(ValueError):
    """The programme file or an update does not fit the programme."""


class UnknownProgrammeItem(ProgrammeError):
    """An update names a problem, a kind of item or an item the programme does not have."""


@lru_cache(maxsize=4)
def load_programme(path: Path | None = None) -> dict[str, Any]:
    """The programme document (validated): ``problems`` with ids, names, units, month, tasks and policies."""
    document = read_yaml((path or DEFAULT_PATH).read_text(encoding="utf-8"))
    seen: set[str] = set()
    for problem in document.get("problems", ()):
        for key in ("id", "name", "category", "lead_unit", "month", "tasks", "policies"):
            if key not in problem:
                raise ProgrammeError(f"problem {problem.get('id', '?')} lacks {key!r}")
        if problem["id"] in seen:
            raise ProgrammeError(f"problem {problem['id']} is defined twice")
        seen.add(problem["id"])
        for kind, statuses in ITEM_KINDS.items():
            for item in problem[kind]:
                if item.get("status", "planned") not in statuses:
                    raise ProgrammeError(
                        f"{problem['id']} {kind} {item.get('id')}: unknown status {item.get('status')}"
                    )
    return document


def check_update(programme: Mapping[str, Any], problem_id: str, kind: str, item_id: str, status: str) -> None:
    """Raise ``UnknownProgrammeItem`` unless the problem and item exist, ``ProgrammeError`` for a wrong status."""
    if kind not in ITEM_KINDS:
        raise UnknownProgrammeItem(f"unknown item kind {kind!r}: tasks or policies")
    problem = next((p for p in programme["problems"] if p["id"] == problem_id), None)
    if problem is None:
        raise UnknownProgrammeItem(f"no problem {problem_id!r} in the programme")
    if not any(item["id"] == item_id for item in problem[kind]):
        raise UnknownProgrammeItem(f"problem {problem_id} has no {kind[:-1]} {item_id!r}")
    if status not in ITEM_KINDS[kind]:
        raise ProgrammeError(f"unknown {kind} status {status!r}: one of {', '.join(ITEM_KINDS[kind])}")


def check_event(programme: Mapping[str, Any], event: ProgrammeItemUpdated) -> None:
    """Raise ``ProgrammeError`` unless the event's problem and item exist and its status fits the item."""
    check_update(programme, event.problem_id, LIST_OF_KIND[event.item_kind], event.item_id, event.status)
