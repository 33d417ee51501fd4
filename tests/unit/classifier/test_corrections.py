"""Operators' corrections as extra training rows: parsing, merging, and ``hotline train --corrections``."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.classifier.corrections import CorrectionError, merge_corrections, parse_corrections, read_corrections
from services.classifier.features import message_text
from services.classifier.model import Classifier
from services.classifier.taxonomy import level1_names
from services.classifier.training import ModelSettings, train
from tests.conftest import domain_csv

REPO = Path(__file__).resolve().parents[3]


def correction(body: str, category: str, *, subject: str = "", at: str = "2026-11-01T09:00:00+08:00") -> dict:
    return {
        # a stable id (not hash(), which PYTHONHASHSEED changes per process): the held-out share of corrections is
        # chosen by a hash of call_id, so random ids made the before/after test hold out different rows each run
        "call_id": f"call-{hashlib.sha256(body.encode('utf-8')).hexdigest()[:12]}",
        "subject": subject,
        "body": body,
        "category": category,
        "subcategory": None,
        "item": None,
        "corrected_at": at,
        "actor": "operator-7",
    }


def lines(*records: dict) -> list[str]:
    return [json.dumps(record, ensure_ascii=False) for record in records]


def test_corrections_in_the_export_format_are_read() -> None:
    [read] = parse_corrections(lines(correction("申请低保被拒绝", "民政", subject="低保")), level1_names())
    assert (read.subject, read.body, read.category, read.actor) == ("低保", "申请低保被拒绝", "民政", "operator-7")


def test_unknown_category_is_rejected_with_its_line_number() -> None:
    records = lines(correction("a", "民政"), correction("b", "不存在的类别"), correction("c", "Civil affairs"))
    with pytest.raises(CorrectionError) as raised:
        parse_corrections(["", *records], level1_names())
    message = str(raised.value)
    assert "line 3: unknown category '不存在的类别'" in message
    assert "line 4: unknown category 'Civil affairs'" in message
    assert "民政" in message  # the known names are listed


def test_invalid_json_and_missing_body_are_reported_by_line() -> None:
    with pytest.raises(CorrectionError, match=r"line 1: invalid JSON.*line 2: missing or empty body"):
        parse_corrections(["{not json", json.dumps({"call_id": "x", "category": "民政"})], level1_names())


def test_a_correction_relabels_the_same_text_and_new_texts_are_added() -> None:
    texts = [message_text("", "路灯坏了"), message_text("", "老板拖欠工资")]
    labels = ["城乡建设", "劳动和社会保障"]
    found = parse_corrections(
        lines(correction("路灯坏了", "交通运输"), correction("申请低保被拒绝", "民政")), level1_names()
    )
    merged_texts, merged_labels, report = merge_corrections(texts, labels, found)
    assert merged_labels == ["交通运输", "劳动和社会保障", "民政"]
    assert merged_texts[2] == message_text("", "申请低保被拒绝")
    assert (report.corrections, report.replaced_rows, report.added_rows) == (2, 1, 1)


def test_the_latest_correction_of_a_text_wins() -> None:
    found = parse_corrections(
        lines(
            correction("路灯坏了", "政法", at="2026-11-02T10:00:00+08:00"),
            correction("路灯坏了", "交通运输", at="2026-11-01T10:00:00+08:00"),
        ),
        level1_names(),
    )
    _, labels, _ = merge_corrections([message_text("", "路灯坏了")], ["城乡建设"], found)
    assert labels == ["政法"]


CIVIL_AFFAIRS = [  # written by the team for this test
    "我家生活困难想申请低保，街道说最低生活保障名额满了",
    "母亲去世想办理殡葬手续，殡仪馆收费太高",
    "去婚姻登记处办结婚证要排队一整天",
    "退伍军人安置政策咨询，退役后一直没有安排工作",
    "养老院护工虐待老人，敬老院管理混乱",
    "社区居委会换届选举不公开",
    "孤儿救助金没有发放到位",
    "流浪乞讨人员夜里睡在地下通道需要救助站帮助",
    "申请残疾证一直办不下来",
    "烈士家属的优抚金被停发",
    "低保户的低保金被村干部克扣",
    "门牌号混乱，地名管理部门应该统一",
]


def sample_csv(tmp_path: Path) -> Path:
    with domain_csv("messages-train.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))[::8]
    data = tmp_path / "sample.csv"  # a temporary sample for the test only, never kept in the repository
    with data.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["subject", "body", "label"])
        writer.writeheader()
        writer.writerows({k: row[k] for k in ("subject", "body", "label")} for row in rows)
    return data


def test_training_with_corrections_learns_a_class_the_csv_lacks(tmp_path: Path) -> None:
    data = sample_csv(tmp_path)
    corrections = tmp_path / "corrections.jsonl"
    corrections.write_text("\n".join(lines(*(correction(body, "民政") for body in CIVIL_AFFAIRS))) + "\n", "utf-8")
    out = tmp_path / "artifact"
    settings = ModelSettings(max_features=8000, max_subject_features=2000)
    report = train(data, out, seed=3, settings=settings, corrections=corrections, english=False)
    held_out = report["corrections"].pop("held_out")
    assert report["corrections"] == {
        "file": "corrections.jsonl",
        "corrections": len(CIVIL_AFFAIRS),
        "relabelled_csv_rows": 0,
        "added_rows": len(CIVIL_AFFAIRS),
    }
    # Before/after on the corrections kept out: the CSV alone cannot name 民政, the other corrections can.
    assert held_out["held_out_corrections"] + held_out["training_corrections"] == len(CIVIL_AFFAIRS)
    assert held_out["before"]["accuracy"] == 0.0
    assert held_out["after"]["accuracy"] > held_out["before"]["accuracy"]
    model = Classifier.load(out)
    assert "民政" in model.classes
    assert "民政" in model.unlearned_classes  # 12 rows: too few to drop the lexicon rule for it yet
    assert "12 corrections used" in (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    # The cross-validation is on the CSV's rows only: it stays the CSV's own 7 classes.
    assert "民政" not in report["cross_validation"]["per_class"]


def test_train_command_rejects_a_bad_corrections_file_naming_the_line(tmp_path: Path) -> None:
    corrections = tmp_path / "bad.jsonl"
    corrections.write_text("\n".join(lines(correction("a", "民政"), correction("b", "Potholes"))) + "\n", "utf-8")
    command = [sys.executable, "-m", "hotline.cli", "train", "--data", str(sample_csv(tmp_path))]
    command += ["--corrections", str(corrections), "--out", str(tmp_path / "never"), "--no-english"]
    finished = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert finished.returncode != 0
    assert "line 2: unknown category 'Potholes'" in finished.stderr
    assert not (tmp_path / "never").exists()


def test_the_documented_example_corrections_file_is_valid() -> None:
    path = Path(__file__).parent / "data" / "classifier_corrections_team_written.jsonl"
    found = read_corrections(path, level1_names())
    assert len(found) == 6 and {c.actor for c in found} == {"team-example"}
