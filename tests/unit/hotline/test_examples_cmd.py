"""`hotline examples`: the router's scorers learn every dispatch set but the held-out ones, and --check says so."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from hotline.examples_cmd import DATA, HELD_OUT, add_arguments, build, run
from services.router.lead import EXAMPLES_PATH as LEAD_EXAMPLES
from services.router.urgency import EXAMPLES_PATH as URGENCY_EXAMPLES


def arguments(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_check_passes_on_the_shipped_files_and_fails_when_a_set_is_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(arguments("--check")) == 0
    for path in DATA.glob("dispatch_calls*.jsonl"):
        shutil.copy(path, tmp_path / path.name)
    row = {"id": "new-001", "category": "城乡建设", "body": "楼道灯坏了", "accept": ["street"], "urgent": False}
    (tmp_path / "dispatch_calls_new.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    before = LEAD_EXAMPLES.read_text(encoding="utf-8"), URGENCY_EXAMPLES.read_text(encoding="utf-8")
    assert run(arguments("--check", "--data", str(tmp_path))) == 1
    assert "differs from the sets" in capsys.readouterr().out
    assert (LEAD_EXAMPLES.read_text(encoding="utf-8"), URGENCY_EXAMPLES.read_text(encoding="utf-8")) == before
    built = build(tmp_path)
    assert json.loads(built[LEAD_EXAMPLES].splitlines()[-1]) == {
        "id": "new-001",
        "text": "\n楼道灯坏了",
        "accept": ["street"],
    }
    assert json.loads(built[URGENCY_EXAMPLES].splitlines()[-1]) == {
        "text": "\n楼道灯坏了",
        "urgent": False,
        "from": "new-001",
    }


def test_held_out_calls_are_in_no_example_and_the_calls_written_for_urgency_alone_stay() -> None:
    built = build()
    lead = [json.loads(line) for line in built[LEAD_EXAMPLES].splitlines()]
    urgency = [json.loads(line) for line in built[URGENCY_EXAMPLES].splitlines()]
    assert not [item for item in lead if item["id"].startswith(HELD_OUT)]
    assert not [item for item in urgency if item["from"].startswith(HELD_OUT)]
    set_ids = {item["id"] for item in lead}
    alone = [item for item in urgency if item["from"] not in set_ids]
    assert len(alone) >= 300 and {item["from"].split("-")[0] for item in alone} == {"d3n", "d3u", "ue", "un"}
    assert len(urgency) == len(alone) + len(lead)
