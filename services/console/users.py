"""Console users: a JSON file of users, each with a role, a queue and the intake API key it acts with.

Passwords are stored as scrypt hashes (salted, memory-hard). The user's intake API key is a secret the
console holds on the user's behalf, like any integration holds its key: the file is written mode 0600.

``python -m services.console.users add --name NAME --role street|department|supervisor --queue QUEUE_ID``
adds a user (and creates its intake API key with the role's scopes).
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import json
import secrets
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from shared.api_keys import CALLS_WRITE, CASES_ACT, CONSOLE_KEY_PREFIX, SUPERVISOR
from shared.private_files import locked, write_private_json
from shared.queues import QueueId

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class Role(StrEnum):
    """What a console user is."""

    street = "street"  # 街乡镇 operator: one street/town queue
    department = "department"  # 委办局 operator: one department queue (and cases it cooperates on)
    supervisor = "supervisor"  # hotline supervisor (市民热线服务中心): every queue


@dataclass(frozen=True)
class User:
    """One console user; never the plain password."""

    name: str
    role: Role
    queue: str | None
    api_key_name: str
    api_key: str
    password_salt: str
    password_hash: str
    created_at: str

    @property
    def is_supervisor(self) -> bool:
        return self.role is Role.supervisor


def hash_password(password: str, salt: bytes) -> str:
    """Base64 scrypt hash of ``password`` with ``salt``."""
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return base64.b64encode(digest).decode()


def verify_password(user: User, password: str) -> bool:
    """True when ``password`` is the user's (constant-time comparison)."""
    candidate = hash_password(password, bytes.fromhex(user.password_salt))
    return hmac.compare_digest(candidate, user.password_hash)


# Hashed for unknown user names, so that a sign-in takes as long whether the name exists or not.
_DUMMY_SALT = secrets.token_bytes(16)
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16), _DUMMY_SALT)


def password_matches(user: User | None, password: str) -> bool:
    """True when ``user`` exists and ``password`` is theirs; one scrypt hash either way (no user enumeration
    by timing). CPU-heavy (~50 ms): call it off the event loop."""
    if user is None:
        hmac.compare_digest(hash_password(password, _DUMMY_SALT), _DUMMY_HASH)
        return False
    return verify_password(user, password)


def intake_scopes(role: Role, queue: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The intake API-key (scopes, units) a console user of ``role`` acts with: its unit's steps, or all."""
    if role is Role.supervisor:
        return (CALLS_WRITE, SUPERVISOR), ()
    return (CASES_ACT,), (str(queue),)


def validate(role: Role, queue: str | None) -> None:
    """Raise ValueError when the queue does not fit the role (a unit needs its own queue id)."""
    if role is Role.supervisor:
        return
    parsed = QueueId.try_parse(queue or "")
    if parsed is None or parsed.kind.value != role.value:
        example = {Role.street: "street:大兴区/西红门镇", Role.department: "department:市民政局"}[role]
        raise ValueError(f"a {role.value} operator needs --queue {role.value}:<name>, e.g. {example}")


def load_users(path: Path) -> dict[str, User]:
    """The users by name; none when the file does not exist yet."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    users = {}
    for entry in raw.get("users", []):
        user = User(**{**entry, "role": Role(entry["role"])})
        users[user.name] = user
    return users


class UserDirectory:
    """The users file as the running console sees it: re-read when it changes (users added with the CLI
    need no restart)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: float | None = None
        self._users: dict[str, User] = {}

    def _current(self) -> dict[str, User]:
        try:
            stamp = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if stamp != self._stamp:
            self._users, self._stamp = load_users(self.path), stamp
        return self._users

    def get(self, name: str) -> User | None:
        return self._current().get(name)

    def operators_of(self, queue_id: str) -> list[User]:
        """The operators of the unit of ``queue_id`` (its console users), by name: whom a case of the unit may be
        assigned to (承办人)."""
        return sorted((u for u in self._current().values() if u.queue == queue_id), key=lambda u: u.name)


def save_users(path: Path, users: Sequence[User]) -> None:
    """Write the users file atomically, readable by its owner only."""
    write_private_json(path, {"users": [{**asdict(u), "role": u.role.value} for u in users]})


def add_user(
    path: Path,
    *,
    name: str,
    role: Role | str,
    queue: str | None,
    password: str,
    api_key_name: str,
    api_key: str,
) -> User:
    """Add (or replace) the user ``name`` in the file at ``path``."""
    role = Role(role)
    name = name.strip()
    if not name:
        raise ValueError("a user needs a non-empty name")
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    validate(role, queue)
    salt = secrets.token_bytes(16)
    user = User(
        name=name,
        role=role,
        queue=None if role is Role.supervisor else queue,
        api_key_name=api_key_name,
        api_key=api_key,
        password_salt=salt.hex(),
        password_hash=hash_password(password, salt),
        created_at=datetime.now(UTC).isoformat(),
    )
    with locked(path):
        users = load_users(path)
        users[name] = user
        save_users(path, list(users.values()))
    return user


def add_user_with_intake_key(
    users_file: Path, api_keys_file: Path, *, name: str, role: Role | str, queue: str | None, password: str
) -> User:
    """Create the user's intake API key (scoped to its role and queue) and add the user."""
    from shared.api_keys import create_key

    role = Role(role)
    validate(role, queue)
    key_name = f"{CONSOLE_KEY_PREFIX}{name.strip()}"
    scopes, units = intake_scopes(role, queue)
    plain = create_key(api_keys_file, key_name, scopes, units=units)
    return add_user(
        users_file, name=name, role=role, queue=queue, password=password, api_key_name=key_name, api_key=plain
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m services.console.users add|list``."""
    from services.console.settings import ConsoleSettings

    parser = argparse.ArgumentParser(prog="python -m services.console.users", description="Console users.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a user (creates its intake API key)")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--queue", help="queue id of a street/department operator, e.g. street:大兴区/西红门镇")
    add.add_argument("--password", help="at least 8 characters; asked for when omitted")
    add.add_argument("--users-file", type=Path, default=None, help="default: HOTLINE_CONSOLE_USERS_FILE")
    add.add_argument("--api-keys-file", type=Path, default=None, help="default: HOTLINE_CONSOLE_INTAKE_API_KEYS_FILE")
    listing = commands.add_parser("list", help="list users (never passwords or keys)")
    listing.add_argument("--users-file", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = ConsoleSettings()
    users_file = args.users_file or settings.users_file
    if args.command == "list":
        for user in load_users(users_file).values():
            print(f"{user.name}\t{user.role.value}\t{user.queue or '*'}\t{user.api_key_name}")
        return 0
    password = args.password or getpass.getpass("password: ")
    try:
        user = add_user_with_intake_key(
            users_file,
            args.api_keys_file or settings.intake_api_keys_file,
            name=args.name,
            role=args.role,
            queue=args.queue,
            password=password,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"added {user.name} ({user.role.value} {user.queue or 'all queues'}), intake key {user.api_key_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
