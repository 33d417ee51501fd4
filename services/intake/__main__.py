"""``python -m services.intake``: serve the intake API with uvicorn on INTAKE_HOST:INTAKE_PORT."""

from __future__ import annotations

import uvicorn

from services.common.streaming import configure_logging
from services.intake.app import create_app
from shared.settings import get_settings


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.intake.host,
        port=settings.intake.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


if __name__ == "__main__":
    main()
