"""``python -m services.metrics.api``: serve the read API with uvicorn on HOTLINE_METRICS_HOST:_PORT."""

from __future__ import annotations


def main() -> None:
    import uvicorn

    from services.common.logs import configure_logging
    from services.metrics.api.app import create_app
    from services.metrics.settings import MetricsSettings

    settings = MetricsSettings()
    configure_logging("metrics-api", settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,
    )


if __name__ == "__main__":
    main()
