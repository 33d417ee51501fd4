"""Adapter: the reference lists the console's pickers and filters offer, read once at start-up: the dispatch
catalogue's departments, the taxonomy (three levels), the gazetteer's districts and streets/towns."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from shared.catalogue import DEFAULT_CATALOGUE_PATH, load_catalogue
from shared.gazetteer import load_gazetteer
from shared.queues import MANUAL_CLASSIFICATION_QUEUE, MANUAL_DISPATCH_QUEUE, QueueId
from shared.reference import LEVEL1_CATEGORIES, load_taxonomy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unit:
    """A queue an operator can pick by name: its id and how it reads."""

    queue_id: str
    name: str


@dataclass(frozen=True)
class Choices:
    """What the pickers offer; a value outside these is refused before it reaches intake."""

    departments: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=lambda: list(LEVEL1_CATEGORIES))
    category_paths: list[str] = field(default_factory=list)
    districts: list[str] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)

    def unit_ids(self) -> set[str]:
        return {unit.queue_id for unit in self.units}


def taxonomy_paths() -> list[str]:
    """Every level of the taxonomy as a path: 城乡建设, 城乡建设/市政设施, 城乡建设/市政设施/路灯 …"""
    paths: list[str] = []
    for level1, level2s in load_taxonomy().items():
        paths.append(level1)
        for level2, level3s in level2s.items():
            paths.append(f"{level1}/{level2}")
            paths.extend(f"{level1}/{level2}/{level3}" for level3 in level3s)
    return paths


def catalogue_choices(catalogue_path: Path | None) -> Choices:
    """The departments of the dispatch catalogue (whom a whistle may summon), the taxonomy, the districts and
    every unit a supervisor may dispatch to: the same lists intake checks steps against."""
    districts = load_gazetteer().districts
    streets = [
        Unit(str(QueueId.for_street(district, street)), f"{street}（{district}）")
        for district, names in districts.items()
        for street in names
    ]
    areas = [Unit(str(QueueId.for_district(d)), QueueId.for_district(d).unit_name) for d in districts]
    manual = [Unit(MANUAL_DISPATCH_QUEUE, "人工派单"), Unit(MANUAL_CLASSIFICATION_QUEUE, "人工分拣")]
    try:
        departments = sorted(load_catalogue(catalogue_path or DEFAULT_CATALOGUE_PATH).department_queues())
    except Exception as exc:  # the console still works; whistles then take what intake accepts
        log.warning("dispatch catalogue not readable, the department pickers are empty: %s", exc)
        departments = []
    bodies = [Unit(q, QueueId.parse(q).unit_name) for q in departments]
    return Choices(
        departments=departments,
        category_paths=taxonomy_paths(),
        districts=list(districts),
        units=bodies + areas + streets + manual,
    )
