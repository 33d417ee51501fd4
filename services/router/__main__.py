"""``python -m services.router``: run the router worker."""

from __future__ import annotations

from services.common.streaming import run_worker
from services.router.agent import build_app
from shared.settings import get_settings


def main() -> None:
    settings = get_settings()
    run_worker(build_app(settings), settings)


if __name__ == "__main__":
    main()
