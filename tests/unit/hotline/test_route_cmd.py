"""`hotline route`: the whole dispatch decision (classify + route) of JSON-lines calls, no server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hotline.cli import main
from shared.catalogue import DEFAULT_CATALOGUE_PATH
from tests.helpers import run_hotline

FIELDS = {
    "id", "category", "subcategory", "item", "issue", "confidence", "district", "street", "lead", "cooperating",
    "priority", "response_due_at", "resolution_due_at", "rule", "reason",
}  # fmt: skip
CALLS: list[dict[str, Any]] = [
    {"id": "gas", "body": "楼道里一股很浓的煤气味", "location": "西城区大栅栏", "received_at": "2025-05-13T02:00:00Z"},
    {"id": 2, "subject": "停水", "body": "我们小区停水一天了", "location": {"address": "朝阳区三里屯街道"}},
    {"id": "bus", "body": "希望增设一条到西二旗的公交线路", "channel": "web"},
    {"id": "noise", "body": "楼上邻居天天晚上噪音扰民"},
]


def write_calls(path: Path, extra: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(call, ensure_ascii=False) for call in CALLS] + list(extra)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_route_answers_one_line_per_call_with_the_whole_decision(tmp_path: Path) -> None:
    calls = write_calls(tmp_path / "calls.jsonl", ("", "not json", json.dumps({"id": "x", "body": 3})))
    completed = run_hotline("route", str(calls))
    answers = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [a["id"] for a in answers] == ["gas", 2, "bus", "noise", None, "x"]
    gas, water, bus, noise, bad, wrong = answers
    assert set(gas) == set(water) == FIELDS
    assert (gas["lead"], gas["priority"], gas["rule"]) == ("department:北京市燃气集团", "urgent", "urgent-gas-leak")
    assert "street:西城区/大栅栏街道" in gas["cooperating"]
    assert (gas["response_due_at"], gas["resolution_due_at"]) == ("2025-05-13T02:30:00Z", "2025-05-14T02:00:00Z")
    assert (water["lead"], water["priority"], water["street"]) == (
        "department:北京市自来水集团",
        "normal",
        "三里屯街道",
    )
    assert bus["lead"] == "department:市交通委员会" and "department:北京公交集团" in bus["cooperating"]
    assert noise["lead"] == "manual:dispatch"  # a noise complaint with no address: an operator asks where
    assert bad["error"].startswith("line 6: invalid JSON")
    assert wrong == {"id": "x", "error": "line 7: body must be a non-empty string"}


def test_compare_shows_only_the_calls_a_changed_catalogue_moves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The catalogue's own effect: the learned lead scorer, which would overrule the changed rule here (it is sure
    # 市水务局 does not fix a compound's water), is off.
    monkeypatch.setenv("HOTLINE_ROUTER_LEARNED_LEAD", "false")
    changed = DEFAULT_CATALOGUE_PATH.read_text(encoding="utf-8").replace(
        "    assign:\n      lead: department:北京市自来水集团\n      cooperating: [street]\n",
        "    assign:\n      lead: department:市水务局\n      cooperating: [street]\n",
    )
    assert changed != DEFAULT_CATALOGUE_PATH.read_text(encoding="utf-8")
    other = tmp_path / "changed.yaml"
    other.write_text(changed, encoding="utf-8")
    assert main(["route", str(write_calls(tmp_path / "calls.jsonl")), "--compare", str(other)]) == 0
    out, err = capsys.readouterr()
    [moved] = [json.loads(line) for line in out.splitlines()]
    assert moved["id"] == 2 and moved["moved"] == ["lead"]
    assert moved["before"]["lead"] == "department:北京市自来水集团"
    assert moved["after"] == {**moved["before"], "lead": "department:市水务局"}
    assert "1 of 4 calls move (1 change lead)" in err
    assert "department:北京市自来水集团 -> department:市水务局" in err


def test_a_bad_catalogue_is_refused_with_its_file_and_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\nrules:\n  - id: Bad Id\n    assign: {lead: manual}\n", encoding="utf-8")
    assert main(["route", str(write_calls(tmp_path / "calls.jsonl")), "--catalogue", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "rule #0" in err


def test_evaluate_scores_a_labelled_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labelled = tmp_path / "labelled.jsonl"
    rows = [
        {**CALLS[0], "category": "城乡建设", "place": ["西城区", "大栅栏街道"], "accept": ["department:北京市燃气集团"],
         "urgent": True},
        {**CALLS[1], "category": "城乡建设", "place": ["朝阳区", "三里屯街道"], "accept": ["street"], "urgent": False},
    ]  # fmt: skip
    labelled.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    assert main(["route", str(labelled), "--evaluate"]) == 0
    out = capsys.readouterr().out
    miss = json.loads(out.splitlines()[0])
    assert (miss["id"], miss["lead"], miss["accept"]) == (2, "department:北京市自来水集团", ["street"])
    assert [line.split() for line in out.splitlines() if line.startswith("overall")] == [["overall", "2", "1", "0.50"]]
    assert "urgent recall 1/1 = 1.00" in out
