"""``python -m services.intake``: serve the intake API with uvicorn on HOTLINE_INTAKE_HOST:HOTLINE_INTAKE_PORT."""

from __future__ import annotations

import uvicorn

from services.common.logs import configure_logging
from services.intake.app import create_app
from services.intake.settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    configure_logging("intake", settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,  # services.common.logs configured the loggers (JSON or text)
    )


if __name__ == "__main__":
    main()
