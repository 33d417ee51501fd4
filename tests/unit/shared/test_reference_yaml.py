"""The product's YAML files read with libyaml's loader give exactly the documents the pure-Python safe loader gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.reference import YAML_LOADER, read_yaml
from tests.helpers import REPO

SHIPPED = sorted(
    [*(REPO / "shared" / "data").glob("*.yaml"), *(REPO / "services" / "intake" / "open311" / "data").glob("*.yaml")]
)


def test_the_fast_loader_is_used_where_pyyaml_has_libyaml() -> None:
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert YAML_LOADER is expected


@pytest.mark.parametrize("path", SHIPPED, ids=[path.name for path in SHIPPED])
def test_every_shipped_yaml_file_reads_the_same_as_with_the_python_safe_loader(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    assert read_yaml(text) == yaml.safe_load(text)


def test_bad_yaml_and_unsafe_tags_are_refused() -> None:
    with pytest.raises(yaml.YAMLError):
        read_yaml("rules: [unclosed")
    with pytest.raises(yaml.YAMLError):  # a safe loader builds no Python objects
        read_yaml("!!python/object/apply:os.system ['true']")
