"""API keys: stored as salted SHA-256 hashes in a JSON file; the plain key is shown once only.

Intake and the metrics read API verify them (``KeyStore``, one file for both); the console creates one
per console user and ``hotline keys`` adds them, so the file format, the scopes and the store live here,
once. A key may be bound to ``source_systems``: it then submits calls only under those names, so one
integrator cannot submit, overwrite-probe or learn of another's ``(source_system, external_id)`` (no binding:
any name, as for the development key). Scopes: ``calls:write``; ``cases:act`` and ``cases:read`` for the key's ``units`` (queue ids);
``read:all``; ``supervisor`` (every case, every step, every read); ``programme:write``.

The keys are 32 random URL-safe bytes (256 bits), so one salted SHA-256 is enough: a slow hash such as
PBKDF2 protects guessable passwords, not random keys, and would cost every request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from shared.private_files import locked, write_private_json

KEY_PREFIX = "hl_"
CALLS_WRITE = "calls:write"
CASES_ACT = "cases:act"  # take case steps for the units (queue ids) the key names
SUPERVISOR = "supervisor"  # a hotline supervisor: any case, every step
PROGRAMME_WRITE = "programme:write"  # report 每月一题 task and policy status (the supervisor may too)
CASES_READ = "cases:read"  # read the metrics API: the key's units' queues and the cases they lead or cooperate on
READ_ALL = "read:all"  # read the metrics API: every queue and case (the console, Open311; supervisor keys may too)


@dataclass(frozen=True)
class KeyRecord:
    """One stored API key: who holds it and what it may do, never the key itself."""

    name: str
    salt: str
    hash: str
    scopes: tuple[str, ...]
    created_at: str
    units: tuple[str, ...] = ()
    source_systems: tuple[str, ...] = ()  # the source_system names it may submit calls under; empty: any

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    def submits_for(self, source_system: str) -> bool:
        """The key may submit calls under ``source_system`` (a key bound to none may use any)."""
        return not self.source_systems or source_system in self.source_systems

    def source_refusal(self, source_system: str) -> str:
        """Why a call under ``source_system`` is refused for this key (see ``submits_for``)."""
        return (
            f"API key '{self.name}' submits calls only for source_system {', '.join(self.source_systems)}, "
            f"not '{source_system}'"
        )

    @property
    def reads_everything(self) -> bool:
        """The key may read every queue and case of the metrics read API."""
        return self.allows(READ_ALL) or self.allows(SUPERVISOR)

    @property
    def reads(self) -> bool:
        """The key may read the metrics read API at all (its units' share, or everything)."""
        return self.reads_everything or self.allows(CASES_READ)


def hash_key(plain_key: str, salt: str) -> str:
    """Hex SHA-256 of the salt followed by the key."""
    return hashlib.sha256(salt.encode() + plain_key.encode()).hexdigest()


def new_plain_key() -> str:
    """A fresh key: ``hl_`` and 32 random URL-safe bytes."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def load_keys(path: Path) -> list[KeyRecord]:
    """The stored keys; none when the file does not exist yet."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    entries = raw.get("keys", []) if isinstance(raw, dict) else raw
    return [
        KeyRecord(
            name=str(entry["name"]),
            salt=str(entry["salt"]),
            hash=str(entry["hash"]),
            scopes=tuple(str(s) for s in entry.get("scopes", [])),
            created_at=str(entry.get("created_at", "")),
            units=tuple(str(u) for u in entry.get("units", [])),
            source_systems=tuple(str(s) for s in entry.get("source_systems", [])),
        )
        for entry in entries
    ]


def save_keys(path: Path, keys: Sequence[KeyRecord]) -> None:
    """Write the key file atomically, readable by its owner only."""
    write_private_json(
        path,
        {
            "keys": [
                {
                    **asdict(k),
                    "scopes": list(k.scopes),
                    "units": list(k.units),
                    "source_systems": list(k.source_systems),
                }
                for k in keys
            ]
        },
    )


def create_key(
    path: Path,
    name: str,
    scopes: Sequence[str] = (CALLS_WRITE,),
    units: Sequence[str] = (),
    source_systems: Sequence[str] = (),
) -> str:
    """Add a key named ``name`` with ``scopes`` (acting for ``units``, submitting under ``source_systems``) to
    ``path``; returns the plain key (shown once)."""
    if not name.strip():
        raise ValueError("a key needs a non-empty name")
    plain = new_plain_key()
    salt = secrets.token_hex(16)
    record = KeyRecord(
        name=name.strip(),
        salt=salt,
        hash=hash_key(plain, salt),
        scopes=tuple(dict.fromkeys(scopes)),
        created_at=datetime.now(UTC).isoformat(),
        units=tuple(dict.fromkeys(u.strip() for u in units if u.strip())),
        source_systems=tuple(dict.fromkeys(s.strip() for s in source_systems if s.strip())),
    )
    with locked(path):
        save_keys(path, [*load_keys(path), record])
    return plain


def verify(keys: Sequence[KeyRecord], presented: str | None) -> KeyRecord | None:
    """The record whose hash matches ``presented`` (compared in constant time), or None."""
    if not presented:
        return None
    found: KeyRecord | None = None
    encoded = presented.encode()
    for record in keys:
        candidate = hashlib.sha256(record.salt.encode() + encoded).hexdigest()
        if hmac.compare_digest(candidate, record.hash) and found is None:
            found = record
    return found


class KeyStore:
    """The key file as the running intake sees it: re-read when it changes, so new keys work at once."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._keys: list[KeyRecord] = []

    def keys(self) -> list[KeyRecord]:
        try:
            stat = self.path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._keys = load_keys(self.path) if stamp is not None else []
            self._stamp = stamp
        return self._keys

    def verify(self, presented: str | None) -> KeyRecord | None:
        return verify(self.keys(), presented)
