"""``python -m services.metrics.api``: serve the read API with uvicorn on METRICS_HOST:METRICS_PORT."""

from __future__ import annotations


def main() -> None:
    import uvicorn

    from services.common.streaming import configure_logging
    from services.metrics.api.app import create_app
    from shared.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=settings.metrics.host, port=settings.metrics.port, log_level="info")


if __name__ == "__main__":
    main()
