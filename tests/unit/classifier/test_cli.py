"""``hotline classify``, ``hotline train`` and the taxonomy builder as commands."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.classifier.model import Classifier
from services.classifier.training import ModelSettings, train
from shared.reference import load_taxonomy
from tests.conftest import domain_csv
from tests.helpers import run_hotline

REPO = Path(__file__).resolve().parents[3]


def hotline(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_hotline(*args, stdin=stdin, check=False)


def test_classify_cli_outputs_one_line_per_input() -> None:
    requests = [
        {"id": 1, "subject": "工地拖欠工资", "body": "老板拖欠我们三个月工资不发"},
        {"id": "b", "subject": "", "body": "晚上工地施工噪音太大，严重扰民"},
        {"id": 3, "body": "孩子上幼儿园难，附近没有普惠性幼儿园"},
    ]
    finished = hotline("classify", stdin="".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests))
    assert finished.returncode == 0, finished.stderr
    answers = [json.loads(line) for line in finished.stdout.splitlines()]
    assert [a["id"] for a in answers] == [1, "b", 3]
    fields = {
        "id",
        "category",
        "subcategory",
        "item",
        "issue",
        "confidence",
        "subcategory_confidence",
        "item_confidence",
    }
    assert all(set(a) == fields for a in answers)
    assert all(a["confidence"] >= a["subcategory_confidence"] >= a["item_confidence"] > 0 for a in answers)
    assert all(a["category"] in load_taxonomy() for a in answers)
    assert answers[0]["category"] == "劳动和社会保障" and answers[0]["issue"] == "wage-arrears"
    assert answers[1]["category"] == "环境保护"
    assert answers[2]["issue"] == "inclusive-kindergarten"


def test_classify_cli_answers_bad_lines_with_an_error_and_goes_on() -> None:
    lines = [
        "not json",
        '{"id": 7}',
        "[1, 2]",
        "",
        '{"id": 8, "subject": 5, "body": "x"}',
        '{"id": 9, "body": "路灯坏了"}',
    ]
    finished = hotline("classify", stdin="\n".join(lines) + "\n")
    assert finished.returncode == 0, finished.stderr
    answers = [json.loads(line) for line in finished.stdout.splitlines()]
    assert len(answers) == 5  # the blank line is skipped
    assert [a.get("id") for a in answers] == [None, 7, None, 8, 9]
    assert all("error" in a for a in answers[:4])
    assert "error" not in answers[4] and answers[4]["category"] in load_taxonomy()


def test_classify_cli_explain_adds_review_flag_and_terms() -> None:
    finished = hotline("classify", "--explain", stdin='{"id": 1, "body": "老板拖欠工资三个月"}\n')
    [answer] = [json.loads(line) for line in finished.stdout.splitlines()]
    assert answer["needs_review"] is False and answer["explanation"] and answer["model_version"]
    assert answer["suggested_category"] is None and answer["suggested_terms"] == []


def test_classify_cli_explain_gives_the_reviewer_hint_for_an_unlearned_class() -> None:
    request = {"id": 2, "subject": "婚姻登记排队", "body": "去民政局婚姻登记处办理结婚证，每天只发三十个号"}
    finished = hotline("classify", "--explain", stdin=json.dumps(request, ensure_ascii=False) + "\n")
    [answer] = [json.loads(line) for line in finished.stdout.splitlines()]
    assert answer["suggested_category"] == "民政" and answer["category"] != "民政"
    assert answer["needs_review"] is True and "婚姻登记" in answer["suggested_terms"]


def test_taxonomy_builder_command_writes_the_tree(tmp_path: Path) -> None:
    out = tmp_path / "taxonomy.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.classifier.taxonomy",
            "--build",
            str(domain_csv("taxonomy-government-messages.csv")),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["tree"] == load_taxonomy()


def test_training_on_part_of_the_corpus_writes_a_working_artifact_and_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with domain_csv("messages-train.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))[::6]
    data = tmp_path / "sample.csv"  # a temporary sample for the test only, never kept in the repository
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["subject", "body", "label"])
        writer.writeheader()
        writer.writerows({k: row[k] for k in ("subject", "body", "label")} for row in rows)
    out = tmp_path / "artifact"
    report = train(
        data, out, seed=1, settings=ModelSettings(max_features=8000, max_subject_features=2000), english=False
    )
    shown = capsys.readouterr()  # its stages' progress bar, on standard error
    assert "hotline train: done" in shown.err and "hotline train" not in shown.out
    figures = report["cross_validation"]
    assert figures["macro_f1"] > 0.8
    low, high = figures["macro_f1_95_interval"]
    assert low < figures["macro_f1"] < high
    assert len(figures["macro_f1_per_fold"]) == 5
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"Macro-F1 {figures['macro_f1']:.4f}, 95% interval {low:.4f}-{high:.4f}" in card
    assert (out / "classifier.npz").stat().st_size < 50_000_000
    model = Classifier.load(out)
    assert model.model_version.startswith("tfidf-linear-")
    [decision] = model.predict([("工资", "老板拖欠工资三个月不发")])
    assert decision.category == "劳动和社会保障"
