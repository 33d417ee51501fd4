"""Every ``hotline`` command answers --help with what its exit statuses mean."""

from __future__ import annotations

import pytest

from hotline.cli import COMMANDS, EXIT_STATUS, main


def test_every_command_documents_its_exit_status() -> None:
    assert set(EXIT_STATUS) == set(COMMANDS)
    for name, meaning in EXIT_STATUS.items():
        assert meaning.startswith("0 "), name


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([name, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert f"hotline {name}" in out and "Exit status: 0" in out
