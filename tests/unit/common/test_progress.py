"""The long commands' progress bars (rich), on standard error."""

from __future__ import annotations

import pytest

from services.common.progress import stages


def test_stages_end_complete_on_standard_error(capsys: pytest.CaptureFixture[str]) -> None:
    with stages("hotline test", ("reading", "writing")) as stage:
        stage("reading")
        stage("writing")
        print("a figure")
    captured = capsys.readouterr()
    assert "hotline test: done" in captured.err and "2/2" in captured.err
    assert "a figure" in captured.out and "hotline test" not in captured.out
