"""The closed loop's numbers (pure: plain case rows in, dicts out).

Definitions (docs/closed-loop.md, "Metrics"):

- recovery rate: of the resolved cases whose customer gave a win-back score,
  the share whose new group (0-6 detractor, 7-8 passive, 9-10 promoter) is
  better than the group of the survey that opened the case;
- time to first contact: opened_at -> first_contact_at, of the cases
  contacted;
- time to close: opened_at -> closed_at (resolved or unresolved), minus the
  time the case spent on hold (paused_seconds);
  both as median and mean, in hours: business hours of the store's calendar
  when `calendar_for` is given, otherwise wall-clock hours;
- share within SLA: first contact: contacted by first_contact_due, over the
  cases contacted plus those not contacted and already past due (the ones
  still within their time are not counted yet); resolution the same with
  closed_at and resolve_due;
- backlog by age: open cases by now - opened_at (wall clock): under 1 day,
  1-3 days, 3-7 days, 7 days and more;
- root causes ranked: closed cases per root cause, most first;
- per store: all of the above for each store's cases.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from cases.states import CLOSED, RESOLVED

AGE_BUCKETS = (("<1d", 0, 1), ("1-3d", 1, 3), ("3-7d", 3, 7), (">7d", 7, None))
_RANK = {"detractor": 0, "passive": 1, "promoter": 2}
NO_STORE = "(none)"


def group(score: int | None) -> str | None:
    if score is None:
        return None
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc)


def _hours_between(store, a: float, b: float, calendar_for) -> float:
    if calendar_for is None:
        return (b - a) / 3600.0
    from cases import sla

    return sla.business_seconds_between(_utc(a), _utc(b), calendar_for(store)) / 3600.0


def _summary(values: Sequence[float]) -> dict:
    if not values:
        return {"n": 0, "median_hours": None, "mean_hours": None}
    return {
        "n": len(values),
        "median_hours": round(statistics.median(values), 4),
        "mean_hours": round(statistics.fmean(values), 4),
    }


def recovery(cases: Iterable[Mapping]) -> dict:
    asked = recovered = 0
    for c in cases:
        if c.get("state") != RESOLVED and c.get("resolved_at") is None:
            continue
        before, after = group(c.get("score")), group(c.get("winback_score"))
        if before is None or after is None:
            continue
        asked += 1
        recovered += _RANK[after] > _RANK[before]
    return {"asked": asked, "recovered": recovered, "rate": recovered / asked if asked else None}


def _within(cases, done_field: str, due_field: str, now: float) -> dict:
    met = counted = 0
    for c in cases:
        due, done = c.get(due_field), c.get(done_field)
        if due is None:
            continue
        if done is not None:
            counted += 1
            met += done <= due
        elif now > due:
            counted += 1
    return {"counted": counted, "met": met, "share": met / counted if counted else None}


def backlog(cases: Iterable[Mapping], now: float) -> dict[str, int]:
    out = {name: 0 for name, _, _ in AGE_BUCKETS}
    for c in cases:
        if c.get("state") in CLOSED:
            continue
        days = (now - c["opened_at"]) / 86400.0
        for name, low, high in AGE_BUCKETS:
            if days >= low and (high is None or days < high):
                out[name] += 1
                break
    return out


def root_causes(cases: Iterable[Mapping]) -> list[dict]:
    counts = Counter(
        c["root_cause"] for c in cases if c.get("state") in CLOSED and c.get("root_cause")
    )
    return [
        {"root_cause": cause, "cases": n}
        for cause, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _metrics(cases: Sequence[Mapping], now: float, calendar_for) -> dict:
    first = [
        _hours_between(c.get("store"), c["opened_at"], c["first_contact_at"], calendar_for)
        for c in cases
        if c.get("first_contact_at") is not None
    ]
    close = [
        max(
            0.0,
            _hours_between(c.get("store"), c["opened_at"], c["closed_at"], calendar_for)
            - float(c.get("paused_seconds") or 0.0) / 3600.0,
        )
        for c in cases
        if c.get("state") in CLOSED and c.get("closed_at") is not None
    ]
    return {
        "cases": len(cases),
        "open": sum(c.get("state") not in CLOSED for c in cases),
        "recovery": recovery(cases),
        "time_to_first_contact": _summary(first),
        "time_to_close": _summary(close),
        "within_sla": {
            "first_contact": _within(cases, "first_contact_at", "first_contact_due", now),
            "resolution": _within(cases, "closed_at", "resolve_due", now),
        },
        "backlog": backlog(cases, now),
        "root_causes": root_causes(cases),
    }


def loop_metrics(
    cases: Iterable[Mapping],
    now: float,
    calendar_for: Callable[[str | None], object] | None = None,
) -> dict:
    """Every metric for all cases and per store. `calendar_for(store)`
    (e.g. lambda s: sla.calendar_for(s, calendars)) makes the durations
    business hours."""
    cases = list(cases)
    by_store: dict[str, list] = defaultdict(list)
    for c in cases:
        by_store[c.get("store") or NO_STORE].append(c)
    return {
        **_metrics(cases, now, calendar_for),
        "per_store": {s: _metrics(by_store[s], now, calendar_for) for s in sorted(by_store)},
    }
