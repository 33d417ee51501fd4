"""``python -m services.console``: serve the operator console with uvicorn on
HOTLINE_CONSOLE_HOST:HOTLINE_CONSOLE_PORT."""

from __future__ import annotations

from services.common.logs import serve_http
from services.console.app import create_app
from services.console.settings import ConsoleSettings


def main() -> None:
    settings = ConsoleSettings()
    serve_http("console", settings, lambda: create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
