"""``python -m services.console``: serve the operator console with uvicorn on
HOTLINE_CONSOLE_HOST:HOTLINE_CONSOLE_PORT."""

from __future__ import annotations

import uvicorn

from services.common.logs import configure_logging
from services.console.app import create_app
from services.console.settings import ConsoleSettings


def main() -> None:
    settings = ConsoleSettings()
    configure_logging("console", settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
    )


if __name__ == "__main__":
    main()
