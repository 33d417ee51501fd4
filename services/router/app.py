"""The router's composition root: ``build_app(settings)`` loads the catalogue and the gazetteer, connects the
stored cases and wires them into the faust agents.

The settings are read once, by ``__main__``, and passed in; nothing below reads the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import faust

from services.common.mongo import LazyDatabase
from services.common.streaming import create_app
from services.router.agent import SERVICE, register_agents
from services.router.settings import RouterSettings
from shared.cases import CaseReadModel
from shared.catalogue import DEFAULT_CATALOGUE_PATH
from shared.catalogue_watch import CatalogueWatcher
from shared.gazetteer import load_gazetteer
from shared.settings import MongoSettings

log = logging.getLogger(__name__)


def build_app(settings: RouterSettings) -> faust.App:
    """The router worker: the dispatch catalogue (``HOTLINE_CATALOGUE_PATH`` or the shipped one, reloaded when
    the file changes), the gazetteer and the ``cases`` read model behind the agents."""
    watcher = CatalogueWatcher(
        settings.catalogue_path or DEFAULT_CATALOGUE_PATH, check_seconds=settings.catalogue_check_seconds
    )
    gazetteer = load_gazetteer()
    app = create_app(SERVICE, settings)
    register_agents(app, settings, watcher=watcher, gazetteer=gazetteer, cases=case_read_model(settings.mongodb))
    log.info(
        "catalogue %s (%d rules), gazetteer of %d streets/towns, max returns %d, duplicate window %.0f h",
        watcher.catalogue.version,
        len(watcher.catalogue.rules),
        gazetteer.street_count,
        settings.max_returns,
        settings.duplicate_window_hours,
    )
    return app


def case_read_model(mongodb: MongoSettings) -> Callable[[], CaseReadModel]:
    """The read model of the cases (written by metrics), its client created on the worker's event loop on first use."""
    database = LazyDatabase(mongodb, fail_fast=True)
    return lambda: CaseReadModel(database.database)
