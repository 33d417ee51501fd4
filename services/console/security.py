"""The console's defences: cross-site request forgery (a checked Origin), sign-in throttling and lockout,
and the list of sessions ended by signing out. docs/security.md says what each guarantees.

- ``same_origin_problem``: a state-changing request (POST, PUT, PATCH, DELETE) must come from a page of the
  console itself: its ``Origin`` (or, lacking one, its ``Referer``) names the console's own host and port,
  or one of ``allowed_origins``. A page on another port of the same host is another origin and is refused;
  the session cookie is also ``SameSite=Strict``, so no other site's request carries it at all.
- ``SignInGuard``: a user name is locked for a while after too many wrong passwords (known or unknown names
  alike, so a lockout does not tell whether a name exists), and one client address may try only so often.
- ``RevokedSessions``: session ids ended by signing out, kept until the session would have expired, in an
  owner-only file so that a restart does not bring a copied cookie back to life.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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


@dataclass
class SignInGuard:
    """Failed sign-ins per user name (lockout) and attempts per client address (throttle), in memory.

    One console process holds the state; a restart clears it (the lockout is a brake on guessing, the
    scrypt cost and the password rules do the rest)."""

    max_failures: int
    window_seconds: float
    lockout_seconds: float
    attempts_per_minute: int
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _locked_until: dict[str, float] = field(default_factory=dict)
    _attempts: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refusal(self, user: str, address: str) -> float | None:
        """Seconds to wait before this attempt may be judged (counting it), or None when it may go ahead."""
        now = self.clock()
        with self._lock:
            attempts = self._attempts[address]
            while attempts and attempts[0] <= now - 60:
                attempts.popleft()
            if len(attempts) >= self.attempts_per_minute:
                return max(1.0, attempts[0] + 60 - now)
            attempts.append(now)
            until = self._locked_until.get(user.casefold(), 0.0)
            if until > now:
                return until - now
        return None

    def failed(self, user: str) -> None:
        """A wrong password (or an unknown name) for ``user``: locked after ``max_failures`` in the window."""
        now, name = self.clock(), user.casefold()
        with self._lock:
            failures = self._failures[name]
            while failures and failures[0] <= now - self.window_seconds:
                failures.popleft()
            failures.append(now)
            if len(failures) >= self.max_failures:
                self._locked_until[name] = now + self.lockout_seconds
                failures.clear()

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(user.casefold(), None)


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
