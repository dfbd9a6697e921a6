"""The perception gap: what employees believe customers say against what
customers say (pure functions over a Dataset's frames; issue 11, part 2).

Employees answer a mirror survey (a staff-only signed link): the score they
think customers give (`predicted_score`), why customers recommend us, what
they complain about most, and the whys on that complaint; the bot turns
those answers into driver tags (`employee_drivers`). Managers tend to
overestimate satisfaction and misjudge what drives it (Hult et al., Journal
of the Academy of Marketing Science, 2017); this module measures both.

Scores
- Customers: NPS of the customers' valid 0-10 scores, with the adjusted-Wald
  95% interval (analytics.stats).
- Employees: `predicted_nps` is the NPS of the predicted scores (% predicted
  9-10 minus % predicted 0-6), with the same interval; `predicted_score_mean`
  their mean. `nps_gap` = predicted_nps - customers' nps, tested with
  stats.compare_nps (the two-NPS z-test).

Drivers: who raises what
- customer_share: among customer responses with a valid score and at least
  one driver mention, the share that mention the driver (either polarity).
  The base leaves out comments in which no driver was found: the question
  is which drivers customers raise when they raise one, which is what an
  employee is asked about (employees always name something).
- employee_share: the same among employee responses with at least one
  employee driver.
- gap = customer_share - employee_share: positive when customers raise the
  driver more often than employees expect.
- p_value: two-sided, H0 "customers and employees raise the driver equally
  often" (the two proportions are equal). The pooled two-proportion z-test,
  or Fisher's exact test when an expected count of the 2x2 table is below 5
  (stats.compare_proportions; `test` says which). Computed in pure Python:
  scipy is not in the analytics environment.
- Blind spots: drivers customers raise (customer_share >= MIN_SHARE) that
  employees rarely do (employee_share < RARELY x customer_share). Myths: the
  reverse. Both are listed whether significant or not; `significant` says
  whether p < ALPHA, and a page or report shows it.

Waves: an employee wave ("2026-11") is compared with the customers who
started a conversation in that period (a wave label YYYY-MM is a month,
YYYY-Qn a quarter, YYYY a year; another label matches no customers).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

import pandas as pd

from analytics import stats
from analytics.dataset import NO_TOUCHPOINT, Dataset
from analytics.report import _r

# A blind spot or a myth must concern a driver one side raises in at least
# 1 in 10 of its answers that name a driver: below that the driver is a
# detail, and its gap a handful of mentions either way.
MIN_SHARE = 0.10
# "Rarely": the other side raises it less than half as often. A gap of a few
# points between 30% and 25% is a difference of degree, not a blind spot.
RARELY = 0.5
# Significance level of the p-values (two-sided).
ALPHA = 0.05

DRIVER_COLUMNS = [
    "driver",
    "customer_mentions",
    "customer_base",
    "customer_share",
    "employee_mentions",
    "employee_base",
    "employee_share",
    "gap",
    "test",
    "p_value",
    "significant",
]
WAVE_PATTERNS = (
    (re.compile(r"^(\d{4})-(\d{2})$"), "month"),
    (re.compile(r"^(\d{4})-[Qq]([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})$"), "year"),
)


# --- scores ------------------------------------------------------------------


def customer_nps(responses: pd.DataFrame) -> stats.NpsResult:
    """NPS of the customers' scores (responses without one are left out)."""
    return stats.nps_of_frame(responses)


def predicted_scores(employees: pd.DataFrame) -> list[int]:
    """The employees' valid 0-10 predicted scores."""
    if employees.empty:
        return []
    return [int(v) for v in employees["predicted_score"] if stats.nps_group(v) is not None]


def predicted_nps(employees: pd.DataFrame) -> stats.NpsResult:
    """NPS of the predicted scores: % predicted 9-10 minus % predicted 0-6."""
    return stats.nps_of_scores(predicted_scores(employees))


def predicted_mean(employees: pd.DataFrame) -> float | None:
    scores = predicted_scores(employees)
    return sum(scores) / len(scores) if scores else None


def _store_keys(frame: pd.DataFrame) -> pd.Series:
    if frame.empty:
        return pd.Series(dtype="object")
    return frame["touchpoint"].astype("object").where(frame["touchpoint"].notna(), NO_TOUCHPOINT)


def stores(customers: pd.DataFrame, employees: pd.DataFrame) -> list[dict]:
    """Per store (touchpoint; NO_TOUCHPOINT for customers without one): the
    customers' NPS and the employees' prediction, with the difference. Stores
    where employees answered come first (by name), then the others."""
    c_keys, e_keys = _store_keys(customers), _store_keys(employees)
    with_staff = sorted(set(e_keys))
    others = sorted(set(c_keys) - set(with_staff))
    out = []
    for store in with_staff + others:
        c = customers[c_keys == store] if len(customers) else customers
        e = employees[e_keys == store] if len(employees) else employees
        out.append({"store": store, **scores(c, e)})
    return out


def scores(customers: pd.DataFrame, employees: pd.DataFrame) -> dict:
    """The customer / employee / nps_gap entries of one slice of the data."""
    actual = customer_nps(customers)
    predicted = predicted_nps(employees)
    change = stats.compare_nps(actual, predicted)
    return {
        "customer": {
            "responses": len(customers),
            "scored": actual.n,
            "nps": actual.nps,
            "ci95": [actual.ci_low, actual.ci_high] if actual.n else None,
        },
        "employee": {
            "responses": len(employees),
            "predicted": predicted.n,
            "predicted_score_mean": predicted_mean(employees),
            "predicted_nps": predicted.nps,
            "ci95": [predicted.ci_low, predicted.ci_high] if predicted.n else None,
        },
        "nps_gap": {
            # Predicted minus actual: positive when employees expect more.
            "difference": change.change,
            "p_value": change.p_value,
            "significant": change.significant,
        },
    }


# --- drivers -------------------------------------------------------------------


def _raisers(mentions: pd.DataFrame, base_ids: set) -> dict[str, int]:
    """Driver -> how many of these responses mention it (once per response)."""
    if mentions.empty or not base_ids:
        return {}
    m = mentions[mentions["response_id"].isin(base_ids)].drop_duplicates(["driver", "response_id"])
    return {str(d): int(n) for d, n in m.groupby("driver").size().items()}


def customer_base(responses: pd.DataFrame, mentions: pd.DataFrame) -> set:
    """Customer responses that count: a valid score and at least one driver."""
    if responses.empty or mentions.empty:
        return set()
    scored = responses[stats.nps_groups(responses["nps_score"]).notna()]
    return set(scored["response_id"]) & set(mentions["response_id"])


def employee_base(employees: pd.DataFrame, mentions: pd.DataFrame) -> set:
    """Employee responses that count: at least one believed driver."""
    if employees.empty or mentions.empty:
        return set()
    return set(employees["response_id"]) & set(mentions["response_id"])


def driver_gaps(
    customers: pd.DataFrame,
    customer_mentions: pd.DataFrame,
    employees: pd.DataFrame,
    employee_mentions: pd.DataFrame,
    catalogue: Sequence[str] = (),
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """One row per driver (DRIVER_COLUMNS; see the module doc), ranked by
    |gap|, largest first, then by driver id. Drivers of the catalogue nobody
    raised get a row of zeros. Shares are None when their base is empty."""
    c_base = customer_base(customers, customer_mentions)
    e_base = employee_base(employees, employee_mentions)
    c_hits = _raisers(customer_mentions, c_base)
    e_hits = _raisers(employee_mentions, e_base)
    drivers = list(dict.fromkeys([*catalogue, *sorted(c_hits), *sorted(e_hits)]))
    n_c, n_e = len(c_base), len(e_base)
    rows = []
    for d in drivers:
        a, b = c_hits.get(d, 0), e_hits.get(d, 0)
        c_share = a / n_c if n_c else None
        e_share = b / n_e if n_e else None
        gap = c_share - e_share if n_c and n_e else None
        test, p = stats.compare_proportions(a, n_c, b, n_e)
        rows.append(
            [d, a, n_c, c_share, b, n_e, e_share, gap, test, p, p is not None and p < alpha]
        )
    out = pd.DataFrame(rows, columns=DRIVER_COLUMNS)
    if out.empty:
        return out
    # Rounded, so that 0.15 - 0.05 ties with 0.10 (then the driver id decides).
    order = pd.to_numeric(out["gap"], errors="coerce").abs().round(9).fillna(-1.0)
    return (
        out.assign(_order=order)
        .sort_values(["_order", "driver"], ascending=[False, True], kind="mergesort")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def blind_spots(gaps: pd.DataFrame, min_share: float = MIN_SHARE, rarely: float = RARELY):
    """Drivers customers raise (customer_share >= min_share) that employees
    rarely do (employee_share < rarely x customer_share), in the gaps' order."""
    return _one_sided(gaps, "customer_share", "employee_share", min_share, rarely)


def myths(gaps: pd.DataFrame, min_share: float = MIN_SHARE, rarely: float = RARELY):
    """Drivers employees expect (employee_share >= min_share) that customers
    rarely raise (customer_share < rarely x employee_share)."""
    return _one_sided(gaps, "employee_share", "customer_share", min_share, rarely)


def _one_sided(gaps, often: str, seldom: str, min_share: float, rarely: float) -> pd.DataFrame:
    if gaps.empty:
        return gaps
    usable = gaps[gaps[often].notna() & gaps[seldom].notna()]
    hit = (usable[often] >= min_share) & (usable[seldom] < rarely * usable[often])
    return usable[hit].reset_index(drop=True)


# --- waves ----------------------------------------------------------------------


def wave_period(label: str) -> tuple[float, float] | None:
    """[start, end) in unix seconds (UTC) of a wave label: YYYY-MM, YYYY-Qn
    or YYYY; None for another label."""
    text = str(label).strip()
    for pattern, kind in WAVE_PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        year = int(m.group(1))
        if kind == "month":
            month = int(m.group(2))
            if not 1 <= month <= 12:
                return None
            start, months = dt.datetime(year, month, 1, tzinfo=dt.timezone.utc), 1
        elif kind == "quarter":
            start = dt.datetime(year, 3 * int(m.group(2)) - 2, 1, tzinfo=dt.timezone.utc)
            months = 3
        else:
            start, months = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc), 12
        total = start.month - 1 + months
        end = dt.datetime(year + total // 12, total % 12 + 1, 1, tzinfo=dt.timezone.utc)
        return start.timestamp(), end.timestamp()
    return None


def in_wave(customers: pd.DataFrame, label: str) -> pd.DataFrame:
    """The customers who started a conversation within the wave's period."""
    period = wave_period(label)
    if period is None or customers.empty:
        return customers.iloc[0:0]
    started = customers["started_at"].astype(float)
    return customers[(started >= period[0]) & (started < period[1])]


# --- the whole report -------------------------------------------------------------


def _p(value):
    """A p-value to 4 significant digits (a fixed number of decimals would
    turn 3.6e-05 into 0)."""
    if value is None or value != value:
        return None
    return float(f"{float(value):.4g}")


def _driver_entries(table: pd.DataFrame, label) -> list[dict]:
    return [
        {
            "driver": row.driver,
            "customer_share": _r(row.customer_share, 3),
            "employee_share": _r(row.employee_share, 3),
            "gap": _r(row.gap, 3),
            "p_value": _p(row.p_value),
            "label": label(row.driver),
            "customer_mentions": int(row.customer_mentions),
            "employee_mentions": int(row.employee_mentions),
            "test": row.test,
            "significant": bool(row.significant),
        }
        for row in table.itertuples(index=False)
    ]


def _rounded_scores(entry: dict) -> dict:
    c, e, g = entry["customer"], entry["employee"], entry["nps_gap"]
    return {
        "customer": {
            "responses": c["responses"],
            "scored": c["scored"],
            "nps": _r(c["nps"]),
            "ci95": [_r(v) for v in c["ci95"]] if c["ci95"] else None,
        },
        "employee": {
            "responses": e["responses"],
            "predicted": e["predicted"],
            "predicted_score_mean": _r(e["predicted_score_mean"], 2),
            "predicted_nps": _r(e["predicted_nps"]),
            "ci95": [_r(v) for v in e["ci95"]] if e["ci95"] else None,
        },
        "nps_gap": {
            "difference": _r(g["difference"]),
            "p_value": _p(g["p_value"]),
            "significant": bool(g["significant"]),
        },
    }


def _driver_part(customers, c_mentions, employees, e_mentions, catalogue, label) -> dict:
    table = driver_gaps(customers, c_mentions, employees, e_mentions, catalogue)
    return {
        "drivers": _driver_entries(table, label),
        "blind_spots": _driver_entries(blind_spots(table), label),
        "myths": _driver_entries(myths(table), label),
        "customer_driver_base": len(customer_base(customers, c_mentions)),
        "employee_driver_base": len(employee_base(employees, e_mentions)),
    }


def build_gap(ds: Dataset, catalogue=None) -> dict:
    """The perception gap of a Dataset loaded with "employees" (customers in
    `responses`/`mentions`, employees in `employees`/`employee_mentions`), as
    one JSON-ready dict: the CLI prints it and the dashboard page shows it,
    so both give the same figures. `catalogue`: analytics.drivers.Catalogue
    (driver order and labels), or None for ids only.

    Numbers are rounded as the report rounds them: NPS in points (1
    decimal), shares as fractions (3 decimals), p-values 4 decimals."""
    ids = list(catalogue.labels) if catalogue is not None else []

    def label(driver):
        return catalogue.label(driver) if catalogue is not None else driver

    customers, employees = ds.responses, ds.employees
    overall = _rounded_scores(scores(customers, employees))
    drivers = _driver_part(customers, ds.mentions, employees, ds.employee_mentions, ids, label)
    waves = []
    labels = sorted({str(w) for w in employees["survey_wave"].dropna()}) if len(employees) else []
    for wave in labels:
        e = employees[employees["survey_wave"].astype(str) == wave]
        c = in_wave(customers, wave)
        entry = {"wave": wave, "matched": wave_period(wave) is not None}
        entry.update(_rounded_scores(scores(c, e)))
        entry.update(_driver_part(c, ds.mentions, e, ds.employee_mentions, ids, label))
        waves.append(entry)
    return {
        "customer": overall["customer"],
        "employee": overall["employee"],
        "nps_gap": overall["nps_gap"],
        **drivers,
        "stores": [
            {"store": s["store"], **_rounded_scores(s)} for s in stores(customers, employees)
        ],
        "waves": waves,
        "thresholds": {"min_share": MIN_SHARE, "rarely": RARELY, "alpha": ALPHA},
    }


# --- Markdown -------------------------------------------------------------------------


def _md(value) -> str:
    text = "–" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _pct(share) -> str:
    return "–" if share is None else f"{share * 100:.1f}%"


def _ci(ci) -> str:
    return f"{_md(ci[0])} … {_md(ci[1])}" if ci else "–"


def _driver_lines(entries: list[dict], empty: str) -> list[str]:
    lines = [
        "| driver | customers | employees | gap (pts) | p | test |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for d in entries:
        gap = "–" if d["gap"] is None else f"{d['gap'] * 100:+.1f}"
        star = " *" if d["significant"] else ""
        lines.append(
            f"| {_md(d['label'])} (`{_md(d['driver'])}`) | {_pct(d['customer_share'])} "
            f"({d['customer_mentions']}) | {_pct(d['employee_share'])} ({d['employee_mentions']}) "
            f"| {gap} | {_md(d['p_value'])}{star} | {_md(d['test'])} |"
        )
    if not entries:
        lines.append(f"| {empty} | | | | | |")
    return lines


def _score_lines(rows: list[tuple[str, dict]], head: str) -> list[str]:
    lines = [
        f"| {head} | customers | NPS | 95% | employees | predicted NPS | 95% | mean predicted "
        "| difference | p |",
        "| --- | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for name, s in rows:
        c, e, g = s["customer"], s["employee"], s["nps_gap"]
        star = " *" if g["significant"] else ""
        lines.append(
            f"| {_md(name)} | {c['scored']} | {_md(c['nps'])} | {_ci(c['ci95'])} | "
            f"{e['predicted']} | {_md(e['predicted_nps'])} | {_ci(e['ci95'])} | "
            f"{_md(e['predicted_score_mean'])} | {_md(g['difference'])} | "
            f"{_md(g['p_value'])}{star} |"
        )
    return lines


def to_markdown(gap: dict) -> str:
    t = gap["thresholds"]
    lines = [
        "# Perception gap",
        "",
        "Customers: scores given; employees: the score they think customers give. "
        "Difference = predicted − actual NPS (two-NPS z-test). * = significant at "
        f"p < {t['alpha']}.",
        "",
        *_score_lines([("all", gap)], "who"),
        "",
        "## Drivers: customers who raise them against employees who expect them",
        "",
        f"Shares of answers naming at least one driver (customers: {gap['customer_driver_base']}, "
        f"employees: {gap['employee_driver_base']}); gap = customers − employees.",
        "",
        *_driver_lines(gap["drivers"], "(no drivers yet)"),
        "",
        "## Blind spots (customers raise, employees rarely expect)",
        "",
        f"Customers ≥ {t['min_share'] * 100:.0f}%, employees < {t['rarely']:g} × that.",
        "",
        *_driver_lines(gap["blind_spots"], "(none)"),
        "",
        "## Myths (employees expect, customers rarely raise)",
        "",
        *_driver_lines(gap["myths"], "(none)"),
        "",
        "## Per store",
        "",
        *_score_lines([(s["store"], s) for s in gap["stores"]], "store"),
        "",
        "## Per survey wave",
        "",
    ]
    if not gap["waves"]:
        lines.append("(no employee answers yet)")
    for w in gap["waves"]:
        lines += [f"### Wave {_md(w['wave'])}", ""]
        if not w["matched"]:
            lines += ["(not a YYYY-MM, YYYY-Qn or YYYY label: no customers matched)", ""]
        lines += _score_lines([(w["wave"], w)], "wave")
        lines += ["", "Blind spots:", "", *_driver_lines(w["blind_spots"], "(none)"), ""]
        lines += ["Myths:", "", *_driver_lines(w["myths"], "(none)"), ""]
    return "\n".join(lines).rstrip("\n") + "\n"
