"""Returns that listen (退单): a reason that names a unit or a place, or says "not our area", decides
where the case goes next instead of the next catalogue candidate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.router.cases import redispatch_after_return
from services.router.returns import UnitNames, department_forms, named_departments, read_return_note
from shared.catalogue import load_catalogue
from shared.events import UnitKind
from shared.gazetteer import load_gazetteer

NOW = datetime(2025, 5, 12, 2, 0, tzinfo=UTC)
CATALOGUE = load_catalogue()
GAZETTEER = load_gazetteer()
NAMES = UnitNames.of(CATALOGUE.department_queues())


def garbage_case(address: str = "朝阳区望京西园三区", body: str = "小区门口垃圾没人清理", **assignment: Any) -> dict:
    return {
        "_id": str(uuid.uuid4()),
        "status": "returned",
        "received_at": NOW - timedelta(hours=3),
        "call": {"channel": "phone", "subject": "", "body": body, "location": {"address": address}},
        "classification": {"category": "城乡建设", "confidence": 0.9},
        "assignment": {"queue_id": "street:朝阳区/望京街道", "rule_id": "urban-construction-street", "attempt": 1,
                       "priority": 3, **assignment},
    }  # fmt: skip


def test_a_department_is_said_by_its_name_its_short_name_and_colloquially() -> None:
    assert department_forms("市交通委员会") == ["市交通委员会", "交通委员会", "交通委"]
    for note, queue in [
        ("这是交通委的事", "department:市交通委员会"),
        ("应由市交通委员会处理", "department:市交通委员会"),
        ("请转人社局", "department:市人力资源和社会保障局"),
        ("属于交警管", "department:市公安局公安交通管理局"),
        ("派出所的事", "department:市公安局"),
        ("this is the transport commission's", "department:市交通委员会"),
        ("ask the police", "department:市公安局"),
    ]:
        assert named_departments(note, NAMES)[0] == [queue], note


def test_a_negated_unit_is_not_where_the_case_goes() -> None:
    queues, _ = named_departments("不是交通委的事，应该是城管委的", NAMES)
    assert queues == ["department:市城市管理委员会"]
    assert named_departments("not the police, it's for the transport commission", NAMES)[0] == [
        "department:市交通委员会"
    ]


def test_colloquial_names_choose_the_city_body_and_fall_back_to_the_next_fragment() -> None:
    names = UnitNames.of({"department:京港地铁", "department:北京市地铁运营有限公司", "department:市城市管理委员会",
                          "department:市城市管理综合行政执法局", "department:北京市自来水集团"})  # fmt: skip
    assert named_departments("地铁公司的事", names)[0] == ["department:北京市地铁运营有限公司"]
    assert named_departments("这是城管的事", names)[0] == ["department:市城市管理综合行政执法局"]
    assert named_departments("not our area, it's the water company's", names)[0] == ["department:北京市自来水集团"]
    without_enforcement = UnitNames.of({"department:市城市管理委员会"})
    assert named_departments("这是城管的事", without_enforcement)[0] == ["department:市城市管理委员会"]


def test_a_name_the_catalogue_has_no_department_for_names_nothing() -> None:
    names = UnitNames.of({"department:市交通委员会"})
    assert named_departments("这是自来水公司的事", names)[0] == []


def test_the_reading_of_a_reason() -> None:
    reading = read_return_note("不是我们辖区，属于朝阳区", NAMES, GAZETTEER)
    assert reading.not_our_area
    assert reading.place is not None and reading.place.district == "朝阳区"
    assert read_return_note("材料不全", NAMES, GAZETTEER) == read_return_note(None, NAMES, GAZETTEER)


def test_a_return_naming_a_department_goes_there_not_to_the_next_candidate() -> None:
    decided = redispatch_after_return(garbage_case(), CATALOGUE, GAZETTEER, NOW, note="这是交通委的事，不归街道")
    assert (decided.queue_id, decided.unit_kind, decided.attempt) == ("department:市交通委员会", UnitKind.department, 2)
    assert "交通委" in decided.reason
    assert decided.response_due_at is not None and decided.resolution_due_at is not None
    plain = redispatch_after_return(garbage_case(), CATALOGUE, GAZETTEER, NOW, note="不归我们管")
    assert plain.queue_id == "district:朝阳区"  # without a name: the next candidate, as before


def test_a_department_in_english_with_not_our_area() -> None:
    decided = redispatch_after_return(
        garbage_case(), CATALOGUE, GAZETTEER, NOW, note="not our area, it's the transport commission's"
    )
    assert decided.queue_id == "department:市交通委员会"


def test_a_department_that_already_had_the_case_is_not_chosen_again() -> None:
    case = garbage_case(queue_id="department:市交通委员会", rule_id="transport")
    decided = redispatch_after_return(case, CATALOGUE, GAZETTEER, NOW, note="我们就是交通委，这不是交通委的事")
    assert decided.queue_id != "department:市交通委员会"


def test_a_return_naming_a_district_moves_the_case_to_that_place() -> None:
    case = garbage_case(address="八里庄东里小区门口", queue_id="street:海淀区/八里庄街道")
    decided = redispatch_after_return(case, CATALOGUE, GAZETTEER, NOW, note="地址属于朝阳区，不是海淀")
    assert decided.queue_id == "street:朝阳区/八里庄街道"
    assert "朝阳区" in decided.reason


def test_a_place_the_reason_denies_is_not_where_the_case_goes() -> None:
    reading = read_return_note("不是海淀区的，属于朝阳区", NAMES, GAZETTEER)
    assert reading.place is not None and reading.place.district == "朝阳区"
    assert read_return_note("不是海淀区的", NAMES, GAZETTEER).place is None


def test_a_return_naming_a_district_where_the_address_has_no_street_goes_to_its_sub_centre() -> None:
    case = garbage_case(address="小区门口", queue_id="district:东城区", rule_id="district-sub-centre")
    decided = redispatch_after_return(case, CATALOGUE, GAZETTEER, NOW, note="属于朝阳区")
    assert decided.queue_id == "district:朝阳区"


def test_a_return_naming_a_street_goes_to_that_street() -> None:
    decided = redispatch_after_return(garbage_case(), CATALOGUE, GAZETTEER, NOW, note="这里归朝阳区酒仙桥街道管")
    assert decided.queue_id == "street:朝阳区/酒仙桥街道"


def test_not_our_area_goes_to_another_street_the_citizen_named() -> None:
    case = garbage_case(address="朝阳区望京西园三区", body="就在酒仙桥路和望京交界的垃圾站，没人清理")
    decided = redispatch_after_return(case, CATALOGUE, GAZETTEER, NOW, note="不是我们辖区")
    assert decided.queue_id == "street:朝阳区/酒仙桥街道"


def test_not_our_area_without_another_street_goes_to_the_district_sub_centre() -> None:
    decided = redispatch_after_return(garbage_case(), CATALOGUE, GAZETTEER, NOW, note="Not our area")
    assert decided.queue_id == "district:朝阳区"
    assert "not its area" in decided.reason


def test_not_our_area_from_the_sub_centre_too_goes_to_manual_dispatch() -> None:
    case = garbage_case(queue_id="district:朝阳区", rule_id="district-sub-centre")
    decided = redispatch_after_return(case, CATALOGUE, GAZETTEER, NOW, note="不在本辖区")
    assert decided.queue_id == "manual:dispatch"


def test_a_returned_urgent_case_stays_urgent() -> None:
    decided = redispatch_after_return(garbage_case(priority=1), CATALOGUE, GAZETTEER, NOW, note="这是交通委的事")
    assert decided.priority == 1
    assert decided.response_due_at == NOW + timedelta(hours=0.5)
    assert decided.resolution_due_at == NOW + timedelta(days=1)


@pytest.mark.parametrize("note", ["这是交通委的事", "不是我们辖区", "属于朝阳区"])
def test_the_return_limit_still_holds(note: str) -> None:
    case = garbage_case(attempt=3)
    assert redispatch_after_return(case, CATALOGUE, GAZETTEER, NOW, max_returns=2, note=note).queue_id == (
        "manual:dispatch"
    )
