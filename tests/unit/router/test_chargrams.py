"""The learned scorers' n-gram table: every key found at its row, absent keys not found, one table for two models."""

from __future__ import annotations

import numpy as np
import pytest

from services.router.chargrams import GramTable, LinearCharGrams, share_table
from services.router.lead import load_scorers
from services.router.settings import RouterSettings
from services.router.urgency import EXAMPLES_PATH, UrgencyScorer, example_rows
from shared.keyindex import text_to_key
from tests import factories


def test_every_key_is_found_at_its_row_and_no_other_key_is_found() -> None:
    """40,000 random keys in a table of 2**18 slots: thousands share a first slot, and are found by probing on."""
    rng = np.random.default_rng(7)
    drawn = rng.permutation(np.unique(rng.integers(1, 2**63 - 1, size=60_000, dtype=np.int64)))
    keys, absent = drawn[:40_000], drawn[40_000:]
    table = GramTable(keys)
    assert (table.rows(keys) == np.arange(len(keys))).all()
    assert (table.rows(absent) == -1).all()
    assert (table.rows(keys[::-1]) == np.arange(len(keys))[::-1]).all()


def test_a_table_refuses_repeated_or_zero_keys() -> None:
    with pytest.raises(ValueError, match="distinct"):
        GramTable(np.array([5, 9, 5]))
    with pytest.raises(ValueError, match="non-zero"):
        GramTable(np.array([5, 0]))


def test_counts_follow_char_wb_words_and_lower_case() -> None:
    """' ab ' and ' ab ' again: each padded word's grams counted, none across words or texts."""
    grams = [" a", "ab", "b ", " ab", "ab ", "a", "b", " "]
    table = GramTable(np.array([text_to_key(gram) for gram in grams]))
    counts = table.count(["AB ab", "", "ba"])
    found = {(int(t), grams[int(r)]): int(c) for t, r, c in zip(counts.text_of, counts.row, counts.count, strict=True)}
    assert found == {
        (0, " a"): 2,
        (0, "ab"): 2,
        (0, "b "): 2,
        (0, " ab"): 2,
        (0, "ab "): 2,
        (0, "a"): 2,
        (0, "b"): 2,
        (0, " "): 4,
        (2, "b"): 1,
        (2, "a"): 1,
        (2, " "): 2,
    }
    assert counts.texts == 3


def test_two_scorers_on_one_table_give_what_each_gives_alone() -> None:
    """The router's two scorers read one table (``load_scorers``): the same probabilities as each model on a table
    of its own grams, to rounding, and the batch's n-grams are counted once for both."""
    texts = [*[text for text, _ in example_rows(EXAMPLES_PATH)][:400], "", "Gas LEAK at 3 Sanlitun Rd!!", "燃气 泄漏"]
    urgency, lead = load_scorers(RouterSettings(learned_urgency=True, learned_lead=True))
    assert urgency is not None and lead is not None
    shared = urgency.fast.table
    assert lead.fast.table is shared
    assert len(shared) == len(np.union1d(urgency.fast.keys, lead.fast.keys))
    calls = [factories.call(body="楼道里有很浓的煤气味"), factories.call(body="小区路灯不亮了")]
    on_shared = [model.probabilities(texts) for model in (urgency.fast, lead.fast)]
    counted = shared.count(texts)
    assert shared.count(list(texts)) is counted
    assert shared.count(texts[1:]) is not counted
    judged, voted = [j.flag for j in urgency.judge(calls)], [v.probabilities for v in lead.votes(calls)]
    for model in (urgency.fast, lead.fast):
        model.use(GramTable(model.keys))
    assert urgency.fast.table is not lead.fast.table
    for model, probabilities in zip((urgency.fast, lead.fast), on_shared, strict=True):
        np.testing.assert_allclose(probabilities, model.probabilities(texts), rtol=0, atol=1e-12)
    assert [j.flag for j in urgency.judge(calls)] == judged
    np.testing.assert_allclose([v.probabilities for v in lead.votes(calls)], voted, rtol=0, atol=1e-12)


def test_a_model_reads_only_a_table_that_holds_its_grams() -> None:
    scorer = UrgencyScorer.load()
    other = GramTable(np.array([text_to_key("煤"), text_to_key("气")]))
    with pytest.raises(ValueError, match="lacks"):
        scorer.fast.use(other)
    with pytest.raises(ValueError, match="another table"):
        scorer.fast.probabilities_of(other.count(["煤气"]))
    shared = share_table(scorer.fast)
    assert isinstance(scorer.fast, LinearCharGrams) and scorer.fast.table is shared
