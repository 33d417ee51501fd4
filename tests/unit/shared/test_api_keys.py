"""API keys: stored hashed, verified in constant time, created by `hotline keys`."""

from __future__ import annotations

import argparse
import json
import os
import stat
from pathlib import Path

import pytest

from hotline import keys_cmd
from shared.api_keys import CALLS_WRITE, KeyStore, create_key, hash_key, load_keys, verify


def test_created_key_is_returned_once_and_stored_only_as_a_salted_hash(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    plain = create_key(path, "12345-cti")
    text = path.read_text()
    assert plain.startswith("hl_") and len(plain) >= 40
    assert plain not in text
    [entry] = json.loads(text)["keys"]
    assert set(entry) == {"name", "salt", "hash", "scopes", "created_at", "units", "source_systems"}
    assert entry["hash"] == hash_key(plain, entry["salt"])
    assert entry["scopes"] == [CALLS_WRITE]


def test_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "keys.json"
    create_key(path, "web")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_verify_finds_the_matching_key_among_several(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = create_key(path, "first")
    second = create_key(path, "second", ["metrics:read"])
    keys = load_keys(path)
    assert [k.name for k in keys] == ["first", "second"]
    found_first, found_second = verify(keys, first), verify(keys, second)
    assert found_first is not None and found_first.name == "first" and found_first.allows(CALLS_WRITE)
    assert found_second is not None and found_second.scopes == ("metrics:read",)
    assert not found_second.allows(CALLS_WRITE)


@pytest.mark.parametrize("presented", [None, "", "hl_wrong", "x" * 100])
def test_verify_rejects_missing_and_unknown_keys(tmp_path: Path, presented: str | None) -> None:
    path = tmp_path / "keys.json"
    plain = create_key(path, "only")
    keys = load_keys(path)
    assert verify(keys, presented) is None
    assert verify(keys, plain[:-1]) is None


def test_same_key_twice_gets_different_salts_and_hashes(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    create_key(path, "a")
    create_key(path, "a")
    first, second = load_keys(path)
    assert first.salt != second.salt and first.hash != second.hash


def test_missing_key_file_means_no_keys(tmp_path: Path) -> None:
    assert load_keys(tmp_path / "absent.json") == []
    assert KeyStore(tmp_path / "absent.json").verify("hl_anything") is None


def test_key_store_sees_a_key_created_after_it_first_read_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    store = KeyStore(path)
    early = create_key(path, "early")
    assert store.verify(early) is not None
    late = create_key(path, "late")
    found = store.verify(late)
    assert found is not None and found.name == "late"


def test_blank_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="name"):
        create_key(tmp_path / "keys.json", "  ")


def test_hotline_keys_prints_the_new_key_and_stores_its_scopes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys.json"
    parser = argparse.ArgumentParser()
    keys_cmd.add_arguments(parser)
    args = parser.parse_args(["--name", "open311-gateway", "--scope", "calls:write", "--scope", "cases:write"])
    args.file = path
    assert keys_cmd.run(args) == 0
    printed = capsys.readouterr().out.strip()
    record = verify(load_keys(path), printed)
    assert record is not None and record.name == "open311-gateway"
    assert record.scopes == ("calls:write", "cases:write")
    assert record.source_systems == () and record.submits_for("anything")


def test_hotline_keys_binds_a_key_to_its_source_systems(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    keys_cmd.add_arguments(parser)
    args = parser.parse_args(["--name", "cti", "--source-system", "12345-cti", "--source-system", "12345-web"])
    args.file = tmp_path / "keys.json"
    assert keys_cmd.run(args) == 0
    [record] = load_keys(args.file)
    assert record.source_systems == ("12345-cti", "12345-web")
    assert record.submits_for("12345-web") and not record.submits_for("open311-gateway")


def test_hotline_keys_uses_the_configured_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "configured.json"
    monkeypatch.setenv("HOTLINE_INTAKE_API_KEYS_FILE", str(path))
    parser = argparse.ArgumentParser()
    keys_cmd.add_arguments(parser)
    assert keys_cmd.run(parser.parse_args(["--name", "web"])) == 0
    record = verify(load_keys(path), capsys.readouterr().out.strip())
    assert record is not None and record.scopes == (CALLS_WRITE,)


def test_keys_created_concurrently_are_all_kept(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "keys.json"
    with ThreadPoolExecutor(max_workers=8) as pool:
        plains = list(pool.map(lambda i: create_key(path, f"client-{i}"), range(24)))
    keys = load_keys(path)
    assert len(keys) == 24
    assert all(verify(keys, plain) is not None for plain in plains)


def test_hotline_keys_creates_a_unit_key_and_a_supervisor_key(tmp_path: Path) -> None:
    from hotline.cli import main as hotline_main

    path = tmp_path / "keys.json"
    street, department = "street:大兴区/西红门镇", "department:市城市管理委员会"
    assert (
        hotline_main(["keys", "--name", "xihongmen", "--unit", street, "--unit", department, "--file", str(path)]) == 0
    )
    assert hotline_main(["keys", "--name", "boss", "--supervisor", "--file", str(path)]) == 0
    unit_key, supervisor_key = load_keys(path)
    assert unit_key.scopes == ("cases:act",) and unit_key.units == (street, department)
    assert supervisor_key.scopes == ("supervisor",) and supervisor_key.units == ()


def test_hotline_keys_makes_read_keys_for_units_or_for_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys.json"
    parser = argparse.ArgumentParser()
    keys_cmd.add_arguments(parser)
    street = "street:大兴区/西红门镇"
    assert keys_cmd.run(parser.parse_args(["--name", "street", "--unit", street, "--read", "--file", str(path)])) == 0
    unit = verify(load_keys(path), capsys.readouterr().out.strip())
    assert unit is not None and unit.scopes == ("cases:act", "cases:read") and unit.units == (street,)
    assert unit.reads and not unit.reads_everything
    assert keys_cmd.run(parser.parse_args(["--name", "console", "--read-all", "--file", str(path)])) == 0
    everything = verify(load_keys(path), capsys.readouterr().out.strip())
    assert everything is not None and everything.scopes == ("read:all",) and everything.reads_everything
    assert keys_cmd.run(parser.parse_args(["--name", "nothing", "--read", "--file", str(path)])) == 2
    assert not verify(load_keys(path), "x") and not load_keys(path)[0].allows("read:all")
