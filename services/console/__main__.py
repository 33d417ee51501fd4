"""``python -m services.console``: serve the operator console with uvicorn on CONSOLE_HOST:CONSOLE_PORT."""

from __future__ import annotations

from services.common.streaming import configure_logging
from services.console.app import create_app
from services.console.settings import ConsoleSettings
from shared.settings import get_settings


def main() -> None:
    import uvicorn

    configure_logging(get_settings().log_level)
    settings = ConsoleSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
