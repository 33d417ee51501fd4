"""What the end-to-end modules share: a platform of their own against the session's servers."""

from __future__ import annotations

import uuid
from pathlib import Path

from hotline.embedded import free_port
from hotline.platform import Platform
from services.console.settings import ConsoleSettings
from services.intake.settings import IntakeSettings
from services.metrics.settings import MetricsSettings
from shared.settings import MongoSettings, ServiceSettings
from tests.conftest import Servers
from tests.helpers import REPO


def platform_on_session_servers(
    servers: Servers, settings: ServiceSettings, home: Path, database_prefix: str
) -> Platform:
    """A (not yet started) platform on free ports, using the session's broker and a database of its own."""
    platform_settings = settings.model_copy(
        update={
            "home": home,
            "mongodb": MongoSettings(uri=servers.mongodb_uri, database=f"{database_prefix}_{uuid.uuid4().hex[:8]}"),
        }
    )
    return Platform(
        settings=platform_settings,
        home=home,
        embedded_kafka=False,
        embedded_mongodb=False,
        intake=IntakeSettings(port=free_port(), api_keys_file=home / "api-keys.json"),
        metrics=MetricsSettings(port=free_port()),
        console=ConsoleSettings(port=free_port(), users_file=home / "console-users.json"),
        cwd=REPO,
    )
