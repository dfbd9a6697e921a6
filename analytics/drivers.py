"""Drivers: the catalogue trainers edit, and the tables behind the Drivers,
Root causes and Known issues views (pure, on a Dataset)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analytics import stats
from analytics.dataset import Dataset
from nps import drivers as nps_drivers
from nps import known_issues as nps_known_issues
from nps.trainer_yaml import TrainerFileError

# The row under which root causes files a why-chain that probed no driver:
# the respondent named nothing negative, so the bot asked generic whys
# (nps.drivers.main_negative returned None). The parentheses keep it apart
# from every driver id (ids are lower-case letters, digits and '_').
GENERIC = "(generic)"


@dataclass(frozen=True)
class Catalogue:
    labels: dict  # driver id -> Polish label, in the trainers' order
    issues: dict  # known issue id -> {"driver", "title"}
    problems: tuple = ()  # what could not be read, shown to the user

    def label(self, driver_id: str | None) -> str:
        if driver_id is None:
            return "(brak)"
        if driver_id == GENERIC:
            return "(ogólne pytania, bez negatywnego czynnika)"
        return self.labels.get(driver_id, driver_id)

    def issue_title(self, issue_id: str) -> str:
        return (self.issues.get(issue_id) or {}).get("title") or issue_id


def load_catalogue(drivers_file: Path, known_issues_file: Path) -> Catalogue:
    """The trainers' drivers and known issues, read by the bot's own loaders
    (nps.drivers, nps.known_issues). A missing or broken file is reported in
    `problems` and ids are shown instead of labels: the dashboard stays up
    while a trainer fixes it (`make validate` names the line)."""
    problems: list[str] = []
    try:
        drivers = nps_drivers.load_catalogue(drivers_file)
    except (OSError, TrainerFileError) as exc:
        problems.append(f"{_one_line(exc)} (showing ids)")
        return Catalogue({}, {}, tuple(problems))
    labels = {d.id: d.label for d in drivers.values()}
    try:
        found = nps_known_issues.load(known_issues_file, drivers)
    except (OSError, TrainerFileError) as exc:
        problems.append(f"{_one_line(exc)} (showing ids)")
        found = []
    issues = {i.id: {"driver": i.driver, "title": i.title} for i in found}
    return Catalogue(labels, issues, tuple(problems))


def _one_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def driver_report(ds: Dataset, catalogue: Catalogue) -> pd.DataFrame:
    """stats.driver_table plus the Polish label."""
    table = stats.driver_table(
        ds.responses[["response_id", "nps_score"]], ds.mentions, list(catalogue.labels)
    )
    table.insert(1, "label", [catalogue.label(d) for d in table["driver"]])
    return table


def comments_of(ds: Dataset) -> pd.DataFrame:
    """All of a response's words in one place: reason, why-answers and the
    group-specific answers, one row per response."""
    r = ds.responses
    chains = (
        ds.whys.sort_values(["response_id", "position"]).groupby("response_id")["answer"].agg(list)
        if not ds.whys.empty
        else pd.Series(dtype="object")
    )
    out = r[
        [
            "response_id",
            "started_at",
            "channel",
            "touchpoint",
            "nps_score",
            "nps_group",
            "reason",
            "improvement",
            "valued_most",
        ]
    ].copy()
    out["why_chain"] = [chains.get(i, []) for i in out["response_id"]]
    return out


def verbatims(ds: Dataset, driver: str, polarity: str | None = None) -> pd.DataFrame:
    """The comments of the respondents who mention `driver` (optionally with
    one polarity), newest first. Like the driver table, only responses with
    a score count, so the rows are exactly the people behind its numbers."""
    m = ds.mentions[ds.mentions["driver"] == driver]
    if polarity:
        m = m[m["polarity"] == polarity]
    pol = m.groupby("response_id")["polarity"].agg(
        lambda s: "/".join(sorted(set(p or "?" for p in s)))
    )
    c = comments_of(ds)
    c = c[c["response_id"].isin(pol.index) & c["nps_group"].notna()].copy()
    c["polarity"] = [pol[i] for i in c["response_id"]]
    c["why_chain"] = [" → ".join(chain) for chain in c["why_chain"]]
    return c.sort_values("started_at", ascending=False).reset_index(drop=True)


def chain_drivers(responses: pd.DataFrame) -> pd.Series:
    """The driver each response's why-chain is filed under: `why_driver`,
    the driver the bot's last "why?" probed (it follows the driver the last
    answer named), when the bot recorded it; for older conversations
    `probed_driver`, the driver of the first "why?"; GENERIC when neither
    names one (the bot asked generic whys)."""
    out = pd.Series(GENERIC, index=responses.index, dtype="object")
    for column in ("probed_driver", "why_driver"):  # the later one wins
        if column in responses:
            named = responses[column].map(lambda v: isinstance(v, str) and v != "")
            out[named] = responses.loc[named, column]
    return out


ROOT_CAUSE_COLUMNS = ["driver", "response_id", "nps_score", "reason", "depth", "stop", "chain"]


def root_causes(ds: Dataset) -> pd.DataFrame:
    """Why-chains grouped by the driver they probe, one row per chain with
    at least one answer.

    The driver is the one the bot probed (`chain_drivers`): the driver of
    its last "why?" when recorded (`why_driver`), else that of its first
    (`probed_driver`: `nps.drivers.main_negative` of the drivers known when
    it was asked). A respondent who named nothing negative was asked generic
    whys; their chain is filed under GENERIC, never under a driver they
    praised. `stop` is how the chain ended (`why_stop`; None for
    conversations from before the bot recorded it)."""
    if ds.whys.empty:
        return pd.DataFrame(columns=ROOT_CAUSE_COLUMNS)
    chains = (
        ds.whys.sort_values(["response_id", "position"]).groupby("response_id")["answer"].agg(list)
    )
    r = ds.responses.set_index("response_id")
    driver = chain_drivers(r)
    stop = r["why_stop"] if "why_stop" in r else pd.Series(None, index=r.index, dtype="object")
    rows = []
    for rid, chain in chains.items():
        if rid not in r.index:
            continue
        rows.append(
            [
                driver[rid],
                rid,
                r.at[rid, "nps_score"],
                r.at[rid, "reason"],
                len(chain),
                stop[rid] if isinstance(stop[rid], str) else None,
                " → ".join(chain),
            ]
        )
    out = pd.DataFrame(rows, columns=ROOT_CAUSE_COLUMNS)
    return out.sort_values(["driver", "response_id"]).reset_index(drop=True)


def root_cause_summary(causes: pd.DataFrame) -> pd.DataFrame:
    if causes.empty:
        return pd.DataFrame(columns=["driver", "chains", "mean_depth"])
    g = causes.groupby("driver")
    out = pd.DataFrame({"chains": g.size(), "mean_depth": g["depth"].mean()}).reset_index()
    return out.sort_values(["chains", "driver"], ascending=[False, True]).reset_index(drop=True)


KNOWN_ISSUE_COLUMNS = [
    "known_issue",
    "offered",
    "resolved",
    "not_resolved",
    "no_answer",
    "rerated",
    "mean_before",
    "mean_after",
    "nps_before",
    "nps_after",
]


def known_issue_summary(ds: Dataset) -> pd.DataFrame:
    """Per known issue: how often it was offered, whether the fix helped, and
    the score before / after for those who rated again. Before/after means
    and NPS are over the same people (those who re-rated), so they compare."""
    o = ds.offers
    if o.empty:
        return pd.DataFrame(columns=KNOWN_ISSUE_COLUMNS)
    rows = []
    for issue, part in o.groupby("known_issue", sort=True):
        rerated = part[part["score_after"].notna() & part["score_before"].notna()]
        before = [int(v) for v in rerated["score_before"]]
        after = [int(v) for v in rerated["score_after"]]
        rows.append(
            [
                issue,
                len(part),
                int((part["issue_resolved"] == True).sum()),  # noqa: E712 (nullable column)
                int((part["issue_resolved"] == False).sum()),  # noqa: E712
                int(part["issue_resolved"].isna().sum()),
                len(rerated),
                sum(before) / len(before) if before else None,
                sum(after) / len(after) if after else None,
                stats.nps_of_scores(before).nps,
                stats.nps_of_scores(after).nps,
            ]
        )
    out = pd.DataFrame(rows, columns=KNOWN_ISSUE_COLUMNS)
    return out.sort_values(["offered", "known_issue"], ascending=[False, True]).reset_index(
        drop=True
    )
