"""Drivers: the catalogue trainers edit, and the tables behind the Drivers,
Root causes and Known issues views (pure, on a Dataset)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analytics import stats
from analytics.dataset import Dataset


@dataclass(frozen=True)
class Catalogue:
    labels: dict  # driver id -> Polish label, in the trainers' order
    issues: dict  # known issue id -> {"driver", "title"}
    problems: tuple = ()  # what could not be read, shown to the user

    def label(self, driver_id: str | None) -> str:
        if driver_id is None:
            return "(brak)"
        return self.labels.get(driver_id, driver_id)

    def issue_title(self, issue_id: str) -> str:
        return (self.issues.get(issue_id) or {}).get("title") or issue_id


def _load_yaml(path: Path, key: str, problems: list) -> list:
    import yaml

    if not path.is_file():
        problems.append(f"{path.name} not found: showing ids")
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path.name} could not be read ({exc.__class__.__name__}): showing ids")
        return []
    items = data.get(key) if isinstance(data, dict) else None
    return (
        [i for i in items if isinstance(i, dict) and i.get("id")] if isinstance(items, list) else []
    )


def load_catalogue(drivers_file: Path, known_issues_file: Path) -> Catalogue:
    """Read data/drivers.yml and data/known_issues.yml if they exist; a
    missing or broken file means we show ids instead of labels."""
    problems: list[str] = []
    labels = {
        str(i["id"]): str(i.get("label") or i["id"])
        for i in _load_yaml(drivers_file, "drivers", problems)
    }
    issues = {
        str(i["id"]): {"driver": i.get("driver"), "title": i.get("title")}
        for i in _load_yaml(known_issues_file, "known_issues", problems)
    }
    return Catalogue(labels, issues, tuple(problems))


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


def root_causes(ds: Dataset) -> pd.DataFrame:
    """Why-chains grouped by the driver they probe (the first negative driver
    the respondent named, as the bot does). One row per chain."""
    if ds.whys.empty:
        return pd.DataFrame(
            columns=["driver", "response_id", "nps_score", "reason", "depth", "chain"]
        )
    ordered = ds.mentions.sort_values(["response_id", "position"])
    tags = ordered.assign(tag=ordered["driver"] + ":" + ordered["polarity"].fillna("?"))
    by_response = tags.groupby("response_id")["tag"].agg(list)
    chains = (
        ds.whys.sort_values(["response_id", "position"]).groupby("response_id")["answer"].agg(list)
    )
    r = ds.responses.set_index("response_id")
    rows = []
    for rid, chain in chains.items():
        if rid not in r.index:
            continue
        driver = stats.main_negative_driver(by_response.get(rid, []))
        rows.append(
            [
                driver or "(brak)",
                rid,
                r.at[rid, "nps_score"],
                r.at[rid, "reason"],
                len(chain),
                " → ".join(chain),
            ]
        )
    out = pd.DataFrame(
        rows, columns=["driver", "response_id", "nps_score", "reason", "depth", "chain"]
    )
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
                stats.nps(before).nps,
                stats.nps(after).nps,
            ]
        )
    out = pd.DataFrame(rows, columns=KNOWN_ISSUE_COLUMNS)
    return out.sort_values(["offered", "known_issue"], ascending=[False, True]).reset_index(
        drop=True
    )
