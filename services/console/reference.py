"""Adapter: the reference lists the console's step forms offer, read once at start-up."""

from __future__ import annotations

import logging
from pathlib import Path

from shared.catalogue import DEFAULT_CATALOGUE_PATH, load_catalogue
from shared.reference import LEVEL1_CATEGORIES

log = logging.getLogger(__name__)


def catalogue_choices(catalogue_path: Path | None) -> tuple[list[str], list[str]]:
    """Department queue ids of the dispatch catalogue (whom a whistle may summon) and the level-1 categories
    (what a case may be reclassified as): the same lists intake checks steps against."""
    try:
        catalogue = load_catalogue(catalogue_path or DEFAULT_CATALOGUE_PATH)
        return sorted(catalogue.department_queues()), list(LEVEL1_CATEGORIES)
    except Exception as exc:  # the console still works; the forms then take free text
        log.warning("dispatch catalogue not readable, step forms take free text: %s", exc)
        return [], []
