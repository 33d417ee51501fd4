"""Loading and validating the dispatch catalogue (派单目录)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.catalogue import DEFAULT_CATALOGUE_PATH, CatalogueError, load_catalogue, parse_catalogue
from tests.conftest import domain_csv


def rule(rule_id: str, **match: Any) -> dict[str, Any]:
    return {
        "id": rule_id,
        "description": {"zh": "测试", "en": "test"},
        "match": match,
        "assign": {"lead": "department:市民政局", "response_hours": 24, "resolution_days": 7},
    }


def catalogue_with(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"version": "test-1", "rules": list(rules)}


def test_shipped_catalogue_loads_with_a_version_and_ends_in_manual_dispatch() -> None:
    catalogue = load_catalogue()
    assert catalogue.version
    assert catalogue.rules[-1].assign.lead == "manual"
    assert catalogue.rules[-1].is_catch_all


def test_shipped_catalogue_subcategories_exist_in_the_official_taxonomy() -> None:
    with domain_csv("taxonomy-government-messages.csv").open(encoding="utf-8") as f:
        pairs = {(row["level1"], row["level2"]) for row in csv.DictReader(f)}
    level2 = {level2 for _, level2 in pairs}
    for rule_ in load_catalogue().rules:
        for subcategory in rule_.match.subcategories:
            assert subcategory in level2, f"{rule_.id}: {subcategory}"
            if rule_.match.categories:
                assert any((c, subcategory) in pairs for c in rule_.match.categories), f"{rule_.id}: {subcategory}"


def test_catalogue_with_unknown_category_is_rejected_with_rule_id() -> None:
    document = catalogue_with(rule("ok"), rule("housing", categories=["住房"]), rule("last"))
    with pytest.raises(CatalogueError) as error:
        parse_catalogue(document)
    message = str(error.value)
    assert "rule #1 (id 'housing')" in message
    assert "match.categories" in message and "住房" in message


def test_catalogue_with_unknown_issue_is_rejected_with_rule_id() -> None:
    with pytest.raises(CatalogueError, match=r"rule #0 \(id 'pay'\).*match\.issues.*unpaid-wages"):
        parse_catalogue(catalogue_with(rule("pay", issues=["unpaid-wages"])))


@pytest.mark.parametrize("lead", ["department:", "dept:市民政局", "streets", ""])
def test_catalogue_with_bad_lead_syntax_is_rejected(lead: str) -> None:
    bad = rule("bad-lead", categories=["民政"])
    bad["assign"]["lead"] = lead
    with pytest.raises(CatalogueError, match=r"rule #0 \(id 'bad-lead'\).*assign\.lead.*bad lead"):
        parse_catalogue(catalogue_with(bad))


def test_street_lead_without_requires_street_is_rejected() -> None:
    street = rule("street-first", categories=["城乡建设"])
    street["assign"]["lead"] = "street"
    with pytest.raises(CatalogueError, match="requires_street"):
        parse_catalogue(catalogue_with(street))


def test_manual_cannot_be_a_cooperating_unit() -> None:
    bad = rule("coop", categories=["民政"])
    bad["assign"]["cooperating"] = ["manual"]
    with pytest.raises(CatalogueError, match=r"assign\.cooperating.*bad cooperating unit 'manual'"):
        parse_catalogue(catalogue_with(bad))


def test_duplicate_rule_ids_are_rejected() -> None:
    with pytest.raises(CatalogueError, match=r"rule #1 \(id 'same'\): duplicate id, already used by rule #0"):
        parse_catalogue(catalogue_with(rule("same", categories=["民政"]), rule("same")))


def test_catch_all_rule_before_others_is_rejected() -> None:
    with pytest.raises(CatalogueError, match=r"rule #0 \(id 'everything'\): matches everything"):
        parse_catalogue(catalogue_with(rule("everything"), rule("never", categories=["民政"])))


def test_catalogue_without_version_is_rejected() -> None:
    with pytest.raises(CatalogueError, match="version"):
        parse_catalogue({"rules": [rule("only")]})


def test_load_names_the_file_and_the_rule(tmp_path: Path) -> None:
    document = yaml.safe_load(DEFAULT_CATALOGUE_PATH.read_text(encoding="utf-8"))
    document["rules"][3]["match"]["categories"] = ["商贸"]
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogueError) as error:
        load_catalogue(path)
    assert str(path) in str(error.value)
    assert f"rule #3 (id '{document['rules'][3]['id']}')" in str(error.value)


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: [1\nrules: -", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_catalogue(path)
