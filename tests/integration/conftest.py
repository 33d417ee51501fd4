"""Fixtures the metrics read API's integration modules share: its settings and a client with a read key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.metrics.api import create_app
from services.metrics.settings import MetricsSettings
from shared.api_keys import READ_ALL, create_key


@pytest.fixture
def metrics_settings(tmp_path: Path) -> MetricsSettings:
    return MetricsSettings(api_keys_file=tmp_path / "api-keys.json")


@pytest.fixture
async def metrics_client(mongo_db: Any, metrics_settings: MetricsSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The read API over ASGI with a read:all key, as the console and Open311 read it."""
    key = create_key(metrics_settings.api_keys_file, "reader", (READ_ALL,))
    app = create_app(metrics_settings, database=mongo_db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics", headers={"X-API-Key": key}) as client:
        yield client
