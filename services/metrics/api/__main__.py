"""``python -m services.metrics.api``: serve the read API with uvicorn on HOTLINE_METRICS_HOST:_PORT."""

from __future__ import annotations


def main() -> None:
    from services.common.logs import serve_http
    from services.metrics.api.app import create_app
    from services.metrics.settings import MetricsSettings

    settings = MetricsSettings()
    serve_http("metrics-api", settings, lambda: create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
