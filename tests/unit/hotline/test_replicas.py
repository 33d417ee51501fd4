"""``hotline up --replicas``: which processes may run several times, and how many."""

from __future__ import annotations

import pytest

from hotline.platform import SCALABLE, instance_names, parse_replicas


def test_the_faust_workers_may_have_several_instances() -> None:
    assert parse_replicas("classifier=2,router=2, metrics=3") == {"classifier": 2, "router": 2, "metrics": 3}
    assert parse_replicas("") == {}
    assert set(SCALABLE) == {"classifier", "router", "metrics"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("intake=2", "'intake' cannot run as several instances"),
        ("console=2", "'console' cannot run as several instances"),
        ("router=0", "1 or more"),
        ("router=two", "1 or more"),
        ("router", "1 or more"),
    ],
)
def test_other_processes_and_bad_counts_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_replicas(text)


def test_instances_are_named_after_their_process() -> None:
    assert instance_names("router", 1) == ["router"]
    assert instance_names("router", 3) == ["router", "router-2", "router-3"]
