"""Comment-level driver scores on a table worked out by hand."""

import pytest

from bench.driver_scores import counts, drivers_only, micro, per_driver, per_label

# Three comments:
#   1. gold {delivery:neg, staff:pos}  predicted {delivery:neg, staff:neg}
#   2. gold {price:neg}                predicted {price:neg}
#   3. gold {}                         predicted {assortment:neg}
GOLD = [{"delivery:neg", "staff:pos"}, {"price:neg"}, set()]
PRED = [{"delivery:neg", "staff:neg"}, {"price:neg"}, {"assortment:neg"}]


def test_tags_with_polarity():
    # tp: delivery:neg, price:neg = 2; fp: staff:neg, assortment:neg = 2; fn: staff:pos = 1
    by_label = counts(GOLD, PRED)
    scores = micro(by_label)
    assert (scores.tp, scores.fp, scores.fn) == (2, 2, 1)
    assert scores.precision == pytest.approx(2 / 4)
    assert scores.recall == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx(4 / 7)  # 2*2 / (2*2 + 2 + 1)


def test_drivers_without_polarity():
    # staff is right once polarity is dropped: tp 3 (delivery, staff, price), fp 1, fn 0
    gold = [drivers_only(g) for g in GOLD]
    pred = [drivers_only(p) for p in PRED]
    scores = micro(counts(gold, pred))
    assert (scores.tp, scores.fp, scores.fn) == (3, 1, 0)
    assert scores.f1 == pytest.approx(6 / 7)


def test_per_driver_sums_both_polarities():
    by_label = counts(GOLD, PRED)
    staff = per_driver(by_label, ["staff"])["staff"]
    assert (staff.tp, staff.fp, staff.fn) == (0, 1, 1)
    assert staff.f1 == 0
    labels = per_label(by_label, ["delivery:neg", "promotions:pos"])
    assert labels["delivery:neg"].f1 == 1
    assert labels["promotions:pos"].f1 is None  # nothing to score


def test_unpaired_input_is_refused():
    with pytest.raises(ValueError):
        counts([set()], [])
