"""NPS statistics as pure functions: no database, no Streamlit, no clock.

Every function here takes plain numbers, lists or pandas frames and returns
plain values or frozen dataclasses, so tests can feed small tables whose
answers are worked out by hand. The dashboard and the report CLI both call
these functions, which is what makes their numbers agree.

Conventions
- NPS and its interval are in NPS points (x100), from -100 to 100.
- The NPS base is the responses *with a score*: a survey where the customer
  never gave a valid 0-10 score has no group, so it cannot count as a
  promoter, passive or detractor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

# The groups and their boundaries are defined once, in the code the bot and
# analytics share (nps/groups.py).
from nps.groups import DETRACTOR, GROUPS, PASSIVE, PROMOTER
from nps.groups import nps_group as _group_of_valid_score

# Two-sided 95% normal quantile (MeasuringU's adjusted-Wald interval).
Z95 = 1.96


def nps_group(score) -> str | None:
    """The group of a stored score; anything that is not a whole 0-10 has none.

    Tracker data is read as it was written, so a missing, NaN, boolean or
    out-of-range value gives None here instead of an error.
    """
    if score is None or isinstance(score, bool):
        return None
    try:
        if pd.isna(score):
            return None
    except (TypeError, ValueError):
        return None
    try:
        if score != int(score) or not 0 <= score <= 10:
            return None
    except (TypeError, ValueError):
        return None
    return _group_of_valid_score(int(score))


@dataclass(frozen=True)
class NpsResult:
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None  # None when n == 0: no answers, no score
    ci_low: float | None
    ci_high: float | None

    @property
    def groups(self) -> dict:
        return {PROMOTER: self.promoters, PASSIVE: self.passives, DETRACTOR: self.detractors}


def _adjusted(promoters: int, detractors: int, n: int) -> tuple[float, float, float]:
    """Adjusted-Wald proportions: add 3/4 promoter, 3/4 detractor (and so 3/2
    passive) to the sample, which keeps the interval sensible for small n and
    for samples that are all promoters or all detractors."""
    n_adj = n + 3
    p_adj = (promoters + 0.75) / n_adj
    d_adj = (detractors + 0.75) / n_adj
    return n_adj, p_adj, d_adj


def _adjusted_variance(p_adj: float, d_adj: float) -> float:
    # Variance of one answer scored +1 / 0 / -1: E[x^2] - E[x]^2.
    return p_adj + d_adj - (p_adj - d_adj) ** 2


def adjusted_wald_ci(
    promoters: int, detractors: int, n: int, z: float = Z95
) -> tuple[float, float]:
    """95% interval for NPS by the adjusted Wald method (MeasuringU), in NPS
    points, clipped to [-100, 100]."""
    if n < 0 or promoters < 0 or detractors < 0 or promoters + detractors > n:
        raise ValueError("counts must satisfy 0 <= promoters + detractors <= n")
    n_adj, p_adj, d_adj = _adjusted(promoters, detractors, n)
    se = math.sqrt(_adjusted_variance(p_adj, d_adj) / n_adj)
    centre = p_adj - d_adj
    low = max(-100.0, 100.0 * (centre - z * se))
    high = min(100.0, 100.0 * (centre + z * se))
    return low, high


def nps_from_counts(promoters: int, passives: int, detractors: int) -> NpsResult:
    n = promoters + passives + detractors
    if n == 0:
        return NpsResult(0, 0, 0, 0, None, None, None)
    low, high = adjusted_wald_ci(promoters, detractors, n)
    return NpsResult(
        n=n,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        nps=100.0 * (promoters - detractors) / n,
        ci_low=low,
        ci_high=high,
    )


def nps_of_scores(scores: Iterable) -> NpsResult:
    """NPS of a list of 0-10 scores; missing or invalid scores are left out."""
    counts = {g: 0 for g in GROUPS}
    for score in scores:
        group = nps_group(score)
        if group is not None:
            counts[group] += 1
    return nps_from_counts(counts[PROMOTER], counts[PASSIVE], counts[DETRACTOR])


@dataclass(frozen=True)
class NpsChange:
    """Change of NPS from period 1 to period 2, with its significance."""

    nps_before: float | None
    nps_after: float | None
    change: float | None  # raw NPS points, after - before
    z: float | None
    p_value: float | None
    significant: bool


def compare_nps(before: NpsResult, after: NpsResult, alpha: float = 0.05) -> NpsChange:
    """Two-sided z-test for the difference of two independent NPS values,
    using the adjusted-Wald estimates (MeasuringU, "comparing two Net
    Promoter Scores"):

        NPS'_i = p'_i - d'_i,  Var_i = p'_i + d'_i - (p'_i - d'_i)^2
        SE = sqrt(Var_1 / n'_1 + Var_2 / n'_2),  z = (NPS'_2 - NPS'_1) / SE

    and p = 2 * (1 - Phi(|z|)). The adjustment keeps the test defined when a
    period is all promoters or all detractors. Periods without answers are
    not compared.
    """
    if before.n == 0 or after.n == 0:
        return NpsChange(before.nps, after.nps, None, None, None, False)
    n1, p1, d1 = _adjusted(before.promoters, before.detractors, before.n)
    n2, p2, d2 = _adjusted(after.promoters, after.detractors, after.n)
    se = math.sqrt(_adjusted_variance(p1, d1) / n1 + _adjusted_variance(p2, d2) / n2)
    z = ((p2 - d2) - (p1 - d1)) / se
    p_value = math.erfc(abs(z) / math.sqrt(2.0))  # = 2 * (1 - Phi(|z|))
    return NpsChange(
        nps_before=before.nps,
        nps_after=after.nps,
        change=after.nps - before.nps,
        z=z,
        p_value=p_value,
        significant=p_value < alpha,
    )


# --- tables --------------------------------------------------------------


def nps_groups(scores: pd.Series) -> pd.Series:
    """`nps_group` for a whole column at once: the scalar rules decide each
    distinct value once (a column holds a dozen), so 100k responses are
    grouped in milliseconds and the boundaries stay in nps/groups.py."""
    if scores.dtype == object:
        # Mixed Python values (possibly booleans, unhashable ones): row by row.
        return scores.map(nps_group).astype("object")
    lookup = {value: nps_group(value) for value in pd.unique(scores.dropna())}
    out = scores.map(lookup).astype("object")
    return out.where(out.notna(), None)


def _scored(responses: pd.DataFrame) -> pd.DataFrame:
    """Responses that count for NPS: those with a valid 0-10 score."""
    if responses.empty:
        return responses.assign(nps_group=pd.Series(dtype="object"))
    groups = nps_groups(responses["nps_score"])
    return responses.assign(nps_group=groups)[groups.notna()]


def _counts(groups: pd.Series) -> NpsResult:
    counts = groups.value_counts()
    return nps_from_counts(
        int(counts.get(PROMOTER, 0)), int(counts.get(PASSIVE, 0)), int(counts.get(DETRACTOR, 0))
    )


def nps_of_frame(responses: pd.DataFrame) -> NpsResult:
    """NPS of a responses frame (column `nps_score`)."""
    if responses.empty:
        return nps_from_counts(0, 0, 0)
    return _counts(nps_groups(responses["nps_score"]))


@dataclass(frozen=True)
class Funnel:
    started: int  # the survey form was activated
    scored: int  # a valid score was given
    reason: int  # a reason was given
    finished: int  # the survey reached its end


def funnel(responses: pd.DataFrame) -> Funnel:
    """Every response started the survey (that is what makes it a response).

    Each stage counts the responses that also passed every stage before it,
    so the numbers never grow along the funnel: a reason given without a
    valid score (an opening complaint, or after unclear answers) is not
    counted under "reason", and a survey finished without a reason is not
    counted under "finished"."""
    if responses.empty:
        return Funnel(0, 0, 0, 0)
    scored = nps_groups(responses["nps_score"]).notna()
    reason = responses["reason"].notna() & (responses["reason"].astype("string").str.strip() != "")
    reason = scored & reason.fillna(False).astype(bool)
    finished = reason & (responses["survey_outcome"] == "finished")
    return Funnel(
        started=len(responses),
        scored=int(scored.sum()),
        reason=int(reason.sum()),
        finished=int(finished.sum()),
    )


def nps_by(responses: pd.DataFrame, column: str, missing_label: str = "(none)") -> pd.DataFrame:
    """NPS with interval for each value of `column` (e.g. channel, touchpoint).

    Columns: <column>, n, promoters, passives, detractors, nps, ci_low,
    ci_high; sorted by n, largest first. Responses without a score are left
    out, as in the overall NPS."""
    cols = [column, "n", "promoters", "passives", "detractors", "nps", "ci_low", "ci_high"]
    scored = _scored(responses)
    if scored.empty:
        return pd.DataFrame(columns=cols)
    keys = scored[column].astype("object").where(scored[column].notna(), missing_label)
    rows = []
    for value, part in scored.groupby(keys, sort=True):
        counts = part["nps_group"].value_counts()
        r = nps_from_counts(
            int(counts.get(PROMOTER, 0)), int(counts.get(PASSIVE, 0)), int(counts.get(DETRACTOR, 0))
        )
        rows.append([value, r.n, r.promoters, r.passives, r.detractors, r.nps, r.ci_low, r.ci_high])
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["n", column], ascending=[False, True], kind="mergesort").reset_index(
        drop=True
    )


PERIODS = {"week": "W-MON", "month": "M", "quarter": "Q", "year": "Y"}


def trend(responses: pd.DataFrame, period: str = "month", alpha: float = 0.05) -> pd.DataFrame:
    """NPS per calendar period with interval, and the change from the previous
    period that has answers, tested by `compare_nps`.

    `responses` needs `started_at` (unix seconds, UTC) and `nps_score`.
    Weeks start on Monday. Periods without any scored response are skipped,
    so a change is always measured against the last period with data.
    Columns: period (label), period_start, n, nps, ci_low, ci_high, change,
    p_value, significant."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {sorted(PERIODS)}")
    cols = [
        "period",
        "period_start",
        "n",
        "nps",
        "ci_low",
        "ci_high",
        "change",
        "p_value",
        "significant",
    ]
    scored = _scored(responses)
    if scored.empty:
        return pd.DataFrame(columns=cols)
    when = pd.to_datetime(scored["started_at"], unit="s", utc=True).dt.tz_localize(None)
    # W-SUN would make weeks end on Sunday, i.e. start on Monday.
    freq = "W-SUN" if period == "week" else PERIODS[period]
    buckets = when.dt.to_period(freq)
    rows = []
    previous: NpsResult | None = None
    for bucket, part in scored.groupby(buckets, sort=True):
        counts = part["nps_group"].value_counts()
        r = nps_from_counts(
            int(counts.get(PROMOTER, 0)), int(counts.get(PASSIVE, 0)), int(counts.get(DETRACTOR, 0))
        )
        change = compare_nps(previous, r, alpha) if previous is not None else None
        rows.append(
            [
                _period_label(bucket, period),
                bucket.start_time,
                r.n,
                r.nps,
                r.ci_low,
                r.ci_high,
                change.change if change else None,
                change.p_value if change else None,
                bool(change.significant) if change else False,
            ]
        )
        previous = r
    return pd.DataFrame(rows, columns=cols)


def _period_label(bucket: pd.Period, period: str) -> str:
    start = bucket.start_time
    if period == "week":
        iso = start.isocalendar()
        return f"{iso[0]}-W{iso[1]:02d}"
    if period == "month":
        return start.strftime("%Y-%m")
    if period == "quarter":
        return f"{start.year}-Q{bucket.quarter}"
    return str(start.year)


# --- drivers -------------------------------------------------------------

DRIVER_COLUMNS = ["driver", "mentions", "share", "positive", "negative", "nps_mentioners", "impact"]


def driver_table(
    responses: pd.DataFrame,
    mentions: pd.DataFrame,
    catalogue: Sequence[str] = (),
) -> pd.DataFrame:
    """Per driver, among the responses with a score (the NPS base):

    - mentions: respondents whose comments name the driver (any polarity),
    - share: mentions / respondents with a score (0-1),
    - positive / negative: respondents naming it positively / negatively
      (one respondent can do both, so they may add up to more than mentions),
    - nps_mentioners: NPS of those who mention it (None if nobody does),
    - impact: NPS(all) - NPS(all except those who mention it), the
      leave-one-out impact; positive means the driver lifts the score.
      None when everybody mentions it (nobody is left to compare with).

    `responses`: response_id, nps_score. `mentions`: response_id, driver,
    polarity ('pos'/'neg'). Drivers of the catalogue that nobody mentioned
    get a row with zeros, so "nobody mentioned it" is visible.
    Sorted by mentions (largest first), then driver id.
    """
    scored = _scored(responses)
    overall = nps_of_frame(scored)
    drivers = list(dict.fromkeys(list(catalogue)))
    if not mentions.empty:
        for d in sorted(mentions["driver"].dropna().unique()):
            if d not in drivers:
                drivers.append(d)
    if not drivers:
        return pd.DataFrame(columns=DRIVER_COLUMNS)

    # One pass over the mentions instead of one pass over all respondents per
    # driver: NPS of the rest = totals minus the mentioners' counts.
    group_of = (
        scored.set_index("response_id")["nps_group"]
        if not scored.empty
        else pd.Series(dtype="object")
    )
    m = mentions[mentions["response_id"].isin(group_of.index)] if not mentions.empty else mentions
    who = m.drop_duplicates(["driver", "response_id"]) if not m.empty else m
    if not who.empty:
        who = who.assign(nps_group=who["response_id"].map(group_of).values)
        by_group = who.groupby(["driver", "nps_group"]).size()
        pos = (
            m[m["polarity"] == "pos"]
            .drop_duplicates(["driver", "response_id"])
            .groupby("driver")
            .size()
        )
        neg = (
            m[m["polarity"] == "neg"]
            .drop_duplicates(["driver", "response_id"])
            .groupby("driver")
            .size()
        )
    else:
        by_group, pos, neg = (
            pd.Series(dtype="int64"),
            pd.Series(dtype="int64"),
            pd.Series(dtype="int64"),
        )

    def count(d, g):
        return int(by_group.get((d, g), 0))

    rows = []
    for d in drivers:
        p_who, pa_who, d_who = count(d, PROMOTER), count(d, PASSIVE), count(d, DETRACTOR)
        n_who = p_who + pa_who + d_who
        mentioners = nps_from_counts(p_who, pa_who, d_who)
        rest = nps_from_counts(
            overall.promoters - p_who, overall.passives - pa_who, overall.detractors - d_who
        )
        impact = overall.nps - rest.nps if overall.n and rest.n else None
        rows.append(
            [
                d,
                n_who,
                (n_who / overall.n) if overall.n else 0.0,
                int(pos.get(d, 0)),
                int(neg.get(d, 0)),
                mentioners.nps,
                impact,
            ]
        )
    out = pd.DataFrame(rows, columns=DRIVER_COLUMNS)
    return out.sort_values(
        ["mentions", "driver"], ascending=[False, True], kind="mergesort"
    ).reset_index(drop=True)


def two_proportion_z(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float | None:
    """z statistic of the pooled two-proportion test, hits_a/n_a vs
    hits_b/n_b; None when a group is empty or nobody / everybody has it."""
    if n_a == 0 or n_b == 0:
        return None
    pooled = (hits_a + hits_b) / (n_a + n_b)
    if pooled in (0.0, 1.0):
        return None
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    return (hits_a / n_a - hits_b / n_b) / se


def two_proportion_p(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test:
    p = 2 * (1 - Phi(|z|)) = erfc(|z| / sqrt 2). None when z is undefined
    (a group is empty, or nobody / everybody has it)."""
    z = two_proportion_z(hits_a, n_a, hits_b, n_b)
    return None if z is None else math.erfc(abs(z) / math.sqrt(2.0))


def expected_counts(hits_a: int, n_a: int, hits_b: int, n_b: int) -> tuple[float, ...]:
    """The four expected cell counts of the 2x2 table (group x has / has
    not) under independence: row total * column total / N."""
    n = n_a + n_b
    if n == 0:
        return (0.0, 0.0, 0.0, 0.0)
    hits = hits_a + hits_b
    misses = n - hits
    return (n_a * hits / n, n_a * misses / n, n_b * hits / n, n_b * misses / n)


def fisher_exact_p(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float | None:
    """Two-sided p-value of Fisher's exact test on the 2x2 table
    [[hits_a, n_a - hits_a], [hits_b, n_b - hits_b]]: with the margins fixed,
    hits_a follows the hypergeometric distribution
        P(x) = C(n_a, x) C(n_b, hits - x) / C(n, hits),
    and p sums P(x) over every x no more likely than the observed table (as
    R's fisher.test and scipy.stats.fisher_exact do, with the same relative
    tolerance for ties). None when a group is empty."""
    if n_a <= 0 or n_b <= 0:
        return None
    if not (0 <= hits_a <= n_a and 0 <= hits_b <= n_b):
        raise ValueError("hits must be between 0 and n")
    n, hits = n_a + n_b, hits_a + hits_b
    lo, hi = max(0, hits - n_b), min(hits, n_a)

    def log_p(x: int) -> float:
        return _log_comb(n_a, x) + _log_comb(n_b, hits - x) - _log_comb(n, hits)

    observed = log_p(hits_a)
    total = 0.0
    for x in range(lo, hi + 1):
        lp = log_p(x)
        if lp <= observed + 1e-7 * abs(observed) + 1e-12:
            total += math.exp(lp)
    return min(1.0, total)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


# Below this expected cell count the normal approximation of the z-test is
# poor (the usual rule of thumb, e.g. Cochran 1954): Fisher's exact test then.
MIN_EXPECTED = 5.0


def compare_proportions(hits_a: int, n_a: int, hits_b: int, n_b: int) -> tuple[str, float | None]:
    """(test, p) for hits_a/n_a against hits_b/n_b: the pooled two-proportion
    z-test ("z"), or Fisher's exact test ("fisher") when any expected count
    of the 2x2 table is below MIN_EXPECTED. (None, None) when a group is
    empty."""
    if n_a <= 0 or n_b <= 0:
        return None, None
    if min(expected_counts(hits_a, n_a, hits_b, n_b)) < MIN_EXPECTED:
        return "fisher", fisher_exact_p(hits_a, n_a, hits_b, n_b)
    return "z", two_proportion_p(hits_a, n_a, hits_b, n_b)
