"""Every ``hotline`` command answers --help with what its exit statuses mean."""

from __future__ import annotations

import re

import pytest

from hotline.cli import COMMANDS, EXIT_STATUS, main
from tests.helpers import REPO


def test_every_command_documents_its_exit_status() -> None:
    assert set(EXIT_STATUS) == set(COMMANDS)
    for name, meaning in EXIT_STATUS.items():
        assert meaning.startswith("0 "), name


def test_the_runbook_documents_the_same_exit_statuses() -> None:
    """docs/operations.md's table says what `hotline <command> --help` says, for every command."""
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `hotline ([a-z]+)` \| (.+?) \|$", text, flags=re.MULTILINE))
    assert table == EXIT_STATUS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert f"hotline {name}" in out and "Exit status: 0" in out


def test_a_setting_that_does_not_parse_is_named_with_its_variable_not_a_traceback(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = tmp_path / "calls.jsonl"
    calls.write_text('{"id": "1", "subject": "噪音", "body": "工地夜里施工噪音很大"}\n', encoding="utf-8")
    monkeypatch.setenv("HOTLINE_ROUTER_LEARNED_URGENCY", "")

    assert main(["route", str(calls)]) == 2

    err = capsys.readouterr().err
    assert "hotline route: bad configuration (RouterSettings): HOTLINE_ROUTER_LEARNED_URGENCY='': " in err
    assert "valid boolean" in err
    assert "Traceback" not in err
