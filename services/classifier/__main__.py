"""``python -m services.classifier``: run the classifier worker."""

from __future__ import annotations

from services.classifier.agent import build_app
from services.common.streaming import run_worker
from shared.settings import get_settings


def main() -> None:
    settings = get_settings()
    run_worker(build_app(settings), settings)


if __name__ == "__main__":
    main()
