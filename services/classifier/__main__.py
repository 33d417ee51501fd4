"""``python -m services.classifier``: run the classifier worker (settings read here, once)."""

from __future__ import annotations

from services.classifier.app import build_app
from services.classifier.settings import ClassifierSettings
from services.common.streaming import run_worker


def main() -> None:
    settings = ClassifierSettings()
    run_worker(build_app(settings), settings)


if __name__ == "__main__":
    main()
