"""How the why-chains end: depth and stop reason per driver and per NPS
group (pure, on the responses frame).

A chain is a response whose why-chain the bot closed with a `why_stop`
(nps.why_stops): the bot probed, then stopped because an answer was
specific, a known issue matched, the customer was done, NPS_MAX_WHYS was
reached, or the answers stayed without content. Its depth is `why_depth`,
the answers kept in `why_chain` (0 when the first answer ended it). Older
conversations, from before the bot recorded `why_stop`, are not chains
here; the Root causes page still lists their answers.

The report CLI and the dashboard call the same functions, so they print the
same numbers."""

from __future__ import annotations

import pandas as pd

from analytics import stats
from analytics.drivers import chain_drivers
from nps.groups import DETRACTOR, PASSIVE, PROMOTER
from nps.why_stops import REACHED_A_CAUSE, WHY_STOPS

STOP_COLUMNS = tuple(f"stop_{s}" for s in WHY_STOPS)
# One row per chain.
CHAIN_COLUMNS = ["response_id", "driver", "nps_group", "depth", "stop"]
# One row per driver or group: chains, average depth (chains with a recorded
# depth), chains that reached a cause (why_stop in REACHED_A_CAUSE) and their
# share of all chains, then the chains per why_stop value.
SUMMARY_COLUMNS = ["chains", "mean_depth", "reached_cause", "reached_share", *STOP_COLUMNS]
# The group of a chain without a valid score (the bot also probes a
# customer who named a problem but gave no score).
NO_SCORE = "no_score"
GROUP_ORDER = (DETRACTOR, PASSIVE, PROMOTER, NO_SCORE)


def chains(responses: pd.DataFrame) -> pd.DataFrame:
    """One row per ended chain: response_id, driver (`drivers.chain_drivers`),
    nps_group (from the score; NO_SCORE without one), depth, stop."""
    if responses.empty or "why_stop" not in responses:
        return pd.DataFrame(columns=CHAIN_COLUMNS)
    ended = responses[responses["why_stop"].map(lambda v: isinstance(v, str) and v != "")]
    if ended.empty:
        return pd.DataFrame(columns=CHAIN_COLUMNS)
    groups = stats.nps_groups(ended["nps_score"]).map(lambda g: g or NO_SCORE)
    return pd.DataFrame(
        {
            "response_id": ended["response_id"].to_numpy(),
            "driver": chain_drivers(ended).to_numpy(),
            "nps_group": groups.to_numpy(),
            "depth": pd.to_numeric(ended["why_depth"], errors="coerce").to_numpy(dtype=float),
            "stop": ended["why_stop"].to_numpy(),
        },
        columns=CHAIN_COLUMNS,
    )


def _summary(part: pd.DataFrame) -> dict:
    n = len(part)
    depth = part["depth"].dropna()
    reached = int(part["stop"].isin(REACHED_A_CAUSE).sum())
    counts = part["stop"].value_counts()
    return {
        "chains": n,
        "mean_depth": float(depth.mean()) if len(depth) else None,
        "reached_cause": reached,
        "reached_share": reached / n if n else None,
        **{f"stop_{s}": int(counts.get(s, 0)) for s in WHY_STOPS},
    }


def summary(chain_rows: pd.DataFrame) -> dict:
    """The SUMMARY_COLUMNS over all chains."""
    return _summary(chain_rows)


def summary_by(chain_rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """SUMMARY_COLUMNS per value of `column` ("driver" or "nps_group"):
    groups in GROUP_ORDER; drivers by chains, most first, then by id."""
    if chain_rows.empty:
        return pd.DataFrame(columns=[column, *SUMMARY_COLUMNS])
    rows = [{column: key, **_summary(part)} for key, part in chain_rows.groupby(column)]
    out = pd.DataFrame(rows, columns=[column, *SUMMARY_COLUMNS])
    if column == "nps_group":
        rank = {g: i for i, g in enumerate(GROUP_ORDER)}
        return out.sort_values(column, key=lambda s: s.map(rank)).reset_index(drop=True)
    return out.sort_values(["chains", column], ascending=[False, True]).reset_index(drop=True)
