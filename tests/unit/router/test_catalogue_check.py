"""`hotline catalogue check`: invalid rules, unknown units, unreachable rules and overlaps, by line; the
running router keeps its last good catalogue."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hotline.cli import main
from services.router.catalogue_check import check_catalogue_text
from shared.catalogue import DEFAULT_CATALOGUE_PATH, load_catalogue
from shared.catalogue_watch import CatalogueWatcher

HEADER = """version: t-1
departments: [市民政局, 市水务局]
rules:
"""


def rule(rule_id: str, match: str, lead: str = "department:市民政局") -> str:
    return f"""  - id: {rule_id}
    description: {{zh: 测试, en: test}}
    match: {match}
    assign: {{lead: "{lead}", response_hours: 24, resolution_days: 7}}
"""


LAST = rule("manual-dispatch", "{}", "manual")


def test_the_shipped_catalogue_has_no_findings() -> None:
    assert check_catalogue_text(DEFAULT_CATALOGUE_PATH.read_text(encoding="utf-8")) == []


def test_a_rule_shadowed_by_an_earlier_wider_rule_is_unreachable_at_its_line() -> None:
    text = (
        HEADER
        + rule("water", "{categories: [城乡建设]}")
        + rule("water-pipes", "{categories: [城乡建设], keywords: [水管]}")
        + LAST
    )
    [finding] = check_catalogue_text(text)
    assert (finding.line, finding.severity, finding.rule_id) == (8, "error", "water-pipes")
    assert "unreachable" in finding.message and "rule water (line 4)" in finding.message


def test_keywords_containing_an_earlier_keyword_are_shadowed() -> None:
    text = HEADER + rule("leak", "{keywords: [漏水]}") + rule("pipe-leak", "{keywords: [水管漏水, 楼上漏水]}") + LAST
    assert [f.rule_id for f in check_catalogue_text(text)] == ["pipe-leak"]


def test_a_narrower_earlier_rule_does_not_shadow_a_wider_later_one() -> None:
    text = (
        HEADER
        + rule("pipes", "{categories: [城乡建设], keywords: [水管]}")
        + rule("water", "{categories: [城乡建设]}")
        + LAST
    )
    assert check_catalogue_text(text) == []


def test_an_unknown_department_is_reported_at_its_line() -> None:
    text = HEADER + rule("x", "{categories: [民政]}", "department:市不存在局") + LAST
    [finding] = check_catalogue_text(text)
    assert finding.line == 7 and finding.severity == "error"
    assert "unknown unit 'department:市不存在局'" in finding.message


def test_an_invalid_field_is_reported_at_its_line() -> None:
    text = HEADER + rule("x", "{categories: [住房]}") + LAST
    [finding] = check_catalogue_text(text)
    assert finding.line == 6 and "match.categories" in finding.message and "住房" in finding.message


def test_partly_overlapping_rules_with_different_leads_are_a_warning() -> None:
    text = (
        HEADER
        + rule("a", "{categories: [城乡建设, 民政]}")
        + rule("b", "{categories: [民政, 农村农业]}", "department:市水务局")
        + LAST
    )
    [finding] = check_catalogue_text(text)
    assert (finding.line, finding.severity, finding.rule_id) == (8, "warning", "b")
    assert "overlaps rule a (line 4)" in finding.message


def test_invalid_yaml_is_an_error_at_its_line() -> None:
    [finding] = check_catalogue_text(HEADER + "  - id: [unclosed\n")
    assert finding.severity == "error" and finding.line >= 4


def test_the_command_exits_1_on_errors_and_prints_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEADER + rule("x", "{categories: [民政]}", "department:市不存在局") + LAST, encoding="utf-8")
    assert main(["catalogue", "check", str(bad)]) == 1
    assert f"{bad}:7: error: rule x: unknown unit" in capsys.readouterr().out
    assert main(["catalogue", "check", str(DEFAULT_CATALOGUE_PATH)]) == 0


def test_a_bad_catalogue_never_replaces_the_good_one(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    good = DEFAULT_CATALOGUE_PATH.read_text(encoding="utf-8")
    path.write_text(good, encoding="utf-8")
    watcher = CatalogueWatcher(path, check_seconds=0)
    version = watcher.catalogue.version
    path.write_text(good.replace("lead: department:市民政局", "lead: department:市不存在局", 1), encoding="utf-8")
    os.utime(path, ns=(1, 1))
    assert watcher.refresh() is False
    assert watcher.current().version == version
    assert watcher.last_error is not None and "unknown units" in watcher.last_error
    path.write_text(good.replace(f'version: "{version}"', 'version: "next"'), encoding="utf-8")
    os.utime(path, ns=(2, 2))
    assert watcher.current().version == "next"
    assert watcher.last_error is None


def test_the_file_is_checked_only_every_few_seconds() -> None:
    now = [0.0]
    watcher = CatalogueWatcher(DEFAULT_CATALOGUE_PATH, check_seconds=5, clock=lambda: now[0])
    watcher._stamp = None  # as if the file changed
    now[0] = 4.0
    watcher.current()
    assert watcher._stamp is None
    now[0] = 5.0
    watcher.current()
    assert watcher._stamp is not None
    assert watcher.catalogue == load_catalogue()


def test_specific_words_before_general_ones_and_a_street_rule_before_its_district_twin_are_not_overlaps() -> None:
    text = (
        HEADER
        + rule("telecom-broadband", "{keywords: [电信宽带]}", "department:市水务局")
        + rule("broadband", "{keywords: [宽带]}")
        + rule("noise-street", "{keywords: [噪音], requires_street: true}", "street")
        + rule("noise-district", "{keywords: [噪音], requires_district: true}", "district")
        + LAST
    )
    assert check_catalogue_text(text) == []


def test_a_later_rule_whose_word_an_earlier_rule_takes_is_still_an_overlap() -> None:
    text = (
        HEADER
        + rule("water", "{keywords: [停水, 水压]}", "department:市水务局")
        + rule("outage", "{keywords: [停水通知, 停电]}")
        + LAST
    )
    [finding] = check_catalogue_text(text)
    assert (finding.severity, finding.rule_id) == ("warning", "outage")
