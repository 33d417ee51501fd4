"""Places said in pinyin or English, bare names unique in their district, and the spoken-address set
(tests/data/spoken_addresses.jsonl and the later spoken_addresses_holdout.jsonl: written for this project,
labelled with the district and street/town the text names, null where it names none)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hotline.locate_cmd import locate_lines, score
from shared.gazetteer import Gazetteer, build_document, load_gazetteer

SPOKEN = Path(__file__).parents[2] / "data" / "spoken_addresses.jsonl"
# Written after the resolver's changes, to check it on addresses it was not shaped on.
HOLDOUT = Path(__file__).parents[2] / "data" / "spoken_addresses_holdout.jsonl"


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return load_gazetteer()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("Sanlitun, Chaoyang District", ("朝阳区", "三里屯街道")),
        ("Haidian District", ("海淀区", None)),
        ("chaoyang qu", ("朝阳区", None)),
        ("CHAOYANG QU", ("朝阳区", None)),
        ("San Li Tun, Chaoyang", ("朝阳区", "三里屯街道")),
        ("Xihongmen Town, Daxing District", ("大兴区", "西红门镇")),
        ("Changying Township, Chaoyang", ("朝阳区", "常营回族乡")),
        ("Shichahai, Xicheng", ("西城区", "什刹海街道")),  # 什刹海 read shichahai as well as pypinyin's shenshahai
        ("Jinsong, Chaoyang", ("朝阳区", "劲松街道")),  # 劲 read jin as well as the phrase's jing
        ("Balizhuang, Haidian", ("海淀区", "八里庄街道")),
        ("Balizhuang", (None, None)),  # in two districts: the district is needed
        ("Xuanwu", ("西城区", None)),  # a historical name
        ("Tiantongyuan North, Changping", ("昌平区", "天通苑北街道")),  # 天通苑北 with an English direction
    ],
)
def test_pinyin_and_english_names_resolve(gazetteer: Gazetteer, address: str, expected: tuple) -> None:
    resolution = gazetteer.resolve(address, None, None)
    assert (resolution.district, resolution.street) == expected, resolution.reason


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("昌平区城南", ("昌平区", "城南街道")),
        ("延庆区永宁", ("延庆区", "永宁镇")),
        ("延庆区的四海，花海那边", ("延庆区", "四海镇")),
        ("Chengnan, Changping District", ("昌平区", "城南街道")),
        ("yanqing yongning", ("延庆区", "永宁镇")),
        # not after the district, a road or estate named after it, or inside a longer word: no street
        ("城南", (None, None)),
        ("延庆区永宁路", ("延庆区", None)),
        ("丰台区某某新村小区", ("丰台区", None)),
        ("Yongning Road, Yanqing", ("延庆区", None)),
    ],
)
def test_bare_names_unique_in_the_district_said(gazetteer: Gazetteer, address: str, expected: tuple) -> None:
    resolution = gazetteer.resolve(address, None, None)
    assert (resolution.district, resolution.street) == expected, resolution.reason


def test_bare_name_after_a_given_district_field(gazetteer: Gazetteer) -> None:
    resolution = gazetteer.resolve(None, "昌平区", "城南")
    assert (resolution.district, resolution.street) == ("昌平区", "城南街道")
    assert "the only one in it" in resolution.reason


def test_free_english_text_names_no_place(gazetteer: Gazetteer) -> None:
    for text in [
        "The water main burst near my home and nobody came to fix it",
        "a man with a knife is fighting outside the shop, hurry",
        "heating not working since yesterday, the radiator is cold",
        "Hello, my name is Li Na and I am calling about my landlord",
        "the boxing gym next door plays music all night",  # 博兴 reads boxing: not a bare name in English
    ]:
        for strict in (False, True):
            resolution = gazetteer.resolve(text, None, None, strict=strict)
            assert (resolution.district, resolution.street) == (None, None), (text, resolution.reason)


def test_strict_scan_takes_only_suffixed_latin_names(gazetteer: Gazetteer) -> None:
    assert gazetteer.resolve("meeting in Wangjing", None, None, strict=True).street is None
    assert gazetteer.resolve("the lights of Wangjing Subdistrict", None, None, strict=True).street == "望京街道"


def test_pinyin_is_generated_by_pypinyin_with_every_reading() -> None:
    pytest.importorskip("pypinyin")
    divisions = [
        (3, "110105", "110000", "朝阳区"),
        (4, "110105001", "110105", "劲松街道"),
        (4, "110105002", "110105", "常营回族乡"),
    ]
    chaoyang = build_document(divisions, {})["districts"][0]
    assert chaoyang["pinyin"][:1] == ["chaoyang"] or "chaoyang" in chaoyang["pinyin"]
    assert "zhaoyang" in chaoyang["pinyin"]
    streets = {s["name"]: s for s in chaoyang["streets"]}
    assert {"jinsong", "jingsong"} <= set(streets["劲松街道"]["pinyin"])
    assert "changyinghuizuxiang" in streets["常营回族乡"]["pinyin_name"]
    assert streets["常营回族乡"]["pinyin"][0] == "changying"


def test_every_district_and_street_has_a_latin_name(gazetteer: Gazetteer) -> None:
    document = json.loads((Path(__file__).parents[3] / "shared" / "data" / "beijing_gazetteer.json").read_text())
    for district in document["districts"]:
        assert district["pinyin"], district["name"]
        for street in district["streets"]:
            assert street["pinyin"] and street["pinyin_name"], street["name"]
            key = street["pinyin_name"][0]
            assert street["name"] in {e.street for e in gazetteer._latin.index[key]}


@pytest.mark.parametrize(("path", "at_least"), [(SPOKEN, 150), (HOLDOUT, 50)], ids=["set", "holdout"])
def test_spoken_address_set_resolves_streets_and_invents_none(gazetteer: Gazetteer, path: Path, at_least: int) -> None:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    expected = [json.loads(line) for line in lines]
    assert len(expected) >= at_least
    assert {e["lang"] for e in expected} == {"zh", "pinyin", "en", "mixed"}
    summary = score(expected, list(locate_lines(lines, gazetteer)))
    print(f"\nspoken addresses: {json.dumps({k: v for k, v in summary.items() if k != 'misses'})}")
    assert summary["street_rate"] >= 0.95, summary["misses"]
    assert summary["street_invented"] == 0, summary["misses"]
    assert summary["district_rate"] >= 0.95, summary["misses"]


def test_latin_words_are_folded_from_tone_marks_and_capitals_at_their_places_in_the_text() -> None:
    from shared.gazetteer import _latin_words

    text = "住在Sānlǐtún, CHAOYANG区 nǚ 3号楼"
    assert _latin_words(text) == [(2, "sanlitun"), (12, "chaoyang"), (22, "nu"), (25, "3")]
    assert _latin_words(text) == _latin_words(text)  # the second time from the filled table, the same
