"""Fixtures of the router's unit tests: the shipped catalogue and gazetteer, loaded once per module."""

from __future__ import annotations

import pytest

from shared.catalogue import Catalogue, load_catalogue
from shared.gazetteer import Gazetteer, load_gazetteer


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()
