"""`hotline locate`: JSON lines of addresses in, district and street/town out, no server needed."""

from __future__ import annotations

import json

from hotline.locate_cmd import locate_lines
from shared.gazetteer import load_gazetteer
from tests.helpers import run_hotline


def test_locate_reads_json_lines_and_writes_gazetteer_names_or_null() -> None:
    lines = [
        json.dumps({"id": "a", "address": "大兴区西红门那边的宏福苑小区"}, ensure_ascii=False),
        "",
        json.dumps({"id": 7, "address": "八里庄那边"}, ensure_ascii=False),
        json.dumps({"id": "c"}),
    ]
    completed = run_hotline("locate", stdin="\n".join(lines) + "\n", timeout=60)
    answers = [json.loads(line) for line in completed.stdout.splitlines()]
    assert answers == [
        {"id": "a", "district": "大兴区", "street": "西红门镇", "confidence": 0.8},
        {"id": 7, "district": None, "street": None, "confidence": 0.0},
        {"id": "c", "district": None, "street": None, "confidence": 0.0},
    ]


def test_names_are_exactly_those_of_the_gazetteer() -> None:
    gazetteer = load_gazetteer()
    [answer] = locate_lines([json.dumps({"id": 1, "address": "常营地区的住总小区"})], gazetteer)
    assert answer["street"] in gazetteer.districts[answer["district"]]
    assert answer["street"] == "常营回族乡"


def test_a_line_that_is_not_json_gets_an_error_and_the_rest_go_on() -> None:
    answers = list(
        locate_lines(["{not json", '{"id": 2, "address": "回龙观这边"}'], load_gazetteer(), with_reason=True)
    )
    assert answers[0]["id"] is None and "line 1" in answers[0]["error"]
    assert (answers[1]["district"], answers[1]["street"]) == ("昌平区", "回龙观街道")
    assert answers[1]["reason"]


def test_score_compares_with_the_labels_and_reports_to_stderr() -> None:
    lines = [
        json.dumps({"id": "a", "address": "Sanlitun, Chaoyang District", "district": "朝阳区", "street": "三里屯街道"}),
        json.dumps({"id": "b", "address": "朝阳区一个小区门口", "district": "朝阳区", "street": None}),
        json.dumps({"id": "c", "address": "八里庄那边", "district": "海淀区", "street": "八里庄街道"}),
    ]
    completed = run_hotline("locate", "--score", stdin="\n".join(lines) + "\n", timeout=60)
    assert len(completed.stdout.splitlines()) == 3
    summary = json.loads(completed.stderr)
    assert (summary["with_street"], summary["street_resolved"], summary["street_invented"]) == (2, 1, 0)
    assert summary["street_rate"] == 0.5 and summary["district_rate"] == round(2 / 3, 4)
    assert [m["id"] for m in summary["misses"]] == ["c"]
    assert summary["cpu_microseconds_per_address"] > 0
