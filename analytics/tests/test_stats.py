"""Statistics against small tables whose answers are worked out by hand.

Each expected number is derived in the comments next to it, so a reader can
check the arithmetic without running anything."""

import pandas as pd
import pytest

from analytics import stats
from nps import groups as nps_groups


def test_nps_group_boundaries():
    assert [stats.nps_group(s) for s in (0, 6, 7, 8, 9, 10)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]
    # Not scores: missing, out of range, fractional, booleans.
    for bad in (None, float("nan"), -1, 11, 7.5, True):
        assert stats.nps_group(bad) is None


def test_nps_and_adjusted_wald_interval():
    # 5 promoters (9, 10, 10, 9, 9), 3 passives (7, 8, 8), 2 detractors (0, 6): n = 10
    # NPS = (5 - 2) / 10 = 30
    # n' = 13, p' = 5.75 / 13 = 0.442308, d' = 2.75 / 13 = 0.211538
    # p' - d' = 0.230769
    # var = 0.442308 + 0.211538 - 0.230769^2 = 0.653846 - 0.053254 = 0.600592
    # SE = sqrt(0.600592 / 13) = sqrt(0.046199) = 0.214940
    # 1.96 * SE = 0.421283 -> [0.230769 - 0.421283, 0.230769 + 0.421283]
    #           = [-0.190514, 0.652052] -> [-19.05, 65.21] points
    r = stats.nps_of_scores([9, 10, 10, 9, 9, 7, 8, 8, 0, 6])
    assert (r.n, r.promoters, r.passives, r.detractors) == (10, 5, 3, 2)
    assert r.nps == pytest.approx(30.0)
    assert r.ci_low == pytest.approx(-19.05, abs=0.01)
    assert r.ci_high == pytest.approx(65.21, abs=0.01)


def test_interval_is_clipped():
    # 2 promoters out of 2: n' = 5, p' = 2.75/5 = 0.55, d' = 0.75/5 = 0.15
    # var = 0.70 - 0.40^2 = 0.54, SE = sqrt(0.54/5) = 0.328634, 1.96*SE = 0.644122
    # [0.40 - 0.644122, 0.40 + 0.644122] = [-24.41, 104.41] -> high clipped to 100
    r = stats.nps_of_scores([10, 9])
    assert r.nps == 100.0
    assert r.ci_low == pytest.approx(-24.41, abs=0.01)
    assert r.ci_high == 100.0
    # 3 detractors out of 3: n' = 6, p' = 0.125, d' = 0.625, p'-d' = -0.5
    # var = 0.75 - 0.25 = 0.5, SE = sqrt(0.5/6) = 0.288675, 1.96*SE = 0.565803
    # [-1.065803, 0.065803] -> [-100 (clipped), 6.58]
    r = stats.nps_of_scores([0, 3, 6])
    assert r.nps == -100.0
    assert r.ci_low == -100.0
    assert r.ci_high == pytest.approx(6.58, abs=0.01)


def test_no_scores_means_no_nps():
    r = stats.nps_of_scores([None, 11])
    assert r.n == 0 and r.nps is None and r.ci_low is None and r.ci_high is None


def test_compare_nps_significant_change():
    # Before: 2 promoters, 1 passive, 7 detractors (n=10), NPS = -50
    #   n' = 13, p' = 2.75/13 = 0.211538, d' = 7.75/13 = 0.596154, NPS' = -0.384615
    #   var = 0.807692 - 0.147929 = 0.659763, var/n' = 0.050751
    # After: 7 promoters, 1 passive, 2 detractors (n=10), NPS = +50
    #   NPS' = +0.384615, var/n' = 0.050751 (mirror image)
    # SE = sqrt(0.050751 + 0.050751) = 0.318594
    # z = (0.384615 - (-0.384615)) / 0.318594 = 2.414456
    # p = 2 * (1 - Phi(2.414456)) = 0.01576 < 0.05 -> significant
    before = stats.nps_from_counts(2, 1, 7)
    after = stats.nps_from_counts(7, 1, 2)
    c = stats.compare_nps(before, after)
    assert c.change == pytest.approx(100.0)
    assert c.z == pytest.approx(2.41446, abs=1e-4)
    assert c.p_value == pytest.approx(0.01576, abs=1e-4)
    assert c.significant


def test_compare_nps_not_significant_and_empty():
    # Before: P=2, D=1, n=3 (scores 10, 9, 0): n'=6, p'=0.458333, d'=0.291667,
    #   NPS'=0.166667, var=0.75-0.027778=0.722222, var/n'=0.120370
    # After: P=1, D=3, n=4 (scores 0, 1, 2, 9): n'=7, p'=0.25, d'=0.535714,
    #   NPS'=-0.285714, var=0.785714-0.081633=0.704082, var/n'=0.100583
    # SE = sqrt(0.220953) = 0.470057, z = -0.452381/0.470057 = -0.962396
    # p = 0.3359 -> not significant
    c = stats.compare_nps(stats.nps_of_scores([10, 9, 0]), stats.nps_of_scores([0, 1, 2, 9]))
    assert c.change == pytest.approx(-50.0 - 100.0 / 3)
    assert c.z == pytest.approx(-0.9624, abs=1e-4)
    assert c.p_value == pytest.approx(0.3359, abs=1e-4)
    assert not c.significant
    empty = stats.compare_nps(stats.nps_of_scores([]), stats.nps_of_scores([10]))
    assert empty.p_value is None and not empty.significant


def _responses(rows):
    return pd.DataFrame(rows, columns=["response_id", "nps_score"])


def _mentions(rows):
    return pd.DataFrame(rows, columns=["response_id", "driver", "polarity"])


def test_driver_table_by_hand():
    responses = _responses([(1, 10), (2, 9), (3, 8), (4, 3), (5, 0), (6, None)])
    mentions = _mentions(
        [
            (1, "staff", "pos"),
            (2, "staff", "pos"),
            (2, "price", "neg"),
            (3, "price", "neg"),
            (4, "delivery", "neg"),
            (4, "staff", "neg"),
            (5, "delivery", "neg"),
            (6, "delivery", "neg"),  # no score: outside the NPS base, not counted
        ]
    )
    table = stats.driver_table(responses, mentions, catalogue=["price", "promotions"])
    by = table.set_index("driver")
    # Base: 5 scored responses, P = {1, 2}, passive = {3}, D = {4, 5}: NPS = (2-2)/5 = 0
    # staff: mentioned by {1, 2, 4} -> 3, share 3/5 = 0.6, pos {1,2} = 2, neg {4} = 1
    #   NPS(mentioners) = (2 - 1)/3 = 33.33; rest {3, 5}: (0 - 1)/2 = -50
    #   impact = 0 - (-50) = +50
    assert by.loc["staff", ["mentions", "positive", "negative"]].tolist() == [3, 2, 1]
    assert by.loc["staff", "share"] == pytest.approx(0.6)
    assert by.loc["staff", "nps_mentioners"] == pytest.approx(100 / 3)
    assert by.loc["staff", "impact"] == pytest.approx(50.0)
    # price: {2, 3} -> 2, share 0.4, neg 2; NPS(mentioners) = (1 - 0)/2 = 50
    #   rest {1, 4, 5}: (1 - 2)/3 = -33.33; impact = 0 - (-33.33) = +33.33
    assert by.loc["price", ["mentions", "positive", "negative"]].tolist() == [2, 0, 2]
    assert by.loc["price", "nps_mentioners"] == pytest.approx(50.0)
    assert by.loc["price", "impact"] == pytest.approx(100 / 3)
    # delivery: {4, 5} (6 has no score) -> 2, NPS(mentioners) = -100
    #   rest {1, 2, 3}: (2 - 0)/3 = 66.67; impact = 0 - 66.67 = -66.67
    assert by.loc["delivery", "mentions"] == 2
    assert by.loc["delivery", "nps_mentioners"] == pytest.approx(-100.0)
    assert by.loc["delivery", "impact"] == pytest.approx(-200 / 3)
    # promotions: in the catalogue, nobody mentioned it: 0, no NPS, impact 0 - 0 = 0
    assert by.loc["promotions", "mentions"] == 0
    assert by.loc["promotions", "share"] == 0
    assert pd.isna(by.loc["promotions", "nps_mentioners"])
    assert by.loc["promotions", "impact"] == pytest.approx(0.0)
    # Order: most mentioned first, ties by id.
    assert table["driver"].tolist() == ["staff", "delivery", "price", "promotions"]


def test_driver_mentioned_by_everybody_has_no_impact():
    # Everybody mentions price: nobody is left out, so NPS(rest) is undefined.
    table = stats.driver_table(
        _responses([(1, 10), (2, 0)]), _mentions([(1, "price", "pos"), (2, "price", "neg")])
    )
    row = table.iloc[0]
    assert row["mentions"] == 2 and row["share"] == 1.0
    assert row["nps_mentioners"] == pytest.approx(0.0)  # (1 - 1)/2
    assert row["impact"] is None or pd.isna(row["impact"])


def test_driver_table_empty():
    assert stats.driver_table(_responses([]), _mentions([])).empty
    t = stats.driver_table(_responses([]), _mentions([]), catalogue=["price"])
    assert t.iloc[0]["mentions"] == 0 and pd.isna(t.iloc[0]["impact"])


def _ts(day):
    return pd.Timestamp(day, tz="UTC").timestamp()


def test_trend_by_month_with_significance():
    responses = pd.DataFrame(
        {
            "started_at": [
                _ts("2024-01-03"),
                _ts("2024-01-20"),
                _ts("2024-01-31 23:00"),
                _ts("2024-03-01"),
                _ts("2024-03-02"),
                _ts("2024-03-15"),
                _ts("2024-03-31"),
                _ts("2024-02-10"),
            ],
            "nps_score": [10, 9, 0, 0, 1, 2, 9, None],
        }
    )
    t = stats.trend(responses, "month")
    # February has only an unscored response: skipped; March is compared with January.
    assert t["period"].tolist() == ["2024-01", "2024-03"]
    assert t["n"].tolist() == [3, 4]
    # January: (2 - 1)/3 = 33.33; March: (1 - 3)/4 = -50; change -83.33,
    # p = 0.3359 (worked out in test_compare_nps_not_significant_and_empty)
    assert t["nps"].tolist() == pytest.approx([100 / 3, -50.0])
    assert pd.isna(t.loc[0, "change"]) and not t.loc[0, "significant"]
    assert t.loc[1, "change"] == pytest.approx(-250 / 3)
    assert t.loc[1, "p_value"] == pytest.approx(0.3359, abs=1e-4)
    assert not t.loc[1, "significant"]


def test_trend_labels():
    responses = pd.DataFrame(
        {"started_at": [_ts("2024-01-01"), _ts("2024-12-31")], "nps_score": [10, 0]}
    )
    # 2024-01-01 is a Monday (ISO week 1); 2024-12-31 is in ISO week 1 of 2025.
    assert stats.trend(responses, "week")["period"].tolist() == ["2024-W01", "2025-W01"]
    assert stats.trend(responses, "quarter")["period"].tolist() == ["2024-Q1", "2024-Q4"]
    assert stats.trend(responses, "year")["period"].tolist() == ["2024"]
    assert stats.trend(responses.iloc[0:0], "year").empty
    with pytest.raises(ValueError):
        stats.trend(responses, "decade")


def test_funnel_and_nps_by():
    responses = pd.DataFrame(
        {
            "response_id": [1, 2, 3, 4],
            "nps_score": [10, 3, None, 8],
            "reason": ["super", None, None, "  "],
            "survey_outcome": ["finished", "stopped", None, "finished"],
            "channel": ["rest", "whatsapp", "rest", "rest"],
        }
    )
    # started: all 4; scored: 1, 2, 4 -> 3; reason, among those: only 1 (blank
    # text is no reason); finished, among those: 1 -> 1 (4 finished without a
    # reason, so it left the funnel at the reason stage)
    assert stats.funnel(responses) == stats.Funnel(4, 3, 1, 1)

    by = stats.nps_by(responses, "channel").set_index("channel")
    # rest: scores 10, 8 (3 has none): P=1, passive=1 -> NPS 50; whatsapp: 3 -> -100
    assert by.loc["rest", "n"] == 2 and by.loc["rest", "nps"] == pytest.approx(50.0)
    assert by.loc["whatsapp", "nps"] == pytest.approx(-100.0)


SCALAR_CASES = [*range(-1, 12), None, float("nan"), 6.5, "7", "dziewięć", True]


def test_funnel_stages_never_grow():
    responses = pd.DataFrame(
        {
            "nps_score": [None, None, 5],
            "reason": ["kurier zgubił paczkę", "drogo", "drogo"],
            "survey_outcome": ["finished", "stopped", "finished"],
        }
    )
    # Two reasons came without a score: only the scored one counts.
    assert stats.funnel(responses) == stats.Funnel(3, 1, 1, 1)


def test_vectorised_groups_equal_the_scalar_rule_for_every_value():
    # The scalar rule (stats.nps_group, thresholds from nps/groups.py) is the
    # reference; the column version must agree on every dtype a frame can have.
    expected = [stats.nps_group(v) for v in SCALAR_CASES]
    assert expected[1:12] == [nps_groups.nps_group(v) for v in range(11)]
    assert expected[0] is None and expected[12:] == [None] * 7
    columns = [
        pd.Series(SCALAR_CASES, dtype="object"),
        pd.Series(SCALAR_CASES[:16], dtype="float64"),
        pd.Series(pd.array([*range(-1, 12), None], dtype="Int64")),
        pd.Series(list(range(-1, 12)), dtype="int64"),
    ]
    for column in columns:
        want = [stats.nps_group(v) for v in column.tolist()]
        assert stats.nps_groups(column).tolist() == want, column.dtype
