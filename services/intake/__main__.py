"""``python -m services.intake``: serve the intake API with uvicorn on HOTLINE_INTAKE_HOST:HOTLINE_INTAKE_PORT."""

from __future__ import annotations

from services.common.logs import serve_http
from services.intake.app import create_app
from services.intake.settings import IntakeSettings


def main() -> None:
    settings = IntakeSettings()
    serve_http("intake", settings, lambda: create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
