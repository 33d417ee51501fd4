"""Queue ids parse and format in one place (shared/queues.py)."""

from __future__ import annotations

import pytest

from shared.events import UnitKind
from shared.queues import (
    MANUAL_CLASSIFICATION_QUEUE,
    MANUAL_DISPATCH_QUEUE,
    QueueId,
    QueueIdError,
    kind_of,
    qualified_street,
    queue_label,
    split_qualified_street,
)


@pytest.mark.parametrize(
    ("text", "kind", "district", "street", "department", "label", "unit_name"),
    [
        ("street:大兴区/西红门镇", UnitKind.street, "大兴区", "西红门镇", None, "西红门镇", "大兴区西红门镇"),
        ("district:大兴区", UnitKind.district, "大兴区", None, None, "大兴区", "大兴区分中心"),
        ("department:市民政局", UnitKind.department, None, None, "市民政局", "市民政局", "市民政局"),
        ("manual:dispatch", UnitKind.manual, None, None, None, "dispatch", "人工派单 (manual dispatch)"),
        (
            "manual:classification",
            UnitKind.manual,
            None,
            None,
            None,
            "classification",
            "人工分拣 (manual classification)",
        ),
    ],
)
def test_a_queue_id_parses_into_its_parts_and_formats_back(
    text: str,
    kind: UnitKind,
    district: str | None,
    street: str | None,
    department: str | None,
    label: str,
    unit_name: str,
) -> None:
    queue = QueueId.parse(text)

    assert (queue.kind, queue.district, queue.street, queue.department) == (kind, district, street, department)
    assert (queue.label, queue.unit_name) == (label, unit_name)
    assert str(queue) == text
    assert kind_of(text) is kind


def test_the_constructors_spell_what_parse_reads() -> None:
    assert str(QueueId.for_street("大兴区", "西红门镇")) == "street:大兴区/西红门镇"
    assert str(QueueId.for_district("朝阳区")) == "district:朝阳区"
    assert str(QueueId.for_department("市民政局")) == "department:市民政局"
    assert (MANUAL_DISPATCH_QUEUE, MANUAL_CLASSIFICATION_QUEUE) == ("manual:dispatch", "manual:classification")
    assert QueueId.parse("street:大兴区/西红门镇") == QueueId.for_street("大兴区", "西红门镇")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("西红门镇", "expected one of 'street:'"),
        ("town:大兴区/西红门镇", "expected one of 'street:'"),
        ("street:", "nothing"),
        ("street:西红门镇", "expected 'street:<区>/<街乡镇>'"),
        ("street:大兴区/", "expected 'street:<区>/<街乡镇>'"),
        ("street:大兴区/西红门镇/x", "expected 'street:<区>/<街乡镇>'"),
        ("district:大兴区/西红门镇", "expected 'district:<区>'"),
        ("department: 市民政局", "blanks"),
    ],
)
def test_a_bad_queue_id_is_refused_with_what_was_expected(text: str, why: str) -> None:
    with pytest.raises(QueueIdError, match=why):
        QueueId.parse(text)
    assert QueueId.try_parse(text) is None
    assert kind_of(text) is None


def test_a_label_of_something_that_is_not_a_queue_id_is_the_text_itself() -> None:
    assert queue_label("street:大兴区/西红门镇") == "西红门镇"
    assert queue_label("legacy") == "legacy"


def test_a_qualified_street_is_what_a_street_queue_holds() -> None:
    assert qualified_street("大兴区", "西红门镇") == QueueId.for_street("大兴区", "西红门镇").body == "大兴区/西红门镇"
    assert split_qualified_street("大兴区/西红门镇") == ("大兴区", "西红门镇")
    assert split_qualified_street("西红门镇") == ("西红门镇", None)
