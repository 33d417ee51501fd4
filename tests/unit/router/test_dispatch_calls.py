"""Realistic calls through `hotline route`'s code (the shipped classifier, catalogue and gazetteer): the lead
units a Beijing 12345 dispatcher accepts, per level-1 category, and urgency on every life-or-safety call.

The sets (tests/data/) are written by the team, not taken from the training corpus; each call names the
units a dispatcher would accept and why. ``dispatch_calls.jsonl`` is the main set; the catalogue's keyword
rules were written while reading its misses, so its rate is an in-sample figure. ``dispatch_calls_heldout.jsonl``
was written after the rules and scored once (0.84 accepted leads, 2 of 12 life-or-safety calls urgent); the
urgent cues were then widened (gas + leak words, lift + trapped words, power line + danger words, unresponsive
people), so its urgent figure is no longer held out either. ``dispatch_calls_fresh.jsonl`` (40) was written
after that and scored once: 0.72 accepted leads, 4 of 8 urgent; the urgent cues were widened again (smoke,
falls, a child outside a window, things blown down), so it too is now in-sample for urgency (0.80, 8 of 8).
``dispatch_calls_blind.jsonl`` (100, 31 life-or-safety in everyday wording) was written before reading the
router's misses and scored once: 0.73 accepted leads, 15 of 31 urgent, 3 false urgent (past or denied dangers).
The urgent rules were then rebuilt as hazard objects next to danger signs, with past, denied and standing
dangers kept out (``now_only``), and it became the training data of the learned urgency scorer
(services/router/urgency.py), so its urgent figure is in-sample too. ``dispatch_calls_fresh2.jsonl`` (50, 15
life-or-safety) was written after those changes and scored once with the cues alone: 0.74 accepted leads, 7 of
15 urgent, 1 false urgent; the scorer (threshold chosen on the three older sets' false-urgent counts, never on
this set) brings 9 of 15 and no more false urgent. Its misses then guided the third round of cues (and
dispatch-by-words rules written on the unsure calls of all the older sets), so it is in-sample now too.
``dispatch_calls_fresh3.jsonl`` (75, 26 life-or-safety in new objects and signs, 12 past or denied dangers) was
written before reading any router miss of that round and scored once: 0.59 accepted leads, 18 of 26 urgent
(10 by the cues alone), 3 false urgent. The third round (the returned-urgent deadlines, 281 more examples for the
scorer, the cues and word rules above) was written on the older sets and general reasoning, not on its calls,
but by the same hand that wrote it, so its after-figure is not blind either.
``dispatch_calls_fresh4.jsonl`` (84, 26 life-or-safety, 11 past or denied) and ``dispatch_calls_fresh5.jsonl`` (83,
26 and 11) were written together, by one author, before reading any router code or rule, and scored once: 0.70 and
0.69 accepted leads, 24 and 23 of 26 urgent (13 and 16 by the cues alone), 3 and 6 false urgent. The fourth round
(units for calls the scorer judged urgent, denied dangers, more words, unsure calls to their street) was written
reading fresh4's misses and the older sets', never fresh5's: fresh4 is in-sample now (0.95, 26 of 26, none false),
fresh5's after-figure (0.75, 23 of 26, 4 false urgent) is the one nobody tuned on — though its author wrote the
changes. ``dispatch_calls_fresh6.jsonl`` (83, 27 life-or-safety, 11 past or denied, 22 卫生计生) was written the
same way and scored once: 0.71 accepted leads, 21 of 27 urgent (16 by the cues alone), 3 false urgent. The fifth
round (a body in distress to 120, swallowed things, buried people, burst heating pipes, dangers placed earlier or
told as experienced, health and other words, responders for power and cars) was written reading fresh5's and the
older sets' misses, never fresh6's: fresh5 is in-sample now (0.99, 26 of 26, none false); fresh6's after-figure
(0.73, 21 of 27, 3 false urgent) is the one nobody tuned on — though, again, its author wrote the changes.
``dispatch_calls_fresh7.jsonl`` (110, 27 life-or-safety, 11 past or denied) was written before reading any router
code, rule or set's calls and scored once: 0.88 accepted leads, 26 of 27 urgent (22 by the cues alone), 8 false
urgent. The sixth round (dangers over, habitual or supposed; landmarks; gas, chemicals, pits, fumes, manholes,
towers, threats; telecom, discipline and farmland words; precedence between a unit's words and the thing asked
about) was written reading fresh6's and fresh7's misses, so both are in-sample now (fresh6 0.92, 27 of 27, none
false; fresh7 0.96, 27 of 27, 2 false); of the older sets, not read in that round, fresh3 gained two leads and
nothing else moved. ``dispatch_calls_fresh8.jsonl`` (143, 26 life-or-safety) was written by someone who read no router
code, rule or set, and scored once with main: 0.75 accepted leads, 25 of 26 urgent (20 by the cues alone), 6 false
urgent. The seventh round (a danger's sign said gone now, habits; a station exit said as a place; words that need a
place to 人工派单 before sorting; the unit that supplies or regulates; more words) was written reading its misses, so it
is in-sample now (0.98, 26 of 26, 1 false); of the older sets fresh3 and blind gained a lead each.
``dispatch_calls_fresh9.jsonl`` (147, 28 life-or-safety) was written by another author who read no router code, rule or
set, and scored once with main: 0.76 accepted leads, 26 of 28 urgent, 8 false urgent; after the seventh round (which
never read it) 0.78, 26 of 28, 7 false (rules alone 17 of 28). The eighth round (a word said in passing — background,
a destination, a place, the hotline greeted — does not take the call; a habit resumed or a day before told with what
came after is over; more dangers and words) was written reading its misses, so it is in-sample now (0.99, 28 of 28,
1 false); no older set moved but to another accepted unit or to urgent. The floors below are a little under the
figures reached. Print the tables with::

    hotline route --evaluate tests/data/dispatch_calls.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hotline.route_cmd import Dispatcher, Evaluation, accepted_leads, evaluate, read_requests, route_requests
from shared.catalogue import load_catalogue
from shared.reference import LEVEL1_CATEGORIES
from tests.helpers import REPO

DATA = REPO / "tests" / "data"
MAIN_SET = DATA / "dispatch_calls.jsonl"
SECOND_SET = DATA / "dispatch_calls_heldout.jsonl"
FRESH_SET = DATA / "dispatch_calls_fresh.jsonl"
BLIND_SET = DATA / "dispatch_calls_blind.jsonl"
FRESH2_SET = DATA / "dispatch_calls_fresh2.jsonl"
FRESH3_SET = DATA / "dispatch_calls_fresh3.jsonl"
FRESH4_SET = DATA / "dispatch_calls_fresh4.jsonl"
FRESH5_SET = DATA / "dispatch_calls_fresh5.jsonl"
FRESH6_SET = DATA / "dispatch_calls_fresh6.jsonl"
FRESH7_SET = DATA / "dispatch_calls_fresh7.jsonl"
FRESH8_SET = DATA / "dispatch_calls_fresh8.jsonl"
FRESH9_SET = DATA / "dispatch_calls_fresh9.jsonl"
FRESH10_SET = DATA / "dispatch_calls_fresh10.jsonl"
FRESH11_SET = DATA / "dispatch_calls_fresh11.jsonl"
FRESH12_SET = DATA / "dispatch_calls_fresh12.jsonl"
FRESH13_SET = DATA / "dispatch_calls_fresh13.jsonl"
FRESH14_SET = DATA / "dispatch_calls_fresh14.jsonl"
FRESH15_SET = DATA / "dispatch_calls_fresh15.jsonl"
# Twelve sets of 150 written for the learned scorers (3 Dec 2026) in two rounds, each with its own emphasis. lead14a-g:
# hard units; spoken neighbourhood calls; short messages and English; web forms of the commonest problems; the
# hardest categories; the suburbs and villages; emergencies beside alarming words that are none. lead15a-e: the
# seasons; housing; livelihoods; streets and transport; calls hard to read. Each scored once by the product before
# it learned them (docs/routing.md, "The learned lead"), then added to both scorers' examples: in-sample now.
SCORER_SETS = {
    **{DATA / f"dispatch_calls_lead14{part}.jsonl": f"lead14{part}" for part in "abcdefg"},
    **{DATA / f"dispatch_calls_lead15{part}.jsonl": f"lead15{part}" for part in "abcde"},
}
SET_NAMES = {
    MAIN_SET: "main",
    SECOND_SET: "second",
    FRESH_SET: "fresh",
    BLIND_SET: "blind",
    FRESH2_SET: "fresh2",
    FRESH3_SET: "fresh3",
    FRESH4_SET: "fresh4",
    FRESH5_SET: "fresh5",
    FRESH6_SET: "fresh6",
    FRESH7_SET: "fresh7",
    FRESH8_SET: "fresh8",
    FRESH9_SET: "fresh9",
    FRESH10_SET: "fresh10",
    FRESH11_SET: "fresh11",
    FRESH12_SET: "fresh12",
    FRESH13_SET: "fresh13",
    FRESH14_SET: "fresh14",
    FRESH15_SET: "fresh15",
    **SCORER_SETS,
}
SETS = list(SET_NAMES)
LATER_FRESH_SETS = SETS[SETS.index(FRESH3_SET) : SETS.index(FRESH14_SET)]  # every category, dangers told and denied
RECEIVED = "2025-05-13T02:00:00Z"  # a Tuesday, 10:00 in Beijing, unless a call says otherwise


def labelled(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    return Dispatcher.load()


def score(path: Path, dispatcher: Dispatcher) -> Evaluation:
    rows = labelled(path)
    lines = [json.dumps({"received_at": RECEIVED, **row}, ensure_ascii=False) for row in rows]
    decisions = list(route_requests(read_requests(lines), dispatcher, load_catalogue()))
    report = evaluate(rows, decisions)
    print(f"\n{path.name}\n{report.describe()}")
    return report


@pytest.mark.parametrize("path", SETS, ids=SET_NAMES.get)
def test_every_labelled_call_is_well_formed(path: Path) -> None:
    rows = labelled(path)
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert row["category"] in LEVEL1_CATEGORIES, row["id"]
        assert row["body"].strip() and row["why"].strip(), row["id"]
        assert accepted_leads(row), f"{row['id']}: no acceptable lead (a 'street' label needs a place)"
    # Every call is one the product takes (a bad field, e.g. a channel it does not know, would score as a miss).
    refused = [
        request.error
        for request in read_requests(path.read_text(encoding="utf-8").splitlines())
        if request.call is None
    ]
    assert not refused, refused


def test_the_main_set_covers_every_category_and_the_common_problems() -> None:
    rows = labelled(MAIN_SET)
    assert len(rows) >= 150
    assert {row["category"] for row in rows} == set(LEVEL1_CATEGORIES)
    assert sum(row["urgent"] for row in rows) >= 20
    assert sum(not row.get("location") for row in rows) >= 30  # calls that say no place
    assert sum(row["body"].isascii() for row in rows) >= 12  # English calls


@pytest.mark.parametrize("path", [FRESH14_SET, FRESH15_SET, *SCORER_SETS], ids=SET_NAMES.get)
def test_the_sets_of_150_cover_every_category_english_and_calls_without_a_place(path: Path) -> None:
    rows = labelled(path)
    assert len(rows) == 150
    assert {row["category"] for row in rows} == set(LEVEL1_CATEGORIES)
    assert sum(row["urgent"] for row in rows) >= 14
    assert sum(row["body"].isascii() for row in rows) >= 9  # English calls (all ASCII)
    assert sum(not row.get("place") for row in rows) >= 10  # calls that give no street/town


@pytest.mark.parametrize("path", LATER_FRESH_SETS, ids=SET_NAMES.get)
def test_the_later_fresh_sets_cover_every_category_with_dangers_told_and_denied(path: Path) -> None:
    rows = labelled(path)
    assert len(rows) >= 60
    assert {row["category"] for row in rows} == set(LEVEL1_CATEGORIES)
    assert sum(row["urgent"] for row in rows) >= 18
    assert sum(row["body"].isascii() for row in rows) >= 4  # English calls
    assert sum(not row.get("location") for row in rows) >= 5  # calls that say no place


def test_dispatchers_accept_the_lead_unit_of_the_main_set(dispatcher: Dispatcher) -> None:
    report = score(MAIN_SET, dispatcher)
    assert report.rate >= 0.95, report.misses
    for category, (accepted, calls) in report.per_category.items():
        assert accepted / calls >= 0.75, (category, [m for m in report.misses if m.get("category") == category])


def test_every_life_or_safety_call_of_the_sets_the_cues_were_written_on_is_urgent(dispatcher: Dispatcher) -> None:
    for path in (MAIN_SET, SECOND_SET, FRESH_SET, BLIND_SET):
        report = score(path, dispatcher)
        assert report.urgent_recall == 1.0, path.name
        assert len(report.false_urgent) <= 1, report.false_urgent


def test_urgency_on_calls_written_after_the_cues(dispatcher: Dispatcher) -> None:
    """First scores: 9 of 15 on the second fresh set (7 by the cues alone), 18 of 26 on the third (10 by the cues
    alone, 3 false urgent), 24 and 23 of 26 on the fourth and fifth (3 and 6 false urgent). After the fourth round:
    14 of 15, 26 of 26 and 26 of 26 with none false (in-sample or read), 23 of 26 with 4 false on the fifth (not
    read). Sixth set: 21 of 27 with 3 false first; after the fifth round (written on the fifth set, not the sixth)
    the fifth is 26 of 26 with none false, the sixth still 21 of 27 with 3 false. Seventh set: 26 of 27 with 8 false
    first; after the sixth round (written on the sixth and seventh sets' misses) 27 of 27 on both, 0 and 2 false.
    Eighth set: 25 of 26 with 6 false first (0.75 accepted leads); after the seventh round (written on its misses) 26 of 26 with 1 false.
    Ninth set: 26 of 28 with 8 false first (0.76); after the seventh round (not read) 26 of 28 with 7 false (0.78);
    after the eighth (written on its misses) 28 of 28 with 1 false. Tenth and eleventh sets, never read by a round:
    24 of 27 and 27 of 29, 6 false each, before the seventh round; after the eighth 25 of 27 and 27 of 29, 6 false
    each (0.82 and 0.83 accepted leads). Twelfth set, written after the eighth round and never read by one: 24 of
    25 with 6 false first (0.69 accepted leads; by the cues alone 18 of 25, 4 false). Thirteenth set, written after
    the learned lead scorer's settings were fixed and never read: 25 of 26 with 3 false (0.91 accepted leads with
    the learned lead, 0.84 by the rules alone). Since the urgency scorer learned every dispatch set but fresh13 and
    fresh14 (2,986 examples, hotline.examples_cmd): fresh13 25 of 26 with 2 false; fresh14, never read, 15 of 15
    with 2 false (4 with the scorer of 441 examples). With lead15a-e too (3,736 examples): fresh15, never read, 15 of
    15 with 5 false (the rules' own). The twelve scorer sets' figures are in-sample."""
    report = score(FRESH2_SET, dispatcher)
    assert report.urgent_found >= 14, report.urgent_found
    assert len(report.false_urgent) <= 1, report.false_urgent
    for path, found, false in (
        (FRESH3_SET, 25, 1),
        (FRESH4_SET, 25, 1),
        (FRESH5_SET, 25, 1),
        (FRESH6_SET, 26, 1),
        (FRESH7_SET, 26, 3),
        (FRESH8_SET, 25, 2),
        (FRESH9_SET, 27, 2),
        (FRESH10_SET, 25, 6),
        (FRESH11_SET, 27, 6),
        (FRESH12_SET, 24, 6),
        (FRESH13_SET, 25, 3),
        (FRESH14_SET, 15, 2),
        (FRESH15_SET, 15, 5),
        *zip(
            SCORER_SETS,
            (15, 15, 15, 14, 16, 14, 31, 15, 15, 15, 14, 14),
            (0, 4, 2, 0, 2, 5, 8, 6, 5, 2, 4, 3),
            strict=True,
        ),
    ):
        later = score(path, dispatcher)
        assert later.urgent_found >= found, (path.name, later.urgent_found)
        assert len(later.false_urgent) <= false, (path.name, later.false_urgent)


def test_the_sets_written_after_the_rules(dispatcher: Dispatcher) -> None:
    assert score(SECOND_SET, dispatcher).rate >= 0.95
    assert score(FRESH_SET, dispatcher).rate >= 0.95
    assert score(BLIND_SET, dispatcher).rate >= 0.95
    assert score(FRESH2_SET, dispatcher).rate >= 0.94
    assert score(FRESH3_SET, dispatcher).rate >= 0.88
    assert score(FRESH4_SET, dispatcher).rate >= 0.92
    assert score(FRESH5_SET, dispatcher).rate >= 0.95
    assert score(FRESH6_SET, dispatcher).rate >= 0.89
    assert score(FRESH7_SET, dispatcher).rate >= 0.93
    assert score(FRESH8_SET, dispatcher).rate >= 0.97
    assert score(FRESH9_SET, dispatcher).rate >= 0.97
    # Never read by a round of rules. The learned lead scorer's thresholds were chosen on fresh10-12 (rules alone
    # 0.82, 0.83, 0.69), which it has learned since 3 Dec 2026 with the seven scorer sets (in-sample now).
    assert score(FRESH10_SET, dispatcher).rate >= 0.95
    assert score(FRESH11_SET, dispatcher).rate >= 0.95
    assert score(FRESH12_SET, dispatcher).rate >= 0.95
    for path in SCORER_SETS:
        assert score(path, dispatcher).rate >= 0.92, path.name
    # Held out from every round and from both learned scorers' examples (hotline.examples_cmd.HELD_OUT): floors a
    # little under what they score, to notice a change that costs them. fresh13 (rules alone 0.84) was written after
    # the scorer's settings were fixed and scored once with the scorer learning 1,162 calls (0.91); fresh14 (rules
    # alone 0.81) was written blind while lead14a-g were, and scored once when they were learned (0.89; 0.84 with the
    # scorer of the 1,162 calls); fresh15 (rules alone 0.75) the same way with lead15a-e (0.93; 0.93 before them).
    assert score(FRESH13_SET, dispatcher).rate >= 0.92
    assert score(FRESH14_SET, dispatcher).rate >= 0.88
    assert score(FRESH15_SET, dispatcher).rate >= 0.91
