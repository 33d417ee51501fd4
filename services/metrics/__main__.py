"""``python -m services.metrics``: run the metrics worker."""

from __future__ import annotations

from services.common.streaming import run_worker
from services.metrics.app import build_app
from services.metrics.settings import MetricsSettings


def main() -> None:
    settings = MetricsSettings()
    run_worker(build_app(settings), settings)


if __name__ == "__main__":
    main()
