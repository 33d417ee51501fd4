"""The rules a call may match, chosen once on bits (``Catalogue.rules_for``): every rule left out fails
``rule_matches``, so routing over them alone decides as routing over every rule."""

from __future__ import annotations

from datetime import datetime

from services.router.routing import rule_matches
from shared.catalogue import load_catalogue
from shared.events import Channel
from shared.gazetteer import Gazetteer
from shared.reference import LEVEL1_CATEGORIES
from tests import factories
from tests.unit.router.test_catalogue_match import catalogue_of, rule
from tests.unit.router.test_catalogue_words import dispatch_set_texts


def test_no_rule_left_out_could_match_and_the_order_is_the_catalogues(gazetteer: Gazetteer) -> None:
    """Over the dispatch sets' texts, each under three categories and with and without a place: every shipped rule
    that ``rule_matches`` is among ``rules_for``, which keeps the catalogue's order."""
    catalogue = load_catalogue()
    order = {id(shipped): at for at, shipped in enumerate(catalogue.rules)}
    located = gazetteer.resolve(None, "朝阳区", "三里屯街道")
    nowhere = gazetteer.resolve(None, None, None)
    categories = sorted(LEVEL1_CATEGORIES)
    received = datetime(2026, 6, 1, 10, 0)
    missed, kept, matched = [], 0, 0
    for number, text in enumerate(dispatch_set_texts()[::3]):
        present = catalogue.words_in(text)
        classification = factories.classification(categories[number % len(categories)])
        chosen = catalogue.rules_for(present, classification.category)
        assert [order[id(r)] for r in chosen] == sorted(order[id(r)] for r in chosen)
        kept += len(chosen)
        chosen_ids = {id(r) for r in chosen}
        for place in (located, nowhere):
            for shipped in catalogue.rules:
                if rule_matches(
                    shipped.match, classification, Channel.phone, place, text, received, urgent=True, present=present
                ):
                    matched += 1
                    if id(shipped) not in chosen_ids:
                        missed.append((shipped.id, text[:30]))
    assert missed == []
    assert matched > 500  # rules do match: the comparison is not between two 'no's
    assert kept < len(catalogue.rules) * len(dispatch_set_texts()[::3]) / 4  # and most rules are left out


def test_words_unless_words_and_categories_choose_the_rules() -> None:
    catalogue = catalogue_of(
        rule("gas", keywords=["燃气"], and_keywords=["漏"], unless=["演习"]),
        rule("roads", categories=["交通运输"]),
        rule("roads-noise", categories=["交通运输", "环境保护"], keywords=["噪音"]),
        rule("noise", keywords=["噪音"]),
    )

    def chosen(text: str, category: str | None) -> list[str]:
        return [r.id for r in catalogue.rules_for(catalogue.words_in(text), category)]

    assert chosen("燃气漏了", "城乡建设") == ["gas", "fallback"]
    assert chosen("燃气演习，漏了", "城乡建设") == ["fallback"]
    assert chosen("燃气表坏了", "城乡建设") == ["fallback"]
    assert chosen("马路噪音", "交通运输") == ["roads", "roads-noise", "noise", "fallback"]
    assert chosen("马路噪音", "环境保护") == ["roads-noise", "noise", "fallback"]
    assert chosen("马路噪音", None) == ["noise", "fallback"]
    assert chosen("路灯坏了", "交通运输") == ["roads", "fallback"]
