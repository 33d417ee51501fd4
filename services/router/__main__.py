"""``python -m services.router``: run the router worker (settings read here, once)."""

from __future__ import annotations

from services.common.streaming import run_worker
from services.router.app import build_app
from services.router.settings import RouterSettings


def main() -> None:
    settings = RouterSettings()
    run_worker(build_app(settings), settings)


if __name__ == "__main__":
    main()
