"""Console users: scrypt-hashed passwords, roles fitted to queues, the add command and its intake key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from services.console.users import Role, add_user, load_users, main, verify_password
from shared.api_keys import load_keys


def test_a_password_is_stored_hashed_and_only_the_right_one_verifies(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    add_user(
        path,
        name="li",
        role="street",
        queue="street:大兴区/西红门镇",
        password="s3cret-pass",
        api_key_name="k",
        api_key="hl_k",
    )
    assert "s3cret-pass" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    user = load_users(path)["li"]
    assert user.role is Role.street and user.queue == "street:大兴区/西红门镇"
    assert verify_password(user, "s3cret-pass")
    assert not verify_password(user, "s3cret-pasS")


def test_the_same_password_hashes_differently_for_two_users(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    for name in ("a", "b"):
        add_user(
            path, name=name, role="supervisor", queue=None, password="same-password", api_key_name=name, api_key="x"
        )
    users = load_users(path)
    assert users["a"].password_hash != users["b"].password_hash


@pytest.mark.parametrize(
    ("role", "queue"),
    [
        ("street", None),
        ("street", "department:市人力资源社会保障局"),
        ("department", "street:大兴区/西红门镇"),
        ("street", "street:"),
    ],
)
def test_an_operator_needs_a_queue_of_its_own_kind(tmp_path: Path, role: str, queue: str | None) -> None:
    with pytest.raises(ValueError, match="needs --queue"):
        add_user(
            tmp_path / "u.json", name="x", role=role, queue=queue, password="long-enough", api_key_name="k", api_key="k"
        )


def test_a_short_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="8 characters"):
        add_user(
            tmp_path / "u.json",
            name="x",
            role="supervisor",
            queue=None,
            password="short",
            api_key_name="k",
            api_key="k",
        )


def test_the_add_command_creates_the_user_and_its_scoped_intake_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users, keys = tmp_path / "users.json", tmp_path / "keys.json"
    args = ["add", "--name", "wang", "--role", "department", "--queue", "department:市人力资源社会保障局"]
    code = main([*args, "--password", "long-enough", "--users-file", str(users), "--api-keys-file", str(keys)])
    assert code == 0, capsys.readouterr().err
    user = load_users(users)["wang"]
    [key] = load_keys(keys)
    assert key.name == user.api_key_name == "console:wang"
    assert key.scopes == ("cases:act",) and key.units == ("department:市人力资源社会保障局",)
    assert user.api_key.startswith("hl_") and user.api_key not in keys.read_text()
    assert main(["list", "--users-file", str(users)]) == 0
    assert "wang\tdepartment" in capsys.readouterr().out
    assert "long-enough" not in json.dumps(json.loads(users.read_text()))


def test_the_add_command_reports_a_bad_role_queue_pair_without_creating_a_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    code = main(
        [
            "add",
            "--name",
            "x",
            "--role",
            "street",
            "--password",
            "long-enough",
            "--users-file",
            str(tmp_path / "u.json"),
            "--api-keys-file",
            str(keys),
        ]
    )
    assert code == 2 and not keys.exists()
