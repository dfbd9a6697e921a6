"""The report: one dict with the headline numbers, built the same way for
the CLI and the dashboard, and its JSON / CSV / Markdown renderings."""

from __future__ import annotations

import csv
import io
import json
import time

from analytics import stats, why_chains
from analytics.dataset import Dataset, Filters, filter_dataset, status_counts
from analytics.drivers import Catalogue, driver_report
from nps.why_stops import WHY_STOPS


def _r(value, digits: int = 1) -> float | None:
    """Rounded for people; None stays None (JSON null)."""
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except TypeError:
        return None
    return round(float(value), digits)


def build_report(
    ds: Dataset,
    catalogue: Catalogue,
    filters: Filters | None = None,
    now: float | None = None,
    abandon_after_hours: float = 24.0,
) -> dict:
    """Numbers for the responses that match `filters`.

    responses: surveys started (the survey form was activated);
    scored: those with a valid 0-10 score, the base of NPS, groups and drivers.
    nps, ci95 in NPS points (1 decimal); share as a fraction of `scored`."""
    filters = Filters() if filters is None else filters
    now = time.time() if now is None else now
    part = filter_dataset(ds, filters)
    result = stats.nps_of_frame(part.responses)
    funnel = stats.funnel(part.responses)
    drivers = driver_report(part, catalogue)
    chains = why_chains.chains(part.responses)
    return {
        "filters": filters.as_dict(),
        "responses": len(part.responses),
        "scored": result.n,
        "nps": _r(result.nps),
        "ci95": [_r(result.ci_low), _r(result.ci_high)] if result.n else None,
        "groups": result.groups,
        "funnel": {
            "started": funnel.started,
            "scored": funnel.scored,
            "reason": funnel.reason,
            "finished": funnel.finished,
        },
        "status": status_counts(part.responses, now, abandon_after_hours),
        "drivers": [
            {
                "driver": row.driver,
                "label": row.label,
                "mentions": int(row.mentions),
                "share": _r(row.share, 3),
                "positive": int(row.positive),
                "negative": int(row.negative),
                "nps_mentioners": _r(row.nps_mentioners),
                "impact": _r(row.impact),
            }
            for row in drivers.itertuples(index=False)
        ],
        "why_chains": {
            "all": _why(why_chains.summary(chains)),
            "by_group": [
                {"group": row["nps_group"], **_why(row)}
                for row in why_chains.summary_by(chains, "nps_group").to_dict("records")
            ],
            "by_driver": [
                {"driver": row["driver"], "label": catalogue.label(row["driver"]), **_why(row)}
                for row in why_chains.summary_by(chains, "driver").to_dict("records")
            ],
        },
    }


def _why(row: dict) -> dict:
    """One why_chains entry: chains, mean_depth (2 decimals), reached_cause,
    reached_share (fraction of chains, 3 decimals), stops per why_stop."""
    return {
        "chains": int(row["chains"]),
        "mean_depth": _r(row["mean_depth"], 2),
        "reached_cause": int(row["reached_cause"]),
        "reached_share": _r(row["reached_share"], 3),
        "stops": {s: int(row[f"stop_{s}"]) for s in WHY_STOPS},
    }


WHY_MEASURES = ("chains", "mean_depth", "reached_cause", "reached_share")


def to_json(report: dict) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2)


def to_csv(report: dict) -> str:
    """Long format, one number per line: metric,driver,value."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["metric", "driver", "value"])
    for key in ("responses", "scored", "nps"):
        out.writerow([key, "", _csv(report[key])])
    ci = report["ci95"] or [None, None]
    out.writerow(["ci95_low", "", _csv(ci[0])])
    out.writerow(["ci95_high", "", _csv(ci[1])])
    for group, count in report["groups"].items():
        out.writerow([group, "", count])
    for stage, count in report["funnel"].items():
        out.writerow([f"funnel_{stage}", "", count])
    for d in report["drivers"]:
        for key in ("mentions", "share", "positive", "negative", "nps_mentioners", "impact"):
            out.writerow([key, d["driver"], _csv(d[key])])
    why = report["why_chains"]
    # All chains and per driver in the driver column; per group in the name.
    for suffix, where, entry in (
        [("", "", why["all"])]
        + [(f"_{g['group']}", "", g) for g in why["by_group"]]
        + [("", d["driver"], d) for d in why["by_driver"]]
    ):
        for key in WHY_MEASURES:
            out.writerow([f"why_{key}{suffix}", where, _csv(entry[key])])
        for stop, count in entry["stops"].items():
            out.writerow([f"why_stop_{stop}{suffix}", where, count])
    return buf.getvalue()


def _csv(value) -> str:
    return "" if value is None else str(value)


def _md(value) -> str:
    text = "–" if value is None else str(value)
    # Labels come from trainers' YAML: keep them from breaking the table.
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict) -> str:
    ci = report["ci95"]
    f = {k: v for k, v in report["filters"].items() if v}
    lines = [
        "# NPS report",
        "",
        f"Filters: {', '.join(f'{k}={v}' for k, v in f.items()) if f else 'none'}",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| responses (surveys started) | {report['responses']} |",
        f"| with a score | {report['scored']} |",
        f"| NPS | {_md(report['nps'])} |",
        f"| 95% interval | {_md(ci[0]) + ' … ' + _md(ci[1]) if ci else '–'} |",
        f"| promoters / passives / detractors | {report['groups']['promoter']} / {report['groups']['passive']} / "
        f"{report['groups']['detractor']} |",
        f"| funnel: started → scored → reason → finished | {report['funnel']['started']} → "
        f"{report['funnel']['scored']} → {report['funnel']['reason']} → {report['funnel']['finished']} |",
        "",
        "## Drivers",
        "",
        "| driver | mentions | share | positive | negative | NPS of mentioners | impact |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for d in report["drivers"]:
        share = f"{d['share'] * 100:.1f}%" if d["share"] is not None else "–"
        lines.append(
            f"| {_md(d['label'])} (`{_md(d['driver'])}`) | {d['mentions']} | {share} | {d['positive']} | "
            f"{d['negative']} | {_md(d['nps_mentioners'])} | {_md(d['impact'])} |"
        )
    if not report["drivers"]:
        lines.append("| (no drivers yet) | | | | | | |")
    why = report["why_chains"]
    stops = " | ".join(WHY_STOPS)
    head = f"| chains | mean depth | reached a cause | {stops} |"
    rule = "| ---: | ---: | ---: |" + " ---: |" * len(WHY_STOPS)
    lines += [
        "",
        "## Why-chains: depth and how they ended",
        "",
        f"| group {head}",
        f"| --- {rule}",
    ]
    rows = [("all", why["all"])] + [(g["group"], g) for g in why["by_group"]]
    lines += [f"| {_md(name)} {_why_md(entry)}" for name, entry in rows]
    lines += ["", f"| driver {head}", f"| --- {rule}"]
    lines += [f"| {_md(d['label'])} (`{_md(d['driver'])}`) {_why_md(d)}" for d in why["by_driver"]]
    if not why["by_driver"]:
        lines.append("| (no why-chains yet) |" + " |" * (3 + len(WHY_STOPS)))
    return "\n".join(lines) + "\n"


def _why_md(entry: dict) -> str:
    share = entry["reached_share"]
    reached = f"{entry['reached_cause']} ({share * 100:.1f}%)" if share is not None else "0"
    stops = " | ".join(str(entry["stops"][s]) for s in WHY_STOPS)
    return f"| {entry['chains']} | {_md(entry['mean_depth'])} | {reached} | {stops} |"


FORMATS = {"json": to_json, "csv": to_csv, "md": to_markdown}
