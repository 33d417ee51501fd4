"""``SignInState`` in a dict, for the console's unit tests (no database): the same operations as
``services.console.security.SignInStore``, whose MongoDB behaviour tests/integration/test_console_signin.py
checks on the embedded database."""

from __future__ import annotations


class MemorySignInState:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.locks: dict[str, float] = {}

    async def prepare(self) -> None:
        return None

    async def record(self, key: str, at: float, keep: int, expires_at: float) -> list[float]:
        self.times[key] = [*self.times.get(key, []), at][-keep:]
        return list(self.times[key])

    async def locked_until(self, key: str) -> float:
        return self.locks.get(key, 0.0)

    async def lock(self, key: str, until: float) -> None:
        self.locks[key], self.times[key] = until, []

    async def forget(self, key: str) -> None:
        self.times[key] = []
