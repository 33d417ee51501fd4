"""The console's defences: cross-site request forgery (a checked Origin), sign-in throttling and lockout,
and the list of sessions ended by signing out. docs/security.md says what each guarantees.

- ``same_origin_problem``: a state-changing request (POST, PUT, PATCH, DELETE) must come from a page of the
  console itself: its ``Origin`` (or, lacking one, its ``Referer``) names the console's own host and port,
  or one of ``allowed_origins``. A page on another port of the same host is another origin and is refused;
  the session cookie is also ``SameSite=Strict``, so no other site's request carries it at all.
- ``SignInGuard``: a user name is locked for a while after too many wrong passwords (known or unknown names
  alike, so a lockout does not tell whether a name exists), and one client address may try only so often;
  the counts are in MongoDB (``SignInStore``), so every console process shares them and a restart keeps them.
- ``RevokedSessions``: session ids ended by signing out, kept until the session would have expired, in an
  owner-only file so that a restart does not bring a copied cookie back to life.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from services.common.mongo import Document, LazyDatabase
from shared.private_files import locked, write_private_json

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin_of(url: str) -> tuple[str, str] | None:
    """(scheme, host:port) of an origin or URL, the default port made explicit; None when it has none."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.hostname:
        return None
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return parts.scheme.lower(), f"{parts.hostname.lower()}:{port}"


def same_origin_problem(
    method: str, headers: Mapping[str, str], own_origin: str, allowed_origins: Collection[str] = ()
) -> str | None:
    """Why a request may not change anything (a cross-site request forgery), or None when it may.

    ``own_origin`` is the console's origin as the request reached it (scheme://Host). The scheme is not
    compared for the console's own host (a TLS proxy in front changes it, not who sent the page)."""
    if method.upper() in SAFE_METHODS:
        return None
    claimed = headers.get("origin") or headers.get("referer")
    if not claimed or claimed == "null":
        return "a form may only be sent from the console's own pages (no Origin or Referer header)"
    origin = _origin_of(claimed)
    own = _origin_of(own_origin)
    if origin is not None and own is not None and origin[1] == own[1]:
        return None
    if origin is not None and origin in {_origin_of(allowed) for allowed in allowed_origins}:
        return None
    return f"a form may only be sent from the console's own pages, not from {claimed[:200]}"


SIGNIN_COLLECTION = "console_signin"
"""The console's own collection in the Hotline database: sign-in failures, lockouts and attempts."""

ADDRESS_WINDOW_SECONDS = 60.0  # login_attempts_per_minute is counted over the last minute


class SignInState(Protocol):
    """Where the guard keeps its counts: lists of attempt times and lockouts under opaque keys, shared by every
    console process (``SignInStore``, MongoDB). Each method is one atomic operation of the store."""

    async def prepare(self) -> None:
        """Make what the store needs (indexes) once, at start-up."""

    async def record(self, key: str, at: float, keep: int, expires_at: float) -> list[float]:
        """Add ``at`` to the times under ``key``, keep the last ``keep``, and return them (oldest first)."""

    async def locked_until(self, key: str) -> float:
        """Until when (epoch seconds) ``key`` is locked; 0 when it is not."""

    async def lock(self, key: str, until: float) -> None:
        """Lock ``key`` until ``until`` and clear its times."""

    async def forget(self, key: str) -> None:
        """Clear the times under ``key`` (a lockout stays)."""


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class SignInStore:
    """``SignInState`` in MongoDB (``console_signin``): one small document per user name and per client
    address, keyed by a SHA-256 of it (the collection never holds what was typed into the name field, which is
    sometimes a password), each deleted by a TTL index on ``expires_at`` once nothing in it counts any more.
    Every console process sharing the database shares the counts, and a restart keeps them."""

    def __init__(self, database: LazyDatabase) -> None:
        self.database = database
        self.prepared = False

    @property
    def collection(self) -> AsyncCollection[Document]:
        return self.database.database[SIGNIN_COLLECTION]

    async def prepare(self) -> None:
        await self.collection.create_index("expires_at", expireAfterSeconds=0)
        self.prepared = True

    async def record(self, key: str, at: float, keep: int, expires_at: float) -> list[float]:
        if not self.prepared:  # the database did not answer at start-up
            await self.prepare()
        document = await self.collection.find_one_and_update(
            {"_id": key},
            {"$push": {"times": {"$each": [at], "$slice": -keep}}, "$max": {"expires_at": _utc(expires_at)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return [float(t) for t in (document or {}).get("times", [])]

    async def locked_until(self, key: str) -> float:
        document = await self.collection.find_one({"_id": key}, {"locked_until": 1})
        return float((document or {}).get("locked_until", 0.0))

    async def lock(self, key: str, until: float) -> None:
        await self.collection.update_one(
            {"_id": key},
            {"$set": {"locked_until": until, "times": []}, "$max": {"expires_at": _utc(until)}},
            upsert=True,
        )

    async def forget(self, key: str) -> None:
        await self.collection.update_one({"_id": key}, {"$set": {"times": []}})


def state_key(kind: str, value: str) -> str:
    """The store's key of a user name or client address: its kind and a SHA-256 of the case-folded value."""
    return f"{kind}:{hashlib.sha256(value.casefold().encode('utf-8', 'surrogatepass')).hexdigest()}"


@dataclass
class SignInGuard:
    """Failed sign-ins per user name (lockout) and attempts per client address (throttle), kept in ``state``.

    The same database operations run for a known and an unknown name, so neither the answer nor its time tells
    whether a name exists. An attempt refused by the throttle still counts: a client that keeps trying stays
    refused until it slows down below ``attempts_per_minute``."""

    state: SignInState
    max_failures: int
    window_seconds: float
    lockout_seconds: float
    attempts_per_minute: int
    clock: Callable[[], float] = time.time  # wall clock: the counts are shared by processes

    async def refusal(self, user: str, address: str) -> float | None:
        """Seconds to wait before this attempt may be judged (counting it), or None when it may go ahead."""
        now = self.clock()
        window = ADDRESS_WINDOW_SECONDS
        times = await self.state.record(state_key("address", address), now, self.attempts_per_minute + 1, now + window)
        recent = [t for t in times if t > now - window]
        if len(recent) > self.attempts_per_minute:
            return max(1.0, recent[0] + window - now)
        until = await self.state.locked_until(state_key("user", user))
        return until - now if until > now else None

    async def failed(self, user: str) -> None:
        """A wrong password (or an unknown name) for ``user``: locked after ``max_failures`` in the window."""
        now, key = self.clock(), state_key("user", user)
        times = await self.state.record(key, now, self.max_failures, now + self.window_seconds)
        if len([t for t in times if t > now - self.window_seconds]) >= self.max_failures:
            await self.state.lock(key, now + self.lockout_seconds)

    async def succeeded(self, user: str) -> None:
        await self.state.forget(state_key("user", user))


class RevokedSessions:
    """Session ids ended by signing out, each until its session's expiry (epoch seconds), in a 0600 file."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._stamp: tuple[int, int] | None = None
        self._revoked: dict[str, float] = {}

    def _load(self) -> dict[str, float]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raw = {}
            self._revoked = {str(k): float(v) for k, v in (raw.get("revoked") or {}).items()}
            self._stamp = stamp
        return self._revoked

    def revoke(self, session_id: str, expires_at: float) -> None:
        now = self.clock()
        with locked(self.path):
            self._stamp = None
            current = {sid: exp for sid, exp in self._load().items() if exp > now}
            current[session_id] = expires_at
            write_private_json(self.path, {"revoked": current})
            self._revoked, self._stamp = current, None

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self._load()
