"""Spoken-style Beijing locations, written for these tests, with the (district, street/town) they mean."""

from __future__ import annotations

import pytest

from shared.gazetteer import load_gazetteer

# (address, district field, street field) -> (district, street); None where a careful operator could not tell.
SPOKEN_LOCATIONS: list[tuple[tuple[str | None, str | None, str | None], tuple[str | None, str | None]]] = [
    (("大兴区西红门那边的宏福苑小区", None, None), ("大兴区", "西红门镇")),
    (("朝阳区望京西园三区十号楼", None, None), ("朝阳区", "望京街道")),
    (("我家在海淀区中关村南大街那块", None, None), ("海淀区", "中关村街道")),
    (("通州梨园地区云景里小区", None, None), ("通州区", "梨园镇")),
    (("昌平回龙观龙泽苑东区", None, None), ("昌平区", "回龙观街道")),
    (("天通苑北一区门口", None, None), ("昌平区", "天通苑北街道")),
    (("丰台区方庄芳群园二区", None, None), ("丰台区", "方庄街道")),
    (("西城区大栅栏那边的胡同里", None, None), ("西城区", "大栅栏街道")),
    (("东城东四十条地铁站旁边", None, None), ("东城区", "东四街道")),
    (("顺义后沙峪镇裕祥花园", None, None), ("顺义区", "后沙峪镇")),
    (("房山区长阳镇半岛小区", None, None), ("房山区", "长阳镇")),
    (("亦庄镇那边的小区，大兴区的", None, None), ("大兴区", "亦庄镇")),
    (("延庆区八达岭镇石峡村", None, None), ("延庆区", "八达岭镇")),
    (("怀柔区雁栖镇那边", None, None), ("怀柔区", "雁栖镇")),
    (("密云区古北口镇司马台村", None, None), ("密云区", "古北口镇")),
    (("平谷区金海湖镇上宅村", None, None), ("平谷区", "金海湖镇")),
    (("门头沟区潭柘寺镇", None, None), ("门头沟区", "潭柘寺镇")),
    (("石景山区鲁谷街道办事处旁边", None, None), ("石景山区", "鲁谷街道")),
    (("朝阳区八里庄东里", None, None), ("朝阳区", "八里庄街道")),
    (("海淀区八里庄街道", None, None), ("海淀区", "八里庄街道")),
    (("八里庄那边", None, None), (None, None)),
    (("常营地区的住总小区", None, None), ("朝阳区", "常营回族乡")),
    (("宣武区牛街清真寺对面", None, None), ("西城区", "牛街街道")),
    (("北京市顺义区天竺镇", None, None), ("顺义区", "天竺镇")),
    (("在三里屯太古里附近", None, None), ("朝阳区", "三里屯街道")),
    (("回龙观这边", None, None), ("昌平区", "回龙观街道")),
    (("大兴黄村火神庙", None, None), ("大兴区", "黄村镇")),
    (("通州宋庄画家村", None, None), ("通州区", "宋庄镇")),
    (("海淀区学院路街道五道口", None, None), ("海淀区", "学院路街道")),
    (("丰台卢沟桥地区小屯路", None, None), ("丰台区", "卢沟桥街道")),
    (("昌平区沙河镇于辛庄村", None, None), ("昌平区", "沙河镇")),
    (("顺义区杨镇", None, None), ("顺义区", "杨镇")),
    (("密云县城鼓楼街道", None, None), ("密云区", "鼓楼街道")),
    (("西城区金融街那边的写字楼", None, None), ("西城区", "金融街街道")),
    (("石景山苹果园地铁站", None, None), ("石景山区", "苹果园街道")),
    (("海淀上地十街", None, None), ("海淀区", "上地街道")),
    (("通州区台湖", None, None), ("通州区", "台湖镇")),
    (("朝阳区", None, None), ("朝阳区", None)),
    (("我在上海出差", None, None), (None, None)),
    (("家门口", "大兴", "西红门地区"), ("大兴区", "西红门镇")),
    (("小区门口", "朝阳区", None), ("朝阳区", None)),
    ((None, None, "望京街道办事处"), ("朝阳区", "望京街道")),
    (("东城区", "东城区", "八里庄街道"), ("东城区", None)),
]


@pytest.mark.parametrize(("given", "expected"), SPOKEN_LOCATIONS, ids=[g[0] or g[2] for g, _ in SPOKEN_LOCATIONS])
def test_spoken_location_resolves_as_an_operator_would(
    given: tuple[str | None, str | None, str | None], expected: tuple[str | None, str | None]
) -> None:
    address, district, street = given
    resolution = load_gazetteer().resolve(address, district, street)
    assert (resolution.district, resolution.street) == expected, resolution.reason
